import XCTest
@testable import Engine

/// Pooling by the definition over an explicitly padded volume (padding = nil), the test oracle.
/// Shapes: x [N, C, T, H, W] → y [N, C, To, Ho, Wo]; returns y and dL/dx for upstream gy.
func naivePool3d(_ x: [Float], _ xs: [Int], kernel: (Int, Int, Int), stride: (Int, Int, Int), padding: (Int, Int, Int),
                 max isMax: Bool, includePad: Bool, gy: [Float]) -> (y: [Float], gx: [Float], shape: [Int]) {
    let (t, h, w) = (xs[2], xs[3], xs[4])
    let to = (t + 2 * padding.0 - kernel.0) / stride.0 + 1, ho = (h + 2 * padding.1 - kernel.1) / stride.1 + 1
    let wo = (w + 2 * padding.2 - kernel.2) / stride.2 + 1
    let planes = xs[0] * xs[1]
    var y = [Float](), gx = [Float](repeating: 0, count: x.count)
    for pl in 0..<planes { for z in 0..<to { for r in 0..<ho { for c in 0..<wo {
        var members: [Int] = []  // flat indices of real (unpadded) elements in scan order
        var windowCount = 0
        for i in 0..<kernel.0 { for j in 0..<kernel.1 { for k in 0..<kernel.2 {
            let iz = z * stride.0 - padding.0 + i, iy = r * stride.1 - padding.1 + j, ix = c * stride.2 - padding.2 + k
            windowCount += 1
            if iz >= 0 && iz < t && iy >= 0 && iy < h && ix >= 0 && ix < w { members.append(((pl * t + iz) * h + iy) * w + ix) }
        } } }
        let g = gy[y.count]
        if isMax {
            var best = members[0]
            for m in members.dropFirst() where x[m] > x[best] { best = m }
            y.append(x[best]); gx[best] += g
        } else {
            let d = Float(includePad ? windowCount : members.count)
            y.append(members.reduce(Float(0)) { $0 + x[$1] } / d)
            for m in members { gx[m] += g / d }
        }
    } } } }
    return (y, gx, [xs[0], xs[1], to, ho, wo])
}

final class PoolTests: XCTestCase {
    func testWindowPoolsMatchNaive() {
        let configs: [([Int], (Int, Int, Int), (Int, Int, Int), (Int, Int, Int))] = [
            ([2, 3, 5, 7, 6], (3, 3, 3), (2, 2, 2), (1, 1, 1)),
            ([1, 2, 4, 9, 8], (1, 3, 2), (1, 2, 2), (0, 1, 1)),
            ([2, 2, 3, 5, 5], (2, 2, 2), (1, 1, 1), (0, 0, 0)),
            ([1, 4, 1, 11, 7], (1, 5, 3), (1, 3, 2), (0, 2, 1)),
        ]
        for (xs, k, s, p) in configs {
            for (isMax, includePad) in [(true, true), (false, true), (false, false)] {
                let x = randomArray(xs.reduce(1, *), seed: 5)
                let tape = Tape(compute: Compute(threads: 2))
                let xv = tape.leaf(x, shape: xs)
                let y = isMax ? tape.maxPool3d(xv, kernel: k, stride: s, padding: p)
                              : tape.avgPool3d(xv, kernel: k, stride: s, padding: p, countIncludePad: includePad)
                let gy = randomArray(tape.count(y), seed: 6)
                let ref = naivePool3d(x, xs, kernel: k, stride: s, padding: p, max: isMax, includePad: includePad, gy: gy)
                let label = "\(isMax ? "max" : "avg") includePad \(includePad) x \(xs) k \(k) s \(s) p \(p)"
                XCTAssertEqual(tape.shape(y), ref.shape, label)
                XCTAssertLessThan(maxRelativeError(tape.array(y), ref.y), 1e-5, label)
                gy.withUnsafeBufferPointer { tape.backward(y, seed: $0.baseAddress!) }
                XCTAssertLessThan(maxRelativeError(Array(UnsafeBufferPointer(start: tape.grad(xv), count: x.count)), ref.gx), 1e-5, label)
            }
        }
    }

    func testPool2dEqualsPool3dWithUnitDepth() {
        let x = randomArray(2 * 3 * 7 * 9, seed: 8)
        let tape = Tape()
        let a = tape.array(tape.maxPool2d(tape.constant(x, shape: [2, 3, 7, 9]), kernel: (3, 3), stride: (2, 2), padding: (1, 1)))
        let b = tape.array(tape.maxPool3d(tape.constant(x, shape: [2, 3, 1, 7, 9]), kernel: (1, 3, 3), stride: (1, 2, 2), padding: (0, 1, 1)))
        XCTAssertEqual(a, b)
        let y = tape.avgPool2d(tape.constant(x, shape: [2, 3, 7, 9]), kernel: (2, 3))
        XCTAssertEqual(tape.shape(y), [2, 3, 3, 3])
        let ref = naivePool3d(x, [2, 3, 1, 7, 9], kernel: (1, 2, 3), stride: (1, 2, 3), padding: (0, 0, 0), max: false,
                              includePad: true, gy: [Float](repeating: 0, count: 54))
        XCTAssertLessThan(maxRelativeError(tape.array(y), ref.y), 1e-6)
    }

