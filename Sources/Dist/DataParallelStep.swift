// The data-parallel training step: global-batch loss, bucketed all-reduce overlapped with the
// backward pass, and synchronous AWP/RWP.
//
// Per step, every rank holds a shard of the global batch (clips [n_r, 3, T, H, W], Σ n_r = B):
//   1. forward on the shard → ŷ_r; one all-gather of ŷ, y, the per-rank counts and pending stop
//      signals → the global vectors (identical on every rank). This is the step's only
//      synchronisation before the gradient all-reduce: every extra one adds the ranks' noise to
//      the step (a step ends when the slowest rank arrives; DataParallelStep+Gather.swift)
//   2. loss L(ŷ, y) on the whole global batch; each rank back-propagates dL/dŷ of its own samples
//   3. parameter gradients are SUMMED over ranks (bucketed, on the communication thread, while the
//      backward pass goes on): Σ_r ∂L/∂w through rank r's samples = ∂L/∂w of the global batch,
//      so N ranks with global batch B give the same update as 1 rank with batch B.
// AWP (sync global): steps 1–3 give the all-reduced g; every rank perturbs identically; steps 1–3
// again at w′ give g′; restore w; optimizer step with g′. `sync: local` is m-sharpness (Foret et
// al. 2021): each rank's ascent gradient is that of the loss of ITS OWN shard, L(ŷ_r, y_r), not
// all-reduced, so each rank perturbs towards its own worst case; the update gradient is always
// the all-reduced gradient of the global-batch loss. RWP needs no ascent gradient: its clean pass
// is a forward only (the seed code also runs its backward and discards it), which gives the step's
// logged loss and predictions at the clean weights, as the seed code logs them.
// Only tensors the optimizer trains are perturbed (a group with LR multiplier 0, e.g. a backbone
// frozen for a linear probe, is not: the seed code skips parameters without requires_grad).
// Dropout and drop-path masks: the perturbed pass draws fresh masks by default, as the seed code's
// second forward in train mode does (random stream 1 of the step; the clean pass uses stream 0);
// `perturbedMasks: .shared` reuses the clean pass's masks, so the perturbation is the only
// difference between the two passes.
// With `microBatch` m below the shard's size, step 1's forward and step 2's backward run m samples
// at a time, in two rounds (DataParallelStep+Micro.swift): same loss and gradients, less memory.

import Engine

/// Where the AWP ascent gradient comes from.
public enum PerturbationSync: String, CaseIterable, Sendable, Codable {
    /// All-reduced: every rank perturbs identically (n-SAM; the seed code's single-process semantics).
    case global
    /// Per rank, from the loss of the rank's own shard (m-sharpness with m = the shard size).
    case local
}

/// Dropout/drop-path masks of the perturbed (AWP/RWP) pass.
public enum PerturbedPassMasks: String, CaseIterable, Sendable, Codable {
    /// Drawn afresh, as the seed code's second forward pass does (default).
    case fresh
    /// The clean pass's masks: the perturbation is the only difference between the passes.
    case shared
}

/// Settings of the step beyond the optimizer.
public struct StepConfig: Sendable {
    /// The loss on the global batch.
    public var loss = LossConfig()
    /// AWP or RWP settings; nil trains without weight perturbation.
    public var perturbation: PerturbationConfig?
    /// Perturb on every k-th step only.
    public var perturbEvery = 1
    /// First epoch with perturbation.
    public var perturbStartEpoch = 0
    /// Ascent-gradient synchronisation.
    public var sync = PerturbationSync.global
    /// Samples per micro-batch of this rank's shard (0: the whole shard at once; DataParallelStep+Micro.swift).
    public var microBatch = 0
    /// Dropout/drop-path masks of the perturbed pass.
    public var perturbedMasks = PerturbedPassMasks.fresh
    /// Gradient clipping by global norm (0: off).
    public var clipNorm: Float = 0
    /// EMA decay of the weights (0: no EMA).
    public var emaDecay = Float(WeightEMA.defaultDecay)
    /// All-reduce bucket sizes.
    public var bucketMiB = 25.0, firstBucketMiB = 1.0
    /// All-reduce on a communication thread during the backward pass, or after it (`.auto`: the
    /// thread only when this rank has a core to spare for it; GradientBuckets+Overlap.swift).
    public var overlap = OverlapMode.auto
    /// How an early rank waits for the others at the gather and the all-reduce (PeerWait).
    public var peerWait = PeerWait.spin
    public init() {}
}

