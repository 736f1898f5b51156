import XCTest
@testable import Engine

/// Optimizers against Double re-implementations of the torch.optim docs' pseudo-code, on two
/// parameter tensors in two groups, plus schedules, EMA and gradient clipping.
final class OptimizerTests: XCTestCase {
    /// Two tensors in two groups (backbone ×0.1 with weight decay, head ×1 without).
    func makeStore() -> ParameterStore {
        let store = ParameterStore()
        store.declare("backbone.layer.weight", shape: [3, 5], initializer: .uniform(1), group: "backbone")
        store.declare("head.fc.weight", shape: [7], initializer: .uniform(1), group: "head")
        store.allocate()
        store.initialize(seed: 3)
        return store
    }

    let groups = ["backbone": GroupRule(lrMultiplier: 0.1, weightDecay: true),
                  "head": GroupRule(lrMultiplier: 1, weightDecay: false)]

    /// Reference state for one tensor, in Double.
    struct Ref {
        var w: [Double], m: [Double], v: [Double], b: [Double]?
    }

    /// torch.optim pseudo-code for one tensor and one step t (1-based).
    func referenceStep(_ r: inout Ref, g gIn: [Double], config: OptimizerConfig, lr: Double, wd: Double, t: Int) {
        let b1 = Double(config.beta1), b2 = Double(config.beta2), eps = Double(config.epsilon), mu = Double(config.momentum)
        for i in 0..<r.w.count {
            var g = gIn[i]
            switch config.kind {
            case .sgd:
                if wd != 0 { g += wd * r.w[i] }
                if mu != 0 {
                    // t = 1: b = g; afterwards b = μb + (1 − dampening)g with dampening 0.
                    r.b![i] = t == 1 ? g : mu * r.b![i] + g
                    g = config.nesterov ? g + mu * r.b![i] : r.b![i]
                }
                r.w[i] -= lr * g
            case .adam, .adamw:
                if config.kind == .adamw { r.w[i] -= lr * wd * r.w[i] } else if wd != 0 { g += wd * r.w[i] }
                r.m[i] = b1 * r.m[i] + (1 - b1) * g
                r.v[i] = b2 * r.v[i] + (1 - b2) * g * g
                let mhat = r.m[i] / (1 - pow(b1, Double(t))), vhat = r.v[i] / (1 - pow(b2, Double(t)))
                r.w[i] -= lr * mhat / (vhat.squareRoot() + eps)
            }
        }
    }

    func runComparison(_ config: OptimizerConfig, steps: Int = 6, threads: Int = 2, file: StaticString = #filePath, line: UInt = #line) {
        let store = makeStore()
        let opt = Optimizer(config: config, store: store, compute: Compute(threads: threads))
        var refs = store.infos.indices.map { i -> Ref in
            let w = store.value(i).map(Double.init)
            return Ref(w: w, m: w.map { _ in 0 }, v: w.map { _ in 0 }, b: w.map { _ in 0 })
        }
        let schedule = LRSchedule.warmupCosine(warmupIterations: 2, maxIterations: 10)
        for t in 1...steps {
            store.zeroGrad()
            for i in store.infos.indices {
                let g = randomArray(store.infos[i].count, seed: UInt64(100 * t + i), scale: 0.5)
                _ = store.grad(i).update(fromContentsOf: g)
            }
            let lr = schedule.learningRate(base: 1e-2, iteration: t)  // t ≥ 1 so the LR is never 0 here
            opt.step(store: store, lr: lr)
            for i in store.infos.indices {
                let rule = config.rule(for: store.infos[i].group)
                referenceStep(&refs[i], g: store.grad(i).map(Double.init), config: config,
                              lr: Double(lr) * Double(rule.lrMultiplier), wd: rule.weightDecay ? Double(config.weightDecay) : 0, t: t)
            }
        }
        XCTAssertEqual(opt.stepCount, steps, file: file, line: line)
        for i in store.infos.indices {
            let w = store.value(i)
            for j in 0..<w.count {
                XCTAssertEqual(Double(w[j]), refs[i].w[j], accuracy: 2e-6 * max(1, abs(refs[i].w[j])),
                               "\(config.kind) \(store.infos[i].name)[\(j)]", file: file, line: line)
            }
        }
        // Alignment padding stays zero.
        let values = store.values.toArray()
        let used = Set(store.infos.flatMap { $0.offset..<($0.offset + $0.count) })
        for k in 0..<values.count where !used.contains(k) { XCTAssertEqual(values[k], 0, "padding \(k)", file: file, line: line) }
    }

