// The training configuration: the structs a YAML file, `--set key=value` overrides and CLI flags
// resolve into (see TrainConfig+YAML.swift). YAML keys are the snake_case forms of these property
// names (FAST-VQA-shaped: model / data / optimizer / schedule / loss / regularization / train).

import Engine
import Media
import Dist

/// Everything `vqa-mpi train` needs, resolved from defaults, a YAML file, overrides and flags.
public struct TrainConfig: Codable, Equatable, Sendable {
    /// The model and its string options.
    public struct ModelSection: Codable, Equatable, Sendable {
        public var name = ModelKind.fragnet
        public var options: [String: String] = [:]
    }
    /// Training data: label file, data root, sampler and augmentation.
    public struct TrainData: Codable, Equatable, Sendable {
        public var labels = ""
        public var dataRoot = ""
        /// Precomputed motion features (simplevqa with motion_dim > 0): a directory of
        /// <relative video path>.npy files or one .safetensors file (docs/motion-features.md).
        public var motionFeatures = ""
        public var sampler = SamplerConfig()
        /// Augmentation names used by the `aug` regularizer (and always when `always_augment`).
        public var augment: [String] = ["hflip", "trivial_augment"]
        /// Apply `augment` whatever the regularizer (off: only the `aug` regularizer augments).
        var alwaysAugment = false
        /// The share of a rank's training samples per epoch that may fail to read before the run
        /// stops (0: none may fail, 1: never stop for unreadable files).
        public var maxFailureFraction = 0.1
    }
    /// One validation set.
    public struct ValSet: Codable, Equatable, Sendable {
        public var name = ""
        public var labels = ""
        public var dataRoot = ""
        /// Motion features of this set (as data.train.motion_features); empty with the training set's
        /// data_root: the training set's (`TrainConfig.valMotionFeatures`).
        public var motionFeatures = ""
        public init(name: String = "", labels: String = "", dataRoot: String = "", motionFeatures: String = "") {
            self.name = name; self.labels = labels; self.dataRoot = dataRoot; self.motionFeatures = motionFeatures
        }
    }
    /// Training and validation data.
    public struct DataSection: Codable, Equatable, Sendable {
        public var train = TrainData()
        public var val: [ValSet] = []
        /// A seeded random split of `train.labels` (TrainConfig+Split.swift).
        public var split = SplitSection()
    }
    /// Optimizer settings (head LR; the backbone gets lr × backbone_lr_mult).
    public struct OptimizerSection: Codable, Equatable, Sendable {
        public var kind = OptimizerKind.adamw
        public var lr = 1e-3
        var backboneLrMult = 0.1
        public var wd = 0.05
        var betas: [Double] = [0.9, 0.999]
        public var eps = 1e-8
        public var momentum = 0.9
        public var clipNorm = 0.0
    }
    /// Learning-rate schedule.
    struct ScheduleSection: Codable, Equatable, Sendable {
        /// warmup_cosine (FAST-VQA) or constant.
        var kind = ScheduleKind.warmupCosine
        var warmupEpochs = 2.5
    }
    /// Weight perturbation (AWP/RWP) settings.
    public struct PerturbSection: Codable, Equatable, Sendable {
        public var gamma = PerturbationConfig.defaultGamma
        public var every = 1
        public var startEpoch = 0
        /// global or local.
        public var sync = PerturbationSync.global
        /// weight or ndim.
        public var select = PerturbSelect.weight
        /// Dropout masks of the perturbed pass: fresh (the seed code) or shared (the clean pass's).
        public var dropoutMasks = PerturbedPassMasks.fresh
    }
    /// Weight decay of the `l2` regularizer.
    public struct L2Section: Codable, Equatable, Sendable { public var wd = 0.05 }
    /// Augmentations of the `aug` regularizer.
    public struct AugSection: Codable, Equatable, Sendable { public var names: [String] = ["hflip", "trivial_augment"] }
    /// Which regularizer runs (the paper's comparison) and its settings.
    public struct RegularizationSection: Codable, Equatable, Sendable {
        public var kind = Regularizer.none
        public var l2 = L2Section()
        public var aug = AugSection()
        public var rwp = PerturbSection()
        public var awp = PerturbSection()
    }
    /// Loop settings.
    public struct TrainSection: Codable, Equatable, Sendable {
        public var epochs = 30
        /// Global batch (split evenly over ranks).
        public var batchSize = 16
        /// Samples per micro-batch of each rank's batch: `whole` (default) or a divisor of the per-rank
        /// batch; the loss stays that of the global batch (TrainConfig+MicroBatch.swift).
        public var microBatch = TrainConfig.wholeBatch
        public var seed = 42
        /// Stop after this many optimizer steps in total (0: no limit).
        public var maxSteps = 0
        public var threads = 1
        public var decodeThreads = 2
        public var ema = WeightEMA.defaultDecay
        public var linearProbeEpochs = 0
        var keepLast = 2
        var keepEpochs = false
        /// Write the checkpoints every N epochs (and after the last, on an improved best, before a
        /// stop); metrics.jsonl is written every epoch. N > 1 trades resume granularity for less I/O.
        var saveEvery = 1
        /// Cross-rank parameter checksum every N steps (0: off).
        public var checksumEvery = 50
        /// Plain progress line every N steps when stdout is not a terminal.
        var logEvery = 10
        /// Evaluate the validation sets every N epochs (and after the last).
        var evalEvery = 1
        /// Shuffle blocks of N consecutive training entries (e.g. a synthetic scene's versions), so a
        /// batch compares versions of the same content; 1 shuffles videos singly.
        public var shuffleBlock = 1
        /// Stop (with diagnostics) after this many skipped non-finite steps in a row (0: never).
        var maxNonfiniteSteps = 5
        /// Stop after this many failed checkpoint saves in a row (each failure is retried at the next save).
        var maxFailedSaves = 3
        /// Seconds a rank waits in a collective for the others before the job is aborted naming the missing ranks (0: wait forever).
        public var collectiveTimeout = 300.0
    }

