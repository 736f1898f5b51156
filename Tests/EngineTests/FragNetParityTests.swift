// fragnet against PyTorch: the fixture written by scripts/reference/fragnet.py holds the input,
// initial weights, forward outputs, losses, every gradient, three AdamW steps and one AWP step
// (γ = 1e-2). Tolerances follow the float32-vs-float64 gaps the script measures (its README).

import XCTest
import Foundation
@testable import Engine

final class FragNetParityTests: XCTestCase {
    var fixture: ParityFixture!
    var path: String { fixture.path }

    override func setUpWithError() throws { fixture = try ParityFixture("fragnet_reference.safetensors") }

    func tensor(_ name: String) throws -> [Float] { try fixture.tensor(name) }

    /// The fixture's model (widths [8,8,16,16], head 16, groups 4, no dropout) with its initial weights.
    func makeModel() throws -> FragNet {
        let m = try FragNet(config: FragNet.Config(options: ["widths": "8,8,16,16", "head_hidden": "16", "groups": "4", "dropout": "0"]), seed: 1)
        _ = try m.parameters.load(fixture.file, path: path, prefix: "init.")
        return m
    }


    /// Forward on the fixture input; returns (tape, scores var).
    func forward(_ m: FragNet, _ tape: Tape) throws -> (Var, Var) {
        tape.reset()
        let input = try tensor("input")
        let x = tape.constant(input, shape: [4, 3, 4, 32, 32])
        let map = m.qualityMap(tape, x)
        let scores = tape.reshape(tape.mean(map, axes: [1, 2, 3, 4]), [4])
        return (map, scores)
    }

    func testForwardLossAndEveryGradientMatchPyTorch() throws {
        let m = try makeModel()
        let tape = Tape(compute: Compute(threads: 2))
        let (map, scores) = try forward(m, tape)
        assertClose(tape.array(map), try tensor("out.map"), rel: 2e-5, "out.map")
        assertClose(tape.array(scores), try tensor("out.scores"), rel: 2e-5, "out.scores")
        let loss = LossConfig().evaluate(predictions: tape.array(scores), labels: try tensor("labels"))
        XCTAssertEqual(loss.components[.plcc]!, Double(try tensor("loss.plcc")[0]), accuracy: 2e-5)
        XCTAssertEqual(loss.components[.rank]!, Double(try tensor("loss.rank")[0]), accuracy: 2e-5)
        XCTAssertEqual(loss.loss, Double(try tensor("loss.total")[0]), accuracy: 2e-5)
        m.parameters.zeroGrad()
        loss.gradient.withUnsafeBufferPointer { tape.backward(scores, seed: $0.baseAddress!) }
        for (i, info) in m.parameters.infos.enumerated() {
            let ours = Array(m.parameters.grad(i)), ref = try tensor("grad.\(info.name)")
            if info.name == "head.fc_last.bias" {
                // Both losses ignore a common shift of the scores: the true gradient is 0 (rounding noise only).
                XCTAssertEqual(ours[0], ref[0], accuracy: 1e-4, "grad.\(info.name)")
            } else {
                assertClose(ours, ref, rel: 2e-4, floor: 1e-6, "grad.\(info.name)")
            }
        }
    }

    func testThreeAdamWStepsMatchPyTorch() throws {
        let m = try makeModel()
        let tape = Tape(compute: Compute(threads: 2))
        let opt = Optimizer(config: OptimizerConfig(kind: .adamw, weightDecay: 0.05), store: m.parameters)
        let losses = try tensor("adamw.loss")
        let labels = try tensor("labels")
        for k in 1...3 {
            let (_, scores) = try forward(m, tape)
            let loss = LossConfig().evaluate(predictions: tape.array(scores), labels: labels)
            XCTAssertEqual(loss.loss, Double(losses[k - 1]), accuracy: 1e-4, "loss before step \(k)")
            m.parameters.zeroGrad()
            loss.gradient.withUnsafeBufferPointer { tape.backward(scores, seed: $0.baseAddress!) }
            opt.step(store: m.parameters, lr: 1e-3)
            for (i, info) in m.parameters.infos.enumerated() {
                let ours = Array(m.parameters.value(i))
                if info.name == "head.fc_last.bias" {
                    // Its true gradient is 0; Adam normalises rounding noise (of either sign) into a step
                    // of at most lr per step, so only the distance from the initial value is defined.
                    let drift = abs(ours[0] - (try tensor("init.\(info.name)")[0]))
                    XCTAssertLessThanOrEqual(drift, Float(k) * 1.01e-3, "adamw\(k).\(info.name) drift")
                    continue
                }
                let err = zip(ours, try tensor("adamw\(k).\(info.name)")).map { abs($0 - $1) }.max() ?? 0
                XCTAssertLessThanOrEqual(err, 2e-6, "adamw\(k).\(info.name)")
            }
        }
    }

