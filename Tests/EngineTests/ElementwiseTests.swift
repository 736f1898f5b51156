import Foundation
import XCTest
@testable import Engine

/// Multi-index of flat index `i` in a row-major `shape`.
func unravel(_ i: Int, _ shape: [Int]) -> [Int] {
    var r = i, idx = [Int](repeating: 0, count: shape.count)
    for k in stride(from: shape.count - 1, through: 0, by: -1) { idx[k] = r % shape[k]; r /= shape[k] }
    return idx
}

/// Flat index of `idx` in a row-major `shape`.
func ravel(_ idx: [Int], _ shape: [Int]) -> Int {
    var f = 0
    for k in 0..<shape.count { f = f * shape[k] + idx[k] }
    return f
}

/// Values in ±[lo, hi] (bounded away from zero), for ops with kinks or poles at 0.
func awayFromZero(_ n: Int, seed: UInt64, lo: Float = 0.3, hi: Float = 1.5) -> [Float] {
    randomArray(n, seed: seed).map { v in (v < 0 ? -1 : 1) * (lo + abs(v) * (hi - lo)) }
}

final class ElementwiseTests: XCTestCase {
    /// The NumPy broadcast oracle: out[idx] = f(a[idx mod a-shape], b[idx mod b-shape]).
    func naiveBroadcast(_ a: [Float], _ sa: [Int], _ b: [Float], _ sb: [Int], _ f: (Double, Double) -> Double) -> ([Double], [Int]) {
        let r = max(sa.count, sb.count)
        let pa = [Int](repeating: 1, count: r - sa.count) + sa, pb = [Int](repeating: 1, count: r - sb.count) + sb
        let os = zip(pa, pb).map { max($0, $1) }
        let n = os.reduce(1, *)
        let out = (0..<n).map { i -> Double in
            let idx = unravel(i, os)
            let ia = ravel(zip(idx, pa).map { $1 == 1 ? 0 : $0 }, pa), ib = ravel(zip(idx, pb).map { $1 == 1 ? 0 : $0 }, pb)
            return f(Double(a[ia]), Double(b[ib]))
        }
        return (out, os)
    }

    let broadcastCases: [([Int], [Int])] = [
        ([2, 3, 5], [2, 3, 5]), ([2, 3, 5], [5]), ([2, 1, 5], [3, 1]), ([1], [2, 3]), ([5, 1, 3], [1, 4, 1]),
        ([3, 1, 1, 5], [3, 2, 5]), ([4, 3], [4, 1]), ([2, 3, 4], [1, 3, 1]), ([], [3]),
    ]

    func testBroadcastingArithmeticMatchesNaive() {
        let ops: [(String, (Tape, Var, Var) -> Var, (Double, Double) -> Double)] = [
            ("add", { $0.add($1, $2) }, { $0 + $1 }), ("sub", { $0.sub($1, $2) }, { $0 - $1 }),
            ("mul", { $0.mul($1, $2) }, { $0 * $1 }), ("div", { $0.div($1, $2) }, { $0 / $1 }),
        ]
        for (sa, sb) in broadcastCases {
            let a = randomArray(sa.reduce(1, *), seed: 3), b = awayFromZero(sb.reduce(1, *), seed: 4)
            for (name, op, f) in ops {
                for (x, xs, y, ys) in [(a, sa, b, sb), (b, sb, a.map { $0 + 2 }, sa)] {
                    let tape = Tape()
                    let out = op(tape, tape.constant(x, shape: xs), tape.constant(y, shape: ys))
                    let (want, os) = naiveBroadcast(x, xs, y, ys, f)
                    XCTAssertEqual(tape.shape(out), os, "\(name) \(xs) \(ys)")
                    for (g, w) in zip(tape.array(out), want) { XCTAssertEqual(Double(g), w, accuracy: 1e-5 * max(1, abs(w)), "\(name) \(xs) \(ys)") }
                }
            }
        }
    }

    func testBroadcastingArithmeticGradients() {
        for (sa, sb) in broadcastCases {
            let a = randomArray(sa.reduce(1, *), seed: 5), b = awayFromZero(sb.reduce(1, *), seed: 6)
            gradCheck([(a, sa), (b, sb)]) { t, v in t.add(v[0], v[1]) }
            gradCheck([(a, sa), (b, sb)]) { t, v in t.sub(v[0], v[1]) }
            gradCheck([(a, sa), (b, sb)]) { t, v in t.mul(v[0], v[1]) }
            gradCheck([(a, sa), (b, sb)]) { t, v in t.div(v[0], v[1]) }
            gradCheck([(b, sb), (a, sa)]) { t, v in t.mul(v[0], v[1]) }
        }
        // The same variable on both sides: d(x·x)/dx = 2x, d(x/x)/dx = 0.
        let x = awayFromZero(7, seed: 8)
        gradCheck([(x, [7])]) { t, v in t.mul(v[0], v[0]) }
        gradCheck([(x, [7])]) { t, v in t.div(v[0], v[0]) }
    }