/// What one step did.
public struct StepResult: Sendable {
    /// Loss of the clean pass on the global batch (AWP and RWP alike).
    public var loss: Double
    /// Loss at the perturbed weights (AWP/RWP), else nil.
    public var perturbedLoss: Double?
    /// Global predictions and labels of the clean pass, in rank order (train-set metrics).
    public var predictions: [Float], labels: [Float]
    /// False when the step was skipped on every rank (non-finite loss or gradient).
    public var applied: Bool
    /// The stop signal some rank reported through `DataParallelStep.stopSignal` (0: none; same on every rank).
    public var stopSignal: Int32 = 0
    /// Seconds: forward, backward, waiting on communication, perturbation, optimizer.
    public var forwardSeconds = 0.0, backwardSeconds = 0.0, commSeconds = 0.0, perturbSeconds = 0.0, optimizerSeconds = 0.0
    /// Seconds in the all-gathers of predictions (with labels, counts and stop signals in the first
    /// pass), counted in `forwardSeconds` too: mostly waiting for the slowest rank to reach them.
    public var gatherSeconds = 0.0
    /// CPU seconds the communication thread spent in all-reduces (0 with overlap `.after`).
    public var commThreadCPUSeconds = 0.0
}

/// One model replica on one rank and everything its training step needs.
public final class DataParallelStep {
    public let comm: Communicator
    public let model: VQAModel
    public let tape: Tape
    public let optimizer: Optimizer
    public let config: StepConfig
    public let ema: WeightEMA?
    private(set) var perturbation: WeightPerturbation?
    let buckets: GradientBuckets?
    let store: ParameterStore
    var rankOffsets: [Int] = []
    /// Preemption hook (Preemption.swift): this rank's pending signal, polled once per step and agreed
    /// over the ranks inside the step's existing count all-gather, so it costs no extra collective.
    public var stopSignal: (() -> Int32)?

    /// How this rank all-reduces gradients: `.thread` or `.after` (nil on a world of one).
    public var overlap: OverlapMode? { buckets?.overlap }

    /// Builds the step; `comm` may be a solo communicator (no MPI).
    public init(model: VQAModel, comm: Communicator, optimizer: OptimizerConfig, config: StepConfig, compute: Compute) throws {
        self.model = model
        self.comm = comm
        self.config = config
        let store = model.parameters
        self.store = store
        tape = Tape(compute: compute)
        self.optimizer = Optimizer(config: optimizer, store: store, compute: compute)
        ema = config.emaDecay > 0 ? WeightEMA(store: store, decay: config.emaDecay, compute: compute) : nil
        if comm.size > 1 {
            buckets = try GradientBuckets(store: store, communicator: try comm.duplicate(), bucketMiB: config.bucketMiB,
                                          firstBucketMiB: config.firstBucketMiB, scale: 1,
                                          overlap: config.overlap, computeThreads: compute.threads, peerWait: config.peerWait)
        } else {
            buckets = nil
        }
        perturbation = makePerturbation()
    }

    /// The perturbation of the tensors the optimizer currently trains (nil without AWP/RWP).
    func makePerturbation() -> WeightPerturbation? {
        config.perturbation.map { c in WeightPerturbation(config: c, store: store, compute: tape.compute, trains: { [optimizer] in optimizer.trains($0) }) }
    }

    /// Changes the optimizer's group rules in place (e.g. unfreezing the backbone after a linear
    /// probe): every moment and step count is kept, and the perturbation follows what now trains.
    public func setOptimizerGroups(_ groups: [String: GroupRule]) {
        optimizer.setGroups(groups)
        perturbation = makePerturbation()
    }

    /// Rank 0's weights (and EMA) on every rank: call once before training.
    public func broadcastWeights() throws {
        try comm.broadcast(store.values.base, count: store.flatCount, root: 0)
        if let e = ema { e.shadow.copy(from: store.values) }
    }

    /// Whether the step at (`epoch`, `step`) perturbs the weights.
    func perturbs(epoch: Int, step: Int) -> Bool {
        perturbation != nil && epoch >= config.perturbStartEpoch && step % max(config.perturbEvery, 1) == 0
    }

