// `train.micro_batch` values (config key, --set and --micro-batch) and the memory estimate's
// micro-batch suggestion: bad values fail before any work with the valid range; a per-rank batch
// that does not fit is refused naming the largest micro-batch that does.

import XCTest
import TestSupport
import Foundation
import Media
@testable import Training

final class MicroBatchConfigTests: XCTestCase {
    func testBadValuesAreRejectedAtLoadWithTheValidValues() throws {
        XCTAssertNil(try TrainConfig.resolve(yaml: "{}").config.microBatchSize, "default: the whole per-rank batch")
        XCTAssertEqual(try TrainConfig.resolve(yaml: "train: {batch_size: 16, micro_batch: 4}").config.microBatchSize, 4)
        XCTAssertEqual(try TrainConfig.resolve(sets: ["train.micro_batch=2"]).config.stepConfig().microBatch, 2)
        XCTAssertEqual(try TrainConfig.resolve(flags: [("train.micro_batch", "whole")]).config.stepConfig().microBatch, 0)
        for bad in ["0", "-1", "two", "1.5"] {
            for (what, attempt) in [("yaml", { try TrainConfig.resolve(yaml: "train: {micro_batch: \(bad)}", source: "my.yaml") }),
                                    ("set", { try TrainConfig.resolve(sets: ["train.micro_batch=\(bad)"]) }),
                                    ("flag", { try TrainConfig.resolve(flags: [("train.micro_batch", bad)]) })] {
                XCTAssertThrowsError(try attempt(), "\(what) \(bad)") { e in
                    XCTAssertTrue("\(e)".contains("train.micro_batch: invalid value '\(bad)'") && "\(e)".contains("whole")
                                  && "\(e)".contains("from 1 to the per-rank batch"), "\(what): \(e)")
                    if what == "yaml" { XCTAssertTrue("\(e)".contains("my.yaml"), "\(e)") }
                }
            }
        }
        XCTAssertThrowsError(try TrainConfig.resolve(yaml: "train: {batch_size: 16, micro_batch: 5}")) { e in
            XCTAssertTrue("\(e)".contains("train.micro_batch 5 does not divide train.batch_size 16")
                          && "\(e)".contains("whole, 1, 2, 4, 8, 16"), "\(e)")
        }
        // The stored YAML reads back (checkpoints keep it).
        let stored = try TrainConfig.resolve(sets: ["train.micro_batch=8"]).yaml
        XCTAssertEqual(try TrainConfig.fromStoredYAML(stored, source: "ckpt").microBatchSize, 8)
        // Per rank: 16 over 4 ranks is 4 per rank, so 8 divides the batch but not the rank's share.
        let c = try TrainConfig.resolve(sets: ["train.micro_batch=8"]).config
        XCTAssertNoThrow(try c.checkMicroBatch(ranks: 2))
        XCTAssertThrowsError(try c.checkMicroBatch(ranks: 4)) { e in
            XCTAssertTrue("\(e)".contains("does not divide the per-rank batch 4") && "\(e)".contains("valid values: whole, 1, 2, 4"), "\(e)")
        }
    }

    /// Through `vqa-mpi train`: the flag and the key fail with status 64 and the valid values before
    /// OUT is created, on one process and (per-rank divisibility) on 2 ranks.
    func testTrainRefusesBadMicroBatchesBeforeAnyWork() throws {
        for (np, extra, expected) in [(1, ["--micro-batch=0"], "valid values: whole"),
                                      (1, ["--set", "train.micro_batch=-2"], "valid values: whole"),
                                      (1, ["--micro-batch", "4"], "does not divide train.batch_size 6; valid values on one rank: whole, 1, 2, 3, 6"),
                                      (2, ["--micro-batch", "2"], "does not divide the per-rank batch 3 (batch_size 6 over 2 ranks); valid values: whole, 1, 3")] {
            let out = TinyTrainData.root + "/micro-refused-\(UUID().uuidString.prefix(6))"
            let r = try launch(np, TinyTrainData.args(out: out, epochs: 1, extra: extra))
            XCTAssertNotEqual(r.status, 0, "\(extra)")
            if np == 1 { XCTAssertEqual(r.status, 64, "\(extra): \(r.stderr)") }
            XCTAssertTrue(r.stderr.contains(expected), "\(extra): \(r.stderr)")
            XCTAssertFalse(FileManager.default.fileExists(atPath: out), "\(extra): refused before OUT is created")
        }
    }

    /// fast-vqa-b at 32×224² with 4 samples per rank: the whole batch needs ~17 GB; with 10 GB
    /// available the refusal suggests micro-batches of 2, with 6 GB of 1, with 3 GB none fits.
    func testTheMemoryEstimateSuggestsTheMicroBatchThatFits() throws {
        let floats = 3 * 32 * 224 * 224
        let estimate = { (m: Int?) in
            MemoryEstimate.training(model: "fast-vqa-b", parameters: 27_600_000, floatsPerSample: floats, batchPerRank: 4,
                                    microBatch: m, environment: [:])
        }
        XCTAssertEqual(estimate(1).activations * 4, estimate(nil).activations, "activations scale with the micro-batch")
        XCTAssertEqual(estimate(1).batches, estimate(nil).batches, "the loader still holds whole batches")
        XCTAssertGreaterThan(estimate(nil).total, 10_000_000_000)
        func refusal(_ gb: Double, micro: Int? = nil) -> String? {
            do {
                try MemoryEstimate.checkTraining("train (batch 4 per rank)", batchPerRank: 4, microBatch: micro,
                                                 available: (Int(gb * 1e9), "test"), estimate)
                return nil
            } catch { return "\(error)" }
        }
        XCTAssertNil(refusal(40), "fits whole")
        let ten = try XCTUnwrap(refusal(10))
        XCTAssertTrue(ten.contains("set train.micro_batch (--micro-batch) to 2: micro-batches of 2 sample(s) need about \(MemoryEstimate.gb(estimate(2).total))"), ten)
        XCTAssertLessThanOrEqual(estimate(2).total, 10_000_000_000)
        XCTAssertGreaterThan(estimate(4).total, 10_000_000_000)
        XCTAssertTrue(try XCTUnwrap(refusal(6)).contains("to 1:"), "only 1 fits in 6 GB")
        XCTAssertNil(refusal(6, micro: 1), "micro-batch 1 fits in 6 GB")
        // With 4 test clips per validation sample, a whole batch forwards 4 clips per sample; micro-batches
        // forward M × train_clips clips at a time in validation too (DistributedEval.clipsPerForward).
        var sampler = SamplerConfig()
        sampler.testClips = 4
        let clip = MemoryEstimate.floatsPerMicroSample(sampler)
        XCTAssertEqual(MemoryEstimate.floatsPerSample(sampler), 4 * clip)
        let whole = MemoryEstimate.training(model: "fast-vqa-b", parameters: 1, sampler: sampler, batchPerRank: 4, environment: [:])
        let one = MemoryEstimate.training(model: "fast-vqa-b", parameters: 1, sampler: sampler, batchPerRank: 4, microBatch: 1, environment: [:])
        XCTAssertEqual(whole.activations, 16 * one.activations)
        XCTAssertEqual(one.activations, clip * 4 * MemoryEstimate.activationFactor("fast-vqa-b"))
        XCTAssertEqual(one.batches, whole.batches)
        let three = try XCTUnwrap(refusal(3))
        XCTAssertTrue(three.contains("even micro-batches of 1 sample") && three.contains("lower the batch size"), three)
    }
}
