// Finite-difference gradient checking shared by the op tests.
//
// The objective is S = Σ out·r with a fixed random r (every output element matters), summed in
// Double. The forward pass is Float32, so S carries rounding noise of ~1e-7·Σ|out·r|; a central
// difference divides it by the step. To make a 1 % gradient error visible above that noise:
//   - the derivative is the fourth-order stencil (8(S(x+h) − S(x−h)) − (S(x+2h) − S(x−2h))) / 12h
//     (truncation O(h⁴) instead of O(h²), so h can stay large and the noise small), over the steps
//     actually taken in Float32 (x ± h rounded), not the nominal h;
//   - two criteria per input tensor: the relative L2 error ‖a − d‖/‖d‖ ≤ `tolerance` (default
//     3e-3: a gradient scaled by 1.01 has exactly 1e-2 and fails, GradCheckTests shows it), and
//     per element |a − d| / max(1, |a|, |d|) ≤ `elementTolerance` (default 2e-2: a bug confined to a
//     few elements, e.g. a wrong border, fails although it barely moves the norm).

import XCTest
@testable import Engine

/// Deterministic test data from the counter RNG.
func randomArray(_ n: Int, seed: UInt64 = 1, scale: Float = 1) -> [Float] {
    var rng = CounterRNG(seed: seed, purpose: .test)
    return (0..<n).map { _ in (rng.nextFloat() * 2 - 1) * scale }
}

/// How far an analytic gradient is from the finite differences, per input tensor.
struct GradCheckReport {
    /// ‖analytic − fd‖₂ / ‖fd‖₂ per input (0 when both are 0).
    var relativeNorm: [Double] = []
    /// The worst element: error |a − d| / max(1, |a|, |d|), its input, index and values.
    var worstElement: (error: Double, input: Int, index: Int, analytic: Double, fd: Double) = (0, 0, 0, 0, 0)
}

/// Analytic gradients of `build` at `inputs` and their finite-difference estimates (no assertion).
func gradCheckReport(_ inputs: [([Float], [Int])], eps: Float = 1e-2, _ build: (Tape, [Var]) -> Var) -> GradCheckReport {
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
    var report = GradCheckReport()
    for (k, input) in inputs.enumerated() {
        var diff2 = 0.0, ref2 = 0.0
        for j in 0..<input.0.count {
            // S at x + m·h for m = ±1, ±2, with the step each point actually moved in Float32.
            func at(_ m: Float) -> (s: Double, step: Double) {
                var v = base
                v[k][j] = base[k][j] + m * eps
                return (objective(v, wantGrad: false).0, Double(v[k][j]) - Double(base[k][j]))
            }
            let p1 = at(1), m1 = at(-1), p2 = at(2), m2 = at(-2)
            let d1 = (p1.s - m1.s) / (p1.step - m1.step), d2 = (p2.s - m2.s) / (p2.step - m2.step)
            let fd = (4 * d1 - d2) / 3  // = (8(S₊₁ − S₋₁) − (S₊₂ − S₋₂)) / 12h for exact steps
            let a = Double(analytic[k][j])
            diff2 += (a - fd) * (a - fd); ref2 += fd * fd
            let err = abs(fd - a) / max(1, abs(fd), abs(a))
            if err > report.worstElement.error { report.worstElement = (err, k, j, a, fd) }
        }
        report.relativeNorm.append(ref2 > 0 ? (diff2 / ref2).squareRoot() : (diff2 > 0 ? .infinity : 0))
    }
    return report
}

/// Checks the analytic gradient of `build` against finite differences for every input (see the
/// file header for the criteria); returns the largest per-tensor relative L2 error.
@discardableResult
func gradCheck(_ inputs: [([Float], [Int])], eps: Float = 1e-2, tolerance: Double = 3e-3, elementTolerance: Double = 2e-2,
               file: StaticString = #filePath, line: UInt = #line,
               _ build: (Tape, [Var]) -> Var) -> Double {
    let r = gradCheckReport(inputs, eps: eps, build)
    for (k, e) in r.relativeNorm.enumerated() where !(e <= tolerance) {
        XCTFail("input \(k): relative L2 error of the gradient \(e) > \(tolerance)", file: file, line: line)
    }
    let w = r.worstElement
    if w.error > elementTolerance {
        XCTFail("input \(w.input) element \(w.index): analytic \(w.analytic) vs finite difference \(w.fd)", file: file, line: line)
    }
    return r.relativeNorm.max() ?? 0
}