    func testSGDMomentumWithL2MatchesReference() {
        runComparison(OptimizerConfig(kind: .sgd, weightDecay: 0.01, momentum: 0.9, groups: groups))
    }

    func testSGDNesterovMatchesReference() {
        runComparison(OptimizerConfig(kind: .sgd, weightDecay: 0.01, momentum: 0.9, nesterov: true, groups: groups))
    }

    func testPlainSGDHasNoState() {
        let opt = Optimizer(config: OptimizerConfig(kind: .sgd, weightDecay: 0), store: makeStore())
        XCTAssertTrue(opt.state.isEmpty)
        runComparison(OptimizerConfig(kind: .sgd, weightDecay: 0, groups: groups), threads: 1)
    }

    func testAdamCoupledL2MatchesReference() {
        runComparison(OptimizerConfig(kind: .adam, weightDecay: 0.01, groups: groups))
    }

    func testAdamWDecoupledMatchesReference() {
        let config = OptimizerConfig(kind: .adamw, weightDecay: 0.05, groups: groups)
        XCTAssertEqual(config.beta1, 0.9); XCTAssertEqual(config.beta2, 0.999); XCTAssertEqual(config.epsilon, 1e-8)
        runComparison(config)
        let opt = Optimizer(config: config, store: makeStore())
        XCTAssertEqual(Set(opt.state.keys), ["exp_avg", "exp_avg_sq"])
    }

    func testSegmentsMergeEqualRules() {
        let store = ParameterStore()
        store.declare("backbone.a", shape: [3], initializer: .zeros, group: "backbone")
        store.declare("backbone.b", shape: [20], initializer: .zeros, group: "backbone")
        store.declare("head.c", shape: [5], initializer: .zeros, group: "head")
        store.allocate()
        let segs = Optimizer.segments(store: store, config: OptimizerConfig())
        XCTAssertEqual(segs.map(\.range), [0..<48, 48..<64])
        XCTAssertEqual(segs.map(\.rule.lrMultiplier), [0.1, 1])
    }

    func testClipGradientNorm() {
        let g = FloatBuffer(count: 100_000)
        let values = randomArray(100_000, seed: 8)
        _ = g.buffer.update(fromContentsOf: values)
        let expected = values.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
        let norm = clipGradientNorm(g, maxNorm: 1, compute: Compute(threads: 2))
        XCTAssertEqual(Double(norm), expected, accuracy: 1e-4 * expected)
        let after = g.toArray().reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
        XCTAssertEqual(after, 1 / (1 + 1e-6 / expected), accuracy: 1e-5)
        // Under the threshold: unchanged.
        let before = g.toArray()
        XCTAssertEqual(Double(clipGradientNorm(g, maxNorm: 10)), after, accuracy: 1e-5)
        XCTAssertEqual(g.toArray(), before)
    }

    func testFastVQAScheduleFormula() {
        let s = LRSchedule.fastVQA(warmupEpochs: 2.5, epochs: 30, iterationsPerEpoch: 100)
        XCTAssertEqual(s, .warmupCosine(warmupIterations: 250, maxIterations: 3000))
        XCTAssertEqual(s.factor(iteration: 0), 0)
        XCTAssertEqual(s.factor(iteration: 125), 0.5)
        XCTAssertEqual(s.factor(iteration: 250), 1)
        XCTAssertEqual(s.factor(iteration: 251), 0.5 * (1 + cos(Double.pi / 3000)), accuracy: 1e-15)
        XCTAssertEqual(s.factor(iteration: 1750), 0.5, accuracy: 1e-12)  // (1750 − 250)/3000 = 1/2
        XCTAssertEqual(s.factor(iteration: 2999), 0.5 * (1 + cos(Double.pi * 2749 / 3000)), accuracy: 1e-15)
        XCTAssertGreaterThan(s.factor(iteration: 2999), 0, "upstream's cosine never reaches 0")
        XCTAssertEqual(LRSchedule.warmupCosine(warmupIterations: 0, maxIterations: 10).factor(iteration: 0), 1)
        XCTAssertEqual(LRSchedule.fastVQA(warmupEpochs: 2.5, epochs: 20, linearProbeEpochs: 10, iterationsPerEpoch: 7),
                       .warmupCosine(warmupIterations: 17, maxIterations: 210))
    }

