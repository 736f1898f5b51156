import Foundation

// The loader's worker threads and shared state (one condition variable guards everything but the
// sample bytes, which each job writes into its own slot of a pooled buffer).

/// Shared state of a Loader and its decode threads.
final class LoaderCore: @unchecked Sendable {
    let entries: [LabelEntry]
    let config: SamplerConfig
    let rank: Int, worldSize: Int, batch: Int, steps: Int, global: Int
    let seed: UInt64, shuffle: Bool, train: Bool
    /// Consecutive entries shuffled as one block (1: entries shuffled singly); set before start(epoch:).
    var shuffleBlock = 1
    let maxFailureFraction: Double
    let failures: FailureLog
    let open: @Sendable (String) throws -> FrameReader
    let features: FrameFeatureSource?
    let pool: [SampleBatch]

    private let cond = NSCondition()
    // Guarded by cond.
    private var epoch = 0
    private var active = false
    private var stopping = false
    private var rankOrder: [Int] = []        // entry index per job (steps·batch)
    private var rankPositions: [Int] = []    // global order position per job
    private var nextJob = 0
    private var inFlight = 0
    private var consumerStep = 0             // next step next() returns
    private var held: Int? = nil             // step whose buffer the caller holds
    private var recycledThrough = 0          // steps whose buffers are free again
    private var slotStep: [Int]              // step each pool slot is filled for
    private var slotDone: [Int]              // finished jobs in each pool slot
    private var slotValid: [[Bool]]
    private var failedDelivered = 0
    private var alive = 0

    init(entries: [LabelEntry], sampler: SamplerConfig, rank: Int, worldSize: Int, batch: Int, steps: Int,
         seed: UInt64, shuffle: Bool, train: Bool, threads: Int, poolSize: Int, maxFailureFraction: Double,
         failures: FailureLog, features: FrameFeatureSource?, open: @escaping @Sendable (String) throws -> FrameReader) {
        self.entries = entries; config = sampler
        self.rank = rank; self.worldSize = worldSize; self.batch = batch; self.steps = steps
        global = worldSize * batch
        self.seed = seed; self.shuffle = shuffle; self.train = train
        self.maxFailureFraction = maxFailureFraction; self.failures = failures; self.open = open
        self.features = features
        let shape = sampler.shape(train: train)
        pool = (0..<poolSize).map { _ in SampleBatch(sampleShape: shape, capacity: batch, featureWidth: features?.width ?? 0) }
        slotStep = Array(repeating: -1, count: poolSize)
        slotDone = Array(repeating: 0, count: poolSize)
        slotValid = Array(repeating: Array(repeating: false, count: batch), count: poolSize)
        alive = threads
        for _ in 0..<threads {
            let thread = Thread { [self] in self.work() }
            thread.stackSize = 1 << 22
            thread.start()
        }
    }

    /// Padded global order of `epoch` (entry index per position).
    func order(epoch: Int) -> [Int] {
        let n = entries.count
        var perm = Array(0..<n)
        if shuffle {
            var rng = MediaRNG(seed: seed, epoch: epoch, index: 0, purpose: .shuffle)
            let k = shuffleBlock
            perm = k <= 1 ? rng.permutation(n)
                : rng.permutation((n + k - 1) / k).flatMap { b in (b * k)..<min(n, (b + 1) * k) }
        }
        return (0..<(steps * global)).map { perm[$0 % n] }
    }

    func start(epoch e: Int) {
        let order = order(epoch: e)
        var jobs: [Int] = [], positions: [Int] = []
        jobs.reserveCapacity(steps * batch); positions.reserveCapacity(steps * batch)
        for s in 0..<steps {
            let base = s * global + rank * batch
            for j in 0..<batch { jobs.append(order[base + j]); positions.append(base + j) }
        }
        cond.lock()
        active = false
        nextJob = Int.max
        while inFlight > 0 { cond.wait() }   // old jobs still write into pool buffers
        epoch = e
        rankOrder = jobs; rankPositions = positions
        nextJob = 0; consumerStep = 0; held = nil; recycledThrough = 0; failedDelivered = 0
        for k in slotStep.indices { slotStep[k] = -1; slotDone[k] = 0 }
        // Reset the per-epoch failure counts before any worker can record this epoch's failures.
        failures.startEpoch()
        active = true
        cond.broadcast()
        cond.unlock()
    }