    func testMaxPoolTiesGoToFirstAndPaddingNeverWins() {
        // All-equal 1×4×4 input, 2×2 windows: the gradient lands on each window's top-left element.
        let tape = Tape()
        let x = tape.leaf([Float](repeating: -3, count: 16), shape: [1, 1, 4, 4])
        let y = tape.maxPool2d(x, kernel: (2, 2))
        XCTAssertEqual(tape.array(y), [-3, -3, -3, -3])
        tape.backward(y, seed: [1, 2, 3, 4])
        let g = Array(UnsafeBufferPointer(start: tape.grad(x), count: 16))
        XCTAssertEqual(g, [1, 0, 2, 0, 0, 0, 0, 0, 3, 0, 4, 0, 0, 0, 0, 0])
        // Negative inputs with padding: the implicit padding is -inf, not 0.
        let t2 = Tape()
        let y2 = t2.maxPool2d(t2.constant([-1, -2, -3, -4], shape: [1, 1, 2, 2]), kernel: (3, 3), stride: (1, 1), padding: (1, 1))
        XCTAssertEqual(t2.array(y2), [-1, -1, -1, -1])
        // NaN propagates.
        let y3 = t2.maxPool2d(t2.constant([1, .nan, 3, 4], shape: [1, 1, 2, 2]), kernel: (2, 2))
        XCTAssertTrue(t2.array(y3)[0].isNaN)
    }

    func testAdaptiveAvgPoolBins() {
        let tape = Tape()
        // W 5 → 3: bins [0,2), [1,4), [3,5).
        let a = tape.adaptiveAvgPool2d(tape.constant([0, 1, 2, 3, 4], shape: [1, 1, 1, 5]), outputSize: (1, 3))
        XCTAssertEqual(tape.array(a), [0.5, 2, 3.5])
        // W 7 → 3: bins [0,3), [2,5), [4,7).
        let b = tape.adaptiveAvgPool2d(tape.constant([0, 1, 2, 3, 4, 5, 6], shape: [1, 1, 1, 7]), outputSize: (1, 3))
        XCTAssertEqual(tape.array(b), [1, 3, 5])
        // Upsampling 2 → 3: bins [0,1), [0,2), [1,2).
        let c = tape.adaptiveAvgPool2d(tape.constant([2, 4], shape: [1, 1, 2, 1]), outputSize: (3, 1))
        XCTAssertEqual(tape.array(c), [2, 3, 4])
        // 3-D: T 3 → 2 ([0,2), [1,3)), H 2 → 1, W 1 → 1 over x = t·10 + h.
        let d = tape.adaptiveAvgPool3d(tape.constant([0, 1, 10, 11, 20, 21], shape: [1, 1, 3, 2, 1]), outputSize: (2, 1, 1))
        XCTAssertEqual(tape.array(d), [5.5, 15.5])
        // Output equal to input size is the identity.
        let x = randomArray(2 * 3 * 2 * 3 * 4, seed: 9)
        XCTAssertEqual(tape.array(tape.adaptiveAvgPool3d(tape.constant(x, shape: [2, 3, 2, 3, 4]), outputSize: (2, 3, 4))), x)
    }

    func testGlobalMeanPool() {
        let x = randomArray(2 * 3 * 2 * 2 * 5, seed: 10)
        let tape = Tape()
        let y = tape.globalMeanPool(tape.constant(x, shape: [2, 3, 2, 2, 5]))
        XCTAssertEqual(tape.shape(y), [2, 3])
        for i in 0..<6 {
            XCTAssertEqual(tape.array(y)[i], x[i * 20..<(i + 1) * 20].reduce(0, +) / 20, accuracy: 1e-6)
        }
    }

    func testPoolGradCheck() {
        let x = randomArray(2 * 2 * 3 * 4 * 5, seed: 12), xs = [2, 2, 3, 4, 5]
        gradCheck([(x, xs)]) { t, v in t.avgPool3d(v[0], kernel: (2, 3, 3), stride: (1, 2, 2), padding: (1, 1, 1)) }
        gradCheck([(x, xs)]) { t, v in
            t.avgPool3d(v[0], kernel: (2, 3, 3), stride: (1, 2, 2), padding: (1, 1, 1), countIncludePad: false)
        }
        gradCheck([(x, xs)]) { t, v in t.adaptiveAvgPool3d(v[0], outputSize: (2, 3, 2)) }
        gradCheck([(x, xs)]) { t, v in t.globalMeanPool(v[0]) }
        gradCheck([(Array(x.prefix(2 * 2 * 4 * 5)), [2, 2, 4, 5])]) { t, v in t.adaptiveAvgPool2d(v[0], outputSize: (3, 2)) }
        // Max: distinct values 0.05 apart so that ±eps never changes a window's argmax.
        var rng = CounterRNG(seed: 13, purpose: .test)
        let distinct = rng.permutation(x.count).map { Float($0) * 0.05 }
        gradCheck([(distinct, xs)], eps: 1e-3) { t, v in t.maxPool3d(v[0], kernel: (2, 2, 3), stride: (1, 2, 2), padding: (1, 1, 1)) }
        gradCheck([(Array(distinct.prefix(2 * 2 * 4 * 5)), [2, 2, 4, 5])], eps: 1e-3) { t, v in
            t.maxPool2d(v[0], kernel: (3, 3), stride: (2, 1), padding: (1, 1))
        }
    }
}
