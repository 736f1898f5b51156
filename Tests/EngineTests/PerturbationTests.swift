import XCTest
@testable import Engine

final class PerturbationTests: XCTestCase {
    func makeStore() -> ParameterStore {
        let store = ParameterStore()
        store.declare("backbone.blocks.0.attn.qkv.weight", shape: [4, 3], initializer: .uniform(1))
        store.declare("backbone.blocks.0.attn.qkv.bias", shape: [4], initializer: .uniform(1))
        store.declare("backbone.blocks.0.norm1.weight", shape: [3], initializer: .ones)
        store.declare("backbone.blocks.0.attn.relative_position_bias_table", shape: [5, 2], initializer: .uniform(1))
        store.declare("vqa_head.fc_last.weight", shape: [1, 6], initializer: .uniform(1), group: "head")
        store.allocate()
        store.initialize(seed: 11)
        return store
    }

    func testSelectionRules() {
        let store = makeStore()
        let named = WeightPerturbation(config: PerturbationConfig(select: .weightNamed), store: store)
        XCTAssertEqual(named.selected.map { store.infos[$0].name }, [
            "backbone.blocks.0.attn.qkv.weight", "backbone.blocks.0.norm1.weight", "vqa_head.fc_last.weight"])
        let matrices = WeightPerturbation(config: PerturbationConfig(select: .ndimAbove1), store: store)
        XCTAssertEqual(matrices.selected.map { store.infos[$0].name }, ["backbone.blocks.0.attn.qkv.weight", "vqa_head.fc_last.weight"])
    }

    func testAWPFormulaByHandWithActiveClamp() {
        let store = ParameterStore()
        store.declare("fc.weight", shape: [2, 2], initializer: .zeros)
        store.allocate()
        let w0: [Float] = [1, -2, 0.5, 0]
        let g: [Float] = [0.3, 0.1, -0.2, 0.4]
        _ = store.value(0).update(fromContentsOf: w0)
        _ = store.grad(0).update(fromContentsOf: g)
        let gamma: Float = 0.1
        let wp = WeightPerturbation(config: PerturbationConfig(kind: .awp, gamma: gamma), store: store)
        wp.perturb(store: store, direction: store.grads, seed: 1, step: 0)
        // δ = γ·g/(‖g‖+ε)·(‖w‖+ε): ‖g‖ = √0.30, ‖w‖ = √5.25.
        let scale = 0.1 / (0.3.squareRoot() + 1e-6) * (5.25.squareRoot() + 1e-6)
        let expected = (0..<4).map { j -> Double in
            let w = Double(w0[j]), bound = 0.1 * abs(w)
            return min(max(w + scale * Double(g[j]), w - bound), w + bound)
        }
        // By hand: scale ≈ 0.41833; δ ≈ (0.1255, 0.0418, −0.0837, 0.1673); the bounds γ|w| are
        // (0.1, 0.2, 0.05, 0): elements 0, 2 and 3 are clamped, element 1 is not.
        XCTAssertEqual(scale, 0.418330, accuracy: 1e-6)
        for (e, h) in zip(expected, [1.1, -2 + scale * Double(g[1]), 0.45, 0]) { XCTAssertEqual(e, h, accuracy: 1e-12, "hand check of the clamp") }
        let got = store.value(0)
        for j in 0..<4 { XCTAssertEqual(Double(got[j]), expected[j], accuracy: 1e-6, "element \(j)") }
        XCTAssertEqual(wp.lastPerturbed, [0])
        wp.restore(store: store)
        XCTAssertEqual(Array(store.value(0)), w0)
    }

    func testDirectionAlignedWithWeightsScalesThemByOnePlusGamma() {
        // With the direction equal to w, δ = γ·w·(‖w‖+ε)/(‖w‖+ε) = γw: w′ = (1+γ)w, on the clamp bound.
        let store = makeStore()
        let i = store.index(of: "vqa_head.fc_last.weight")!
        let w0 = Array(store.value(i))
        _ = store.grad(i).update(fromContentsOf: w0)
        let wp = WeightPerturbation(config: PerturbationConfig(), store: store)
        wp.perturb(store: store, direction: store.grads, seed: 1, step: 0)
        for (j, w) in store.value(i).enumerated() {
            XCTAssertEqual(Double(w), Double(w0[j]) * (1 + 1e-4), accuracy: 1e-7)
        }
    }

    func testZeroAndNonFiniteDirectionsAreSkipped() {
        let store = makeStore()
        store.zeroGrad()
        let q = store.index(of: "backbone.blocks.0.attn.qkv.weight")!
        let h = store.index(of: "vqa_head.fc_last.weight")!
        let n = store.index(of: "backbone.blocks.0.norm1.weight")!
        store.grad(h)[2] = .nan
        store.grad(n)[0] = 1  // the only tensor with a usable direction
        let before = store.values.toArray()
        let wp = WeightPerturbation(config: PerturbationConfig(gamma: 0.01), store: store)
        wp.perturb(store: store, direction: store.grads, seed: 1, step: 0)
        XCTAssertEqual(wp.lastPerturbed, [n])
        XCTAssertEqual(Array(store.value(q)), Array(before[store.infos[q].offset..<store.infos[q].offset + 12]))
        XCTAssertNotEqual(store.value(n)[0], before[store.infos[n].offset])
        wp.restore(store: store)
        XCTAssertEqual(store.values.toArray(), before)
    }

