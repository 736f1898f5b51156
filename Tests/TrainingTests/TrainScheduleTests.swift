// Trainer-level schedules checked against runs stitched together with --resume (exact: the
// trainer's randomness is keyed by (seed, epoch, sample, step), never by rank count or resume point):
//   - elastic resume: epoch 1 on 2 ranks, epoch 2 on 1 rank, epoch 3 on 3 ranks = 3 epochs on 1 rank;
//   - AWP `every: 2` = AWP on step 0, none on step 1, AWP on step 2;
//   - AWP `start_epoch: 1` = no perturbation in epoch 1, AWP in epoch 2;
//   - leaving the linear probe keeps the head's optimizer state: the first full-training step
//     moves the head exactly as one more probe step would (the backbone was unchanged until then).
// The 10-video set with global batch 6 gives 2 steps per epoch (TinyTrainData).

import XCTest
import TestSupport
import Foundation
import Engine

final class TrainScheduleTests: XCTestCase {
    func out(_ tag: String) -> String { TinyTrainData.root + "/\(tag)-\(UUID().uuidString.prefix(6))" }

    /// Runs `train` on `np` ranks and checks it succeeded.
    @discardableResult
    func train(_ np: Int, _ dir: String, epochs: Int, _ extra: [String]) throws -> ProcessResult {
        let r = try launch(np, TinyTrainData.args(out: dir, epochs: epochs, extra: extra))
        XCTAssertEqual(r.status, 0, "np \(np) \(extra): \(r.stdout.suffix(400)) \(r.stderr.suffix(2000))")
        return r
    }

    /// The model weights of a checkpoint (no EMA, no optimizer state).
    func weights(_ dir: String) throws -> [String: [Float]] {
        try floatTensors(dir + "/last.safetensors").filter { !$0.key.hasPrefix("ema.") && !$0.key.hasPrefix("optim.") }
    }

    func testResumeOnAnotherNumberOfRanksEqualsOneProcess() throws {
        let straight = out("elastic-straight"), stitched = out("elastic-stitched")
        try train(1, straight, epochs: 3, [])
        try train(2, stitched, epochs: 3, ["--max-steps", "2"])
        try train(1, stitched, epochs: 3, ["--resume", "--max-steps", "4"])
        let dump = stitched + "-dump.safetensors"
        let r = try train(3, stitched, epochs: 3, ["--resume", "--dump-batches", dump])
        XCTAssertTrue(r.stdout.contains("resumed from"), r.stdout)
        let ref = try weights(straight)
        XCTAssertGreaterThan(ref.count, 10)
        let (d, tensor) = relativeDifference(ref, try weights(stitched))
        XCTAssertLessThanOrEqual(d, 1e-5, "2 → 1 → 3 ranks differs from 3 epochs on 1 rank in \(tensor)")
        for (rank, w) in try everyRankWeights(dump, ranks: 3).enumerated() {
            let (dr, t) = relativeDifference(ref, w)
            XCTAssertLessThanOrEqual(dr, 1e-5, "rank \(rank) of the 3-rank epoch differs in \(t)")
        }
        let lines = try String(contentsOfFile: stitched + "/metrics.jsonl", encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(lines.count, 3, "one record per epoch across the three launches")
    }

    func testAWPEveryTwoPerturbsAlternateSteps() throws {
        let every = out("every2"), stitched = out("every-stitched"), always = out("every1")
        try train(1, every, epochs: 2, ["--regularizer", "awp", "--set", "regularization.awp.every=2", "--max-steps", "3"])
        try train(1, stitched, epochs: 2, ["--regularizer", "awp", "--max-steps", "1"])
        try train(1, stitched, epochs: 2, ["--regularizer", "none", "--resume", "--max-steps", "2"])
        try train(1, stitched, epochs: 2, ["--regularizer", "awp", "--resume", "--max-steps", "3"])
        try train(1, always, epochs: 2, ["--regularizer", "awp", "--max-steps", "3"])
        let a = try weights(every)
        XCTAssertLessThanOrEqual(relativeDifference(a, try weights(stitched)).0, 1e-6, "every: 2 = AWP, none, AWP")
        XCTAssertGreaterThan(relativeDifference(a, try weights(always)).0, 1e-4, "step 1 must not be perturbed")
    }

    func testAWPStartEpochLeavesEarlierEpochsUnperturbed() throws {
        let late = out("start1"), stitched = out("start-stitched"), always = out("start0")
        try train(1, late, epochs: 2, ["--regularizer", "awp", "--set", "regularization.awp.start_epoch=1"])
        try train(1, stitched, epochs: 2, ["--regularizer", "none", "--max-steps", "2"])
        try train(1, stitched, epochs: 2, ["--regularizer", "awp", "--resume"])
        try train(1, always, epochs: 2, ["--regularizer", "awp"])
        let a = try weights(late)
        XCTAssertLessThanOrEqual(relativeDifference(a, try weights(stitched)).0, 1e-6, "start_epoch: 1 = none, then AWP")
        XCTAssertGreaterThan(relativeDifference(a, try weights(always)).0, 1e-4, "epoch 1 must not be perturbed")
        // The epoch without perturbation reports no rise; the perturbed one does.
        let lines = try String(contentsOfFile: late + "/metrics.jsonl", encoding: .utf8).split(separator: "\n")
        let recs = try lines.map { try XCTUnwrap(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]) }
        XCTAssertNil(recs[0]["perturbed_loss_rise"] as? Double)
        XCTAssertNotNil(recs[1]["perturbed_loss_rise"] as? Double)
    }

    /// AdamW, constant LR: after the probe epoch (2 steps) one full-training step. The backbone is
    /// still at its initial weights when that step's gradient is taken, so the head's update must
    /// equal the one of a run still probing at that step; a fresh optimizer (reset moments and
    /// bias correction) would move the head differently.
    func testLeavingTheLinearProbeKeepsTheHeadOptimizerState() throws {
        let adamw = ["--set", "optimizer.kind=adamw", "--set", "optimizer.lr=0.001", "--set", "schedule.kind=constant",
                     "--max-steps", "3", "--regularizer", "none"]
        let leave = out("probe1"), stay = out("probe2")
        try train(1, leave, epochs: 3, adamw + ["--set", "train.linear_probe_epochs=1"])
        try train(1, stay, epochs: 3, adamw + ["--set", "train.linear_probe_epochs=2"])
        let a = try weights(leave), b = try weights(stay)
        let head = a.filter { $0.key.hasPrefix("head.") }, headB = b.filter { $0.key.hasPrefix("head.") }
        XCTAssertFalse(head.isEmpty)
        XCTAssertLessThanOrEqual(relativeDifference(head, headB).0, 1e-6, "the head's moments and step count carry over")
        // The backbone moved in the first run only, by about lr × 0.1 per element (AdamW's first step
        // of a fresh group: m̂/√v̂ = ±1), not ×0.58 as with the head's bias-correction count.
        let bb = a.filter { !$0.key.hasPrefix("head.") }, bbB = b.filter { !$0.key.hasPrefix("head.") }
        XCTAssertGreaterThan(relativeDifference(bbB, bb).0, 0)
        var steps: [Float] = []
        for (k, x) in bb { for (u, v) in zip(x, bbB[k]!) where u != v { steps.append(abs(u - v * (1 - 1e-4 * 0.05))) } }
        steps.sort()
        XCTAssertEqual(steps[steps.count / 2], 1e-4, accuracy: 2e-6, "median backbone step = backbone LR (bias-corrected first step)")
    }
}
