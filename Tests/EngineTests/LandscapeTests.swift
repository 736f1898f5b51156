// Landscape directions (filter normalisation invariants, seed reproducibility) and the Hessian
// power iteration against quadratics with known spectra.

import XCTest
@testable import Engine

final class LandscapeTests: XCTestCase {
    func tinyNet(seed: UInt64) throws -> FragNet {
        try FragNet(config: FragNet.Config(options: ["widths": "8,8,16,16", "head_hidden": "8"]), seed: seed)
    }

    func norm(_ p: UnsafePointer<Float>, _ n: Int) -> Double {
        var s = 0.0
        for i in 0..<n { s += Double(p[i]) * Double(p[i]) }
        return s.squareRoot()
    }

    func testFilterNormalisationMatchesWeightFilterNorms() throws {
        let net = try tinyNet(seed: 1)
        let store = net.parameters
        let d = LandscapeDirection.make(store: store, seed: 7, family: .axis, index: 0)
        var checkedFilters = 0, zeroed = 0
        for info in store.infos {
            let dp = d.base + info.offset, wp = store.values.base + info.offset
            if info.shape.count <= 1 {
                for i in 0..<info.count { XCTAssertEqual(dp[i], 0, info.name) }
                zeroed += 1
                continue
            }
            let size = info.count / info.shape[0]
            for f in 0..<info.shape[0] {
                let dn = norm(dp + f * size, size), wn = norm(wp + f * size, size)
                XCTAssertEqual(dn, wn, accuracy: 1e-5 * max(wn, 1e-6), "\(info.name) filter \(f)")
                checkedFilters += 1
            }
        }
        XCTAssertGreaterThan(checkedFilters, 50)
        XCTAssertGreaterThan(zeroed, 5)  // conv biases and group-norm parameters
    }

    func testIncludeBiasAndNormCopiesOneDimensionalWeights() throws {
        let store = try tinyNet(seed: 2).parameters
        let d = LandscapeDirection.make(store: store, seed: 7, family: .axis, index: 0, includeBiasAndNorm: true)
        for info in store.infos where info.shape.count <= 1 {
            for i in 0..<info.count { XCTAssertEqual(d.base[info.offset + i], store.values.base[info.offset + i], info.name) }
        }
    }

    func testSameSeedGivesSameRawDirectionForDifferentCheckpoints() throws {
        let a = try tinyNet(seed: 1).parameters, b = try tinyNet(seed: 99).parameters
        XCTAssertNotEqual(a.values.toArray(), b.values.toArray())
        let da = LandscapeDirection.make(store: a, seed: 5, family: .axis, index: 0)
        let db = LandscapeDirection.make(store: b, seed: 5, family: .axis, index: 0)
        // Same raw Gaussian: each normalised filter is the same unit vector times a different norm.
        for info in a.infos where info.shape.count >= 2 {
            let size = info.count / info.shape[0]
            for f in 0..<info.shape[0] {
                let pa = da.base + info.offset + f * size, pb = db.base + info.offset + f * size
                let na = norm(pa, size), nb = norm(pb, size)
                for j in 0..<size { XCTAssertEqual(Double(pa[j]) / na, Double(pb[j]) / nb, accuracy: 1e-5) }
            }
        }
        // Other seeds, indices and families give different directions.
        let raw = { (seed: UInt64, fam: LandscapeDirection.Family, k: Int) -> [Float] in
            var v = [Float](repeating: 0, count: 64)
            v.withUnsafeMutableBufferPointer { LandscapeDirection.gaussian($0.baseAddress!, count: 64, seed: seed, family: fam, index: k) }
            return v
        }
        XCTAssertEqual(raw(5, .axis, 0), raw(5, .axis, 0))
        XCTAssertNotEqual(raw(5, .axis, 0), raw(6, .axis, 0))
        XCTAssertNotEqual(raw(5, .axis, 0), raw(5, .axis, 1))
        XCTAssertNotEqual(raw(5, .axis, 0), raw(5, .sharpness, 0))
        let g = raw(5, .axis, 0).map(Double.init)
        XCTAssertEqual(g.reduce(0, +) / 64, 0, accuracy: 0.5)
    }

