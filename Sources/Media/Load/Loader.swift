import Foundation

// Sharded, prefetching, deterministic batch loader.
//
// Shape legend: a batch is Float [B, clips, 3, T, H, W] (B = batchSizePerRank; see ClipLayout), i.e.
// N = B·clips clips for the engine.
//
// Epoch order: a permutation of the entries keyed by (seed, epoch) (identity without shuffle),
// padded by repeating its start so it fills whole global batches of worldSize·B (or truncated
// with dropLast). Step s of rank r takes positions [s·G + r·B, s·G + (r+1)·B) of that order, so every
// rank runs the same number of steps and the ranks together cover the padded order exactly once.
// Each sample is sampled with randomness keyed by (seed, epoch, entry index), so the bytes of a
// batch never depend on thread count, timing or world size. `decodeThreads` workers fill a pool of
// prefetch + 1 batch buffers allocated once; the batch returned by `next()` stays valid until the
// following call.

/// One rank's batch: sample data plus, per slot, the entry index, label and validity.
public final class SampleBatch: @unchecked Sendable {
    /// Shape of each sample in `data`.
    public let sampleShape: ClipShape
    /// Samples per batch (batchSizePerRank).
    public let capacity: Int
    /// Float [capacity, clips, 3, T, H, W]; invalid slots are zero.
    public let data: UnsafeMutablePointer<Float>
    /// Epoch and step this batch belongs to.
    public internal(set) var epoch = 0
    public internal(set) var step = 0
    /// Entry index (into the loader's entries) of each slot.
    public internal(set) var indices: [Int] = []
    /// Position of each slot in the epoch's padded global order.
    public internal(set) var positions: [Int] = []
    /// Label (MOS) of each slot.
    public internal(set) var labels: [Float] = []
    /// False where the input could not be read (exclude it from the loss and metrics).
    public internal(set) var valid: [Bool] = []
    /// True where the slot repeats an entry only to pad the last global batch (exclude it from
    /// evaluation so every entry counts once).
    public internal(set) var padding: [Bool] = []
    /// Per-frame side features per slot (Loader+Features.swift), Float [capacity, clips, T, featureWidth];
    /// nil without a feature source; invalid slots are zero.
    public let features: UnsafeMutablePointer<Float>?
    /// Features per frame (0 without a feature source).
    public let featureWidth: Int

    init(sampleShape: ClipShape, capacity: Int, featureWidth: Int = 0) {
        self.sampleShape = sampleShape
        self.capacity = capacity
        self.featureWidth = featureWidth
        data = .allocate(capacity: capacity * sampleShape.floatsPerSample)
        data.initialize(repeating: 0, count: capacity * sampleShape.floatsPerSample)
        let nf = capacity * sampleShape.clips * sampleShape.frames * featureWidth
        features = featureWidth > 0 ? .allocate(capacity: nf) : nil
        features?.initialize(repeating: 0, count: nf)
    }

    deinit { data.deallocate(); features?.deallocate() }

    /// Floats in `data`.
    var floatCount: Int { capacity * sampleShape.floatsPerSample }
    /// Slots that hold a readable sample.
    var validCount: Int { valid.filter { $0 }.count }
    /// The sample in slot `i`.
    public func sample(_ i: Int) -> UnsafeMutablePointer<Float> { data + i * sampleShape.floatsPerSample }
}

/// Loads one rank's batches: epoch-seeded global permutation, padded so all ranks run the same
/// number of steps, decoded by worker threads into a bounded pool of reused buffers.
public final class Loader: @unchecked Sendable {
    /// The entries the loader draws from (SampleBatch.indices index into this).
    public let entries: [LabelEntry]
    /// Steps (batches) per epoch, equal on every rank.
    public let stepsPerEpoch: Int
    /// Shape of each sample.
    public let sampleShape: ClipShape
    /// Where failures are recorded.
    public let failures: FailureLog
    /// Per-frame features per sample (0: no feature source).
    public var featureWidth: Int { core.features?.width ?? 0 }
    let core: LoaderCore

