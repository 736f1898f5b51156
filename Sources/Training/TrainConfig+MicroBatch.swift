// `train.micro_batch` (`--micro-batch`): each rank's batch in micro-batches of that many samples,
// with the loss of the whole global batch (Dist/DataParallelStep+Micro.swift). `whole` (the default)
// runs the rank's batch at once. A number must be ≥ 1 (checked as each layer is merged, naming the
// file, --set or flag), divide batch_size (checked at load) and divide the per-rank batch
// batch_size / ranks (checked by the trainer before any work, when the ranks are known).

import Dist

extension TrainConfig {
    /// The value of `train.micro_batch` that runs each rank's batch at once.
    public static let wholeBatch = "whole"

    /// Samples per micro-batch; nil: the whole per-rank batch.
    public var microBatchSize: Int? { Int(train.microBatch) }

    /// The positive divisors of `n`, ascending.
    public static func divisors(_ n: Int) -> [Int] { n < 1 ? [] : (1...n).filter { n % $0 == 0 } }

    /// What `train.micro_batch` may be for a per-rank batch of `perRank` samples.
    static func microBatchChoices(perRank: Int) -> String {
        "\(wholeBatch), " + divisors(perRank).map(String.init).joined(separator: ", ")
    }

    /// `over` as a `train.micro_batch` value ("whole" or a whole number ≥ 1), else an error naming `source`.
    static func microBatchValue(_ over: Any, source: String) throws -> String {
        let text = "\(over)".trimmingCharacters(in: .whitespaces)
        if text == wholeBatch { return text }
        guard let n = (over as? Int) ?? Int(text), n >= 1 else {
            throw TrainingError(source, "train.micro_batch: invalid value '\(text)'; valid values: \(wholeBatch) (each rank's batch at once) "
                + "or a number of samples from 1 to the per-rank batch (batch_size / ranks) that divides it")
        }
        return String(n)
    }

    /// Throws unless `train.micro_batch` is `whole` or divides `train.batch_size`.
    func validateMicroBatch() throws {
        guard train.microBatch != Self.wholeBatch else { return }
        guard let m = microBatchSize, m >= 1 else {
            throw TrainingError("config", "train.micro_batch: invalid value '\(train.microBatch)'; valid values: \(Self.microBatchChoices(perRank: train.batchSize)) on one rank (a divisor of batch_size / ranks)")
        }
        if train.batchSize % m != 0 {
            throw TrainingError("config", "train.micro_batch \(m) does not divide train.batch_size \(train.batchSize); valid values on one rank: \(Self.microBatchChoices(perRank: train.batchSize)) (on N ranks: the divisors of batch_size / N)")
        }
    }

    /// Throws unless `train.micro_batch` divides the per-rank batch of `ranks` ranks.
    public func checkMicroBatch(ranks: Int) throws {
        guard let m = microBatchSize, train.batchSize % ranks == 0 else { return }
        let perRank = train.batchSize / ranks
        if perRank % m != 0 {
            throw TrainingError("train", "train.micro_batch \(m) does not divide the per-rank batch \(perRank) (batch_size \(train.batchSize) over \(ranks) ranks); valid values: \(Self.microBatchChoices(perRank: perRank))")
        }
    }
}
