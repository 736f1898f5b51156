// simplevqa against PyTorch: the fixture written by scripts/reference/simplevqa.py holds 3 clips of
// 2 frames of 64×64, motion features, labels and, for a ResNet-18 (width 4, all four stages pooled,
// motion_dim 4, head 16) and a ResNet-50 (width 2, stages 2-4, head 128) trunk, the initial weights
// and frozen BN statistics, frame scores, scores, features, the L1 + rank loss and every gradient.
// The script measures float32-vs-float64 gaps of ≤ 1e-6 (outputs) and ≤ 5e-6 (gradients).

import XCTest
import Foundation
@testable import Engine

final class SimpleVQAParityTests: XCTestCase {
    var fixture: ParityFixture!

    override func setUpWithError() throws { fixture = try ParityFixture("simplevqa_reference.safetensors") }

    static let options: [String: [String: String]] = [
        "r18": ["depth": "18", "width": "4", "pool_stages": "1,2,3,4", "motion_dim": "4", "head_hidden": "16"],
        "r50": ["depth": "50", "width": "2", "head_hidden": "128"],
    ]

    func makeModel(_ key: String) throws -> SimpleVQA {
        let m = try SimpleVQA(config: SimpleVQA.Config(options: Self.options[key]!), seed: 3)
        let missing = try m.parameters.load(fixture.file, path: fixture.path, prefix: "\(key).init.")
        XCTAssertEqual(missing, [], "\(key): tensors missing from the fixture")
        return m
    }

    func run(_ key: String, training: Bool = true) throws -> (SimpleVQA, Tape, Var, Var, Var) {
        let m = try makeModel(key)
        let tape = Tape(compute: Compute(threads: 2))
        tape.training = training
        let x = tape.constant(try fixture.tensor("input"), shape: [3, 3, 2, 64, 64])
        let motion = m.config.motionDim > 0 ? tape.constant(try fixture.tensor("motion"), shape: [3, 2, 4]) : nil
        let feats = m.spatialFeatures(tape, x)
        let frames = m.frameScores(tape, x, motion: motion)
        let scores = tape.mean(frames, axes: [1])
        return (m, tape, feats, frames, scores)
    }

    func testForwardLossAndEveryGradientMatchPyTorch() throws {
        for key in ["r18", "r50"] {
            let (m, tape, feats, frames, scores) = try run(key)
            let ref = try fixture.tensor("\(key).out.features")
            let spatial = m.config.spatialDim, width = spatial + m.config.motionDim
            let refSpatial = (0..<6).flatMap { r in ref[(r * width)..<(r * width + spatial)] }
            assertClose(tape.array(feats), refSpatial, rel: 2e-5, "\(key).features")
            assertClose(tape.array(frames), try fixture.tensor("\(key).out.frame_scores"), rel: 2e-5, "\(key).frame_scores")
            assertClose(tape.array(scores), try fixture.tensor("\(key).out.scores"), rel: 2e-5, "\(key).scores")
            let loss = LossConfig(weights: [.l1: 1, .simpleRank: 1]).evaluate(predictions: tape.array(scores), labels: try fixture.tensor("labels"))
            XCTAssertEqual(loss.components[.l1]!, Double(try fixture.tensor("\(key).loss.l1")[0]), accuracy: 2e-5, "\(key) l1")
            XCTAssertEqual(loss.components[.simpleRank]!, Double(try fixture.tensor("\(key).loss.rank")[0]), accuracy: 2e-5, "\(key) rank")
            XCTAssertGreaterThan(loss.components[.simpleRank]!, 0, "\(key): the fixture must exercise the rank term")
            m.parameters.zeroGrad()
            loss.gradient.withUnsafeBufferPointer { tape.backward(scores, seed: $0.baseAddress!) }
            var compared = 0
            for (i, info) in m.parameters.infos.enumerated() {
                let ours = Array(m.parameters.grad(i))
                if info.group == OptimizerConfig.frozenGroup {
                    XCTAssertEqual(ours.map(abs).max(), 0, "\(info.name) is a frozen statistic and gets no gradient")
                    continue
                }
                assertClose(ours, try fixture.tensor("\(key).grad.\(info.name)"), rel: 1e-4, floor: 1e-6, "\(key).grad.\(info.name)")
                compared += 1
            }
            XCTAssertEqual(compared, fixture.file.tensors.keys.filter { $0.hasPrefix("\(key).grad.") }.count, "\(key): every gradient compared")
        }
    }

    /// Frozen BN: training and evaluation compute the same function, and an AdamW step with weight
    /// decay leaves the statistics untouched while it moves the BN affine parameters.
    func testFrozenStatisticsAreConstantInTrainingAndUnderAdamW() throws {
        let (m, tape, _, _, trainScores) = try run("r50", training: true)
        let (_, evalTape, _, _, evalScores) = try run("r50", training: false)
        XCTAssertEqual(tape.array(trainScores), evalTape.array(evalScores))
        let before = m.parameters.values.toArray()
        let loss = LossConfig(weights: [.l1: 1, .simpleRank: 1]).evaluate(predictions: tape.array(trainScores), labels: try fixture.tensor("labels"))
        m.parameters.zeroGrad()
        loss.gradient.withUnsafeBufferPointer { tape.backward(trainScores, seed: $0.baseAddress!) }
        Optimizer(config: OptimizerConfig(kind: .adamw, weightDecay: 0.05), store: m.parameters).step(store: m.parameters, lr: 1e-2)
        var frozen = 0, moved = 0
        for (i, info) in m.parameters.infos.enumerated() {
            let now = Array(m.parameters.value(i)), old = Array(before[info.offset..<(info.offset + info.count)])
            if info.group == OptimizerConfig.frozenGroup { XCTAssertEqual(now, old, info.name); frozen += 1 } else if now != old { moved += 1 }
        }
        XCTAssertEqual(frozen, 2 * m.parameters.infos.filter { $0.name.hasSuffix(".running_mean") }.count)
        XCTAssertGreaterThan(frozen, 0)
        XCTAssertGreaterThan(moved, m.parameters.infos.count / 2)
    }
}