    func testStepAndConstantSchedules() {
        let s = LRSchedule.stepDecay(stepSize: 2, gamma: 0.95)
        XCTAssertEqual((0..<6).map { s.factor(iteration: $0) }, [1, 1, 0.95, 0.95, 0.95 * 0.95, 0.95 * 0.95])
        XCTAssertEqual(LRSchedule.constant.factor(iteration: 12345), 1)
        XCTAssertEqual(LRSchedule.constant.learningRate(base: 1e-3, iteration: 7), 1e-3)
    }

    func testEMAMatchesClosedForm() {
        let store = makeStore()
        let ema = WeightEMA(store: store, compute: Compute(threads: 2))
        XCTAssertEqual(ema.decay, 0.999)
        var ref = store.values.toArray().map(Double.init)
        for k in 0..<5 {
            let w = randomArray(store.flatCount, seed: UInt64(50 + k))
            _ = store.values.buffer.update(fromContentsOf: w)
            ema.update(from: store)
            for i in 0..<ref.count { ref[i] = 0.999 * ref[i] + 0.001 * Double(w[i]) }
        }
        let got = ema.shadow.toArray()
        for i in 0..<ref.count { XCTAssertEqual(Double(got[i]), ref[i], accuracy: 1e-6) }
    }
}

/// Several torch.optim steps (float32) replayed with the same gradients and learning rates.
final class OptimizerTorchParityTests: XCTestCase {
    func testStepsMatchTorchOptim() throws {
        let cases = try XCTUnwrap(loadTrainFixture()["optimizers"] as? [[String: Any]])
        XCTAssertEqual(cases.count, 3)
        for c in cases {
            let kind = try XCTUnwrap(OptimizerKind(rawValue: c["kind"] as? String ?? ""))
            let wd = try XCTUnwrap(c["weight_decay"] as? Double)
            let lrs = try XCTUnwrap(c["lrs"] as? [Double])
            let initial = try XCTUnwrap(c["initial"] as? [[Double]])
            let grads = try XCTUnwrap(c["grads"] as? [[[Double]]])
            let final = try XCTUnwrap(c["final"] as? [[Double]])
            let store = ParameterStore()
            store.declare("backbone.layer.weight", shape: [3, 5], initializer: .zeros, group: "backbone")
            store.declare("head.fc.weight", shape: [7], initializer: .zeros, group: "head")
            store.allocate()
            for i in 0..<2 { _ = store.value(i).update(fromContentsOf: initial[i].map(Float.init)) }
            let config = OptimizerConfig(kind: kind, weightDecay: Float(wd), momentum: kind == .sgd ? 0.9 : 0,
                                         nesterov: kind == .sgd,
                                         groups: ["backbone": GroupRule(lrMultiplier: 0.1, weightDecay: true),
                                                  "head": GroupRule(lrMultiplier: 1, weightDecay: false)])
            let opt = Optimizer(config: config, store: store, compute: Compute(threads: 2))
            for (t, lr) in lrs.enumerated() {
                for i in 0..<2 { _ = store.grad(i).update(fromContentsOf: grads[t][i].map(Float.init)) }
                opt.step(store: store, lr: Float(lr))
            }
            for i in 0..<2 {
                for (j, w) in store.value(i).enumerated() {
                    XCTAssertEqual(w, Float(final[i][j]), accuracy: 1e-6 * max(1, abs(Float(final[i][j]))), "\(kind) tensor \(i)[\(j)]")
                }
            }
        }
    }
}
