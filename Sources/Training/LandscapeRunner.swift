// Loss landscapes and sharpness of checkpoints on a fixed data subset, data-parallel.
//
// Shapes: the subset is S samples (the first S of a seeded permutation of the label entries), each
// `clipsPerSample` clips of [3, T, H, W], decoded ONCE with deterministic test-time sampling and
// kept in memory. Rank r holds the contiguous block [r·B, min((r+1)·B, S)) with B = ⌈S/size⌉, so
// the rank-order concatenation of local predictions is the subset order. At each weight point:
//   forward the local samples in mini-batches (dropout off) → ŷ_r (score = mean over its clips);
//   all-gather ŷ → the whole subset's ŷ; loss = LossConfig on ALL S samples at once (identical on
//   every rank), plus SRCC.
// Gradients (Hessian power iteration) follow DataParallelStep.pass: each rank back-propagates
// dL/dŷ of its own samples (÷ clips per sample), then the parameter gradients are SUMMED over ranks,
// which is ∂L/∂w of the global loss.
// Path: w(α, β) = w + α·d + β·e with d, e filter-normalised (see Engine/Landscape.swift).
// Sharpness at radius ρ: rise_k = (L(w + ρ·d_k) − L(w)) / L(w) over K filter-normalised directions.

import Engine
import Media
import Dist

/// What a landscape run computes.
public struct LandscapeConfig: Sendable {
    /// 1 (curves) or 2 (surface).
    public var dims = 1
    /// Range of α (and β) on the axes.
    public var lower = -1.0, upper = 1.0
    /// Points per axis.
    public var points = 21
    /// Random directions K for the sharpness estimate.
    public var directions = 8
    /// Seed of every random choice (directions, subset, sampling).
    public var seed: UInt64 = 0
    /// Sharpness radius ρ, in units of filter-normalised directions (0.05 = each filter moves by 5% of its norm).
    public var radius = 0.05
    /// Power-iteration steps for the top Hessian eigenvalue (0: skip).
    public var hessianIterations = 20
    /// Keep biases and normalisation parameters in the directions (as the weights themselves).
    public var includeBiasAndNorm = false
    /// Samples per forward pass.
    public var batchSize = 4
    /// The objective.
    public var loss = LossConfig()
    public init() {}

    /// The axis coordinates: `points` evenly spaced values from lower to upper.
    public var axis: [Double] {
        points == 1 ? [lower] : (0..<points).map { lower + (upper - lower) * Double($0) / Double(points - 1) }
    }
}

/// This rank's share of the fixed subset, decoded once, plus the whole subset's labels.
public final class LandscapeData {
    /// [3, T, H, W] of one clip.
    public let clipShape: [Int]
    /// Clips per sample (scores are averaged over them).
    public let clipsPerSample: Int
    /// This rank's clips, [localCount · clipsPerSample, 3, T, H, W].
    public let clips: FloatBuffer
    /// This rank's sample count.
    let localCount: Int
    /// Subset position of this rank's first sample.
    let localOffset: Int
    /// Labels of the whole (readable) subset in subset order, identical on every rank.
    public let labels: [Float]
    /// This rank's motion features [localCount · clipsPerSample, T, motionDim] (nil: none).
    public let motion: FloatBuffer?
    /// Motion features per frame (0: none).
    public let motionDim: Int
    /// This rank's samples as the model takes them (over `clips` and `motion`; indices: subset positions).
    let batch: ClipBatch

    /// Wraps clips (and motion features [clips, T, motionDim], empty for none) already in memory;
    /// gathers the labels over `comm`.
    public init(clips: [Float], clipShape: [Int], clipsPerSample: Int, localLabels: [Float], comm: Communicator,
                motion: [Float] = [], motionDim: Int = 0) throws {
        let per = clipShape.reduce(1, *) * clipsPerSample
        precondition(clips.count == per * localLabels.count, "clips hold \(clips.count) floats, expected \(per) per sample")
        precondition(motion.count == localLabels.count * clipsPerSample * clipShape[1] * motionDim,
                     "motion features hold \(motion.count) floats, expected \(clipsPerSample * clipShape[1] * motionDim) per sample")
        self.motionDim = motionDim
        if motionDim > 0 {
            let m = FloatBuffer(count: max(motion.count, 1))
            motion.withUnsafeBufferPointer { if let b = $0.baseAddress { m.base.update(from: b, count: motion.count) } }
            self.motion = m
        } else {
            self.motion = nil
        }
        self.clipShape = clipShape
        self.clipsPerSample = clipsPerSample
        let buffer = FloatBuffer(count: max(clips.count, 1))
        clips.withUnsafeBufferPointer { if let b = $0.baseAddress { buffer.base.update(from: b, count: clips.count) } }
        self.clips = buffer
        localCount = localLabels.count
        let counts = try comm.allGather([Float(localLabels.count)]).map { Int($0) }
        let offset = counts[0..<comm.rank].reduce(0, +)
        localOffset = offset
        labels = try comm.allGather(localLabels)
        batch = ClipBatch(clipShape: clipShape, clipsPerSample: clipsPerSample, clips: buffer.base, motion: self.motion?.base,
                          motionWidth: motionDim, labels: localLabels, indices: localLabels.indices.map { offset + $0 })
    }