    func testAWPStepMatchesPyTorch() throws {
        let m = try makeModel()
        let tape = Tape(compute: Compute(threads: 2))
        let labels = try tensor("labels")
        let (_, scores) = try forward(m, tape)
        let loss = LossConfig().evaluate(predictions: tape.array(scores), labels: labels)
        m.parameters.zeroGrad()
        loss.gradient.withUnsafeBufferPointer { tape.backward(scores, seed: $0.baseAddress!) }
        let wp = WeightPerturbation(config: PerturbationConfig(kind: .awp, gamma: 1e-2), store: m.parameters)
        wp.perturb(store: m.parameters, direction: m.parameters.grads, seed: 0, step: 0)
        for (i, info) in m.parameters.infos.enumerated() {
            // Biases are not perturbed: awp.perturbed.<bias> equals init.<bias>.
            assertClose(Array(m.parameters.value(i)), try tensor("awp.perturbed.\(info.name)"), rel: 2e-6, floor: 1e-6,
                        "awp.perturbed.\(info.name)")
        }
        let (_, adv) = try forward(m, tape)
        let advLoss = LossConfig().evaluate(predictions: tape.array(adv), labels: labels)
        XCTAssertEqual(advLoss.loss, Double(try tensor("awp.loss_perturbed")[0]), accuracy: 2e-5)
        m.parameters.zeroGrad()
        advLoss.gradient.withUnsafeBufferPointer { tape.backward(adv, seed: $0.baseAddress!) }
        for (i, info) in m.parameters.infos.enumerated() where info.name != "head.fc_last.bias" {
            assertClose(Array(m.parameters.grad(i)), try tensor("awp.grad.\(info.name)"), rel: 2e-4, floor: 1e-6, "awp.grad.\(info.name)")
        }
        wp.restore(store: m.parameters)
        for (i, info) in m.parameters.infos.enumerated() {
            XCTAssertEqual(Array(m.parameters.value(i)), try tensor("init.\(info.name)"), "restore of \(info.name) is bit-exact")
        }
        let opt = Optimizer(config: OptimizerConfig(kind: .adamw, weightDecay: 0.05), store: m.parameters)
        opt.step(store: m.parameters, lr: 1e-3)
        for (i, info) in m.parameters.infos.enumerated() {
            let ours = Array(m.parameters.value(i))
            if info.name == "head.fc_last.bias" {  // see the AdamW test: only the drift is defined
                XCTAssertLessThanOrEqual(abs(ours[0] - (try tensor("init.\(info.name)")[0])), 1.01e-3, "awp.after drift")
                continue
            }
            let err = zip(ours, try tensor("awp.after.\(info.name)")).map { abs($0 - $1) }.max() ?? 0
            XCTAssertLessThanOrEqual(err, 2e-6, "awp.after.\(info.name)")
        }
    }

    func testLossWithTiesMatchesPyTorch() throws {
        let r = LossConfig().evaluate(predictions: try tensor("ties.pred"), labels: try tensor("ties.labels"))
        XCTAssertEqual(r.components[.plcc]!, Double(try tensor("ties.plcc")[0]), accuracy: 1e-6)
        XCTAssertEqual(r.components[.rank]!, Double(try tensor("ties.rank")[0]), accuracy: 1e-6)
        XCTAssertEqual(r.loss, Double(try tensor("ties.total")[0]), accuracy: 1e-6)
        assertClose(r.gradient, try tensor("ties.grad"), rel: 1e-5, floor: 1e-6, "ties.grad")
    }
}
