// The step's one all-gather before the gradient all-reduce: predictions, labels, per-rank counts
// and pending stop signals travel together, after the forward pass.
//
// Every collective is a synchronisation point: a rank that arrives first waits for the slowest,
// so each one adds the ranks' timing noise to the step. The labels, counts and stop signals are
// only needed for the loss, after the forward pass, so they ride with the predictions instead of
// costing a second gather (and a second wait) at the start of the step.
//
// Layout: rank r sends [n_r, stop_r, y_r (n_r floats), ŷ_r (n_r floats)]; the all-gather
// concatenates the blocks in rank order (a count is exact as a Float below 2^24).

import Engine

/// The global batch of one step, identical on every rank.
struct GlobalBatch {
    /// Labels of every rank's samples, in rank order.
    var labels: [Float]
    /// Samples per rank.
    var counts: [Int]
    /// The first non-zero stop signal of the ranks in rank order (0: none).
    var stop: Int32
}

extension DataParallelStep {
    /// All-gathers this rank's `labels`, its `predictions` (one per label) and its pending
    /// `stopSignal` in one call; returns the global batch and the global predictions in rank order.
    func gatherBatch(labels: [Float], predictions: [Float]) throws -> (batch: GlobalBatch, predictions: [Float]) {
        guard labels.count < 1 << 24 else {
            throw DistError("\(labels.count) samples on rank \(comm.rank) in one step: at most \((1 << 24) - 1) per rank")
        }
        guard predictions.count == labels.count else {
            throw DistError("rank \(comm.rank): \(predictions.count) predictions for \(labels.count) labels; "
                + "the model must output one score per clip")
        }
        let all = try comm.allGather([Float(labels.count), Float(stopSignal?() ?? 0)] + labels + predictions)
        var batch = GlobalBatch(labels: [], counts: [], stop: 0)
        var preds: [Float] = []
        batch.labels.reserveCapacity(all.count / 2)
        preds.reserveCapacity(all.count / 2)
        var i = 0
        for r in 0..<comm.size {
            guard i + 1 < all.count, let n = Int(exactly: all[i]), n >= 0, i + 2 + 2 * n <= all.count else {
                throw DistError("batch all-gather is malformed at rank \(r)'s block (offset \(i) of \(all.count)): "
                    + "every rank must run the same binary and step")
            }
            if batch.stop == 0, all[i + 1] != 0 { batch.stop = Int32(all[i + 1]) }
            batch.counts.append(n)
            batch.labels += all[(i + 2)..<(i + 2 + n)]
            preds += all[(i + 2 + n)..<(i + 2 + 2 * n)]
            i += 2 + 2 * n
        }
        return (batch, preds)
    }
}
