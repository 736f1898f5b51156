// `vqa-mpi bench engine`: one-process training-step speed against raw sgemm measured in the same run.
//
//   vqa-mpi bench engine --model fragnet --batch 4 --frames 8 --size 224 --threads 2 --json
// params; step_ms (forward + backward + AdamW, median) and awp_step_ms (the two-pass AWP step);
// model_gflop per training step (3× the forward FLOPs: forward, input and weight gradients);
// achieved_gflops = model_gflop / step time; sgemm_gflops of cblas_sgemm on the model's dominant
// convolution as one GEMM (same threads); allocs_per_step (arena buffers obtained from the system
// per steady-state step: 0 means every buffer is reused); peak_rss_mb. `--micro-batch M` runs the
// batch in micro-batches of M clips (train.micro_batch: two rounds, same loss; micro_batch in the
// output), to choose M from step time and peak RSS. With --profile, `steps` more
// plain steps run with an OpProfiler on the tape and "profile" lists, per op kind and step, the
// calls and forward/backward milliseconds (slowest first); "conv_layers" lists every convolution
// layer shape the same way with its forward and backward GFLOP/s (backward counts the dX and dW
// GEMMs it needs), to compare with sgemm_gflops. The sgemm probe runs the model's dominant
// convolution as ONE GEMM over the whole batch on all threads (OpenBLAS threading); the
// convolutions themselves run single-threaded GEMMs on tiles and column pieces, one per worker,
// so the probe is the stricter baseline (large, cache-friendly GEMMs reach the highest GFLOP/s).
// With --every N the AWP variant perturbs every N-th step only: awp_mean_step_ms is then the mean
// over the timed steps (a multiple of N), what a run with `regularization.awp.every: N` pays per
// step, and awp_perturbed_steps counts the timed steps that perturbed; --no-awp times the plain
// step only (awp_* fields are null).

import ArgumentParser
import Dist
import Engine
import Foundation
import Training

