// `data.split`: train on one seeded random split of a whole-set label file, FAST-VQA's run-time
// protocol, with the split's test side as the first validation set (it selects best.safetensors).
// Split `index` of (`ratio`, `seed`) is exactly `vqa-mpi split --ratio R --seed S`'s split-NN
// (Media's Splits.repeated), so a study runs K splits with `--set data.split.index=1..K`.

import Dist
import Media

extension TrainConfig {
    /// A seeded random split of data.train.labels (off while ratio is 0).
    public struct SplitSection: Codable, Equatable, Sendable {
        /// Share of the entries that train, in (0, 1); 0 turns splitting off.
        public var ratio = 0.0
        public var seed = 42
        /// Which split, 1-based (split-NN of `vqa-mpi split --repeats K`).
        public var index = 1

        /// Whether a split is asked for.
        public var enabled: Bool { ratio != 0 }

        func validate() throws {
            guard enabled else { return }
            if !(ratio > 0 && ratio < 1) { throw DistError("config: data.split.ratio must be in (0, 1) (0: no split), got \(ratio)") }
            if index < 1 || index > 99 { throw DistError("config: data.split.index must be in 1...99, got \(index)") }
            if seed < 0 { throw DistError("config: data.split.seed must be ≥ 0, got \(seed)") }
        }

        /// (train, test) entries of split `index`.
        public func apply(_ entries: [LabelEntry]) throws -> Split {
            try Splits.repeated(entries, count: index, trainFraction: ratio, seed: UInt64(seed))[index - 1]
        }
    }

    /// The name of the validation set the split's test side becomes.
    public static let splitTestName = "split-test"
}