    /// The first `subset` entries of a permutation seeded by `seed` (all when subset ≤ 0).
    public static func subset(_ entries: [LabelEntry], count subset: Int, seed: UInt64) -> [LabelEntry] {
        var rng = CounterRNG(seed: seed, epoch: LandscapeDirection.Family.subset.rawValue, purpose: .landscape)
        let order = rng.permutation(entries.count)
        let n = subset > 0 ? min(subset, entries.count) : entries.count
        return order.prefix(n).map { entries[$0] }
    }

    /// Decodes this rank's block of `entries` (already the subset, in order) with test-time sampling
    /// keyed by `seed`; unreadable files are reported and left out on every rank.
    public static func load(entries: [LabelEntry], sampler: SamplerConfig, seed: UInt64, comm: Communicator,
                            decodeThreads: Int = 2, failures: FailureLog = FailureLog(), features: FrameFeatureSource? = nil,
                            open: @escaping @Sendable (String) throws -> FrameReader) throws -> LandscapeData {
        let per = (entries.count + comm.size - 1) / comm.size
        let loader = try Loader(entries: entries, sampler: sampler, rank: comm.rank, worldSize: comm.size,
                                batchSizePerRank: max(per, 1), seed: seed, shuffle: false, train: false,
                                decodeThreads: decodeThreads, prefetch: 1, maxFailureFraction: 1, failures: failures,
                                features: features, open: open)
        let shape = loader.sampleShape
        loader.start(epoch: 0)
        var clips: [Float] = [], labels: [Float] = [], motion: [Float] = []
        let compactor = ClipCompactor()
        while let b = try loader.next() {
            let batch = compactor.batch(b, dropPadding: true)
            clips += UnsafeBufferPointer(start: batch.clips, count: batch.count * shape.floatsPerSample)
            if let m = batch.motion { motion += UnsafeBufferPointer(start: m, count: batch.count * b.featureFloatsPerSample) }
            labels += batch.labels
        }
        let data = try LandscapeData(clips: clips, clipShape: [3, shape.frames, shape.height, shape.width],
                                     clipsPerSample: shape.clips, localLabels: labels, comm: comm,
                                     motion: motion, motionDim: loader.featureWidth)
        if data.labels.count < 2 {
            throw TrainingError("landscape", "only \(data.labels.count) readable sample(s) in the subset; the batch-level loss needs at least 2 (raise --subset or fix the unreadable files)")
        }
        return data
    }
}

/// Loss, SRCC and global-loss gradients of a model on a LandscapeData subset.
final class LandscapeEvaluator {
    /// The model whose current weights are evaluated.
    let model: VQAModel
    /// This rank's share of the subset.
    let data: LandscapeData
    /// The ranks sharing the subset.
    let comm: Communicator
    /// The tape every forward/backward runs on (its arena is reused).
    let tape: Tape
    let config: LandscapeConfig

    /// An evaluator for `model` (its current weights) on `data`.
    init(model: VQAModel, data: LandscapeData, comm: Communicator, config: LandscapeConfig, compute: Compute) {
        self.model = model
        self.data = data
        self.comm = comm
        self.config = config
        tape = Tape(compute: compute)
    }

    /// Mini-batches of local samples: (first sample, sample count).
    var batches: [(Int, Int)] {
        stride(from: 0, to: data.localCount, by: max(config.batchSize, 1)).map { ($0, min(config.batchSize, data.localCount - $0)) }
    }

