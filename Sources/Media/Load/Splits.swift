// Train/test splits: a seeded ratio split (default 80/20, seed 42), k repeated splits, or explicit
// label files. Deterministic: the permutation comes from MediaRNG keyed by (seed, split index).
// Entries keep their label-file order inside each side.

/// A train/test partition of labelled entries.
public struct Split: Sendable, Equatable {
    /// Entries to train on.
    public var train: [LabelEntry]
    /// Entries to evaluate on.
    public var test: [LabelEntry]

    /// A split of the given train and test entries.
    public init(train: [LabelEntry], test: [LabelEntry]) {
        self.train = train; self.test = test
    }
}

/// Ways to split a label list.
public enum Splits {
    /// One seeded ratio split: ⌊trainFraction·n⌋ entries to train, the rest to test. Equal to
    /// `repeated(...)[0]` with the same seed.
    public static func ratio(_ entries: [LabelEntry], trainFraction: Double = 0.8, seed: UInt64 = 42) throws -> Split {
        try split(entries, trainFraction: trainFraction, seed: seed, index: 0)
    }

    /// `count` independent ratio splits; split i permutes with the stream keyed by (seed, i).
    public static func repeated(_ entries: [LabelEntry], count: Int, trainFraction: Double = 0.8,
                                seed: UInt64 = 42) throws -> [Split] {
        guard count >= 1 else { throw MediaError("split", "the number of repeated splits must be ≥ 1, got \(count)") }
        return try (0..<count).map { try split(entries, trainFraction: trainFraction, seed: seed, index: $0) }
    }

    /// Explicit train and test lists (e.g. two label files); refuses files that appear in both.
    public static func explicit(train: [LabelEntry], test: [LabelEntry]) throws -> Split {
        guard !train.isEmpty, !test.isEmpty else {
            throw MediaError("split", "explicit split needs non-empty train and test lists (got \(train.count) and \(test.count))")
        }
        let trainPaths = Set(train.map(\.path))
        let shared = test.map(\.path).filter { trainPaths.contains($0) }
        guard shared.isEmpty else {
            throw MediaError(shared[0], "listed in both the train and the test labels (\(shared.count) shared file(s)); the sets must be disjoint")
        }
        return Split(train: train, test: test)
    }

    static func split(_ entries: [LabelEntry], trainFraction: Double, seed: UInt64, index: Int) throws -> Split {
        guard trainFraction > 0 && trainFraction < 1 else {
            throw MediaError("split", "train fraction must be strictly between 0 and 1, got \(trainFraction)")
        }
        let n = entries.count
        let nTrain = Int((Double(n) * trainFraction).rounded(.down))
        guard nTrain >= 1 && nTrain < n else {
            throw MediaError("split", "\(n) entries cannot be split \(trainFraction)/\(1 - trainFraction) with both sides non-empty")
        }
        var rng = MediaRNG(seed: seed, epoch: 0, index: index, purpose: .split)
        let perm = rng.permutation(n)
        let trainIdx = perm[0..<nTrain].sorted(), testIdx = perm[nTrain...].sorted()
        return Split(train: trainIdx.map { entries[$0] }, test: testIdx.map { entries[$0] })
    }
}
