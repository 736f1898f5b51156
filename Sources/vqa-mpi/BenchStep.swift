// `vqa-mpi bench step`: the data-parallel training step under mpirun on synthetic clips.
//
//   mpirun -np 2 vqa-mpi bench step --model fragnet --batch-per-rank 2 --threads 1 [--regularizer awp] --json
// prints (rank 0) samples_per_s, step_ms, comm_exposed_ms and its share of the step, the phase
// times, the CPU time of the communication thread and of the process per step, the overlap mode
// and the 1-minute load average (timings on a shared machine need it to be judged). `--dump` writes
// the final weights (safetensors), which the tests compare across world sizes; `--inject` is a
// test hook (desync@STEP, crash@STEP on the last rank).
//
// Scaling decomposition: `per_rank` lists every rank's medians (step, compute = step without any
// collective, gathers, exposed all-reduce, ...); `collective_floor_ms` is the per-step minimum over
// ranks of the time in collectives (what they cost a rank that never waits) and `straggler_wait_ms`
// the mean excess over it (waiting for a slower peer). `--independent` interleaves the measured steps,
// in blocks, with the same number of steps in which every rank trains its own replica alone (a solo
// communicator: no collective in the timed region), all ranks at once: `independent_samples_per_s`
// is the machine's ceiling for this world size and `scaling_vs_independent` how close the
// data-parallel step comes to it. `--profile` adds rank 0's per-op-kind times of both.

import ArgumentParser
import Dist
import Engine
import Foundation
import Training

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
    @Flag(help: "Also time every rank training alone at the same time (no collectives), interleaved in blocks.")
    var independent = false
    @Flag(help: "Profile rank 0's measured steps per op kind (and its independent steps).") var profile = false
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
        try MemoryEstimate.training(model: options.model.rawValue, parameters: model.parameters.flatCount, floatsPerSample: MemoryEstimate.mul([3, options.frames, options.size, options.size]), batchPerRank: (globalBatch ?? batchPerRank * comm.size) / comm.size, prefetch: 0).check("bench step")
        let compute = Compute(threads: options.threads)
        let step = try DataParallelStep(model: model, comm: comm, optimizer: try options.optimizerConfig(),
                                        config: try options.stepConfig(), compute: compute)
        try step.broadcastWeights()
        let work = SyntheticWorkload(frames: options.frames, size: options.size, seed: options.seed)
        let batch = globalBatch ?? batchPerRank * comm.size
        let loop = try StepBenchLoop(step: step, work: work, globalBatch: batch, skip: try skipSet())
        // The independent replica: same model and per-rank batch, a world of one.
        let solo = independent ? try StepBenchLoop(
            step: try DataParallelStep(model: try options.makeModel(), comm: SoloCommunicator(), optimizer: try options.optimizerConfig(),
                                       config: try options.stepConfig(), compute: compute),
            work: work, globalBatch: batch / comm.size) : nil
        var r = StepBenchResult(), alone = StepBenchResult()
        let profiler = profile ? OpProfiler() : nil, soloProfiler = profile && independent ? OpProfiler() : nil
        // All ranks start each solo block together (barrier), and the next data-parallel block
        // starts only when every rank has finished its solo block.
        func soloBlock(_ range: Range<Int>, timed: Bool) throws {
            guard let solo else { return }
            try comm.barrier()
            solo.step.tape.profiler = timed ? soloProfiler : nil
            try solo.run(range, timed: timed, lr: options.headLR, into: &alone)
            solo.step.tape.profiler = nil
            try comm.barrier()
        }
        try loop.run(0..<warmup, timed: false, lr: options.headLR, checksumEvery: checksumEvery, fault: fault, into: &r)
        try soloBlock(0..<warmup, timed: false)
        let blocks = independent ? max(1, min(4, steps)) : 1
        for b in 0..<blocks {
            let range = (warmup + b * steps / blocks)..<(warmup + (b + 1) * steps / blocks)
            step.tape.profiler = profiler
            try loop.run(range, timed: true, lr: options.headLR, checksumEvery: checksumEvery, fault: fault, into: &r)
            step.tape.profiler = nil
            try soloBlock(range, timed: true)
        }
        if let path = dump, comm.isRoot {
            try SafetensorsFile(tensors: model.parameters.safetensors(), metadata: ["ranks": "\(comm.size)"]).write(to: path)
        }
        let report = try StepScalingReport(comm: comm, result: r, independent: solo == nil ? nil : alone, samplesPerRank: batch / comm.size)
        guard comm.isRoot else { return }
        let stepMs = median(r.stepMs), commMs = median(r.commMs)
        var fields: [(String, String)] = [
            ("model", "\"\(model.name)\""), ("params", "\(model.parameters.parameterCount)"), ("ranks", "\(comm.size)"),
            ("global_batch", "\(batch)"), ("regularizer", "\"\(options.regularizer.rawValue)\""), ("threads", "\(options.threads)"),
            ("overlap", "\"\(step.overlap?.rawValue ?? "none")\""), ("peer_wait", "\"\(step.config.peerWait.rawValue)\""),
            ("bucket_mb", fmt(options.bucketMB)),
            ("first_bucket_mb", fmt(options.firstBucketMB)), ("steps", "\(steps)"),
            ("samples_per_s", fmt(Double(batch) / (stepMs / 1000))), ("step_ms", fmt(stepMs)),
            ("comm_exposed_ms", fmt(commMs)), ("comm_share", fmt(commMs / max(stepMs, 1e-9))),
            ("forward_ms", fmt(median(r.forwardMs))), ("backward_ms", fmt(median(r.backwardMs))),
            ("optimizer_ms", fmt(median(r.optimizerMs))), ("perturb_ms", fmt(median(r.perturbMs))),
            ("gather_ms", fmt(median(r.gatherMs))), ("compute_ms", fmt(median(r.computeMs))), ("fill_ms", fmt(median(r.fillMs))),
            ("comm_thread_cpu_ms", fmt(median(r.commThreadCPUMs))), ("process_cpu_ms", fmt(median(r.processCPUMs))),
            ("loss_first", fmt(r.losses.first ?? 0)), ("loss_last", fmt(r.losses.last ?? 0)),
        ]
        fields += report.fields(samplesPerS: Double(batch) / (stepMs / 1000))
        if let profiler { fields.append(("profile", profileJSON(profiler, soloProfiler))) }
        if let load = loadAverage() { fields.append(("loadavg_1m", fmt(load))) }
        if json {
            print("{" + fields.map { "\"\($0.0)\": \($0.1)" }.joined(separator: ", ") + "}")
        } else {
            for (k, v) in fields { print("\(k): \(v)") }
        }
    }

    /// Per op kind and measured step: calls, forward and backward ms (and those of the independent
    /// steps), slowest first.
    private func profileJSON(_ p: OpProfiler, _ solo: OpProfiler?) -> String {
        let perStep = { (x: Double) in fmt(x * 1000 / Double(max(steps, 1))) }
        let others = Dictionary((solo?.entries ?? []).map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        let sorted = p.entries.sorted { $0.forwardSeconds + $0.backwardSeconds > $1.forwardSeconds + $1.backwardSeconds }
        return "[" + sorted.map { e in
            var s = "{\"op\": \"\(e.name)\", \"calls\": \(fmt(Double(e.calls) / Double(max(steps, 1)))), "
                + "\"forward_ms\": \(perStep(e.forwardSeconds)), \"backward_ms\": \(perStep(e.backwardSeconds))"
            if let o = others[e.name] {
                s += ", \"independent_forward_ms\": \(perStep(o.forwardSeconds)), \"independent_backward_ms\": \(perStep(o.backwardSeconds))"
            }
            return s + "}"
        }.joined(separator: ", ") + "]"
    }
}