    public var model = ModelSection()
    public var data = DataSection()
    public var optimizer = OptimizerSection()
    var schedule = ScheduleSection()
    /// Loss weights by LossKind name (plcc, rank, mse, l1).
    public var loss: [String: Double] = ["plcc": 1, "rank": 0.3]
    public var regularization = RegularizationSection()
    public var train = TrainSection()

    /// The FAST-VQA-style defaults.
    public init() {}

    /// Parses `value` as one of `E`'s raw values, naming the key and the valid values on failure.
    static func choice<E: RawRepresentable & CaseIterable>(_ value: String, key: String, _: E.Type) throws -> E where E.RawValue == String {
        guard let v = E(rawValue: value) else {
            throw TrainingError("config", "\(key): invalid value '\(value)'; valid values: \(names(E.self))")
        }
        return v
    }

    /// `E`'s raw values, comma-separated.
    static func names<E: RawRepresentable & CaseIterable>(_: E.Type) -> String where E.RawValue == String {
        cases(E.self).joined(separator: ", ")
    }

    static func cases<E: RawRepresentable & CaseIterable>(_: E.Type) -> [String] where E.RawValue == String {
        E.allCases.map(\.rawValue)
    }

    /// The keys whose values name one case of an enum, with the valid names: checked as the YAML,
    /// `--set` and flag layers are merged, so a wrong name fails at load with the list.
    static let choices: [String: [String]] = [
        "model.name": cases(ModelKind.self), "optimizer.kind": cases(OptimizerKind.self),
        "schedule.kind": cases(ScheduleKind.self), "regularization.kind": cases(Regularizer.self),
        "regularization.rwp.sync": cases(PerturbationSync.self), "regularization.awp.sync": cases(PerturbationSync.self),
        "regularization.rwp.select": cases(PerturbSelect.self), "regularization.awp.select": cases(PerturbSelect.self),
        "regularization.rwp.dropout_masks": cases(PerturbedPassMasks.self),
        "regularization.awp.dropout_masks": cases(PerturbedPassMasks.self),
    ]

