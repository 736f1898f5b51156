// Options shared by the step benchmarks: model, workload, optimizer and regulariser.

import ArgumentParser
import Dist
import Engine
import Training

struct StepOptions: ParsableArguments {
    /// The defaults every unset flag takes: `train`'s own, and the step's communication settings.
    static let defaults = TrainConfig(), stepDefaults = StepConfig()

    @Option(help: "Model.") var model = defaults.model.name
    @Option(name: .customLong("model-option"), help: "Model option key=value (repeatable), e.g. widths=8,8,16,16.")
    var modelOptions: [String] = []
    @Option(help: "Frames per clip.") var frames = 8
    @Option(help: "Clip height and width in pixels.") var size = 224
    @Option(help: "Engine and OpenBLAS threads per rank.") var threads = 1
    @Option(help: "Optimizer (default: train's).") var optimizer = defaults.optimizer.kind
    @Option(help: "Head learning rate (backbone × optimizer.backbone_lr_mult; default: train's).") var lr = defaults.optimizer.lr
    @Option(name: .customLong("weight-decay"), help: "Weight decay (AdamW: decoupled; SGD/Adam: L2; default: train's).")
    var weightDecay = defaults.optimizer.wd
    @Option(help: "Regulariser.") var regularizer = defaults.regularization.kind
    @Option(help: "AWP/RWP γ (relative perturbation size; default: train's, \(defaults.regularization.awp.gamma)).") var gamma: Double?
    @Option(help: "AWP ascent gradient: global (all-reduced) or local (per rank; default: train's, \(defaults.regularization.awp.sync.rawValue)).")
    var sync: PerturbationSync?
    @Option(help: "AWP/RWP: perturb every N-th step, the others are plain (regularization.<kind>.every; default: train's, \(defaults.regularization.awp.every)).")
    var every: Int?
    @Option(help: "Seed of the weights and of the synthetic data.") var seed: UInt64 = 0
    @Option(help: "Gradient all-reduce: thread (during backward, on its own thread), after (once backward is done) or auto (thread only with a spare core).")
    var overlap = stepDefaults.overlap
    @Option(name: .customLong("peer-wait"), help: "How an early rank waits for the others at collectives: spin (inside the collective; fastest when each rank has its own core) or sleep (sleep-polled arrival barrier: frees the core for other processes on a shared node).")
    var peerWait = stepDefaults.peerWait
    @Option(name: .customLong("bucket-mb"), help: "All-reduce bucket cap in MiB.") var bucketMB = stepDefaults.bucketMiB
    @Option(name: .customLong("first-bucket-mb"), help: "Cap of the first (last-layer) bucket in MiB.") var firstBucketMB = stepDefaults.firstBucketMiB

    /// The parsed model options.
    func parsedModelOptions() throws -> [String: String] {
        var out: [String: String] = [:]
        for o in modelOptions {
            let kv = o.split(separator: "=", maxSplits: 1).map(String.init)
            guard kv.count == 2 else { throw ValidationError("--model-option takes key=value, got '\(o)'") }
            out[kv[0]] = kv[1]
        }
        return out
    }

    /// The model with its initial weights.
    func makeModel() throws -> VQAModel { try model.make(seed: seed, options: try parsedModelOptions()) }

    /// The training configuration these flags describe: TrainConfig's defaults (the ones `train`
    /// uses) with the flags given here on top, so a bench step is the step training runs.
    func trainConfig(_ override: Regularizer? = nil) throws -> TrainConfig {
        var c = TrainConfig()
        c.model.name = model
        c.model.options = try parsedModelOptions()
        c.optimizer.kind = optimizer
        c.optimizer.lr = lr
        c.optimizer.wd = weightDecay
        c.regularization.kind = override ?? regularizer
        for reg in [Regularizer.awp, .rwp] {
            var p = reg == .awp ? c.regularization.awp : c.regularization.rwp
            if let g = gamma { p.gamma = g }
            if let s = sync { p.sync = s }
            if let e = every { p.every = e }
            if reg == .awp { c.regularization.awp = p } else { c.regularization.rwp = p }
        }
        do { try c.validate() } catch { throw ValidationError("\(error)") }
        return c
    }

    /// The head learning rate in force.
    var headLR: Float { Float(lr) }

    /// Optimizer settings, as `train` builds them (FAST-VQA groups: backbone × backbone_lr_mult).
    func optimizerConfig() throws -> OptimizerConfig {
        do { return try trainConfig().optimizerConfig() } catch let e as ValidationError { throw e } catch { throw ValidationError("\(error)") }
    }

    /// Step settings for `regularizer` (`override` replaces it, e.g. to time plain and AWP steps):
    /// TrainConfig.stepConfig(), then the bench's communication settings.
    func stepConfig(_ override: Regularizer? = nil) throws -> StepConfig {
        var c: StepConfig
        do { c = try trainConfig(override).stepConfig() } catch let e as ValidationError { throw e } catch { throw ValidationError("\(error)") }
        c.overlap = overlap
        c.peerWait = peerWait
        c.bucketMiB = bucketMB
        c.firstBucketMiB = firstBucketMB
        return c
    }

    func validate() throws {
        guard frames >= 2, frames % 2 == 0 else { throw ValidationError("--frames must be an even number ≥ 2, got \(frames)") }
        guard size >= 32, size % 32 == 0 else { throw ValidationError("--size must be a multiple of 32, got \(size)") }
        guard threads >= 1 else { throw ValidationError("--threads must be at least 1, got \(threads)") }
        guard bucketMB > 0, firstBucketMB > 0, bucketMB.isFinite, firstBucketMB.isFinite else {
            throw ValidationError("--bucket-mb and --first-bucket-mb must be positive, got \(bucketMB) and \(firstBucketMB)")
        }
    }
}

// Named choices as flag values: ArgumentParser lists the valid names in help and in its error.
extension ModelKind: ExpressibleByArgument {}
extension OptimizerKind: ExpressibleByArgument {}
extension Regularizer: ExpressibleByArgument {}
extension PerturbationSync: ExpressibleByArgument {}
extension OverlapMode: ExpressibleByArgument {}
extension PeerWait: ExpressibleByArgument {}
