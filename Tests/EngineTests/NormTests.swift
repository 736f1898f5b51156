import Foundation
import XCTest
@testable import Engine

final class NormTests: XCTestCase {
    /// Double reference: normalise each set of indices (biased variance) and apply w[c], b[c].
    func reference(_ x: [Float], sets: [[Int]], channel: (Int) -> Int, w: [Float]?, b: [Float]?, eps: Double = 1e-5) -> [Double] {
        var out = [Double](repeating: .nan, count: x.count)
        for set in sets {
            let m = set.map { Double(x[$0]) }.reduce(0, +) / Double(set.count)
            let v = set.map { (Double(x[$0]) - m) * (Double(x[$0]) - m) }.reduce(0, +) / Double(set.count)
            for i in set {
                let c = channel(i)
                out[i] = (Double(x[i]) - m) / (v + eps).squareRoot() * Double(w?[c] ?? 1) + Double(b?[c] ?? 0)
            }
        }
        return out
    }

    func assertClose(_ got: [Float], _ want: [Double], _ tol: Double = 2e-5, _ msg: String = "", line: UInt = #line) {
        XCTAssertEqual(got.count, want.count, line: line)
        for (i, (g, w)) in zip(got, want).enumerated() {
            XCTAssertEqual(Double(g), w, accuracy: tol * max(1, abs(w)), "\(msg) element \(i)", line: line)
        }
    }

    func testLayerNormMatchesDoubleReference() {
        let s = [3, 4, 7]
        // An offset mean and a large scale check the two-pass statistics.
        let x = randomArray(84, seed: 1, scale: 3).map { $0 + 50 }, w = randomArray(7, seed: 2), b = randomArray(7, seed: 3)
        let tape = Tape(compute: Compute(threads: 2))
        let y = tape.layerNorm(tape.constant(x, shape: s), tape.constant(w, shape: [7]), tape.constant(b, shape: [7]))
        let sets = (0..<12).map { r in Array(r * 7..<(r + 1) * 7) }
        assertClose(tape.array(y), reference(x, sets: sets, channel: { $0 % 7 }, w: w, b: b))
        let y2 = tape.layerNorm(tape.constant(x, shape: s), nil, nil, eps: 1e-3)
        assertClose(tape.array(y2), reference(x, sets: sets, channel: { $0 % 7 }, w: nil, b: nil, eps: 1e-3))
    }

    func testLayerNormGradients() {
        let x = randomArray(2 * 3 * 9, seed: 4, scale: 2), w = randomArray(9, seed: 5), b = randomArray(9, seed: 6)
        gradCheck([(x, [2, 3, 9]), (w, [9]), (b, [9])], eps: 3e-3) { t, v in t.layerNorm(v[0], v[1], v[2]) }
        gradCheck([(x, [6, 9])], eps: 3e-3) { t, v in t.layerNorm(v[0], nil, nil) }
        // Rows long enough for the SIMD paths and several parameter-gradient parts.
        let big = randomArray(40 * 33, seed: 7)
        gradCheck([(big, [40, 33]), (randomArray(33, seed: 8), [33]), (randomArray(33, seed: 9), [33])], eps: 3e-3) { t, v in
            t.layerNorm(v[0], v[1], v[2])
        }
    }

    func testGroupNormMatchesDoubleReference() {
        let (n, c, sp, g) = (2, 6, 10, 3)
        let x = randomArray(n * c * sp, seed: 10, scale: 2).map { $0 - 7 }, w = randomArray(c, seed: 11), b = randomArray(c, seed: 12)
        let tape = Tape(compute: Compute(threads: 2))
        let y = tape.groupNorm(tape.constant(x, shape: [n, c, 2, 5]), groups: g, tape.constant(w, shape: [c]), tape.constant(b, shape: [c]))
        let per = c / g * sp
        let sets = (0..<(n * g)).map { k in Array(k * per..<(k + 1) * per) }
        assertClose(tape.array(y), reference(x, sets: sets, channel: { ($0 / sp) % c }, w: w, b: b))
    }

    func testGroupNormGradients() {
        let x = randomArray(2 * 4 * 5, seed: 13, scale: 2)
        gradCheck([(x, [2, 4, 5]), (randomArray(4, seed: 14), [4]), (randomArray(4, seed: 15), [4])], eps: 3e-3) { t, v in
            t.groupNorm(v[0], groups: 2, v[1], v[2])
        }
        gradCheck([(x, [2, 4, 5])], eps: 3e-3) { t, v in t.groupNorm(v[0], groups: 1, nil, nil) }
        gradCheck([(randomArray(3 * 6 * 2 * 2, seed: 16), [3, 6, 2, 2]), (randomArray(6, seed: 17), [6]), (randomArray(6, seed: 18), [6])],
                  eps: 3e-3) { t, v in t.groupNorm(v[0], groups: 6, v[1], v[2]) }
    }

