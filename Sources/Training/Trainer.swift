// The training driver behind `vqa-mpi train`: builds the model, the data-parallel step and the
// loaders from a resolved TrainConfig, runs the epochs (Trainer+Epoch), evaluates, writes
// checkpoints, metrics.jsonl and curves.svg (Trainer+Report). Every rank runs the same code; rank 0
// alone prints and writes files, everything else is collective.
//
// Exact resume: the weights, EMA weights, optimizer state and step count are restored from
// DIR/last.safetensors, and every random choice is keyed by (seed, epoch, sample index, step), so a
// resumed run repeats the uninterrupted one bit for bit. A checkpoint saved mid-epoch (max_steps)
// records its in-epoch step; resuming replays the loader to that position.
//
// Faults (Trainer+Faults, docs/faults.md): a SIGTERM/SIGINT stops every rank at the next step
// boundary after a checkpoint; a damaged last checkpoint falls back to the newest good one; a failed
// save is retried at the next one; non-finite steps are skipped and stop the run when they repeat.

import Foundation
import Engine
import Media
import Dist

/// Where and how a run starts.
public struct TrainOptions: Sendable {
    /// Output directory (checkpoints, metrics.jsonl, curves.svg).
    public var outDir: String
    /// Continue from outDir/last.safetensors.
    public var resume = false
    /// Fine-tune from this checkpoint's matching tensors (head re-initialised).
    public var initFrom: String?
    /// Print progress (rank 0 only in any case).
    public var verbose = true
    /// This rank's pending stop signal (0: none), e.g. `PreemptionSignal.pending`; polled once per step.
    public var stopSignal: (@Sendable () -> Int32)?
    /// Write every training batch (and the step results) to this safetensors file (Trainer+Dump).
    public var dumpBatches: String?
    public init(outDir: String) { self.outDir = outDir }
}

/// Runs a training job on one rank.
public final class Trainer {
    public let config: TrainConfig
    let configYAML: String
    let options: TrainOptions
    let comm: Communicator
    let model: VQAModel
    let compute: Compute
    var step: DataParallelStep
    var probing = false
    let trainEntries: [LabelEntry]
    let trainLoader: Loader
    /// Motion features of the training set (simplevqa with motion_dim > 0), else nil.
    let trainMotion: MotionFeatureSource?
    var valSets: [(name: String, entries: [LabelEntry], loader: Loader)] = []
    let evaluator: DistributedEval
    let progress: Progress
    /// Scratch for swapping EMA weights in (allocated once) and for compacting batches.
    let weightScratch: FloatBuffer
    let compactor = ClipCompactor()
    /// Run state (what a checkpoint records).
    var info = CheckpointInfo()
    var records: [EpochRecord] = []
    let batchPerRank: Int
    /// Sees every batch before its step and every checkpoint save (tests inject faults through it).
    let observer: TrainingObserver?
    /// Fault handling state: skipped steps in a row (and the first of them), failed saves in a row,
    /// and what last.safetensors holds (epoch, step) when known to be good.
    var nonfiniteStreak = 0, nonfiniteFirst = 0, failedSaves = 0
    var lastSaved: (epoch: Int, step: Int)?
    /// The `--dump-batches` record (nil unless asked).
    var dump: BatchDump?

    var isRoot: Bool { comm.rank == 0 }
    func say(_ s: String) { if isRoot && options.verbose { print(s); fflush(nil) } }

