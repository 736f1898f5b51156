// The Hessian's top (largest algebraic) eigenvalue and its largest-magnitude one, reported
// separately, on quadratics with a known spectrum: L(w) = ½ (w − c)ᵀ A (w − c), A = Qᵀ diag(λ) Q.
// Plain power iteration (what "Hessian top eigenvalue" used to report) returns −6 for the spectrum
// below; λ_max is 2.

import XCTest
@testable import Engine

final class HessianExtremesTests: XCTestCase {
    /// A symmetric matrix with the given eigenvalues and a random orthonormal eigenbasis (row-major).
    func matrix(eigenvalues: [Double], seed: UInt64) -> [Double] {
        let n = eigenvalues.count
        var q: [[Double]] = []
        var rng = CounterRNG(seed: seed, purpose: .test)
        while q.count < n {  // Gram–Schmidt on random vectors
            var v = (0..<n).map { _ in Double(rng.nextFloat()) - 0.5 }
            for u in q { let d = zip(u, v).map(*).reduce(0, +); v = zip(v, u).map { $0 - d * $1 } }
            let norm = v.map { $0 * $0 }.reduce(0, +).squareRoot()
            if norm > 1e-3 { q.append(v.map { $0 / norm }) }
        }
        var a = [Double](repeating: 0, count: n * n)
        for k in 0..<n { for i in 0..<n { for j in 0..<n { a[i * n + j] += eigenvalues[k] * q[k][i] * q[k][j] } } }
        return a
    }

    func extremes(_ eigenvalues: [Double], iterations: Int = 400) throws -> (HessianExtremes, [Float], [Float]) {
        let n = eigenvalues.count
        let a = matrix(eigenvalues: eigenvalues, seed: 17)
        let c: [Float] = (0..<n).map { Float($0) * 0.2 - 0.5 }
        var w: [Float] = (0..<n).map { Float($0 % 4) - 1.5 }
        let before = w
        var start = [Float](repeating: 0, count: n)
        start.withUnsafeMutableBufferPointer { LandscapeDirection.gaussian($0.baseAddress!, count: n, seed: 5, family: .hessianStart, index: 0) }
        let power = HessianPowerIteration(maxIterations: iterations, tolerance: 1e-6)
        let r = try w.withUnsafeMutableBufferPointer { wp in
            try power.extremes(weights: wp.baseAddress!, count: n, start: start) { out in
                for i in 0..<n { out[i] = Float((0..<n).reduce(0.0) { $0 + a[i * n + $1] * Double(wp[$1] - c[$1]) }) }
            }
        }
        return (r, w, before)
    }

    func testLargeNegativeEigenvalueIsNotReportedAsTheTop() throws {
        let (r, w, before) = try extremes([-6, 2, 1, 0.5, -1, 0.2])
        XCTAssertEqual(r.largestMagnitude, -6, accuracy: 1e-2)
        XCTAssertEqual(r.top, 2, accuracy: 1e-2, "λ_max is the largest algebraic eigenvalue")
        XCTAssertNotNil(r.shiftedRun)
        XCTAssertEqual(w, before, "weights must be restored exactly")
    }

    func testPositiveDominantEigenvalueIsBoth() throws {
        let (r, _, _) = try extremes([5, -2, 1.5, 1, 0.5, 3])
        XCTAssertEqual(r.top, 5, accuracy: 1e-2)
        XCTAssertEqual(r.largestMagnitude, 5, accuracy: 1e-2)
        XCTAssertNil(r.shiftedRun, "no second run when the dominant eigenvalue is positive")
    }

    func testAllNegativeSpectrumHasNegativeTop() throws {
        // A maximum: λ_max = −0.5 (the flattest downward curvature), λ_|max| = −4.
        let (r, _, _) = try extremes([-4, -1, -0.5, -2])
        XCTAssertEqual(r.largestMagnitude, -4, accuracy: 1e-2)
        XCTAssertEqual(r.top, -0.5, accuracy: 1e-2)
    }
}
