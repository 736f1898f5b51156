// `train.micro_batch` (`--micro-batch`) through `vqa-mpi train`: N ranks, each forwarding its batch
// in micro-batches of M samples (two rounds: forward for the global loss, then forward + backward per
// micro-batch; Dist/DataParallelStep+Micro.swift), must train the weights of ONE process with the
// whole global batch at once. Every rank's final weights are compared (--dump-batches `end.*`).
// The tiny fragnet has its head dropout at the default 0.5, so every case also checks that both
// rounds of a pass draw the same masks (a fresh mask in round 2 would change the gradient by O(1)).
// Global batch 12 over the 10 training videos: one step per epoch holding all 10 (ranks hold
// 10 | 6, 4 | 4, 4, 2), so M = 2 divides every per-rank batch (12, 6, 4).

import XCTest
import TestSupport
import Foundation

final class MicroBatchEquivalenceTests: XCTestCase {
    /// `train` on `np` ranks with micro-batch `m` (nil: whole); every rank's final weights.
    func train(_ np: Int, micro m: Int?, _ extra: [String], tag: String) throws -> [[String: [Float]]] {
        let out = TinyTrainData.root + "/micro-\(tag)-np\(np)-m\(m.map(String.init) ?? "whole")-\(UUID().uuidString.prefix(6))"
        let dump = out + "-dump.safetensors"
        let args = TinyTrainData.args(out: out, epochs: 3, extra: ["--batch-size", "12", "--dump-batches", dump] + extra
                                      + (m.map { ["--micro-batch", "\($0)"] } ?? []))
        let r = try launch(np, args)
        XCTAssertEqual(r.status, 0, "\(tag) np \(np) m \(String(describing: m)): \(r.stdout.suffix(500)) \(r.stderr.suffix(2000))")
        return try everyRankWeights(dump, ranks: np)
    }

    /// Compares every rank of every (ranks, micro-batch) case with one whole-batch process.
    @discardableResult
    func check(_ extra: [String], tag: String, cases: [(Int, Int?)], bound: Float, except: Set<String> = []) throws -> [String: [Float]] {
        let one = try train(1, micro: nil, extra, tag: tag)[0]
        XCTAssertGreaterThan(one.count, 10, "the dump holds the model's tensors")
        for (np, m) in cases {
            for (rank, w) in try train(np, micro: m, extra, tag: tag).enumerated() {
                let (d, tensor) = relativeDifference(one, w, except: except)
                XCTAssertLessThanOrEqual(d, bound, "\(tag): rank \(rank) of \(np) with micro-batch \(String(describing: m)) differs from one process in \(tensor)")
            }
        }
        return one
    }

    func testOneTwoAndThreeRanksInMicroBatchesTrainTheOneProcessWeightsWithSGDAndAWP() throws {
        try check(["--regularizer", "awp"], tag: "sgd-awp",
                  cases: [(1, 1), (1, 2), (2, 1), (2, 2), (2, nil), (3, 1), (3, 2), (3, nil)], bound: 1e-5)
    }

    /// Shared masks in the AWP pass and dropout off: the same equivalence without any random op.
    func testMicroBatchesWithSharedMasksAndWithoutDropout() throws {
        try check(["--regularizer", "awp", "--set", "regularization.awp.dropout_masks=shared"], tag: "shared",
                  cases: [(1, 1), (3, 2)], bound: 1e-5)
        try check(["--regularizer", "awp", "--set", "model.options.dropout=0"], tag: "nodrop", cases: [(2, 1)], bound: 1e-5)
    }

    /// RWP (clean pass without backward) and AdamW with gradient clipping, within the bound
    /// TrainEquivalenceTests documents for AdamW (two tensors whose true gradient is 0 only drift).
    func testAdamWWithClippingAndRWPInMicroBatches() throws {
        try check(["--regularizer", "rwp"], tag: "sgd-rwp", cases: [(1, 1), (2, 2)], bound: 1e-5)
        let adamw = ["--set", "optimizer.kind=adamw", "--set", "optimizer.lr=0.001", "--regularizer", "awp"]
        let clipped = try check(adamw + ["--set", "optimizer.clip_norm=0.05"], tag: "adamw-clip", cases: [(1, 1), (2, 2), (3, 1)], bound: 2e-5,
                                except: Set(TrainEquivalenceTests.zeroGradient.keys))
        // The clipping is active: without it one process trains other weights.
        let unclipped = try train(1, micro: nil, adamw, tag: "adamw-noclip")[0]
        let effect = relativeDifference(clipped, unclipped, except: Set(TrainEquivalenceTests.zeroGradient.keys)).0
        print("clip_norm 0.05 changes the one-process weights by \(effect) relative")
        XCTAssertGreaterThan(effect, 1e-4, "clip_norm must clip in this test (else it checks nothing)")
    }

    /// Validation with micro-batches forwards one training micro-batch's worth of clips at a time, so a
    /// sample's 2 test clips are scored in separate forwards and averaged: the validation metrics
    /// equal those of the whole-batch run.
    func testValidationInPiecesGivesTheWholeBatchMetrics() throws {
        func val(_ m: Int?) throws -> [String: Any] {
            let out = TinyTrainData.root + "/micro-val-m\(m.map(String.init) ?? "whole")-\(UUID().uuidString.prefix(6))"
            let syn = TinyTrainData.root + "/syn"
            let r = try launch(1, TinyTrainData.args(out: out, epochs: 1, extra: ["--val-labels", syn + "/labels.txt", "--allow-overlap",
                                                                                 "--set", "data.train.sampler.test_clips=2"]
                                                     + (m.map { ["--micro-batch", "\($0)"] } ?? [])))
            XCTAssertEqual(r.status, 0, r.stderr)
            let line = try XCTUnwrap(try String(contentsOfFile: out + "/metrics.jsonl", encoding: .utf8).split(separator: "\n").last)
            let rec = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            return try XCTUnwrap((rec["val"] as? [String: Any])?["labels"] as? [String: Any], "\(rec)")
        }
        let whole = try val(nil), pieces = try val(1)
        for w in ["raw", "ema"] {
            let a = try XCTUnwrap(whole[w] as? [String: Any]), b = try XCTUnwrap(pieces[w] as? [String: Any])
            XCTAssertEqual(a["n"] as? Int, 12)
            for k in ["plcc", "srcc", "rmse"] {
                let x = try XCTUnwrap(a[k] as? Double), y = try XCTUnwrap(b[k] as? Double)
                XCTAssertEqual(x, y, accuracy: 1e-4, "\(w) \(k)")
            }
        }
    }
}