    /// Builds everything and validates the data before any training work; `observer` sees every
    /// batch and checkpoint save (nil: none).
    public init(resolved: TrainConfig.Resolved, options: TrainOptions, comm: Communicator, observer: TrainingObserver? = nil) throws {
        let c = resolved.config
        config = c; configYAML = resolved.yaml; self.options = options; self.comm = comm; self.observer = observer
        if c.train.batchSize % comm.size != 0 {
            throw TrainingError("train", "the global batch size \(c.train.batchSize) is not divisible by the \(comm.size) ranks; use --batch-size \((c.train.batchSize + comm.size - 1) / comm.size * comm.size) or run with a number of ranks that divides it")
        }
        batchPerRank = c.train.batchSize / comm.size
        try c.checkMicroBatch(ranks: comm.size)
        if let m = comm as? MPICommunicator {  // before the step duplicates the communicator
            try m.enableWatchdog(seconds: c.train.collectiveTimeout, stopSignal: options.stopSignal)
        }
        if c.data.train.labels.isEmpty { throw TrainingError("train", "no training labels; pass --train-labels FILE or set data.train.labels") }
        compute = Compute(threads: c.train.threads)
        BLAS.setThreads(c.train.threads)
        let kind = c.model.name
        model = try kind.make(seed: UInt64(c.train.seed), options: c.model.options)
        let sampler = try c.trainSampler(), parameters = model.parameters.flatCount, perRank = batchPerRank
        let micro = c.microBatchSize.map { " in micro-batches of \($0)" } ?? ""
        try MemoryEstimate.checkTraining("train (batch \(perRank) per rank\(micro))", batchPerRank: perRank, microBatch: c.microBatchSize) {
            MemoryEstimate.training(model: c.model.name.rawValue, parameters: parameters, sampler: sampler, batchPerRank: perRank, microBatch: $0)
        }
        probing = c.train.linearProbeEpochs > 0
        step = try DataParallelStep(model: model, comm: comm, optimizer: try c.optimizerConfig(backboneMultiplier: probing ? 0 : nil),
                                    config: try c.stepConfig(), compute: compute)
        step.stopSignal = options.stopSignal
        let listed = try Labels.load(path: c.data.train.labels, dataRoot: c.data.train.dataRoot.isEmpty ? nil : c.data.train.dataRoot)
        let split = c.data.split.enabled ? try c.data.split.apply(listed) : nil
        trainEntries = split?.train ?? listed
        let splitTest = split?.test
        try Labels.requireVariance(trainEntries, source: c.data.train.labels)
        trainMotion = try MotionFeatureSource.make(path: c.data.train.motionFeatures, model: model, roots: [c.data.train.dataRoot],
                                                       entries: trainEntries, what: "data.train.motion_features")
        trainLoader = try Loader(entries: trainEntries, sampler: sampler, rank: comm.rank, worldSize: comm.size,
                                 batchSizePerRank: batchPerRank, seed: UInt64(c.train.seed), shuffle: true, train: true,
                                 decodeThreads: c.train.decodeThreads, maxFailureFraction: c.data.train.maxFailureFraction, features: trainMotion,
                                 open: { try VideoDecoder(path: $0, threads: 1) })
        trainLoader.shuffleBlock = c.train.shuffleBlock
        if let entries = splitTest {
            let motion = try MotionFeatureSource.make(path: c.data.train.motionFeatures, model: model, roots: [c.data.train.dataRoot],
                                                      entries: entries, what: "data.train.motion_features")
            valSets.append((TrainConfig.splitTestName, entries, try DistributedEval.loader(entries: entries, sampler: c.data.train.sampler, comm: comm,
                            batchPerRank: batchPerRank, decodeThreads: c.train.decodeThreads, features: motion)))
        }
        for (i, v) in c.data.val.enumerated() {
            let entries = try Labels.load(path: v.labels, dataRoot: v.dataRoot.isEmpty ? nil : v.dataRoot)
            let motion = try MotionFeatureSource.make(path: c.valMotionFeatures(i), model: model, roots: [v.dataRoot], entries: entries,
                                                      what: "data.val[\(i)].motion_features")
            let loader = try DistributedEval.loader(entries: entries, sampler: c.data.train.sampler, comm: comm,
                                                    batchPerRank: batchPerRank, decodeThreads: c.train.decodeThreads, features: motion)
            valSets.append((v.name.isEmpty ? "val\(i)" : v.name, entries, loader))
        }
        evaluator = DistributedEval(model: model, comm: comm, tape: step.tape)
        // Validation forwards as many clips at once as a training micro-batch holds.
        if let m = c.microBatchSize { evaluator.clipsPerForward = m * sampler.shape(train: true).clips }
        progress = Progress(enabled: comm.rank == 0 && options.verbose, every: c.train.logEvery)
        weightScratch = FloatBuffer(count: model.parameters.flatCount)
        info.model = c.model.name.rawValue; info.modelOptions = c.model.options; info.config = configYAML
        info.seed = UInt64(c.train.seed)
        try start()
    }