    func testRestoreIsBitwiseExact() {
        let store = makeStore()
        for i in store.infos.indices { _ = store.grad(i).update(fromContentsOf: randomArray(store.infos[i].count, seed: UInt64(40 + i))) }
        let before = store.values.toArray().map(\.bitPattern)
        for kind in PerturbationKind.allCases {
            let wp = WeightPerturbation(config: PerturbationConfig(kind: kind, gamma: 0.05), store: store)
            wp.perturb(store: store, direction: kind == .awp ? store.grads : nil, seed: 9, step: 3)
            XCTAssertNotEqual(store.values.toArray().map(\.bitPattern), before, "\(kind) moved nothing")
            wp.restore(store: store)
            XCTAssertEqual(store.values.toArray().map(\.bitPattern), before, "\(kind) restore")
        }
    }

    func testRWPNoiseIsSharedAndBounded() {
        // A tensor larger than one noise block, to cover the block-keyed streams.
        func run(threads: Int, step: UInt64) -> ([Float], [Float]) {
            let store = ParameterStore()
            store.declare("big.weight", shape: [100, 200], initializer: .uniform(1))
            store.allocate()
            store.initialize(seed: 2)
            let w0 = store.values.toArray()
            let wp = WeightPerturbation(config: PerturbationConfig(kind: .rwp, gamma: 1e-3), store: store,
                                        compute: Compute(threads: threads))
            wp.perturb(store: store, direction: nil, seed: 42, step: step)
            return (w0, store.values.toArray())
        }
        let (w0, a) = run(threads: 1, step: 5)
        let (_, b) = run(threads: 2, step: 5)
        let (_, c) = run(threads: 2, step: 6)
        XCTAssertEqual(a, b, "noise must not depend on the thread count (identical on every rank)")
        XCTAssertNotEqual(a, c, "a new step draws new noise")
        var deltaNorm = 0.0, wNorm = 0.0, clamped = 0
        for j in 0..<20_000 {
            let d = Double(a[j]) - Double(w0[j])
            // Float rounding of w0 ± γ|w0| is up to one ulp of w0.
            XCTAssertLessThanOrEqual(abs(d), 1e-3 * Double(abs(w0[j])) + 2e-7 * Double(abs(w0[j])) + 1e-12)
            if abs(abs(d) - 1e-3 * Double(abs(w0[j]))) < 2e-7 * Double(abs(w0[j])) { clamped += 1 }
            deltaNorm += d * d; wNorm += Double(w0[j]) * Double(w0[j])
        }
        XCTAssertLessThanOrEqual(deltaNorm.squareRoot(), 1e-3 * wNorm.squareRoot() * (1 + 1e-4))
        XCTAssertGreaterThan(clamped, 0, "the element-wise clamp is active for some elements")
        XCTAssertGreaterThan(deltaNorm.squareRoot(), 1e-4 * wNorm.squareRoot(), "the perturbation is not degenerate")
    }

    func testGammaZeroDoesNothing() {
        let store = makeStore()
        let before = store.values.toArray()
        let wp = WeightPerturbation(config: PerturbationConfig(kind: .rwp, gamma: 0), store: store)
        wp.perturb(store: store, direction: nil, seed: 1, step: 1)
        XCTAssertEqual(store.values.toArray(), before)
        XCTAssertEqual(wp.lastPerturbed, [])
        wp.restore(store: store)
        XCTAssertEqual(store.values.toArray(), before)
    }
}

final class PerturbationNoiseTests: XCTestCase {
    /// The RWP noise is standard normal: moments and a Kolmogorov–Smirnov distance against Φ.
    func testNoiseIsStandardNormal() {
        let n = 40_001  // odd: the last value comes from a half-used pair
        var rng = CounterRNG(seed: 3, purpose: .rwpNoise)
        var z = [Float](repeating: .nan, count: n)
        z.withUnsafeMutableBufferPointer { WeightPerturbation.gaussians(&rng, into: $0.baseAddress!, count: n) }
        XCTAssertTrue(z.allSatisfy { $0.isFinite })
        let d = z.map(Double.init)
        let mean = d.reduce(0, +) / Double(n)
        let variance = d.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(n)
        XCTAssertEqual(mean, 0, accuracy: 0.02)
        XCTAssertEqual(variance, 1, accuracy: 0.03)
        let sorted = d.sorted()
        var ks = 0.0
        for (i, x) in sorted.enumerated() {
            let cdf = 0.5 * erfc(-x / 2.0.squareRoot())
            ks = max(ks, abs(cdf - Double(i) / Double(n)), abs(cdf - Double(i + 1) / Double(n)))
        }
        // The 1% critical value of the KS statistic is 1.63/√n ≈ 0.0082.
        XCTAssertLessThan(ks, 1.63 / Double(n).squareRoot())
    }
}