    func next() throws -> SampleBatch? {
        cond.lock()
        defer { cond.unlock() }
        guard active else { throw MediaError("data loader", "next() called before start(epoch:)") }
        if let h = held { recycledThrough = h + 1; held = nil; cond.broadcast() }
        if consumerStep == steps {
            let summary = failures.epochSummary(epoch: epoch)
            if !summary.isEmpty { failures.report(summary) }
            active = false
            return nil
        }
        let slot = consumerStep % pool.count
        while !(slotStep[slot] == consumerStep && slotDone[slot] == batch) { cond.wait() }
        let b = pool[slot]
        let first = consumerStep * batch
        b.epoch = epoch; b.step = consumerStep
        b.indices = Array(rankOrder[first..<(first + batch)])
        b.positions = Array(rankPositions[first..<(first + batch)])
        b.labels = b.indices.map { Float(entries[$0].mos) }
        b.valid = slotValid[slot]
        b.padding = b.positions.map { $0 >= entries.count }
        failedDelivered += b.valid.filter { !$0 }.count
        held = consumerStep
        consumerStep += 1
        let share = steps * batch
        if Double(failedDelivered) > maxFailureFraction * Double(share) {
            active = false
            let names = failures.failedFiles.prefix(3).map { "\($0): \(failures.reason(for: $0) ?? "")" }
            throw MediaError("data loader", "\(failedDelivered) of this rank's \(share) samples in epoch \(epoch) could not be read, more than the allowed \(Int(maxFailureFraction * 100))%; first: \(names.joined(separator: "; ")). Fix or remove these files from the label list, or raise the allowed failure fraction (train: data.train.max_failure_fraction)")
        }
        return b
    }

    /// Stops the worker threads and waits for them to exit.
    func shutdown() {
        cond.lock()
        stopping = true
        cond.broadcast()
        while alive > 0 { cond.wait() }
        cond.unlock()
    }

    private func work() {
        var sampler: FragmentSampler? = try? FragmentSampler(config: config)   // validated by Loader.init
        cond.lock()
        while true {
            while !stopping && !(active && nextJob < rankOrder.count && nextJob / batch < recycledThrough + pool.count) {
                cond.wait()
            }
            if stopping { break }
            let job = nextJob
            nextJob += 1
            let step = job / batch, j = job % batch, slot = step % pool.count
            if j == 0 { slotStep[slot] = step; slotDone[slot] = 0 }
            let entryIndex = rankOrder[job], e = epoch
            inFlight += 1
            cond.unlock()

            let ok = fill(pool[slot].sample(j), features: pool[slot].sampleFeatures(j), entry: entryIndex, epoch: e, sampler: &sampler)

            cond.lock()
            inFlight -= 1
            slotValid[slot][j] = ok
            slotDone[slot] += 1
            cond.broadcast()
        }
        alive -= 1
        cond.broadcast()
        cond.unlock()
    }

    /// Samples one entry into `dst` (and its features into `featureDst`); on failure zero-fills
    /// both, records the failure, returns false.
    private func fill(_ dst: UnsafeMutablePointer<Float>, features featureDst: UnsafeMutablePointer<Float>?, entry: Int, epoch: Int, sampler: inout FragmentSampler?) -> Bool {
        let path = entries[entry].path
        let count = pool[0].sampleShape.floatsPerSample
        let slotFeatures = pool[0].featureFloatsPerSample
        do {
            guard let s = sampler else { throw MediaError(path, "sampler config is invalid") }
            // Evaluation draws are keyed by the file, not its list position (SampleKey.swift).
            let key = train ? entry : SampleKey.evaluation(path: path)
            let reader = try open(path)
            // The same rule as check-dataset (VideoDecoder+Check.swift) for a stream shorter than its header.
            try withFrameCountCorrection(reader) {
                try s.sample(reader: reader, sampleIndex: key, epoch: epoch, seed: seed, train: train, into: dst)
            }
            if let f = features, let out = featureDst {
                // The same deterministic draw the sampler just made: features follow the sampled frames.
                let n = reader.info.frameCount
                let indices = s.frameIndices(frameCount: n, sampleIndex: key, epoch: epoch, seed: seed, train: train)
                try f.write(path: path, positions: FragmentSampler.framePositions(indices, frameCount: n), into: out)
            }
            return true
        } catch let error as MediaError {
            failures.record(path: path, reason: error.path == path ? error.reason : error.description)
        } catch {
            failures.record(path: path, reason: String(describing: error))
        }
        dst.update(repeating: 0, count: count)
        featureDst?.update(repeating: 0, count: slotFeatures)
        return false
    }
}
