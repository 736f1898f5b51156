// The training estimate with micro-batches: activations are kept for one micro-batch at a time
// (DataParallelStep+Micro.swift), so a per-rank batch that does not fit at once may fit in
// micro-batches; the refusal names the largest micro-batch that fits, or says that none does.

import Foundation

extension MemoryEstimate {
    /// The largest divisor m of `batchPerRank`, below `current` (nil: the whole batch), whose estimate
    /// `estimate(m)` fits in `available` bytes; nil when none does.
    static func fittingMicroBatch(batchPerRank: Int, current: Int?, available: Int, _ estimate: (Int) -> MemoryEstimate) -> Int? {
        let below = min(current ?? batchPerRank, batchPerRank)
        return TrainConfig.divisors(batchPerRank).reversed().first { $0 < below && estimate($0).total <= available }
    }

    /// Throws when training `batchPerRank` samples per rank in micro-batches of `microBatch` (nil:
    /// whole) does not fit, suggesting the largest micro-batch that does (`flag` names the setting).
    public static func checkTraining(_ what: String, batchPerRank: Int, microBatch: Int?, flag: String = "train.micro_batch (--micro-batch)",
                                     available: (bytes: Int, source: String)? = MemoryEstimate.available(),
                                     _ estimate: (_ microBatch: Int?) -> MemoryEstimate) throws {
        let need = estimate(microBatch)
        guard let available, need.total > available.bytes else { return }
        var advice = "lower the batch size, clip length or fragment size, or use more ranks on more nodes"
        if let m = fittingMicroBatch(batchPerRank: batchPerRank, current: microBatch, available: available.bytes, { estimate($0) }) {
            advice = "set \(flag) to \(m): micro-batches of \(m) sample(s) need about \(gb(estimate(m).total)) with the same global-batch loss "
                + "(one more forward pass per sample); or " + advice
        } else if batchPerRank > 1 || microBatch != nil {
            advice = "even micro-batches of 1 sample (\(flag) 1) need about \(gb(estimate(1).total)); " + advice
        }
        try need.check(what, available: available, advice: advice)
    }
}