    /// Resume, fine-tune initialisation or fresh start; then rank 0's weights go to every rank.
    func start() throws {
        let store = model.parameters
        if options.resume {
            let (path, file, saved) = try resumeCheckpoint()
            if saved.model != config.model.name.rawValue || saved.modelOptions != config.model.options {
                throw TrainingError("\(path)", "saved from model \(saved.model) \(saved.modelOptions), but the config asks for \(config.model.name.rawValue) \(config.model.options); resume with the same model settings")
            }
            if saved.epoch >= config.train.linearProbeEpochs && probing { try leaveProbe() }
            try Checkpoint.restore(file, path: path, store: store, ema: step.ema, optimizer: step.optimizer, optimizerSteps: saved.optimizerSteps)
            info = saved
            info.config = configYAML
            records = try loadRecords().filter { $0.epoch <= saved.epoch }
            if path == lastPath { lastSaved = (saved.epoch, saved.step) }
            // The same words as the preemption message that saved it (Trainer+Faults.preempt).
            let position = saved.samplerStep > 0 && saved.samplerEpoch == saved.epoch
                ? "at epoch \(saved.samplerEpoch + 1), step \(saved.samplerStep)/\(trainLoader.stepsPerEpoch) (global step \(saved.step))"
                : "at the end of epoch \(saved.epoch) (global step \(saved.step))"
            say("resumed from \(path): \(position)")
        } else if let from = options.initFrom {
            // A training checkpoint's EMA weights are the ones it scores with: start from those.
            let file = Checkpoint.emaAsWeights(try Checkpoint.readWeights(path: from).file)
            let head = Set(model.headParameters)
            let (loaded, skipped) = try Checkpoint.initFrom(file, path: from, store: store, skip: head)
            say("initialised \(loaded.count) tensors from \(from); re-initialised or kept \(skipped.count) (head: \(head.count))")
            step.ema?.shadow.copy(from: store.values)
        }
        // Resumed ranks all read the same verified file; otherwise rank 0's initialisation wins.
        if !options.resume { try step.broadcastWeights() }
    }

    /// Switches from the linear probe (backbone LR 0) to full training in the same optimizer, as
    /// the seed code switches `requires_grad` on: the head keeps its moments and bias-correction
    /// count, the backbone starts its own at its first update, and AWP/RWP now perturb it too.
    func leaveProbe() throws {
        step.setOptimizerGroups(try config.optimizerConfig().groups)
        probing = false
        say("linear probe done: training the whole model")
    }

    var lastPath: String { (options.outDir as NSString).appendingPathComponent("last.safetensors") }
    var bestPath: String { (options.outDir as NSString).appendingPathComponent("best.safetensors") }
    var metricsPath: String { (options.outDir as NSString).appendingPathComponent("metrics.jsonl") }
    var curvesPath: String { (options.outDir as NSString).appendingPathComponent("curves.svg") }

    /// Runs the remaining epochs, then calibrates and writes the final files (collective).
    public func run() throws {
        if isRoot {
            try FileManager.default.createDirectory(atPath: options.outDir, withIntermediateDirectories: true)
            removeStaleTemporaries()
        }
        say("training \(config.model.name.rawValue) (\(model.parameters.parameterCount) parameters) on \(trainEntries.count) samples, \(comm.size) rank(s) × batch \(batchPerRank), \(trainLoader.stepsPerEpoch) steps/epoch, regularizer \(config.regularization.kind.rawValue)")
        startDump()
        var epoch = info.samplerEpoch
        while epoch < config.train.epochs && !stepLimitReached {
            if probing && epoch >= config.train.linearProbeEpochs { try leaveProbe() }
            let finished = try runEpoch(epoch)
            if !finished { break }
            epoch += 1
        }
        try finishDump()
        try finish()
    }

    var stepLimitReached: Bool { config.train.maxSteps > 0 && info.step >= config.train.maxSteps }
}
