// `vqa-mpi bench allreduce`: our bucketed all-reduce against one raw MPI_Allreduce.
//
// "ours" is exactly what the training step does after backward: every parameter marked ready, then
// `waitAll()`, with the step's settings (sum, scale 1: the step's loss is over the global batch;
// overlap as `--overlap`, default auto like the step). Before every timed call the CPU rewrites
// the buffer, as the backward pass does, so no call sees pages or caches another call warmed, and
// the order of ours/raw alternates between repetitions. `raw_buckets_ms` is raw MPI_Allreduce
// calls over the same bucket spans back to back (the cost of splitting, without our machinery).
//
// Run it under the launcher, e.g.
//   mpirun -np 2 --mca btl self,vader --mca btl_vader_single_copy_mechanism none \
//     -x GLIBC_TUNABLES=glibc.malloc.mmap_threshold=2000000000:glibc.malloc.trim_threshold=4000000000 \
//     vqa-mpi bench allreduce --mb 40 --json
// Without a launcher it runs as an MPI singleton (world of 1). This command owns the process's
// MPIRuntime: it starts MPI in run() and finalises it before returning, on every rank.
// `--verify` is a self-check for a new cluster: rank-dependent data through the bucketed path
// (parameters marked in a random, rank-dependent order), chunked all-reduce of every element
// type, all-gather with different counts per rank, and broadcasts; it exits non-zero on any
// mismatch on any rank.

import ArgumentParser
import Dist
import Engine
import Foundation
import Training