    func testUnaryMathValuesAndGradients() {
        let x = randomArray(3 * 7, seed: 9), pos = randomArray(3 * 7, seed: 10).map { 0.2 + abs($0) * 2 }
        let cases: [(String, [Float], (Tape, Var) -> Var, (Double) -> Double)] = [
            ("addScalar", x, { $0.addScalar($1, 0.75) }, { $0 + 0.75 }),
            ("mulScalar", x, { $0.mulScalar($1, -1.5) }, { $0 * -1.5 }),
            ("neg", x, { $0.neg($1) }, { -$0 }),
            ("square", x, { $0.square($1) }, { $0 * $0 }),
            ("sqrt", pos, { $0.sqrt($1) }, { Foundation.sqrt($0) }),
            ("exp", x, { $0.exp($1) }, { Foundation.exp($0) }),
            ("log", pos, { $0.log($1) }, { Foundation.log($0) }),
            ("sigmoid", x.map { $0 * 4 }, { $0.sigmoid($1) }, { 1 / (1 + Foundation.exp(-$0)) }),
            ("tanh", x.map { $0 * 3 }, { $0.tanh($1) }, { Foundation.tanh($0) }),
            ("relu", awayFromZero(21, seed: 11), { $0.relu($1) }, { max($0, 0) }),
        ]
        for (name, input, op, f) in cases {
            let tape = Tape()
            let y = tape.array(op(tape, tape.constant(input, shape: [3, 7])))
            for (g, v) in zip(y, input) { XCTAssertEqual(Double(g), f(Double(v)), accuracy: 2e-6 * max(1, abs(f(Double(v)))), name) }
            gradCheck([(input, [3, 7])]) { t, v in op(t, v[0]) }
        }
    }

    func testGeluIsExactErfForm() {
        let xs = (0...2400).map { Float($0) / 200 - 6 }  // −6 … 6
        let tape = Tape()
        let y = tape.array(tape.gelu(tape.constant(xs, shape: [xs.count])))
        for (g, x) in zip(y, xs) {
            let want = 0.5 * Double(x) * (1 + erf(Double(x) / 2.0.squareRoot()))
            XCTAssertEqual(Double(g), want, accuracy: 1e-6 + 1e-6 * abs(want), "gelu(\(x))")
        }
        // tanh approximation differs by ~1e-4 here: make sure we are not computing it.
        XCTAssertEqual(Double(y[1200 + 300]), 1.5 * 0.5 * (1 + erf(1.5 / 2.0.squareRoot())), accuracy: 1e-6)
        gradCheck([(randomArray(40, seed: 12, scale: 3), [5, 8])]) { t, v in t.gelu(v[0]) }
        // Negative tail: relative accuracy where 1 + erf(x/√2) underflows a naive evaluation.
        let tail = (0...160).map { -1 - Float($0) / 20 }  // −1 … −9
        let yt = tape.array(tape.gelu(tape.constant(tail, shape: [tail.count])))
        for (g, x) in zip(yt, tail) {
            let want = 0.5 * Double(x) * erfc(-Double(x) / 2.0.squareRoot())
            XCTAssertEqual(Double(g), want, accuracy: 2e-5 * abs(want), "gelu(\(x))")
        }
        // Analytic derivative Φ(x) + x·φ(x) against Double.
        let t2 = Tape()
        let leaf = t2.leaf(xs, shape: [xs.count])
        let out = t2.gelu(leaf)
        t2.backward(out, seed: [Float](repeating: 1, count: xs.count))
        let g = UnsafeBufferPointer(start: t2.grad(leaf), count: xs.count)
        for (d, x) in zip(g, xs) {
            let xd = Double(x)
            let want = 0.5 * erfc(-xd / 2.0.squareRoot()) + xd * Foundation.exp(-xd * xd / 2) / (2 * Double.pi).squareRoot()
            XCTAssertEqual(Double(d), want, accuracy: 1e-6 + 1e-6 * abs(want), "gelu'(\(x))")
        }
    }

    func testVectorExpAcrossItsRange() {
        let xs = (0...4000).map { Float($0) / 4000 * 175 - 87 } + [-87.5, -200, -.infinity, 88.5, 0]
        let tape = Tape()
        let y = tape.array(tape.exp(tape.constant(xs, shape: [xs.count])))
        for (g, x) in zip(y, xs) {
            let want = Foundation.exp(Double(x))
            if x < -87 { XCTAssertLessThan(Double(g), 1e-37, "exp(\(x))"); continue }
            XCTAssertEqual(Double(g), want, accuracy: 4e-7 * want, "exp(\(x))")
        }
    }

