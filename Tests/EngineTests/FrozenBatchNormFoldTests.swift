// Frozen BatchNorm folded into its convolution and the in-place ReLUs (Ops+FrozenBatchNorm.swift):
// equal to conv → batchNorm (eval) → relu built from the separate ops (values and every gradient),
// finite differences, and the memory they exist for: a ResNet trunk keeps one activation per
// convolution (the separate ops kept three per conv → BN → ReLU and five per block end).

import XCTest
@testable import Engine

final class FrozenBatchNormFoldTests: XCTestCase {
    let mean: [Float] = [0.3, -0.6, 1.2, 0.1], variance: [Float] = [0.5, 2.0, 1.3, 0.05]

    /// conv(x, W) → frozen BN → ReLU, folded (new ops) or separate (conv2d, batchNorm, relu).
    func convBNRelu(_ t: Tape, _ x: Var, _ w: Var, _ g: Var, _ b: Var, folded: Bool) -> Var {
        mean.withUnsafeBufferPointer { m in
            variance.withUnsafeBufferPointer { v in
                if folded {
                    let (fw, fb) = t.foldFrozenBatchNorm(convWeight: w, weight: g, bias: b, runningMean: m.baseAddress!, runningVar: v.baseAddress!)
                    return t.reluInPlace(t.conv2d(x, fw, fb, stride: (2, 2), padding: (1, 1)))
                }
                let y = t.conv2d(x, w, nil, stride: (2, 2), padding: (1, 1))
                return t.relu(t.batchNorm(y, g, b, runningMean: UnsafeMutablePointer(mutating: m.baseAddress!),
                                          runningVar: UnsafeMutablePointer(mutating: v.baseAddress!), useBatchStatistics: false))
            }
        }
    }

    func testFoldedConvEqualsConvThenBatchNormThenRelu() {
        let xs = [2, 3, 7, 7], ws = [4, 3, 3, 3]
        let x = randomArray(2 * 3 * 49, seed: 1, scale: 2), w = randomArray(108, seed: 2), g = randomArray(4, seed: 3, scale: 1.5)
        let b = randomArray(4, seed: 4), seed = randomArray(2 * 4 * 16, seed: 5)
        var results: [[[Float]]] = []
        for folded in [false, true] {
            let tape = Tape(compute: Compute(threads: 2))
            let vars = [tape.leaf(x, shape: xs), tape.leaf(w, shape: ws), tape.leaf(g, shape: [4]), tape.leaf(b, shape: [4])]
            let y = convBNRelu(tape, vars[0], vars[1], vars[2], vars[3], folded: folded)
            XCTAssertEqual(tape.shape(y), [2, 4, 4, 4])
            seed.withUnsafeBufferPointer { tape.backward(y, seed: $0.baseAddress!) }
            results.append([tape.array(y)] + vars.map { Array(UnsafeBufferPointer(start: tape.grad($0), count: tape.count($0))) })
        }
        XCTAssertGreaterThan(results[0][0].filter { $0 == 0 }.count, 10, "the ReLU must cut something")
        XCTAssertGreaterThan(results[0][0].filter { $0 > 0 }.count, 10)
        for (k, name) in ["y", "dx", "dW", "dBN.weight", "dBN.bias"].enumerated() {
            assertClose(results[1][k], results[0][k], rel: 2e-5, floor: 1e-6, name)
        }
    }

    func testFoldGradientsAgainstFiniteDifferences() {
        gradCheck([(randomArray(2 * 3 * 25, seed: 6), [2, 3, 5, 5]), (randomArray(108, seed: 7), [4, 3, 3, 3]),
                   (randomArray(4, seed: 8, scale: 1.5), [4]), (randomArray(4, seed: 9), [4])], eps: 3e-3) { t, v in
            mean.withUnsafeBufferPointer { m in
                variance.withUnsafeBufferPointer { s in
                    let (fw, fb) = t.foldFrozenBatchNorm(convWeight: v[1], weight: v[2], bias: v[3], runningMean: m.baseAddress!,
                                                         runningVar: s.baseAddress!)
                    return t.conv2d(v[0], fw, fb, stride: (1, 1), padding: (1, 1))
                }
            }
        }
    }

    func testInPlaceRelusAgainstFiniteDifferences() {
        // Inputs at least 0.3 from the kink (and the shortcut too small to move a sum across it).
        let x = randomArray(40, seed: 10).map { $0 < 0 ? $0 - 0.3 : $0 + 0.3 }, s = randomArray(40, seed: 11, scale: 0.2)
        gradCheck([(x, [5, 8])]) { t, v in t.reluInPlace(t.mulScalar(v[0], 1)) }
        gradCheck([(s, [5, 8]), (x, [5, 8])]) { t, v in t.addReluInPlace(t.mulScalar(v[1], 1), v[0]) }
        let tape = Tape()
        let sv = tape.constant(s, shape: [5, 8]), h = tape.mulScalar(tape.constant(x, shape: [5, 8]), 1)
        let hBuffer = tape.value(h)
        let y = tape.addReluInPlace(h, sv)
        XCTAssertEqual(tape.value(y), hBuffer, "the sum overwrites its first operand")
        XCTAssertEqual(tape.array(y), zip(x, s).map { max($0 + $1, 0) })
        XCTAssertEqual(tape.array(sv), s, "the shortcut is only read")
    }

    /// A ResNet-50 trunk's forward pass holds, besides the input, one output per convolution, the
    /// column workspace of each convolution (one sample per thread: no columns kept for backward),
    /// the folded weights and the max-pool's output and indices, and nothing else: with separate BN,
    /// ReLU and add ops it held ~2.7 times the convolution outputs, and with kept columns all four
    /// samples' columns (arena rounding allows 1/8 on top).
    func testResNetTrunkKeepsOneActivationPerConvolutionAndNoColumns() {
        let store = ParameterStore()
        let trunk = ResNet2D(store, prefix: "", config: ResNetConfig(depth: 50, baseWidth: 4))
        store.allocate()
        store.initialize(seed: 1)
        let (n, side, threads) = (4, 64, 2)
        let tape = Tape(compute: Compute(threads: threads))
        let x = tape.constant(randomArray(n * 3 * side * side, seed: 12), shape: [n, 3, side, side])
        let stages = trunk(tape, store, x)
        XCTAssertEqual(tape.shape(stages[3]), [n, 128, 2, 2])
        var outputs = 0, columns = 0, weights = 0
        for (conv, positions) in trunk.convolutions(height: side, width: side) {
            let s = store.infos[conv.weight].shape
            outputs += n * s[0] * positions
            if conv.kernel > 1 || conv.stride > 1 { columns += s[1] * conv.kernel * conv.kernel * threads * positions }
            weights += store.infos[conv.weight].count + 3 * s[0]
        }
        let pool = n * 4 * (side / 4) * (side / 4)
        let expected = n * 3 * side * side + outputs + columns + weights + 2 * pool
        let reserved = tape.arena.reservedFloats
        XCTAssertGreaterThanOrEqual(reserved, outputs + columns)
        XCTAssertLessThanOrEqual(Double(reserved), 1.125 * Double(expected) + 16 * Double(tape.nodes.count),
                                 "arena holds \(reserved) floats for \(outputs) of convolution outputs and \(columns) of columns")
    }
}