/// A finite Double as JSON (non-finite values become null).
func fmt(_ x: Double) -> String { x.isFinite ? String(format: "%.6g", x) : "null" }

extension StepScalingReport {
    /// The JSON fields of the scaling decomposition (`samplesPerS`: the data-parallel throughput).
    func fields(samplesPerS: Double) -> [(String, String)] {
        var out: [(String, String)] = [
            ("max_rank_step_ms", fmt(maxOverRanks("step_ms"))), ("max_rank_comm_exposed_ms", fmt(maxOverRanks("comm_exposed_ms"))),
            ("max_rank_comm_thread_cpu_ms", fmt(maxOverRanks("comm_thread_cpu_ms"))),
            ("collective_floor_ms", fmt(collectiveFloorMs)), ("straggler_wait_ms", fmt(stragglerWaitMs)),
        ]
        if let ind = independentSamplesPerS {
            out += [("independent_samples_per_s", fmt(ind)), ("independent_step_ms", fmt(maxOverRanks("independent_step_ms"))),
                    ("scaling_vs_independent", fmt(samplesPerS / ind))]
        }
        let keys = independentSamplesPerS == nil ? Array(Self.keys.prefix(Self.dataParallelKeys)) : Self.keys
        var rows: [String] = []
        for (r, row) in perRank.enumerated() {
            let values: [String] = keys.indices.map { k in "\"\(keys[k])\": \(fmt(row[k]))" }
            rows.append("{\"rank\": \(r), " + values.joined(separator: ", ") + "}")
        }
        out.append(("per_rank", "[" + rows.joined(separator: ", ") + "]"))
        return out
    }
}
