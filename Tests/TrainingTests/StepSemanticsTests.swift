// What one DataParallelStep does, against the seed code's semantics:
//   - RWP reports the clean pass's loss and predictions (those of a step without perturbation at
//     the same weights, dropout and data), and a perturbed loss that differs from it;
//   - with the backbone frozen (LR multiplier 0, a linear probe) AWP perturbs only the head and the
//     optimizer leaves the backbone's state alone; unfreezing keeps the head's state;
//   - `sync: local` ascends along the gradient of each rank's OWN shard loss (m-sharpness): with one
//     sample per rank that loss is constant (batch-level PLCC/rank losses of one sample are 0), so
//     AWP local on 2 ranks × 1 sample trains exactly what no regularizer does. The old ascent (each
//     rank's share of the global-batch gradient) moves the weights and fails this.

import XCTest
import TestSupport
import Foundation
@testable import Engine
@testable import Dist

final class StepSemanticsTests: XCTestCase {
    let clipShape = [3, 4, 64, 64]
    let labels: [Float] = [3.1, 1.2, 4.4, 2.5]

    func model() throws -> VQAModel {
        try ModelKind.fragnet.make(seed: 7, options: ["widths": "8,8,16,16", "head_hidden": "16", "dropout": "0.2"])
    }

    func clips() -> [Float] {
        var rng = CounterRNG(seed: 41, purpose: .test)
        return (0..<labels.count * clipShape.reduce(1, *)).map { _ in rng.nextFloat() * 4 - 2 }
    }

    func step(_ m: VQAModel, _ perturbation: PerturbationConfig?, backbone: Float = 0.1) throws -> DataParallelStep {
        var c = StepConfig()
        c.perturbation = perturbation
        let o = OptimizerConfig(kind: .adamw, weightDecay: 0.05, groups: ["backbone": GroupRule(lrMultiplier: backbone)])
        return try DataParallelStep(model: m, comm: SoloCommunicator(), optimizer: o, config: c, compute: Compute())
    }

    func run(_ s: DataParallelStep, _ x: [Float], step: Int) throws -> StepResult {
        var copy = x
        return try copy.withUnsafeMutableBufferPointer { p in
            try s.step(ClipBatch(clipShape: clipShape, clips: p.baseAddress!, labels: labels, indices: [0, 1, 2, 3]), lr: 1e-2,
                       epoch: 0, step: step, seed: 5)
        }
    }

    func testRWPReportsTheCleanPass() throws {
        let x = clips()
        let plain = try step(try model(), nil), rwp = try step(try model(), PerturbationConfig(kind: .rwp, gamma: 0.05))
        for k in 0..<2 {
            let a = try run(plain, x, step: k), b = try run(rwp, x, step: k)
            if k == 0 {  // same weights: the clean pass is the plain step's pass
                XCTAssertEqual(b.predictions, a.predictions, "RWP's logged predictions are the clean pass's")
                XCTAssertEqual(b.loss, a.loss, "RWP's logged loss is the clean pass's")
            }
            let p = try XCTUnwrap(b.perturbedLoss)
            XCTAssertNotEqual(p, b.loss, "the perturbed pass has its own loss (its rise is not 0)")
        }
    }

    func testFrozenBackboneIsNeitherPerturbedNorTouchedByTheOptimizer() throws {
        let m = try model()
        let s = try step(m, PerturbationConfig(kind: .awp, gamma: 0.01), backbone: 0)
        let store = m.parameters
        let head = Set(m.headParameters)
        let start = Array(store.values.buffer)
        let x = clips()
        for k in 0..<2 { _ = try run(s, x, step: k) }
        let perturbed = Set(try XCTUnwrap(s.perturbation).lastPerturbed)
        XCTAssertFalse(perturbed.isEmpty)
        XCTAssertTrue(perturbed.isSubset(of: head), "a frozen backbone is not perturbed: \(perturbed.subtracting(head).map { store.infos[$0].name })")
        let m1 = try XCTUnwrap(s.optimizer.state["exp_avg"])
        for (i, info) in store.infos.enumerated() where !head.contains(i) {
            let r = info.offset..<info.offset + info.count
            XCTAssertEqual(Array(store.values.buffer[r]), Array(start[r]), "\(info.name) is frozen")
            XCTAssertTrue(m1.buffer[r].allSatisfy { $0 == 0 }, "\(info.name): no optimizer state while frozen")
        }
        XCTAssertEqual(s.optimizer.groupSteps["head"], 2)
        XCTAssertNil(s.optimizer.groupSteps["backbone"])
        // Unfreezing keeps the head's moments and count; the backbone starts its own count.
        let headM = head.map { Array(m1.buffer[store.infos[$0].offset..<store.infos[$0].offset + store.infos[$0].count]) }
        s.setOptimizerGroups(["backbone": GroupRule(lrMultiplier: 0.1)])
        XCTAssertEqual(head.map { Array(m1.buffer[store.infos[$0].offset..<store.infos[$0].offset + store.infos[$0].count]) }, headM)
        _ = try run(s, x, step: 2)
        XCTAssertEqual(s.optimizer.groupSteps["head"], 3)
        XCTAssertEqual(s.optimizer.groupSteps["backbone"], 1)
        XCTAssertFalse(Set(try XCTUnwrap(s.perturbation).lastPerturbed).isSubset(of: head), "the backbone is perturbed once it trains")
    }

    func testLocalAscentUsesEachRanksOwnShardLoss() throws {
        // Dropout off: the perturbed pass draws fresh masks (the seed code's default), which alone
        // would make AWP differ from no regulariser even with a zero ascent.
        let tiny = ["--model-option", "widths=8,8,16,16", "--model-option", "head_hidden=16", "--model-option", "dropout=0",
                    "--frames", "4", "--size", "64", "--global-batch", "2", "--steps", "3", "--warmup", "0", "--optimizer", "sgd", "--lr", "0.01"]
        func weights(_ args: [String]) throws -> [String: [Float]] {
            let path = FileManager.default.temporaryDirectory.appendingPathComponent("local-\(UUID().uuidString).safetensors").path
            defer { try? FileManager.default.removeItem(atPath: path) }
            let r = try MPIRun.vqa(2, ["bench", "step"] + tiny + args + ["--dump", path, "--json"])
            XCTAssertEqual(r.status, 0, r.stderr)
            return try floatTensors(path)
        }
        let none = try weights(["--regularizer", "none"])
        let local = try weights(["--regularizer", "awp", "--gamma", "0.05", "--sync", "local"])
        let global = try weights(["--regularizer", "awp", "--gamma", "0.05", "--sync", "global"])
        XCTAssertEqual(relativeDifference(none, local).0, 0, "one sample per rank: a flat shard loss, no ascent")
        XCTAssertGreaterThan(relativeDifference(none, global).0, 1e-5, "the global ascent does perturb")
    }
}