struct BenchAllreduce: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "allreduce",
        abstract: "Bucketed overlapped all-reduce vs one raw in-place MPI_Allreduce (run under mpirun).")

    @Option(help: "Gradient buffer size in MiB.") var mb: Double = 40
    @Option(help: "Timed repetitions (after one warm-up); the median is reported.") var reps = 20
    @Option(name: .customLong("bucket-mb"), help: "Bucket cap in MiB.") var bucketMB = StepOptions.stepDefaults.bucketMiB
    @Option(name: .customLong("first-bucket-mb"), help: "Cap of the first (last-layer) bucket in MiB.")
    var firstBucketMB = StepOptions.stepDefaults.firstBucketMiB
    @Option(help: "Where the buckets are reduced: thread, after or auto (as the training step decides).") var overlap = StepOptions.stepDefaults.overlap
    @Flag(help: "Print one JSON object (rank 0).") var json = false
    @Flag(help: "Check results against expected values on every rank; exit 1 on a mismatch.") var verify = false

    func validate() throws {
        guard mb > 0, mb.isFinite, mb <= 16_384 else { throw ValidationError("--mb must be in (0, 16384], got \(mb)") }
        guard reps >= 1 else { throw ValidationError("--reps must be at least 1, got \(reps)") }
        guard bucketMB > 0, firstBucketMB > 0 else {
            throw ValidationError("--bucket-mb and --first-bucket-mb must be positive, got \(bucketMB) and \(firstBucketMB)")
        }
    }

    func run() throws {
        guard let world = try Launcher.connect(.mpi) as? MPICommunicator else {
            throw ValidationError("bench allreduce needs MPI")
        }
        defer { world.runtime.finalize() }
        do {
            try measure(world)
        } catch let error as DistError {
            // One rank failing would leave the others blocked in a collective: end the whole job.
            FileHandle.standardError.write(Data("rank \(world.rank): \(error)\n".utf8))
            world.abort(code: 2)
        }
    }

    private func measure(_ world: MPICommunicator) throws {
        let total = max(1, Int(mb * 1_048_576 / 4))
        let views = Self.syntheticViews(floats: total)
        let grads = FloatBuffer(count: total, value: 1)
        let buckets = try GradientBuckets(views: views, buffer: grads.base, bufferCount: total, communicator: world,
                                          bucketMiB: bucketMB, firstBucketMiB: firstBucketMB, scale: 1,
                                          overlap: overlap)
        var failures: Int64 = 0
        if verify {
            failures += try Self.verifyBuckets(buckets, views: views, grads: grads, world: world, reps: reps)
            failures += try Self.verifyCollectives(world)
            try world.allReduceSum(&failures, count: 1)
        }

        var ours: [Double] = [], raw: [Double] = [], split: [Double] = [], threadCPU: [Double] = [], callerCPU: [Double] = []
        var inCalls: [Double] = []
        func rewrite() { for i in 0..<total { grads.base[i] = 1 } }
        func timeOurs(_ keep: Bool) throws {
            rewrite()
            try world.barrier()
            let t0 = Clock.now()
            for p in views.indices.reversed() { buckets.markReady(p) }
            let timing = try buckets.waitAll()
            let t1 = Clock.now()
            if keep {
                ours.append(t1 - t0)
                inCalls.append(timing.bucketSeconds.reduce(0, +))
                threadCPU.append(timing.threadCPUSeconds)
                callerCPU.append(timing.bucketCPUSeconds.reduce(0, +) - timing.threadCPUSeconds)
            }
        }
        func timeRaw(_ keep: Bool) throws {
            rewrite()
            try world.barrier()
            let t0 = Clock.now()
            try world.allReduceSum(grads.base, count: total)
            if keep { raw.append(Clock.now() - t0) }
        }
        func timeSplit(_ keep: Bool) throws {
            rewrite()
            try world.barrier()
            let t0 = Clock.now()
            for b in buckets.buckets { try world.allReduceSum(grads.base + b.offset, count: b.count) }
            if keep { split.append(Clock.now() - t0) }
        }
        for rep in 0...reps {
            // Repetition 0 warms up every path (pages, MPI's shared-memory segments and free lists).
            let order: [(Bool) throws -> Void] = rep % 2 == 0 ? [timeOurs, timeRaw, timeSplit] : [timeRaw, timeSplit, timeOurs]
            for f in order { try f(rep > 0) }
        }
        let oursMs = median(ours) * 1e3, rawMs = median(raw) * 1e3
        if world.isRoot {
            let ratio = oursMs / rawMs
            if json {
                var fields = ["\"ours_ms\": \(oursMs)", "\"raw_mpi_ms\": \(rawMs)", "\"ratio\": \(ratio)",
                              "\"raw_buckets_ms\": \(median(split) * 1e3)",
                              "\"ours_in_collectives_ms\": \(median(inCalls) * 1e3)",
                              "\"comm_thread_cpu_ms\": \(median(threadCPU) * 1e3)",
                              "\"caller_cpu_ms\": \(median(callerCPU) * 1e3)",
                              "\"overlap\": \"\(buckets.overlap.rawValue)\"", "\"scale\": \(buckets.scale)",
                              "\"ranks\": \(world.size)", "\"mb\": \(mb)", "\"buckets\": \(buckets.buckets.count)",
                              "\"bucket_mb\": \(bucketMB)", "\"first_bucket_mb\": \(firstBucketMB)", "\"reps\": \(reps)",
                              "\"thread_level\": \"\(world.runtime.provided)\""]
                if let load = loadAverage() { fields.append("\"loadavg_1m\": \(load)") }
                if verify { fields.append("\"verified\": \(failures == 0)") }
                print("{" + fields.joined(separator: ", ") + "}")
            } else {
                print("all-reduce of \(mb) MiB over \(world.size) rank(s), median of \(reps): bucketed \(oursMs) ms "
                    + "(\(buckets.buckets.count) buckets, overlap \(buckets.overlap.rawValue)) vs raw MPI_Allreduce \(rawMs) ms, "
                    + "ratio \(ratio); raw over the bucket spans \(median(split) * 1e3) ms"
                    + (verify ? (failures == 0 ? "; verify passed" : "; verify FAILED (\(failures) mismatches)") : ""))
            }
        }
        if failures != 0 { throw ExitCode(1) }
    }

    /// Parameter views shaped like a transformer's (weights, biases, norms), 16-float aligned like
    /// ParameterStore, filling `floats`.
    static func syntheticViews(floats: Int) -> [GradientView] {
        let cycle = [96 * 96 * 3, 288, 96 * 96, 96, 96, 96, 96 * 384, 384, 384 * 96, 96]
        var views: [GradientView] = []
        var offset = 0, k = 0
        while offset < floats {
            let n = min(cycle[k % cycle.count], floats - offset)
            views.append(GradientView(offset: offset, count: n))
            offset += (n + 15) & ~15
            k += 1
        }
        return views
    }
}