    func testSoftmaxMatchesDoubleReferenceAlongEveryAxis() {
        let s = [2, 3, 5]
        let x = randomArray(30, seed: 13, scale: 4)
        for axis in [-1, 0, 1] {
            let tape = Tape()
            let y = tape.array(tape.softmax(tape.constant(x, shape: s), axis: axis))
            let ax = (axis + 3) % 3
            for i in 0..<30 {
                let idx = unravel(i, s)
                var line: [Double] = []
                for j in 0..<s[ax] { var k = idx; k[ax] = j; line.append(Double(x[ravel(k, s)])) }
                let m = line.max()!, z = line.map { Foundation.exp($0 - m) }.reduce(0, +)
                XCTAssertEqual(Double(y[i]), Foundation.exp(Double(x[i]) - m) / z, accuracy: 1e-6, "axis \(axis)")
            }
            gradCheck([(x, s)]) { t, v in t.softmax(v[0], axis: axis) }
        }
        // Large logits stay finite (max subtraction).
        let tape = Tape()
        let y = tape.array(tape.softmax(tape.constant([1000, 1001, 999, -1000], shape: [1, 4])))
        let e = [Foundation.exp(-1.0), 1, Foundation.exp(-2.0), 0]
        for (g, w) in zip(y, e) { XCTAssertEqual(Double(g), w / e.reduce(0, +), accuracy: 1e-6) }
    }

    func testDropoutMaskScaleAndDeterminism() {
        let n = 20_000, p: Float = 0.3
        let x = [Float](repeating: 2, count: n)
        func run(seed: UInt64, step: UInt64, training: Bool = true) -> [Float] {
            let tape = Tape()
            tape.seed = seed; tape.step = step; tape.training = training
            return tape.array(tape.dropout(tape.constant(x, shape: [n]), p: p))
        }
        let a = run(seed: 5, step: 1)
        let zeros = a.filter { $0 == 0 }.count
        XCTAssertEqual(Double(zeros) / Double(n), Double(p), accuracy: 0.015)
        for v in a where v != 0 { XCTAssertEqual(v, 2 / (1 - p), accuracy: 1e-6) }
        XCTAssertEqual(a, run(seed: 5, step: 1))
        XCTAssertNotEqual(a, run(seed: 5, step: 2))
        XCTAssertNotEqual(a, run(seed: 6, step: 1))
        XCTAssertEqual(run(seed: 5, step: 1, training: false), x)
        // Two dropouts on one tape draw different masks.
        let tape = Tape()
        let c = tape.constant(x, shape: [n])
        XCTAssertNotEqual(tape.array(tape.dropout(c, p: p)), tape.array(tape.dropout(c, p: p)))
        gradCheck([(randomArray(50, seed: 14), [5, 10])]) { t, v in t.dropout(v[0], p: 0.4) }
    }

    func testReductionsMatchNaive() {
        let s = [3, 4, 5, 2]
        let x = randomArray(120, seed: 15)
        for axes in [[1], [0, 2], [-1], [1, 3], [0, 1, 2, 3], [2]] {
            for keep in [false, true] {
                let tape = Tape()
                let xv = tape.constant(x, shape: s)
                let sm = tape.sum(xv, axes: axes, keepDims: keep), mn = tape.mean(xv, axes: axes, keepDims: keep)
                let ax = Set(axes.map { ($0 + 4) % 4 })
                let kept = (0..<4).map { ax.contains($0) ? 1 : s[$0] }
                var want = [Double](repeating: 0, count: kept.reduce(1, *))
                for i in 0..<120 { let idx = unravel(i, s); want[ravel(zip(idx, kept).map { $1 == 1 ? 0 : $0 }, kept)] += Double(x[i]) }
                let expectShape = keep ? kept : { let r = (0..<4).filter { !ax.contains($0) }.map { s[$0] }; return r.isEmpty ? [1] : r }()
                XCTAssertEqual(tape.shape(sm), expectShape)
                let denom = Double(ax.reduce(1) { $0 * s[$1] })
                for (g, w) in zip(tape.array(sm), want) { XCTAssertEqual(Double(g), w, accuracy: 1e-5) }
                for (g, w) in zip(tape.array(mn), want) { XCTAssertEqual(Double(g), w / denom, accuracy: 1e-6) }
                gradCheck([(x, s)]) { t, v in t.sum(v[0], axes: axes, keepDims: keep) }
                gradCheck([(x, s)]) { t, v in t.mean(v[0], axes: axes, keepDims: keep) }
            }
        }
        gradCheck([(x, s)]) { t, v in t.sumAll(v[0]) }
        gradCheck([(x, s)]) { t, v in t.meanAll(v[0]) }
    }

    func testLargeSumIsAccurateAndThreadCountIndependent() {
        let n = 1 << 20
        let x = randomArray(n, seed: 16).map { $0 + 10 }
        let exact = x.reduce(0.0) { $0 + Double($1) }
        var results: [[Float]] = []
        for threads in [1, 2, 3] {
            let tape = Tape(compute: Compute(threads: threads))
            let v = tape.constant(x, shape: [16, 256, 256])
            let all = tape.sumAll(v)
            XCTAssertEqual(Double(tape.array(all)[0]), exact, accuracy: abs(exact) * 1e-6)
            results.append(tape.array(all) + tape.array(tape.mean(v, axes: [0, 2])) + tape.array(tape.sum(v, axes: [1])))
        }
        XCTAssertEqual(results[0], results[1])
        XCTAssertEqual(results[0], results[2])
    }
}