    /// Forwards local samples `first..<first+n` on a reset tape; returns the clip-score node.
    func forward(_ first: Int, _ n: Int, recording: Bool) throws -> Var {
        tape.reset()
        tape.training = false
        tape.recording = recording
        let x = try data.batch.feed(tape, model: model, samples: first..<first + n)
        return model.forward(tape, x.clips, motion: x.motion)
    }

    /// Predictions of the whole subset (subset order) at the current weights.
    func predictions() throws -> [Float] {
        var local: [Float] = []
        local.reserveCapacity(data.localCount)
        for (first, n) in batches {
            let y = try forward(first, n, recording: false)
            local += sampleScores(y, n)
        }
        tape.recording = true
        return try comm.allGather(local)
    }

    /// Per-sample scores (mean over each sample's clips) of the clip-score node `y` for `n` samples.
    func sampleScores(_ y: Var, _ n: Int) -> [Float] {
        ClipBatch.sampleScores(tape.value(y), samples: n, clips: data.clipsPerSample)
    }

    /// The global loss and SRCC at the current weights (identical on every rank).
    func evaluate() throws -> (loss: Double, srcc: Double) {
        let p = try predictions()
        let loss = config.loss.evaluate(predictions: p, labels: data.labels).loss
        return (loss, Metrics.srcc(p.map(Double.init), data.labels.map(Double.init)))
    }

    /// Writes ∂L/∂w of the global loss at the current weights into `out` (the store's flat layout,
    /// summed over ranks) and returns L.
    @discardableResult
    func gradient(into out: UnsafeMutablePointer<Float>) throws -> Double {
        let store = model.parameters
        store.zeroGrad()
        // When every rank's samples fit in one mini-batch, one recorded forward serves both the
        // predictions and the backward pass; otherwise predict first, then re-forward per batch.
        // Either way each rank makes exactly one all-gather, so ranks may take different paths.
        let single = batches.count <= 1
        var kept: Var? = nil
        let p: [Float]
        if single {
            if let (first, n) = batches.first { kept = try forward(first, n, recording: true) }
            p = try comm.allGather(kept.map { sampleScores($0, data.localCount) } ?? [])
        } else {
            p = try predictions()
        }
        let loss = config.loss.evaluate(predictions: p, labels: data.labels)
        let c = data.clipsPerSample
        for (first, n) in batches {
            let y = try kept ?? forward(first, n, recording: true)
            let start = data.localOffset + first
            let seed = ClipBatch.clipGradient(loss.gradient[start..<start + n], clips: c)
            seed.withUnsafeBufferPointer { tape.backward(y, seed: $0.baseAddress!) }
        }
        if comm.size > 1 { try comm.allReduceSum(store.grads.base, count: store.flatCount) }
        out.update(from: store.grads.base, count: store.flatCount)
        return loss.loss
    }
}

/// One point of a landscape.
public struct LandscapePoint: Sendable, Equatable {
    /// Coordinates along the first (and second) direction.
    public var alpha: Double, beta: Double?
    /// Global loss and SRCC at the point.
    public var loss: Double, srcc: Double
}

/// Sharpness of one checkpoint.
public struct SharpnessResult: Sendable, Codable, Equatable {
    /// Checkpoint label.
    public var checkpoint: String
    /// Loss and SRCC at the checkpoint's weights.
    public var loss: Double, srcc: Double
    /// ρ and the relative rises (L(w+ρd_k) − L(w)) / L(w), one per direction.
    public var radius: Double
    /// One relative rise per sharpness direction.
    var rises: [Double]
    /// Mean and max of the rises.
    public var meanRise: Double, maxRise: Double
    /// The Hessian's top (λ_max) and largest-magnitude eigenvalues (nil when skipped).
    public var hessian: HessianExtremes?
}

/// The landscape and sharpness of one checkpoint.
public struct LandscapeResult: Sendable {
    /// Checkpoint label.
    public var checkpoint: String
    /// Grid points, α fastest, then β.
    public var points: [LandscapePoint]
    /// Sharpness and Hessian estimate at the checkpoint.
    public var sharpness: SharpnessResult
}

/// Runs a landscape for the weights currently in a model (call once per loaded checkpoint).
public final class LandscapeRunner {
    /// Loss and gradients at the current weights.
    let evaluator: LandscapeEvaluator
    /// Grid, directions and sharpness settings.
    public let config: LandscapeConfig
    let center: FloatBuffer, first: FloatBuffer, second: FloatBuffer
    let compute: Compute