struct BenchEngine: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "engine", abstract: "Time one-process training steps against raw sgemm.")

    @OptionGroup var options: StepOptions
    @Option(help: "Clips per step.") var batch = 4
    @Option(name: .customLong("micro-batch"), help: "Clips per micro-batch (train.micro_batch; default: the whole batch at once).") var microBatch: Int?
    @Option(help: "Measured steps per variant.") var steps = 5
    @Option(help: "Warm-up steps (not timed).") var warmup = 2
    @Flag(help: "Print one JSON object.") var json = false
    @Flag(help: "After timing, profile the plain step: milliseconds per op kind, forward and backward.") var profile = false
    @Flag(name: .customLong("no-awp"), help: "Time the plain step only (no AWP variant).") var noAWP = false

    func validate() throws {
        let every = options.every ?? 1
        guard every >= 1 else { throw ValidationError("--every must be ≥ 1 (perturb every N-th step), got \(every)") }
        guard steps % every == 0 else {
            throw ValidationError("--steps \(steps) must be a multiple of --every \(every), so the AWP mean covers whole cycles")
        }
        if let m = microBatch, m < 1 || batch % m != 0 {
            throw ValidationError("--micro-batch \(m) must divide --batch \(batch); valid values: \(TrainConfig.divisors(batch).map(String.init).joined(separator: ", "))")
        }
    }

    func run() throws {
        BLAS.setThreads(options.threads)
        let compute = Compute(threads: options.threads)
        let work = SyntheticWorkload(frames: options.frames, size: options.size, seed: options.seed)
        var results: [Regularizer: (StepBenchResult, VQAModel)] = [:]
        var profiled: [OpProfiler.Entry] = [], layers: [OpProfiler.Entry] = []
        for reg in noAWP ? [Regularizer.none] : [.none, .awp] {
            let model = try options.makeModel()
            let floats = MemoryEstimate.mul([3, options.frames, options.size, options.size]), params = model.parameters.flatCount
            try MemoryEstimate.checkTraining("bench engine (batch \(batch)\(microBatch.map { ", micro-batch \($0)" } ?? ""))", batchPerRank: batch, microBatch: microBatch, flag: "--micro-batch") {
                MemoryEstimate.training(model: options.model.rawValue, parameters: params, floatsPerSample: floats, batchPerRank: batch, microBatch: $0, prefetch: 0)
            }
            var cfg = try options.stepConfig(reg)
            cfg.microBatch = microBatch ?? 0
            let step = try DataParallelStep(model: model, comm: SoloCommunicator(), optimizer: try options.optimizerConfig(),
                                            config: cfg, compute: compute)
            results[reg] = (try step.benchmark(work, globalBatch: batch, steps: steps, warmup: warmup, lr: options.headLR), model)
            if profile && reg == .none {
                let profiler = OpProfiler()
                step.tape.profiler = profiler
                _ = try step.benchmark(work, globalBatch: batch, steps: steps, warmup: 0, lr: options.headLR)
                step.tape.profiler = nil
                profiled = profiler.entries.sorted { $0.forwardSeconds + $0.backwardSeconds > $1.forwardSeconds + $1.backwardSeconds }
                layers = profiler.layers.sorted { $0.forwardSeconds + $0.backwardSeconds > $1.forwardSeconds + $1.backwardSeconds }
            }
        }
        let (plain, model) = results[.none]!, awp = results[.awp]?.0
        let awpMs = awp.map { median($0.stepMs) } ?? .nan, awpMean = awp.map { $0.stepMs.reduce(0, +) / Double($0.stepMs.count) } ?? .nan
        let gflop = 3 * model.forwardFlops(frames: options.frames, height: options.size, width: options.size) * Double(batch) / 1e9
        let shape = model.dominantGEMM(batch: batch, frames: options.frames, height: options.size, width: options.size)
        let sgemm = SgemmProbe.gflops(m: shape.m, n: shape.n, k: shape.k)
        let stepMs = median(plain.stepMs)
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        let fields: [(String, String)] = [
            ("model", "\"\(model.name)\""), ("params", "\(model.parameters.parameterCount)"), ("batch", "\(batch)"),
            ("micro_batch", "\(microBatch ?? batch)"),
            ("frames", "\(options.frames)"), ("size", "\(options.size)"), ("threads", "\(options.threads)"),
            ("step_ms", fmt(stepMs)), ("awp_step_ms", fmt(awpMs)), ("awp_ratio", fmt(awpMs / stepMs)),
            ("awp_every", "\(options.every ?? 1)"), ("awp_mean_step_ms", fmt(awpMean)), ("awp_mean_ratio", fmt(awpMean / stepMs)),
            ("awp_perturbed_steps", awp.map { "\($0.perturbMs.filter { $0 > 0 }.count)" } ?? "null"),
            ("forward_ms", fmt(median(plain.forwardMs))), ("backward_ms", fmt(median(plain.backwardMs))),
            ("optimizer_ms", fmt(median(plain.optimizerMs))), ("awp_perturb_ms", fmt(awp.map { median($0.perturbMs) } ?? .nan)), ("model_gflop", fmt(gflop)),
            ("achieved_gflops", fmt(gflop / (stepMs / 1000))), ("sgemm_gflops", fmt(sgemm)),
            ("efficiency", fmt(gflop / (stepMs / 1000) / sgemm)),
            ("sgemm_shape", "[\(shape.m), \(shape.n), \(shape.k)]"),
            ("allocs_per_step", fmt(Double(plain.freshAllocations + (awp?.freshAllocations ?? 0)) / Double(results.count * steps))),
            ("peak_rss_mb", fmt(Double(usage.ru_maxrss) / 1024)), ("blas_core", "\"\(BLAS.coreName)\""),
        ]
        let perStep = { (e: OpProfiler.Entry) in
            (Double(e.calls) / Double(steps), e.forwardSeconds * 1000 / Double(steps), e.backwardSeconds * 1000 / Double(steps))
        }
        let rates = { (e: OpProfiler.Entry) in
            (e.forwardFlops / max(e.forwardSeconds, 1e-12) / 1e9, e.backwardFlops / max(e.backwardSeconds, 1e-12) / 1e9)
        }
        if json {
            var all = fields
            if profile {
                all.append(("profile", "[" + profiled.map { e in
                    let (c, f, b) = perStep(e)
                    return "{\"op\": \"\(e.name)\", \"calls\": \(fmt(c)), \"forward_ms\": \(fmt(f)), \"backward_ms\": \(fmt(b))}"
                }.joined(separator: ", ") + "]"))
                all.append(("conv_layers", "[" + layers.map { e in
                    let (c, f, b) = perStep(e), (fg, bg) = rates(e)
                    return "{\"layer\": \"\(e.name)\", \"calls\": \(fmt(c)), \"forward_ms\": \(fmt(f)), \"backward_ms\": \(fmt(b)), "
                        + "\"forward_gflops\": \(fmt(fg)), \"backward_gflops\": \(fmt(bg))}"
                }.joined(separator: ", ") + "]"))
            }
            print("{" + all.map { "\"\($0.0)\": \($0.1)" }.joined(separator: ", ") + "}")
        } else {
            for (k, v) in fields { print("\(k): \(v)") }
            if profile {
                print("profile (per plain step, slowest first):")
                print("  op                         calls  forward_ms  backward_ms")
                for e in profiled {
                    let (c, f, b) = perStep(e)
                    let name = e.name.padding(toLength: 26, withPad: " ", startingAt: 0)
                    print("  \(name) \(pad(fmt(c), 5)) \(pad(fmt(f), 11)) \(pad(fmt(b), 12))")
                }
                print("convolution layers (per plain step, slowest first; GFLOP/s against sgemm_gflops):")
                print("  layer                                        calls  forward_ms  backward_ms  fwd_gflops  bwd_gflops")
                for e in layers {
                    let (c, f, b) = perStep(e), (fg, bg) = rates(e)
                    let name = e.name.padding(toLength: 44, withPad: " ", startingAt: 0)
                    print("  \(name) \(pad(fmt(c), 5)) \(pad(fmt(f), 11)) \(pad(fmt(b), 12)) \(pad(fmt(fg), 11)) \(pad(fmt(bg), 11))")
                }
            }
        }
    }
}

/// `s` right-aligned in `width` columns.
private func pad(_ s: String, _ width: Int) -> String { String(repeating: " ", count: max(0, width - s.count)) + s }
