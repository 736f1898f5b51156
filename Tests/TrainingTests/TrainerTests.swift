// The Trainer in process (solo communicator, a tiny synthetic set, 2 epochs): what it reports and
// what it saves must agree. The validation metrics in metrics.jsonl are recomputed from
// last.safetensors alone (EMA and raw weights, read back through Checkpoint.scoringModel and
// evaluated by a fresh evaluator with another batch size), the checkpoint's step count is the
// number of optimizer steps the data gives, and the saved weights are trained ones.

import XCTest
import Foundation
import Engine
import Media
import Dist
import Synth
@testable import Training
import TestSupport

final class TrainerTests: XCTestCase {
    func testMetricsAndCheckpointOfAnInProcessRunAgreeWithAnIndependentEvaluation() throws {
        let dir = try TempDir.make("trainer", for: self)
        let syn = dir.appendingPathComponent("syn").path, out = dir.appendingPathComponent("run").path
        _ = try Synth.generate(SynthOptions(videos: 10, seed: 4, width: 64, height: 48, frames: 8, fps: 8, testFraction: 0.4), to: syn)
        let trainEntries = try Labels.load(path: syn + "/labels_train.txt", dataRoot: syn)
        let valEntries = try Labels.load(path: syn + "/labels_test.txt", dataRoot: syn)
        XCTAssertEqual(trainEntries.count + valEntries.count, 10)
        let epochs = 2, batch = 2, seed = 5
        let resolved = try TrainConfig.resolve(sets: [
            "model.options.widths=4,8,8,8", "data.train.sampler.clip_len=4", "data.train.sampler.fragments_h=2",
            "data.train.sampler.fragments_w=2", "data.train.sampler.test_clips=1", "train.ema=0.5",
        ], flags: [
            ("data.train.labels", syn + "/labels_train.txt"), ("data.train.data_root", syn),
            ("data.val", [["name": "test", "labels": syn + "/labels_test.txt", "data_root": syn]]),
            ("train.epochs", epochs), ("train.batch_size", batch), ("train.seed", seed), ("optimizer.lr", 0.01),
            ("regularization.kind", "awp"), ("regularization.awp.gamma", 0.01),
        ])
        var options = TrainOptions(outDir: out)
        options.verbose = false
        try Trainer(resolved: resolved, options: options, comm: SoloCommunicator()).run()

        // One record per epoch; the last one's validation metrics for both weight sets.
        let lines = try String(contentsOfFile: out + "/metrics.jsonl", encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(lines.count, epochs)
        let last = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(lines[epochs - 1].utf8)) as? [String: Any])
        XCTAssertEqual(last["epoch"] as? Int, epochs)
        let val = try XCTUnwrap((last["val"] as? [String: Any])?["test"] as? [String: Any], "\(last)")

        for (weights, ema) in [("ema", true), ("raw", false)] {
            let reported = try XCTUnwrap(val[weights] as? [String: Any], "\(weights) missing in \(val)")
            let scoring = try Checkpoint.scoringModel(path: out + "/last.safetensors", ema: ema)
            XCTAssertEqual(scoring.weights, weights)
            let solo = SoloCommunicator()
            let loader = try DistributedEval.loader(entries: valEntries, sampler: scoring.sampler, comm: solo, batchPerRank: 1,
                                                    decodeThreads: 1, features: nil)
            let predictions = try DistributedEval(model: scoring.model, comm: solo, tape: Tape()).predict(loader)
            let report = try XCTUnwrap(DistributedEval.report(predictions, entries: valEntries))
            XCTAssertEqual(reported["n"] as? Int, report.count, weights)
            XCTAssertEqual(reported["srcc"] as? Double ?? .nan, report.srcc, accuracy: 1e-9, "\(weights): metrics.jsonl vs last.safetensors")
            XCTAssertEqual(reported["plcc"] as? Double ?? .nan, report.plcc, accuracy: 1e-5, "\(weights): metrics.jsonl vs last.safetensors")
            XCTAssertEqual(reported["krcc"] as? Double ?? .nan, report.krcc, accuracy: 1e-9, "\(weights): metrics.jsonl vs last.safetensors")
        }

        // Every batch of every epoch made one optimizer step, and the saved weights are trained ones.
        let (file, info) = try Checkpoint.read(path: out + "/last.safetensors")
        let stepsPerEpoch = (trainEntries.count + batch - 1) / batch
        XCTAssertEqual(info.epoch, epochs)
        XCTAssertEqual(info.step, epochs * stepsPerEpoch)
        XCTAssertEqual(info.optimizerSteps, epochs * stepsPerEpoch)
        let initial = try ModelKind.fragnet.make(seed: UInt64(seed), options: resolved.config.model.options).parameters
        let trained = try ModelKind.fragnet.make(seed: 0, options: resolved.config.model.options).parameters
        XCTAssertEqual(try trained.load(file, path: out + "/last.safetensors", allowMissing: false), [])
        let moved = trained.infos.indices.filter { Array(trained.value($0)) != Array(initial.value($0)) }
        XCTAssertGreaterThan(moved.count, trained.infos.count / 2, "training must change most tensors, changed \(moved.count) of \(trained.infos.count)")
    }
}