    func testCombineWeights() {
        let base: [Float] = [1, 2, 3], d: [Float] = [1, 0, -1], e: [Float] = [0, 2, 2]
        var out = [Float](repeating: 0, count: 3)
        d.withUnsafeBufferPointer { dp in
            e.withUnsafeBufferPointer { ep in
                combineWeights(&out, base: base, count: 3, [(0.5, dp.baseAddress!), (-1, ep.baseAddress!)])
            }
        }
        XCTAssertEqual(out, [1.5, 0, 0.5])
    }

    /// A symmetric n×n matrix Q·diag(λ)·Qᵀ with Q from Gram–Schmidt on random vectors.
    func matrix(eigenvalues: [Double], seed: UInt64) -> [Double] {
        let n = eigenvalues.count
        var rng = CounterRNG(seed: seed, purpose: .test)
        var q: [[Double]] = []
        while q.count < n {
            var v = (0..<n).map { _ in Double(rng.nextGaussian()) }
            for u in q { let dot = zip(u, v).map(*).reduce(0, +); v = zip(v, u).map { $0 - dot * $1 } }
            let nv = v.map { $0 * $0 }.reduce(0, +).squareRoot()
            q.append(v.map { $0 / nv })
        }
        var a = [Double](repeating: 0, count: n * n)
        for k in 0..<n { for i in 0..<n { for j in 0..<n { a[i * n + j] += eigenvalues[k] * q[k][i] * q[k][j] } } }
        return a
    }

    func powerIteration(eigenvalues: [Double], iterations: Int, tolerance: Double = 1e-4) throws -> (PowerIterationResult, [Float], [Float]) {
        let n = eigenvalues.count
        let a = matrix(eigenvalues: eigenvalues, seed: 11)
        // L(w) = ½ (w − c)ᵀ A (w − c): gradient A (w − c), Hessian A everywhere.
        let c: [Float] = (0..<n).map { Float($0) * 0.3 - 1 }
        var w: [Float] = (0..<n).map { Float($0 % 3) + 0.5 }
        let before = w
        var start = [Float](repeating: 0, count: n)
        start.withUnsafeMutableBufferPointer { LandscapeDirection.gaussian($0.baseAddress!, count: n, seed: 3, family: .hessianStart, index: 0) }
        let power = HessianPowerIteration(maxIterations: iterations, tolerance: tolerance)
        let r = try w.withUnsafeMutableBufferPointer { wp in
            try power.run(weights: wp.baseAddress!, count: n, start: start) { out in
                for i in 0..<n {
                    var s = 0.0
                    for j in 0..<n { s += a[i * n + j] * Double(wp[j] - c[j]) }
                    out[i] = Float(s)
                }
            }
        }
        return (r, w, before)
    }

    func testPowerIterationFindsTopEigenvalueOfQuadratic() throws {
        let (r, w, before) = try powerIteration(eigenvalues: [5, -2, 1.5, 1, 0.5, 0.1, 3, -0.7], iterations: 200)
        XCTAssertEqual(r.eigenvalue, 5, accuracy: 5e-3)
        XCTAssertEqual(r.rayleigh, 5, accuracy: 5e-3)
        XCTAssertTrue(r.converged)
        XCTAssertLessThan(r.iterations, 200)
        XCTAssertEqual(w, before, "weights must be restored exactly")
    }

    func testPowerIterationFindsNegativeDominantEigenvalue() throws {
        let (r, _, _) = try powerIteration(eigenvalues: [-6, 2, 1, 0.5, -1], iterations: 300)
        XCTAssertEqual(r.eigenvalue, -6, accuracy: 1e-2)
        XCTAssertEqual(r.rayleigh, -6, accuracy: 1e-2)
    }

    func testPowerIterationStopsAtMaxIterations() throws {
        let (r, _, _) = try powerIteration(eigenvalues: [1, 0.999, 0.5], iterations: 3, tolerance: 0)
        XCTAssertEqual(r.iterations, 3)
        XCTAssertFalse(r.converged)
    }

    func testZeroStartVectorIsRejected() {
        var w: [Float] = [1, 2]
        let zero: [Float] = [0, 0]
        XCTAssertThrowsError(try w.withUnsafeMutableBufferPointer { wp in
            try HessianPowerIteration().run(weights: wp.baseAddress!, count: 2, start: zero) { _ in }
        })
    }
}