    func testBatchNormTrainingStatisticsAndRunningUpdate() {
        let (n, c, sp) = (3, 4, 5)
        let x = randomArray(n * c * sp, seed: 20, scale: 2).map { $0 + 3 }, w = randomArray(c, seed: 21), b = randomArray(c, seed: 22)
        var rm: [Float] = [0.5, -0.5, 1, 0], rv: [Float] = [2, 1, 0.5, 1]
        let (rm0, rv0) = (rm, rv)
        let tape = Tape(compute: Compute(threads: 2))
        let y = rm.withUnsafeMutableBufferPointer { m in
            rv.withUnsafeMutableBufferPointer { v in
                tape.array(tape.batchNorm(tape.constant(x, shape: [n, c, sp]), tape.constant(w, shape: [c]), tape.constant(b, shape: [c]),
                                          runningMean: m.baseAddress!, runningVar: v.baseAddress!, momentum: 0.1))
            }
        }
        var sets: [[Int]] = []
        for ch in 0..<c {
            var set: [Int] = []
            for i in 0..<n { let start: Int = (i * c + ch) * sp; set += Array(start..<(start + sp)) }
            sets.append(set)
        }
        assertClose(y, reference(x, sets: sets, channel: { ($0 / sp) % c }, w: w, b: b))
        for ch in 0..<c {
            let vals = sets[ch].map { Double(x[$0]) }
            let m = vals.reduce(0, +) / Double(vals.count)
            let ss: Double = vals.map { (v: Double) -> Double in (v - m) * (v - m) }.reduce(0, +)
            let unbiased: Double = ss / Double(vals.count - 1)
            XCTAssertEqual(Double(rm[ch]), 0.9 * Double(rm0[ch]) + 0.1 * m, accuracy: 1e-5)
            XCTAssertEqual(Double(rv[ch]), 0.9 * Double(rv0[ch]) + 0.1 * unbiased, accuracy: 1e-5)
        }
    }

    func testBatchNormEvalUsesRunningStatistics() {
        let (n, c, sp) = (2, 3, 4)
        let x = randomArray(n * c * sp, seed: 23), w = randomArray(c, seed: 24), b = randomArray(c, seed: 25)
        var rm: [Float] = [0.2, -0.1, 0.4], rv: [Float] = [1.5, 0.7, 2.2]
        let tape = Tape()
        tape.training = false
        let y = rm.withUnsafeMutableBufferPointer { m in
            rv.withUnsafeMutableBufferPointer { v in
                tape.array(tape.batchNorm(tape.constant(x, shape: [n, c, sp]), tape.constant(w, shape: [c]), tape.constant(b, shape: [c]),
                                          runningMean: m.baseAddress!, runningVar: v.baseAddress!))
            }
        }
        XCTAssertEqual(rm, [0.2, -0.1, 0.4]); XCTAssertEqual(rv, [1.5, 0.7, 2.2])
        for i in 0..<x.count {
            let ch = (i / sp) % c
            let want = (Double(x[i]) - Double(rm[ch])) / (Double(rv[ch]) + 1e-5).squareRoot() * Double(w[ch]) + Double(b[ch])
            XCTAssertEqual(Double(y[i]), want, accuracy: 1e-5)
        }
    }

    func testBatchNormGradients() {
        let stats = FloatBuffer(count: 8)
        for training in [true, false] {
            stats.fill(0.5)
            let x = randomArray(3 * 4 * 3, seed: 26, scale: 2)
            gradCheck([(x, [3, 4, 3]), (randomArray(4, seed: 27), [4]), (randomArray(4, seed: 28), [4])], eps: 3e-3) { t, v in
                t.batchNorm(v[0], v[1], v[2], runningMean: stats.base, runningVar: stats.base + 4, useBatchStatistics: training)
            }
        }
    }

    func testNormsAreThreadCountIndependent() {
        let x = randomArray(4 * 8 * 3000, seed: 29), w = randomArray(8, seed: 30), b = randomArray(8, seed: 31)
        let seed = randomArray(4 * 8 * 3000, seed: 32)
        var results: [[Float]] = []
        for threads in [1, 3] {
            let tape = Tape(compute: Compute(threads: threads))
            let stats = FloatBuffer(count: 16, value: 1)
            let xv = tape.leaf(x, shape: [4, 8, 3000]), wv = tape.leaf(w, shape: [8]), bv = tape.leaf(b, shape: [8])
            let t = tape.reshape(tape.permute(xv, [0, 2, 1]), [12000, 8])
            let a = tape.layerNorm(t, wv, bv)
            let g = tape.groupNorm(tape.reshape(tape.permute(tape.reshape(a, [4, 3000, 8]), [0, 2, 1]), [4, 8, 3000]), groups: 4, wv, bv)
            let y = tape.batchNorm(g, wv, bv, runningMean: stats.base, runningVar: stats.base + 8)
            seed.withUnsafeBufferPointer { tape.backward(y, seed: $0.baseAddress!) }
            results.append(tape.array(y) + [xv, wv, bv].flatMap { Array(UnsafeBufferPointer(start: tape.grad($0), count: tape.count($0))) })
        }
        XCTAssertEqual(results[0], results[1])
    }
}
