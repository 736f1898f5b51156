// `vqa-mpi landscape`: loss curves/surfaces along filter-normalised random directions, sharpness
// (relative loss rise at radius ρ) and the top Hessian eigenvalue of one or more checkpoints, on a
// fixed data subset, data-parallel under mpirun. Rank 0 writes landscape.csv, landscape.svg and
// sharpness.json into --out.

import ArgumentParser
import Dist
import Engine
import Foundation
import Media
import Training

struct LandscapeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "landscape",
        abstract: "Plot loss landscapes and measure sharpness (random directions, Hessian top eigenvalue) of checkpoints.",
        discussion: """
        Directions are Gaussian from the seed (identical raw directions for every checkpoint), filter-normalised \
        (Li et al. 2018); biases and norm parameters are zero unless --include-bn-bias. Sharpness is the mean and \
        max of (L(w+ρd)−L(w))/L(w) over --directions K directions at --radius ρ (default 0.05: every filter moves \
        by 5% of its norm). The Hessian's eigenvalue of largest magnitude (signed, hessian_maxabs) comes from power \
        iteration on central-difference Hessian-vector products with ε = 1e-3·max(‖w‖,1); its top (largest algebraic) \
        eigenvalue λ_max (hessian_top) is that one when positive, else from power iteration on the shifted Hessian.
        """
    )

    @Option(name: .customLong("checkpoint"), help: "Checkpoint (safetensors) to analyse; repeat to compare several.") var checkpoints: [String] = []
    @Option(help: "Label file of the data the loss is computed on.") var labels: String
    @Option(name: .customLong("data-root"), help: "Directory the label paths are relative to.") var dataRoot: String
    @Option(help: "1 (curves) or 2 (surface).") var dims = defaults.dims
    @Option(parsing: .unconditional, help: "Coordinate range LO:HI of each axis (e.g. -1:1).") var range = "\(fmt(defaults.lower)):\(fmt(defaults.upper))"
    @Option(help: "Points per axis.") var points = defaults.points
    @Option(help: "Random directions for the sharpness estimate.") var directions = defaults.directions
    @Option(help: "Seed of the directions, the subset and the sampling.") var seed = defaults.seed
    @Option(help: "Samples in the fixed subset (first N of a seeded permutation; 0 = all).") var subset = 64
    @Option(help: "Sharpness radius ρ in filter-normalised units.") var radius = defaults.radius
    @Option(name: .customLong("hessian-iters"), help: "Power-iteration steps for the top Hessian eigenvalue (0: skip).") var hessianIters = defaults.hessianIterations
    @Flag(name: .customLong("include-bn-bias"), help: "Perturb biases and normalisation parameters too.") var includeBNBias = false
    @Flag(help: "Analyse the EMA weights (ema.* tensors, what eval scores with) instead of the raw weights.") var ema = false
    @Option(help: "Model used when a checkpoint has no 'model' metadata.") var model = StepOptions.defaults.model.name
    @Option(name: .customLong("model-option"), help: "Model option k=v (repeatable) when a checkpoint has no 'model_options' metadata.") var modelOptions: [String] = []
    @Option(name: .customLong("batch-size"), help: "Samples per forward pass on each rank.") var batchSize = defaults.batchSize
    @Option(name: .customLong("motion-features"), help: "Motion features for simplevqa checkpoints with motion_dim > 0: a directory of <relative path>.npy or a .safetensors file.") var motionFeatures: String?
    @Option(help: "Fragment grid per side (default: the first checkpoint's training sampler).") var fragments: Int?
    @Option(help: "Fragment size in pixels (default: the checkpoint's).") var fsize: Int?
    @Option(name: .customLong("clip-len"), help: "Frames per clip (default: the checkpoint's).") var clipLen: Int?
    @Option(name: .customLong("frame-interval"), help: "Frame interval inside a clip (default: the checkpoint's).") var frameInterval: Int?
    @Option(help: "Clips per sample (scores averaged); 1 matches the training objective.") var clips = 1
    @Option(help: "Compute threads per rank (kernels and OpenBLAS).") var threads = 1
    @Option(name: .customLong("decode-threads"), help: "Decoder threads per rank.") var decodeThreads = 2
    @Option(help: "Output directory.") var out: String

    /// The landscape and sampler settings unset flags take.
    static let defaults = LandscapeConfig()

    /// Most points per axis: 201² = 40401 evaluations in 2-D is already days of work.
    static let maxPoints = 201

    func validate() throws {
        if checkpoints.isEmpty { throw ValidationError("give at least one --checkpoint FILE") }
        if ![1, 2].contains(dims) { throw ValidationError("--dims must be 1 or 2, got \(dims)") }
        _ = try parsedRange()
        if points < 1 || points > Self.maxPoints {
            throw ValidationError("--points must be in 1...\(Self.maxPoints) per axis (each point is one evaluation of the subset; "
                                  + "--dims 2 evaluates points²), got \(points)")
        }
        if directions < 0 || hessianIters < 0 { throw ValidationError("--directions and --hessian-iters must be ≥ 0") }
        if !(radius > 0) { throw ValidationError("--radius must be positive, got \(radius)") }
        if subset < 0 { throw ValidationError("--subset must be ≥ 0 (0 = all), got \(subset)") }
        for (n, v) in [("--batch-size", batchSize), ("--threads", threads), ("--decode-threads", decodeThreads), ("--clips", clips)] where v < 1 {
            throw ValidationError("\(n) must be at least 1, got \(v)")
        }
        for (n, v) in [("--fragments", fragments), ("--fsize", fsize), ("--clip-len", clipLen), ("--frame-interval", frameInterval)] {
            if let v, v < 1 { throw ValidationError("\(n) must be at least 1, got \(v)") }
        }
        _ = try parsedOptions()
    }

    func parsedRange() throws -> (Double, Double) {
        let parts = range.split(separator: ":", omittingEmptySubsequences: false).map { Double($0.trimmingCharacters(in: .whitespaces)) }
        guard parts.count == 2, let lo = parts[0], let hi = parts[1], lo < hi else {
            throw ValidationError("--range must be LO:HI with LO < HI, e.g. -1:1; got '\(range)'")
        }
        return (lo, hi)
    }

    func parsedOptions() throws -> [String: String] {
        var o: [String: String] = [:]
        for kv in modelOptions {
            guard let eq = kv.firstIndex(of: "="), eq != kv.startIndex else { throw ValidationError("--model-option must be key=value, got '\(kv)'") }
            o[String(kv[..<eq])] = String(kv[kv.index(after: eq)...])
        }
        return o
    }

    /// The sampler: `base` (the first checkpoint's training sampler, or FAST-VQA-B's defaults for
    /// a plain safetensors file) with the given flags on top; --clips sets the clip count.
    func sampler(base: SamplerConfig) -> SamplerConfig {
        var s = base
        if let f = fragments { s.fragmentsH = f; s.fragmentsW = f }
        if let f = fsize { s.fsizeH = f; s.fsizeW = f }
        if let c = clipLen { s.clipLen = c }
        if let f = frameInterval { s.frameInterval = f }
        s.testClips = clips
        return s
    }

    var config: LandscapeConfig {
        var c = LandscapeConfig()
        (c.lower, c.upper) = (try? parsedRange()) ?? (c.lower, c.upper)
        c.dims = dims; c.points = points; c.directions = directions; c.seed = seed; c.radius = radius
        c.hessianIterations = hessianIters; c.includeBiasAndNorm = includeBNBias; c.batchSize = batchSize
        return c
    }

    func run() throws {
        let comm = try Launcher.connect(.auto)
        defer { (comm as? MPICommunicator)?.runtime.finalize() }
        do {
            try analyse(comm)
        } catch {
            FileHandle.standardError.write(Data("error\(comm.size > 1 ? " (rank \(comm.rank))" : ""): \(error)\n".utf8))
            if comm.size > 1 { comm.abort(code: 1) }
            throw ExitCode(1)
        }
    }

    func analyse(_ comm: Communicator) throws {
        let compute = Compute(threads: threads)
        BLAS.setThreads(threads)
        // Verified like eval's (checksum over tensors and metadata, finite weights); plain safetensors as is.
        let read = try checkpoints.map { path in (path, try Checkpoint.readWeights(path: path)) }
        let files = read.map { ($0.0, $0.1.file) }
        let stored = try read[0].1.info.flatMap { i in
            i.config.isEmpty ? nil : try TrainConfig.fromStoredYAML(i.config, source: "\(read[0].0) (stored config)").data.train.sampler
        }
        let sampling = sampler(base: stored ?? SamplerConfig())
        if comm.isRoot {
            log("landscape: sampler \(stored == nil ? "FAST-VQA-B defaults (no stored config in \(read[0].0))" : "of \(read[0].0)") with flags on top: \(sampling.fragmentsH)×\(sampling.fragmentsW) fragments of \(sampling.fsizeH)×\(sampling.fsizeW), clip_len \(sampling.clipLen), frame_interval \(sampling.frameInterval), \(sampling.testClips) clip(s)")
        }
        let names = Self.labels(checkpoints)
        let entries = LandscapeData.subset(try Labels.load(path: labels, dataRoot: dataRoot), count: subset, seed: seed)
        // Motion features follow the first checkpoint's model (every checkpoint must take the same).
        let first = try Checkpoint.model(for: files[0].1, path: files[0].0, fallback: model.rawValue, options: try parsedOptions())
        let motion = try MotionFeatureSource.make(path: motionFeatures ?? "", model: first, roots: [dataRoot],
                                                  entries: entries, what: "--motion-features")
        let data = try LandscapeData.load(entries: entries, sampler: sampling, seed: seed, comm: comm, decodeThreads: decodeThreads,
                                          features: motion) { path in
            try VideoDecoder(path: path, threads: 1)
        }
        if comm.isRoot { log("landscape: \(data.labels.count) samples on \(comm.size) rank(s), \(checkpoints.count) checkpoint(s)") }
        var results: [LandscapeResult] = []
        for ((path, file), name) in zip(files, names) {
            let net = try Checkpoint.model(for: file, path: path, fallback: model.rawValue, options: try parsedOptions())
            if net.motionDim != data.motionDim {
                throw ValidationError("\(path): its model takes \(net.motionDim) motion features per frame, the first checkpoint's \(data.motionDim); analyse checkpoints of the same model together")
            }
            if ema && !Checkpoint.hasEMA(file) {
                throw ValidationError("\(path) has no EMA weights (ema.* tensors); drop --ema to analyse its raw weights")
            }
            try net.parameters.load(file, path: path, prefix: ema ? Checkpoint.emaPrefix : "")
            let runner = try LandscapeRunner(model: net, data: data, comm: comm, config: config, compute: compute)
            let r = try runner.run(checkpoint: name) { done, total in
                if comm.isRoot && (done == total || done % 10 == 0) { log("  \(name): \(done)/\(total) points") }
            }
            results.append(r)
        }
        if comm.isRoot {
            try LandscapeResult.write(results, config: config, to: out)
            print("checkpoint                      loss      srcc   mean_rise  max_rise  hessian_top  hessian_maxabs")
            for r in results {
                let s = r.sharpness
                let h = s.hessian.map { String(format: "%11.5g  %14.5g", $0.top, $0.largestMagnitude) } ?? "          -               -"
                print(r.checkpoint.padding(toLength: max(28, r.checkpoint.count), withPad: " ", startingAt: 0)
                      + String(format: " %9.5f %8.4f %10.5f %9.5f  ", s.loss, s.srcc, s.meanRise, s.maxRise) + h)
            }
            print("wrote \(out)/landscape.csv, landscape.svg, sharpness.json")
        }
    }

    /// Short unique labels: file names without extension, or the paths when names repeat.
    static func labels(_ paths: [String]) -> [String] {
        let names = paths.map { (($0 as NSString).lastPathComponent as NSString).deletingPathExtension }
        return Set(names).count == names.count ? names : paths
    }

    func log(_ s: String) { FileHandle.standardError.write(Data((s + "\n").utf8)) }
}
