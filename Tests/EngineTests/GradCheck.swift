// Finite-difference gradient checking shared by the op tests.

import XCTest
@testable import Engine

/// Deterministic test data from the counter RNG.
func randomArray(_ n: Int, seed: UInt64 = 1, scale: Float = 1) -> [Float] {
    var rng = CounterRNG(seed: seed, purpose: .test)
    return (0..<n).map { _ in (rng.nextFloat() * 2 - 1) * scale }
}

/// Checks the analytic gradient of `build` against central differences for every input.
/// The scalar objective is Σ out·r with a fixed random r, so every output element matters.
/// `inputs` are (values, shape); returns the largest relative error seen.
@discardableResult
func gradCheck(_ inputs: [([Float], [Int])], eps: Float = 1e-2, tolerance: Float = 2e-2,
               file: StaticString = #filePath, line: UInt = #line,
               _ build: (Tape, [Var]) -> Var) -> Float {
    let tape = Tape()
    func objective(_ vals: [[Float]], wantGrad: Bool) -> (Double, [[Float]]) {
        tape.reset()
        let vars = zip(vals, inputs).map { v, i in wantGrad ? tape.leaf(v, shape: i.1) : tape.constant(v, shape: i.1) }
        let out = build(tape, vars)
        let r = randomArray(tape.count(out), seed: 99)
        var s = 0.0
        let o = tape.value(out)
        for i in 0..<r.count { s += Double(o[i]) * Double(r[i]) }
        guard wantGrad else { return (s, []) }
        if tape.needsGrad(out) { r.withUnsafeBufferPointer { tape.backward(out, seed: $0.baseAddress!) } }
        let grads = vars.map { v -> [Float] in
            guard let g = tape.gradIfPresent(v) else { return [Float](repeating: 0, count: tape.count(v)) }
            return Array(UnsafeBufferPointer(start: g, count: tape.count(v)))
        }
        return (s, grads)
    }
    let base = inputs.map { $0.0 }
    let analytic = objective(base, wantGrad: true).1
    var worst: Float = 0
    for (k, input) in inputs.enumerated() {
        for j in 0..<input.0.count {
            var plus = base, minus = base
            plus[k][j] += eps; minus[k][j] -= eps
            let fd = Float((objective(plus, wantGrad: false).0 - objective(minus, wantGrad: false).0) / Double(2 * eps))
            let a = analytic[k][j]
            let err = abs(fd - a) / max(1, abs(fd), abs(a))
            worst = max(worst, err)
            if err > tolerance {
                XCTFail("input \(k) element \(j): analytic \(a) vs finite difference \(fd)", file: file, line: line)
                return err
            }
        }
    }
    return worst
}