    /// Checks every enum-like value and range before any work starts.
    public func validate() throws {
        func fail(_ s: String) throws -> Never { throw TrainingError("config", s) }
        for k in loss.keys { _ = try TrainConfig.choice(k, key: "loss", LossKind.self) }
        for (name, p) in [("rwp", regularization.rwp), ("awp", regularization.awp)] {
            if !(p.gamma >= 0) { try fail("regularization.\(name).gamma must be ≥ 0, got \(p.gamma)") }
            if p.every < 1 { try fail("regularization.\(name).every must be ≥ 1, got \(p.every)") }
        }
        _ = try AugmentConfig(names: regularization.aug.names)
        _ = try AugmentConfig(names: data.train.augment)
        if optimizer.betas.count != 2 || !optimizer.betas.allSatisfy({ (0..<1).contains($0) }) {
            try fail("optimizer.betas must be [beta1, beta2] with each in [0, 1), got \(optimizer.betas)")
        }
        // Every real number must be finite and non-negative (NaN would pass a bare `< 0` test).
        let reals: [(String, Double)] = [("optimizer.lr", optimizer.lr), ("optimizer.backbone_lr_mult", optimizer.backboneLrMult),
            ("optimizer.wd", optimizer.wd), ("optimizer.eps", optimizer.eps), ("optimizer.momentum", optimizer.momentum),
            ("optimizer.clip_norm", optimizer.clipNorm), ("schedule.warmup_epochs", schedule.warmupEpochs),
            ("regularization.l2.wd", regularization.l2.wd), ("regularization.rwp.gamma", regularization.rwp.gamma),
            ("regularization.awp.gamma", regularization.awp.gamma)] + loss.map { ("loss.\($0.key)", $0.value) }
        for (key, v) in reals where !(v.isFinite && v >= 0) { try fail("\(key) must be a finite number ≥ 0, got \(v)") }
        if train.epochs < 1 { try fail("train.epochs must be ≥ 1, got \(train.epochs)") }
        if train.batchSize < 1 { try fail("train.batch_size must be ≥ 1, got \(train.batchSize)") }
        try validateMicroBatch()
        if train.threads < 1 || train.decodeThreads < 1 { try fail("train.threads and train.decode_threads must be ≥ 1") }
        if !(0..<1).contains(train.ema) { try fail("train.ema must be in [0, 1), got \(train.ema)") }
        if train.shuffleBlock < 1 { try fail("train.shuffle_block must be ≥ 1 (1: shuffle videos singly), got \(train.shuffleBlock)") }
        if train.evalEvery < 1 { try fail("train.eval_every must be ≥ 1 (validate every N epochs and after the last), got \(train.evalEvery)") }
        if train.keepLast < 1 { try fail("train.keep_last must be ≥ 1, got \(train.keepLast)") }
        if train.saveEvery < 1 { try fail("train.save_every must be ≥ 1 (write checkpoints every N epochs and after the last), got \(train.saveEvery)") }
        if train.maxNonfiniteSteps < 0 { try fail("train.max_nonfinite_steps must be ≥ 0 (0: never stop), got \(train.maxNonfiniteSteps)") }
        if !(train.collectiveTimeout >= 0 && train.collectiveTimeout.isFinite) { try fail("train.collective_timeout must be seconds ≥ 0 (0: off), got \(train.collectiveTimeout)") }
        if train.maxFailedSaves < 1 { try fail("train.max_failed_saves must be ≥ 1, got \(train.maxFailedSaves)") }
        if train.linearProbeEpochs < 0 || train.linearProbeEpochs >= train.epochs {
            try fail("train.linear_probe_epochs must be in 0..<epochs (\(train.epochs)), got \(train.linearProbeEpochs)")
        }
        if !(0...1).contains(data.train.maxFailureFraction) {
            try fail("data.train.max_failure_fraction must be in [0, 1] (the share of a rank's samples per epoch allowed to be unreadable), got \(data.train.maxFailureFraction)")
        }
        try data.train.sampler.validate()
        try data.split.validate()
        // The model's options, checked as building the model checks them (dry-run rejects what training would).
        try model.name.validate(options: model.options)
        if model.name == .fragnet {
            let shape = data.train.sampler.shape(train: true)
            if shape.frames % 2 != 0 || shape.height % 32 != 0 || shape.width % 32 != 0 {
                try fail("fragnet needs an even clip_len and fragment/resize sizes divisible by 32, got \(shape.frames) frames of \(shape.height)×\(shape.width); for images use clip_len 2 with frame_interval 1 (the frame is repeated)")
            }
        }
    }

    /// Motion features of `data.val[i]`: its own, else `data.train.motion_features` when the val set
    /// reads the training set's data_root (a held-out split of the same videos, whose features are
    /// keyed by the same relative paths); a val set of another data_root must name its own.
    func valMotionFeatures(_ i: Int) -> String {
        let v = data.val[i]
        return v.motionFeatures.isEmpty && v.dataRoot == data.train.dataRoot ? data.train.motionFeatures : v.motionFeatures
    }

    /// The sampler used for training: augmentation set by the regularizer (`aug`) or `always_augment`.
    public func trainSampler() throws -> SamplerConfig {
        var s = data.train.sampler
        let reg = regularization.kind
        if reg == .aug { s.augment.ops = try AugmentConfig(names: regularization.aug.names).ops }
        else if data.train.alwaysAugment { s.augment.ops = try AugmentConfig(names: data.train.augment).ops }
        return s
    }

    /// The optimizer: `l2` uses its decoupled weight decay, the others `optimizer.wd`; the
    /// backbone group gets `backboneMultiplier` × the head LR.
    public func optimizerConfig(backboneMultiplier: Double? = nil) throws -> OptimizerConfig {
        let kind = optimizer.kind
        let wd = regularization.kind == .l2 ? regularization.l2.wd : optimizer.wd
        return OptimizerConfig(kind: kind, weightDecay: Float(wd), momentum: kind == .sgd ? Float(optimizer.momentum) : 0,
                               beta1: Float(optimizer.betas[0]), beta2: Float(optimizer.betas[1]), epsilon: Float(optimizer.eps),
                               groups: ["backbone": GroupRule(lrMultiplier: Float(backboneMultiplier ?? optimizer.backboneLrMult))])
    }

    /// The step settings: loss weights, AWP/RWP, EMA, clipping.
    public func stepConfig() throws -> StepConfig {
        var s = StepConfig()
        var w: [LossKind: Double] = [:]
        for (k, v) in loss { w[try TrainConfig.choice(k, key: "loss", LossKind.self)] = v }
        s.loss = LossConfig(weights: w)
        s.emaDecay = Float(train.ema)
        s.clipNorm = Float(optimizer.clipNorm)
        s.microBatch = microBatchSize ?? 0
        let reg = regularization.kind
        if reg == .awp || reg == .rwp {
            let p = reg == .awp ? regularization.awp : regularization.rwp
            s.perturbation = PerturbationConfig(kind: reg == .awp ? .awp : .rwp, gamma: Float(p.gamma), select: p.select.selection)
            s.perturbEvery = p.every
            s.perturbStartEpoch = p.startEpoch
            s.sync = p.sync
            s.perturbedMasks = p.dropoutMasks
        }
        return s
    }
}
