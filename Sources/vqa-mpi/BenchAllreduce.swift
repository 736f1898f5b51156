// `vqa-mpi bench allreduce`: our bucketed all-reduce (comm thread) against one raw MPI_Allreduce.
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

struct BenchAllreduce: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "allreduce",
        abstract: "Bucketed overlapped all-reduce vs one raw in-place MPI_Allreduce (run under mpirun).")

    @Option(help: "Gradient buffer size in MiB.") var mb: Double = 40
    @Option(help: "Timed repetitions (after one warm-up); the median is reported.") var reps = 20
    @Option(name: .customLong("bucket-mb"), help: "Bucket cap in MiB.") var bucketMB: Double = 25
    @Option(name: .customLong("first-bucket-mb"), help: "Cap of the first (last-layer) bucket in MiB.") var firstBucketMB: Double = 1
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
                                          bucketMiB: bucketMB, firstBucketMiB: firstBucketMB)
        var failures: Int64 = 0
        if verify {
            failures += try Self.verifyBuckets(buckets, views: views, grads: grads, world: world, reps: reps)
            failures += try Self.verifyCollectives(world)
            try world.allReduceSum(&failures, count: 1)
        }

        var ours: [Double] = [], raw: [Double] = [], exposed: [Double] = []
        for rep in 0...reps {
            try world.barrier()
            let t0 = Clock.now()
            for p in views.indices.reversed() { buckets.markReady(p) }
            let timing = try buckets.waitAll()
            let t1 = Clock.now()
            try world.barrier()
            let t2 = Clock.now()
            try world.allReduceSum(grads.base, count: total)
            let t3 = Clock.now()
            if rep > 0 { ours.append(t1 - t0); raw.append(t3 - t2); exposed.append(timing.exposedSeconds) }
        }
        let oursMs = Self.median(ours) * 1e3, rawMs = Self.median(raw) * 1e3
        if world.isRoot {
            let ratio = oursMs / rawMs
            if json {
                var fields = ["\"ours_ms\": \(oursMs)", "\"raw_mpi_ms\": \(rawMs)", "\"ratio\": \(ratio)",
                              "\"ranks\": \(world.size)", "\"mb\": \(mb)", "\"buckets\": \(buckets.buckets.count)",
                              "\"bucket_mb\": \(bucketMB)", "\"first_bucket_mb\": \(firstBucketMB)", "\"reps\": \(reps)",
                              "\"thread_level\": \"\(world.runtime.provided)\""]
                if verify { fields.append("\"verified\": \(failures == 0)") }
                print("{" + fields.joined(separator: ", ") + "}")
            } else {
                print("all-reduce of \(mb) MiB over \(world.size) rank(s), median of \(reps): bucketed \(oursMs) ms "
                    + "(\(buckets.buckets.count) buckets) vs raw MPI_Allreduce \(rawMs) ms, ratio \(ratio)"
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

    static func median(_ xs: [Double]) -> Double {
        let s = xs.sorted()
        return s.isEmpty ? .nan : (s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2)
    }
}
