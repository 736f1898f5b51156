// `vqa-mpi bench step`: the data-parallel training step under mpirun on synthetic clips.
//
//   mpirun -np 2 vqa-mpi bench step --model fragnet --batch-per-rank 2 --threads 1 [--regularizer awp] --json
// prints (rank 0) samples_per_s, step_ms, comm_exposed_ms and its share of the step, the phase
// times, the CPU time of the communication thread and of the process per step, the overlap mode
// and the 1-minute load average (timings on a shared machine need it to be judged). `--dump` writes
// the final weights (safetensors), which the tests compare across world sizes; `--inject` is a
// test hook (desync@STEP, crash@STEP on the last rank).

import ArgumentParser
import Dist
import Engine
import Foundation

struct BenchStep: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "step", abstract: "Time the data-parallel training step.")

    @OptionGroup var options: StepOptions
    @Option(name: .customLong("batch-per-rank"), help: "Clips per rank per step.") var batchPerRank = 2
    @Option(name: .customLong("global-batch"), help: "Global batch (overrides --batch-per-rank; must divide by the ranks).")
    var globalBatch: Int?
    @Option(help: "Measured steps.") var steps = 5
    @Option(help: "Warm-up steps (not timed).") var warmup = 2
    @Option(name: .customLong("checksum-every"), help: "Verify identical weights on all ranks every K steps (0: off).")
    var checksumEvery = 0
    @Option(help: "Write the final weights to this safetensors file (rank 0).") var dump: String?
    @Option(help: "Test hook: desync@STEP or crash@STEP on the last rank.") var inject: String?
    @Option(help: "Test hook: comma-separated global sample indices to treat as unreadable.") var skip: String?
    @Flag(help: "Print one JSON object (rank 0).") var json = false

    func run() throws {
        let fault = try inject.map(InjectedFault.parse)
        let comm = try Launcher.connect(.auto)
        defer { (comm as? MPICommunicator)?.runtime.finalize() }
        do {
            try measure(comm, fault)
        } catch {
            FileHandle.standardError.write(Data("rank \(comm.rank): \(error)\n".utf8))
            if comm.size > 1 { comm.abort(code: 2) }
            throw ExitCode(2)
        }
    }

    private func skipSet() throws -> Set<Int> {
        guard let s = skip else { return [] }
        let v = s.split(separator: ",").map { Int($0) }
        guard v.allSatisfy({ ($0 ?? -1) >= 0 }) else { throw ValidationError("--skip takes comma-separated sample indices, got '\(s)'") }
        return Set(v.compactMap { $0 })
    }

    private func measure(_ comm: Communicator, _ fault: InjectedFault?) throws {
        BLAS.setThreads(options.threads)
        let model = try options.makeModel()
        let step = try DataParallelStep(model: model, comm: comm, optimizer: try options.optimizerConfig(),
                                        config: try options.stepConfig(), compute: Compute(threads: options.threads))
        try step.broadcastWeights()
        let work = SyntheticWorkload(frames: options.frames, size: options.size, seed: options.seed)
        let batch = globalBatch ?? batchPerRank * comm.size
        let r = try step.benchmark(work, globalBatch: batch, steps: steps, warmup: warmup, lr: options.lr,
                                   checksumEvery: checksumEvery, fault: fault, skip: try skipSet())
        if let path = dump, comm.isRoot {
            try SafetensorsFile(tensors: model.parameters.safetensors(), metadata: ["ranks": "\(comm.size)"]).write(to: path)
        }
        // Rank 0 prints; the slowest rank's step decides the pace, so report the per-rank maxima
        // of the medians too (one collective, every rank).
        var perRank = [median(r.stepMs), median(r.commMs), median(r.commThreadCPUMs)]
        var slots = [Double](repeating: 0, count: perRank.count * comm.size)
        for (k, v) in perRank.enumerated() { slots[comm.rank * perRank.count + k] = v }
        try slots.withUnsafeMutableBufferPointer { try comm.allReduceSum($0.baseAddress!, count: $0.count) }
        perRank = (0..<perRank.count).map { k in (0..<comm.size).map { slots[$0 * perRank.count + k] }.max() ?? 0 }
        guard comm.isRoot else { return }
        let stepMs = median(r.stepMs), commMs = median(r.commMs)
        var fields: [(String, String)] = [
            ("model", "\"\(model.name)\""), ("params", "\(model.parameters.parameterCount)"), ("ranks", "\(comm.size)"),
            ("global_batch", "\(batch)"), ("regularizer", "\"\(options.regularizer)\""), ("threads", "\(options.threads)"),
            ("overlap", "\"\(step.overlap?.rawValue ?? "none")\""), ("bucket_mb", fmt(options.bucketMB)),
            ("first_bucket_mb", fmt(options.firstBucketMB)), ("steps", "\(steps)"),
            ("samples_per_s", fmt(Double(batch) / (stepMs / 1000))), ("step_ms", fmt(stepMs)),
            ("comm_exposed_ms", fmt(commMs)), ("comm_share", fmt(commMs / max(stepMs, 1e-9))),
            ("forward_ms", fmt(median(r.forwardMs))), ("backward_ms", fmt(median(r.backwardMs))),
            ("optimizer_ms", fmt(median(r.optimizerMs))), ("perturb_ms", fmt(median(r.perturbMs))),
            ("comm_thread_cpu_ms", fmt(median(r.commThreadCPUMs))), ("process_cpu_ms", fmt(median(r.processCPUMs))),
            ("max_rank_step_ms", fmt(perRank[0])), ("max_rank_comm_exposed_ms", fmt(perRank[1])),
            ("max_rank_comm_thread_cpu_ms", fmt(perRank[2])),
            ("loss_first", fmt(r.losses.first ?? 0)), ("loss_last", fmt(r.losses.last ?? 0)),
        ]
        if let load = loadAverage() { fields.append(("loadavg_1m", fmt(load))) }
        if json {
            print("{" + fields.map { "\"\($0.0)\": \($0.1)" }.joined(separator: ", ") + "}")
        } else {
            for (k, v) in fields { print("\(k): \(v)") }
        }
    }
}

/// A finite Double as JSON (non-finite values become null).
func fmt(_ x: Double) -> String { x.isFinite ? String(format: "%.6g", x) : "null" }