    /// One training step on this rank's shard: `batch`'s clips are the step's samples (each clip with
    /// its sample's label and dropout key), the loss is taken over every rank's clips together.
    public func step(_ batch: ClipBatch, lr: Float, epoch: Int, step: Int, seed: UInt64) throws -> StepResult {
        var result = StepResult(loss: 0, predictions: [], labels: [], applied: true)
        var global: GlobalBatch? = nil  // filled by the first pass's all-gather
        let labels = batch.clipLabels
        let perturb = perturbs(epoch: epoch, step: step)
        let noiseOnly = perturb && perturbation!.config.kind == .rwp
        let passSeed = seed &+ UInt64(step) &* 0x9E37_79B9_7F4A_7C15

        let local = perturb && !noiseOnly && config.sync == .local
        let clean = try pass(batch, labels, &global, passSeed, maskStream: 0, allReduce: !local, backward: !noiseOnly,
                             shardLoss: local, &result)
        result.loss = clean.loss
        result.predictions = clean.predictions
        if perturb, let wp = perturbation {
            let t0 = Clock.now()
            if noiseOnly || (result.loss.isFinite && gradientsFinite()) {
                wp.perturb(store: store, direction: noiseOnly ? nil : store.grads, seed: seed, step: UInt64(step))
            }
            result.perturbSeconds += Clock.now() - t0
            let adv = try pass(batch, labels, &global, passSeed, maskStream: config.perturbedMasks == .fresh ? 1 : 0,
                               allReduce: true, backward: true, shardLoss: false, &result)
            let t1 = Clock.now()
            wp.restore(store: store)
            result.perturbSeconds += Clock.now() - t1
            result.perturbedLoss = adv.loss
            if !adv.loss.isFinite { result.applied = false }
        }
        result.labels = global?.labels ?? []
        let t2 = Clock.now()
        if config.clipNorm > 0 {
            let norm = clipGradientNorm(store.grads, maxNorm: config.clipNorm, compute: tape.compute)
            if !norm.isFinite { result.applied = false }
        }
        if !result.loss.isFinite || !gradientsFinite() { result.applied = false }
        if result.applied {
            optimizer.step(store: store, lr: lr)
            ema?.update(from: store)
        }
        result.optimizerSeconds = Clock.now() - t2
        return result
    }

    /// True when every gradient is finite (identical on all ranks after the all-reduce).
    func gradientsFinite() -> Bool {
        let g = store.grads.base
        var acc: Float = 0
        for i in 0..<store.flatCount { acc += g[i] * 0 }
        return acc == 0
    }

    /// Forward, global loss, backward with (optionally) bucketed all-reduce of the gradients.
    /// `global` is nil in the step's first pass, whose all-gather also brings the labels and counts.
    /// `maskStream` selects the pass's dropout/drop-path random stream (tape.step).
    /// `backward: false` stops after the global loss (RWP's clean pass); `shardLoss` back-propagates
    /// the loss of this rank's own samples instead of its share of the global loss (`sync: local`).
    func pass(_ input: ClipBatch, _ labels: [Float], _ global: inout GlobalBatch?, _ seed: UInt64, maskStream: UInt64,
              allReduce: Bool, backward: Bool, shardLoss: Bool, _ result: inout StepResult) throws -> (loss: Double, predictions: [Float]) {
        let n = labels.count
        let t0 = Clock.now()
        tape.reset()
        tape.training = true
        tape.seed = seed
        tape.step = maskStream
        var local: [Float] = []
        var out: Var? = nil
        let micro = microBatchSize(input.count)
        if let m = micro, n > 0 {
            local = try microForward(input, size: m)
        } else if n > 0 {
            let x = try input.feed(tape, model: model)
            let y = model.forward(tape, x.clips, motion: x.motion)
            out = y
            local = tape.array(y)
        }
        let tg = Clock.now()
        try config.peerWait.arrive(comm)
        let preds: [Float]
        if global == nil {
            let g = try gatherBatch(labels: labels, predictions: local)
            global = g.batch
            preds = g.predictions
            result.stopSignal = g.batch.stop
        } else {
            preds = try comm.allGather(local)
        }
        result.gatherSeconds += Clock.now() - tg
        let counts = global!.counts
        let loss = config.loss.evaluate(predictions: preds, labels: global!.labels)
        let t1 = Clock.now()
        result.forwardSeconds += t1 - t0
        guard backward else { return (loss.loss, preds) }
        let forwardBefore = result.forwardSeconds
        store.zeroGrad()
        let reduce = allReduce && buckets != nil
        if reduce { tape.onParameterGradReady = { [buckets] in buckets!.markReady($0) } } else { tape.onParameterGradReady = nil }
        let offset = counts[0..<comm.rank].reduce(0, +)
        if n > 0 {
            let own = shardLoss ? config.loss.evaluate(predictions: local, labels: labels) : nil
            var seedGrad = own?.gradient ?? Array(loss.gradient[offset..<offset + n])
            if !(own?.loss ?? loss.loss).isFinite { seedGrad = [Float](repeating: 0, count: n) }
            if let y = out {
                seedGrad.withUnsafeBufferPointer { tape.backward(y, seed: $0.baseAddress!) }
            } else {
                try microBackward(input, size: micro!, seed: seedGrad, reduce: reduce, forwardSeconds: &result.forwardSeconds)
            }
        } else if reduce {
            for i in stride(from: store.infos.count - 1, through: 0, by: -1) { buckets!.markReady(i) }
        }
        tape.onParameterGradReady = nil
        let t2 = Clock.now()
        result.backwardSeconds += t2 - t1 - (result.forwardSeconds - forwardBefore)  // pass 2's forwards count as forward
        if reduce {
            let timing = try buckets!.waitAll()
            result.commSeconds += timing.exposedSeconds
            result.commThreadCPUSeconds += timing.threadCPUSeconds
        }
        return (loss.loss, preds)
    }
}