    /// A loader for `rank` of `worldSize`. `open` turns a path into a FrameReader (e.g. the FFmpeg
    /// decoder); `maxFailureFraction` is the share of this rank's samples per epoch allowed to fail
    /// before `next()` throws; `features` adds per-frame side features to every sample (a sample
    /// whose features cannot be read fails like an unreadable video). Throws a MediaError for invalid settings.
    public init(entries: [LabelEntry], sampler: SamplerConfig, rank: Int, worldSize: Int, batchSizePerRank: Int,
                seed: UInt64, shuffle: Bool, train: Bool, dropLast: Bool = false, decodeThreads: Int = 2,
                prefetch: Int = 2, maxFailureFraction: Double = 0.1, failures: FailureLog = FailureLog(),
                features: FrameFeatureSource? = nil, open: @escaping @Sendable (String) throws -> FrameReader) throws {
        func fail(_ s: String) throws -> Never { throw MediaError("data loader", s) }
        if entries.isEmpty { try fail("no entries to load; check the label file") }
        if worldSize < 1 || rank < 0 || rank >= worldSize { try fail("rank \(rank) is outside world size \(worldSize)") }
        if batchSizePerRank < 1 { try fail("batch size per rank must be ≥ 1, got \(batchSizePerRank)") }
        if decodeThreads < 1 { try fail("decode threads must be ≥ 1, got \(decodeThreads)") }
        if prefetch < 1 { try fail("prefetch must be ≥ 1 batch, got \(prefetch)") }
        if !(0...1).contains(maxFailureFraction) { try fail("max failure fraction must be in [0, 1], got \(maxFailureFraction)") }
        if let f = features, f.width < 1 { try fail("feature width must be ≥ 1, got \(f.width)") }
        try sampler.validate()
        let global = worldSize * batchSizePerRank
        let steps = dropLast ? entries.count / global : (entries.count + global - 1) / global
        if steps == 0 {
            try fail("\(entries.count) entries do not fill one global batch of \(global) (\(worldSize) ranks × \(batchSizePerRank)) with dropLast; lower the batch size or keep the last batch")
        }
        self.entries = entries
        self.stepsPerEpoch = steps
        self.sampleShape = sampler.shape(train: train)
        self.failures = failures
        core = LoaderCore(entries: entries, sampler: sampler, rank: rank, worldSize: worldSize, batch: batchSizePerRank,
                          steps: steps, seed: seed, shuffle: shuffle, train: train, threads: decodeThreads,
                          poolSize: prefetch + 1, maxFailureFraction: maxFailureFraction, failures: failures,
                          features: features, open: open)
    }

    deinit { core.shutdown() }

    /// Blocks of this many consecutive entries keep their order and stay together when shuffled
    /// (e.g. the versions of one synthetic scene); 1 (the default) shuffles entries singly.
    public var shuffleBlock: Int {
        get { core.shuffleBlock }
        set { precondition(newValue >= 1, "shuffleBlock must be ≥ 1, got \(newValue)"); core.shuffleBlock = newValue }
    }

    /// The epoch's padded global order: entry index at each position (steps·worldSize·B of them).
    func epochOrder(_ epoch: Int) -> [Int] { core.order(epoch: epoch) }

    /// Entry indices this rank reads at `step` of `epoch`.
    func rankIndices(epoch: Int, step: Int) -> [Int] {
        precondition((0..<stepsPerEpoch).contains(step), "step \(step) outside 0..<\(stepsPerEpoch)")
        let order = core.order(epoch: epoch)
        let start = step * core.global + core.rank * core.batch
        return Array(order[start..<(start + core.batch)])
    }

    /// Starts (or restarts) decoding `epoch` from its first step.
    public func start(epoch: Int) { core.start(epoch: epoch) }

    /// The next batch of the current epoch, or nil after the last step (then a summary of the
    /// epoch's failures is reported). The batch stays valid until the next call. Throws when more
    /// than maxFailureFraction of this rank's epoch has failed.
    public func next() throws -> SampleBatch? { try core.next() }
}