    /// A runner over `data`; direction buffers are allocated once and reused for every checkpoint.
    public init(model: VQAModel, data: LandscapeData, comm: Communicator, config: LandscapeConfig, compute: Compute) throws {
        guard [1, 2].contains(config.dims) else { throw TrainingError("landscape", "dims must be 1 or 2, got \(config.dims)") }
        guard config.points >= 1 else { throw TrainingError("landscape", "points must be ≥ 1, got \(config.points)") }
        guard config.lower < config.upper else { throw TrainingError("landscape", "the range \(config.lower):\(config.upper) is empty; use e.g. -1:1") }
        guard config.directions >= 0, config.hessianIterations >= 0 else { throw TrainingError("landscape", "directions and hessian iterations must be ≥ 0") }
        evaluator = LandscapeEvaluator(model: model, data: data, comm: comm, config: config, compute: compute)
        self.config = config
        self.compute = compute
        let n = model.parameters.flatCount
        center = FloatBuffer(count: n); first = FloatBuffer(count: n); second = FloatBuffer(count: n)
    }

    var store: ParameterStore { evaluator.model.parameters }

    /// Fills `buffer` with filter-normalised direction `k` of `family` for the centre weights.
    func direction(_ buffer: FloatBuffer, _ family: LandscapeDirection.Family, _ k: Int) {
        LandscapeDirection.gaussian(buffer.base, count: buffer.count, seed: config.seed, family: family, index: k)
        LandscapeDirection.filterNormalize(buffer.base, weights: center.base, infos: store.infos,
                                           includeBiasAndNorm: config.includeBiasAndNorm)
    }

    /// Sets the model's weights to centre + Σ aᵢ·dᵢ.
    func move(_ terms: [(Float, FloatBuffer)]) {
        combineWeights(store.values.base, base: center.base, count: center.count,
                       terms.map { (coefficient: $0.0, direction: UnsafePointer($0.1.base)) }, compute: compute)
    }

    /// Landscape points, sharpness and Hessian for the model's current weights (restored afterwards).
    /// `progress` is called after each evaluated point with (done, total).
    public func run(checkpoint: String, progress: (Int, Int) -> Void = { _, _ in }) throws -> LandscapeResult {
        center.copy(from: store.values)
        defer { store.values.copy(from: center) }
        let axis = config.axis
        let total = (config.dims == 1 ? axis.count : axis.count * axis.count) + 1 + config.directions
        var done = 0
        let zero = try evaluator.evaluate()
        done += 1; progress(done, total)

        var points: [LandscapePoint] = []
        direction(first, .axis, 0)
        if config.dims == 2 { direction(second, .axis, 1) }
        for beta in config.dims == 2 ? axis : [0] {
            for alpha in axis {
                move(config.dims == 2 ? [(Float(alpha), first), (Float(beta), second)] : [(Float(alpha), first)])
                let r = try evaluator.evaluate()
                points.append(LandscapePoint(alpha: alpha, beta: config.dims == 2 ? beta : nil, loss: r.loss, srcc: r.srcc))
                done += 1; progress(done, total)
            }
        }

        var rises: [Double] = []
        for k in 0..<config.directions {
            direction(first, .sharpness, k)
            move([(Float(config.radius), first)])
            let r = try evaluator.evaluate()
            rises.append((r.loss - zero.loss) / zero.loss)
            done += 1; progress(done, total)
        }
        store.values.copy(from: center)

        var hessian: HessianExtremes? = nil
        if config.hessianIterations > 0 {
            LandscapeDirection.gaussian(second.base, count: second.count, seed: config.seed, family: .hessianStart, index: 0)
            let power = HessianPowerIteration(maxIterations: config.hessianIterations)
            hessian = try power.extremes(weights: store.values.base, count: store.flatCount, start: second.base) { out in
                try evaluator.gradient(into: out)
            }
        }
        let sharp = SharpnessResult(checkpoint: checkpoint, loss: zero.loss, srcc: zero.srcc, radius: config.radius, rises: rises,
                                    meanRise: rises.isEmpty ? 0 : rises.reduce(0, +) / Double(rises.count),
                                    maxRise: rises.max() ?? 0, hessian: hessian)
        return LandscapeResult(checkpoint: checkpoint, points: points, sharpness: sharp)
    }
}
