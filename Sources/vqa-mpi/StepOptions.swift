// Options shared by the step benchmarks: model, workload, optimizer and regulariser.

import ArgumentParser
import Dist
import Engine
import Training

struct StepOptions: ParsableArguments {
    @Option(help: "Model: \(ModelKind.allCases.map(\.rawValue).joined(separator: ", ")).") var model = "fragnet"
    @Option(name: .customLong("model-option"), help: "Model option key=value (repeatable), e.g. widths=8,8,16,16.")
    var modelOptions: [String] = []
    @Option(help: "Frames per clip.") var frames = 8
    @Option(help: "Clip height and width in pixels.") var size = 224
    @Option(help: "Engine and OpenBLAS threads per rank.") var threads = 1
    @Option(help: "Optimizer: \(OptimizerKind.allCases.map(\.rawValue).joined(separator: ", ")).") var optimizer = "adamw"
    @Option(help: "Head learning rate (backbone ×0.1).") var lr: Float = 1e-3
    @Option(name: .customLong("weight-decay"), help: "Weight decay (AdamW: decoupled; SGD/Adam: L2).") var weightDecay: Float = 0.05
    @Option(help: "Regulariser: \(Regularizer.allCases.map(\.rawValue).joined(separator: ", ")).") var regularizer = "none"
    @Option(help: "AWP/RWP γ (relative perturbation size).") var gamma: Float = 1e-4
    @Option(help: "AWP ascent gradient: global (all-reduced) or local (per rank).") var sync = "global"
    @Option(help: "Seed of the weights and of the synthetic data.") var seed: UInt64 = 0
    @Option(help: "Gradient all-reduce: thread (during backward, on its own thread), after (once backward is done) or auto (thread only with a spare core).")
    var overlap = "auto"
    @Option(name: .customLong("peer-wait"), help: "How an early rank waits for the others at collectives: spin (inside the collective; fastest when each rank has its own core) or sleep (sleep-polled arrival barrier: frees the core for other processes on a shared node).")
    var peerWait = "spin"
    @Option(name: .customLong("bucket-mb"), help: "All-reduce bucket cap in MiB.") var bucketMB = 25.0
    @Option(name: .customLong("first-bucket-mb"), help: "Cap of the first (last-layer) bucket in MiB.") var firstBucketMB = 1.0

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
    func makeModel() throws -> VQAModel { try ModelKind.parse(model).make(seed: seed, options: try parsedModelOptions()) }

    /// Optimizer settings (FAST-VQA groups: backbone ×0.1).
    func optimizerConfig() throws -> OptimizerConfig {
        guard let kind = OptimizerKind(rawValue: optimizer) else {
            throw ValidationError("unknown optimizer '\(optimizer)'; valid: \(OptimizerKind.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return OptimizerConfig(kind: kind, weightDecay: weightDecay)
    }

    /// Step settings for `regularizer` (`override` replaces it, e.g. to time plain and AWP steps).
    func stepConfig(_ override: Regularizer? = nil) throws -> StepConfig {
        guard let reg = override ?? Regularizer(rawValue: regularizer) else {
            throw ValidationError("unknown regularizer '\(regularizer)'; valid: \(Regularizer.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        guard let s = PerturbationSync(rawValue: sync) else {
            throw ValidationError("unknown sync '\(sync)'; valid: \(PerturbationSync.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        var c = StepConfig()
        c.sync = s
        c.overlap = try OverlapMode.parse(overlap)
        c.peerWait = try PeerWait.parse(peerWait)
        c.bucketMiB = bucketMB
        c.firstBucketMiB = firstBucketMB
        switch reg {
        case .awp: c.perturbation = PerturbationConfig(kind: .awp, gamma: gamma)
        case .rwp: c.perturbation = PerturbationConfig(kind: .rwp, gamma: gamma)
        case .none, .l2, .aug: break
        }
        return c
    }

    func validate() throws {
        guard frames >= 2, frames % 2 == 0 else { throw ValidationError("--frames must be an even number ≥ 2, got \(frames)") }
        guard size >= 32, size % 32 == 0 else { throw ValidationError("--size must be a multiple of 32, got \(size)") }
        guard threads >= 1 else { throw ValidationError("--threads must be at least 1, got \(threads)") }
        guard OverlapMode(rawValue: overlap) != nil else {
            throw ValidationError("--overlap must be one of \(OverlapMode.allCases.map(\.rawValue).joined(separator: ", ")), got '\(overlap)'")
        }
        guard PeerWait(rawValue: peerWait) != nil else {
            throw ValidationError("--peer-wait must be one of \(PeerWait.allCases.map(\.rawValue).joined(separator: ", ")), got '\(peerWait)'")
        }
        guard bucketMB > 0, firstBucketMB > 0, bucketMB.isFinite, firstBucketMB.isFinite else {
            throw ValidationError("--bucket-mb and --first-bucket-mb must be positive, got \(bucketMB) and \(firstBucketMB)")
        }
    }
}
