// train.eval_every: validation runs every N epochs and after the last one (it used to be accepted
// and ignored, so every epoch paid for a full validation pass); 0 is rejected before any work.

import XCTest
import Foundation
import TestSupport

final class EvalEveryTests: XCTestCase {
    /// Epoch numbers of metrics.jsonl records that carry validation metrics.
    func validatedEpochs(_ dir: String) throws -> [Int] {
        let text = try String(contentsOfFile: dir + "/metrics.jsonl", encoding: .utf8)
        return try text.split(separator: "\n").compactMap { line in
            let rec = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            let val = rec["val"] as? [String: Any] ?? [:]
            return val.isEmpty ? nil : rec["epoch"] as? Int
        }
    }

    /// One process, tiny model and clips (TrainE2ETests' shared 12-video set), no AWP.
    func trainArgs(out: String, epochs: Int) -> [String] {
        let syn = TrainE2ETests.data + "/syn"
        return ["train", "--train-labels", syn + "/labels_train.txt", "--data-root", syn, "--val-labels", syn + "/labels_test.txt",
                "--epochs", "\(epochs)", "--batch-size", "4", "--seed", "5", "--regularizer", "none",
                "--set", "model.options.widths=4,8,8,8", "--set", "data.train.sampler.clip_len=2",
                "--set", "data.train.sampler.fragments_h=2", "--set", "data.train.sampler.fragments_w=2",
                "--set", "data.train.sampler.test_clips=1", "--out", out]
    }

    func testValidatesEveryNEpochsAndAfterTheLast() throws {
        let base = trainArgs(out: TrainE2ETests.data + "/eval-every", epochs: 5)
        let r = try CLI.vqa(base + ["--set", "train.eval_every=2"])
        XCTAssertEqual(r.status, 0, r.stdout + r.stderr)
        XCTAssertEqual(try validatedEpochs(TrainE2ETests.data + "/eval-every"), [2, 4, 5])
        let lines = try String(contentsOfFile: TrainE2ETests.data + "/eval-every/metrics.jsonl", encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(lines.count, 5, "every epoch is still recorded")
        XCTAssertTrue(FileManager.default.fileExists(atPath: TrainE2ETests.data + "/eval-every/best.safetensors"))

        let bad = try CLI.vqa(trainArgs(out: TrainE2ETests.data + "/eval-every-0", epochs: 1) + ["--set", "train.eval_every=0", "--dry-run"])
        XCTAssertNotEqual(bad.status, 0)
        XCTAssertTrue((bad.stdout + bad.stderr).contains("train.eval_every must be ≥ 1"), bad.stderr)
    }
}
