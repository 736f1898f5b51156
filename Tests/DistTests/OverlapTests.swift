// Overlap modes of the gradient buckets: the `auto` rule, that `.after` reduces exactly what
// `.thread` reduces (same calls, same order, same values) without a thread, that the comm thread's
// CPU time is measured on the thread that does the work, and node-local rank counting. Under real
// MPI, 2 ranks train bit-identical weights with either mode.

import XCTest
import Foundation
@testable import Dist
import TestSupport
@testable import Engine

/// A fake world of `size` identical ranks (sum = size × value) whose float all-reduce runs `work`
/// (spin or sleep) and records (offset, count); `others` are the Int64 slots other ranks add.
private final class FakeComm: Communicator, @unchecked Sendable {
    let size: Int
    let rank: Int
    let base: UnsafeMutablePointer<Float>?
    let work: () -> Void
    let others: [Int64]
    private let lock = NSLock()
    private var _calls: [(Int, Int)] = []
    private var _duplicates: [FakeComm] = []
    var calls: [(Int, Int)] { lock.lock(); defer { lock.unlock() }; return _calls }
    var duplicates: [FakeComm] { lock.lock(); defer { lock.unlock() }; return _duplicates }

    init(size: Int, rank: Int = 0, base: UnsafeMutablePointer<Float>?, others: [Int64] = [], work: @escaping () -> Void = {}) {
        self.size = size; self.rank = rank; self.base = base; self.others = others; self.work = work
    }
    func allReduceSum(_ buf: UnsafeMutablePointer<Float>, count: Int) throws {
        work()
        lock.lock(); _calls.append((base.map { buf - $0 } ?? -1, count)); lock.unlock()
        for i in 0..<count { buf[i] *= Float(size) }
    }
    func allReduceSum(_ buf: UnsafeMutablePointer<Double>, count: Int) throws { for i in 0..<count { buf[i] *= Double(size) } }
    func allReduceSum(_ buf: UnsafeMutablePointer<Int64>, count: Int) throws {
        for i in 0..<min(count, others.count) { buf[i] += others[i] }
    }
    func broadcast(_ buf: UnsafeMutablePointer<Float>, count: Int, root: Int) throws {}
    func broadcastBytes(_ buf: UnsafeMutableRawPointer, byteCount: Int, root: Int) throws {}
    func allGather(_ values: [Float]) throws -> [Float] { Array((0..<size).map { _ in values }.joined()) }
    func barrier() throws {}
    func duplicate() throws -> Communicator {
        let d = FakeComm(size: size, rank: rank, base: base, others: others, work: work)
        lock.lock(); _duplicates.append(d); lock.unlock()
        return d
    }
    func abort(code: Int32) -> Never { fatalError("abort \(code)") }
}

private func views(_ counts: [Int]) -> [GradientView] {
    var offset = 0
    return counts.map { n in defer { offset += (n + 15) & ~15 }; return GradientView(offset: offset, count: n) }
}

final class OverlapTests: XCTestCase {
    func testAutoTakesTheThreadOnlyWithACoreToSpare() {
        // (compute threads, local ranks, affinity cores, online cores) → mode
        let cases: [(Int, Int, Int, Int, OverlapMode)] = [
            (1, 2, 1, 2, .after),    // mpirun -np 2 on 2 cores: each rank bound to one core
            (1, 2, 2, 2, .after),    // --bind-to none: 2 cores shared by 2 ranks
            (1, 1, 2, 2, .thread),   // one rank, two cores
            (1, 2, 4, 4, .thread),   // 2 ranks unbound on 4 cores
            (2, 2, 4, 4, .after),    // 2 compute threads each fill the 4 cores
            (3, 4, 64, 64, .thread), // 4 ranks × (3 + 1) threads on 64 cores
            (1, 1, 1, 8, .after),    // bound to one core on a big node
        ]
        for (threads, local, affinity, online, want) in cases {
            XCTAssertEqual(OverlapMode.auto.resolve(computeThreads: threads, localRanks: local, affinityCores: affinity, onlineCores: online),
                           want, "threads \(threads), local ranks \(local), affinity \(affinity), online \(online)")
        }
        for m in [OverlapMode.thread, .after] {
            XCTAssertEqual(m.resolve(computeThreads: 64, localRanks: 64, affinityCores: 1, onlineCores: 1), m, "explicit modes stay")
        }
        XCTAssertEqual(try OverlapMode.parse("after"), .after)
        XCTAssertThrowsError(try OverlapMode.parse("later")) { e in XCTAssertTrue("\(e)".contains("valid: thread, after, auto"), "\(e)") }
    }

    /// Same buckets, same all-reduce calls in the same order, same results; `.after` has no
    /// thread and the caller reduces every bucket.
    func testAfterReducesExactlyWhatTheThreadReduces() throws {
        let counts = (0..<50).map { 50 + ($0 * 53) % 700 }
        let vs = views(counts)
        let n = vs.last!.offset + vs.last!.count + 16
        var results: [OverlapMode: ([Float], [(Int, Int)])] = [:]
        for mode in [OverlapMode.thread, .after] {
            let grads = FloatBuffer(count: n)
            let world = FakeComm(size: 3, base: grads.base)
            let buckets = try GradientBuckets(views: vs, buffer: grads.base, bufferCount: n, communicator: world,
                                              bucketMiB: 4000.0 * 4 / 1_048_576, firstBucketMiB: 500.0 * 4 / 1_048_576,
                                              scale: 1, overlap: mode)
            XCTAssertEqual(buckets.overlap, mode)
            XCTAssertGreaterThan(buckets.buckets.count, 3)
            var out: [Float] = []
            for step in 0..<3 {
                for i in 0..<n { grads.base[i] = Float(i % 17) - Float(step) }
                var rng = CounterRNG(seed: 3, epoch: UInt64(step), purpose: .test)
                let order = rng.permutation(vs.count)
                for p in (step == 1 ? Array(order.prefix(30)) : order) { buckets.markReady(p) }
                let t = try buckets.waitAll()
                if mode == .after {
                    XCTAssertEqual(t.callerBuckets, buckets.buckets.count, "after: the caller reduces every bucket")
                    XCTAssertEqual(t.threadCPUSeconds, 0)
                }
                XCTAssertEqual(t.bucketCPUSeconds.count, buckets.buckets.count)
                out += grads.toArray()
            }
            XCTAssertEqual(world.duplicates.count, 1)
            results[mode] = (out, world.duplicates[0].calls)
        }
        let (a, b) = (results[.thread]!, results[.after]!)
        XCTAssertEqual(a.0, b.0)
        XCTAssertEqual(a.1.map(\.0), b.1.map(\.0))
        XCTAssertEqual(a.1.map(\.1), b.1.map(\.1))
        XCTAssertEqual(a.0.prefix(3), [0, 3, 6], "summed over 3 identical ranks")
    }

    /// A collective that spins shows its CPU time on the comm thread; one that sleeps does not,
    /// though both take wall time. (Open MPI's blocking collectives spin: this is what the step
    /// benchmark's comm_thread_cpu_ms reports.)
    func testCommThreadCPUTimeIsTheReducingThreadsOwn() throws {
        let spin: () -> Void = { let c0 = threadCPUSeconds(); while threadCPUSeconds() - c0 < 0.03 {} }
        let sleep: () -> Void = { usleep(30_000) }
        for (name, work, spins) in [("spin", spin, true), ("sleep", sleep, false)] {
            let grads = FloatBuffer(count: 64)
            let buckets = try GradientBuckets(views: views([10, 10]), buffer: grads.base, bufferCount: 64,
                                              communicator: FakeComm(size: 2, base: grads.base, work: work),
                                              bucketMiB: 12.0 * 4 / 1_048_576, firstBucketMiB: 12.0 * 4 / 1_048_576,
                                              overlap: .thread)
            XCTAssertEqual(buckets.buckets.count, 2)
            // Mark the first bucket and let the thread finish it before waitAll can take over.
            buckets.markReady(1)
            let c0 = threadCPUSeconds()
            usleep(200_000)
            let t = try buckets.waitAll()
            let callerCPU = threadCPUSeconds() - c0
            XCTAssertGreaterThanOrEqual(t.bucketSeconds[0], 0.03, name)
            // Normally the thread reduced bucket 0 during the sleep and the caller bucket 1; on a
            // very busy machine the caller may have taken both.
            let byThread = Double(buckets.buckets.count - t.callerBuckets)
            if spins {
                XCTAssertGreaterThanOrEqual(t.threadCPUSeconds, 0.03 * byThread, "\(name): the thread's spinning is its CPU time")
                XCTAssertGreaterThanOrEqual(callerCPU, 0.03 * Double(t.callerBuckets), "\(name): the caller spun itself")
                XCTAssertLessThan(t.threadCPUSeconds, 0.03 * byThread + 0.02, "\(name): only the thread's own CPU")
            } else {
                XCTAssertLessThan(t.threadCPUSeconds, 0.02, "\(name): sleeping costs no CPU")
            }
        }
    }

    func testLocalRanksCountsTheRanksOnThisHost() throws {
        let mine = CorePlacement.hostHash()
        XCTAssertGreaterThan(mine, 0)
        let other = mine == 12345 ? 54321 : Int64(12345)
        // 5 ranks, this one is rank 2; ranks 0 and 4 share its host, 1 and 3 are elsewhere.
        let world = FakeComm(size: 5, rank: 2, base: nil, others: [mine, other, 0, other, mine])
        XCTAssertEqual(try CorePlacement.localRanks(world), 3)
        XCTAssertEqual(try CorePlacement.localRanks(SoloCommunicator()), 1)
        XCTAssertEqual(CorePlacement.allowedCores(status: "Name:\tx\nCpus_allowed:\t00000000,0000000f\nCpus_allowed_list:\t0-3\n"), 4)
        XCTAssertEqual(CorePlacement.allowedCores(status: "Cpus_allowed:\t1\n"), 1, "bound to core 0")
        XCTAssertEqual(CorePlacement.allowedCores(status: "Cpus_allowed:\t80,00000001\n"), 2)
        XCTAssertNil(CorePlacement.allowedCores(status: "Name:\tx\n"))
        XCTAssertGreaterThanOrEqual(CorePlacement.affinityCores(), 1)
        XCTAssertLessThanOrEqual(CorePlacement.affinityCores(), CorePlacement.onlineCores())
    }
}

/// Under mpirun: the step trains bit-identical weights whichever way the buckets are reduced, and
/// the benchmark reports the mode and the comm thread's CPU time.
final class OverlapMPITests: XCTestCase {
    func testTwoRanksTrainIdenticalWeightsWithThreadAndAfter() throws {
        var weights: [String: [String: [Float]]] = [:]
        for mode in ["thread", "after"] {
            let path = try TempDir.make("ov", for: self).appendingPathComponent("weights.safetensors").path
            let r = try MPIRun.vqa(2, ["bench", "step"] + BenchStepFixture.tiny
                + ["--optimizer", "sgd", "--lr", "0.01", "--regularizer", "awp", "--overlap", mode,
                   "--bucket-mb", "0.01", "--first-bucket-mb", "0.002", "--dump", path, "--json"])
            XCTAssertEqual(r.status, 0, "\(mode): \(r.stderr)")
            let line = try XCTUnwrap(r.stdout.split(separator: "\n").first { $0.hasPrefix("{") }, r.stdout)
            let obj = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            XCTAssertEqual(obj["overlap"] as? String, mode)
            let cpu = try XCTUnwrap(obj["comm_thread_cpu_ms"] as? Double)
            if mode == "after" { XCTAssertEqual(cpu, 0) } else { XCTAssertGreaterThanOrEqual(cpu, 0) }
            for key in ["forward_ms", "backward_ms", "process_cpu_ms", "max_rank_step_ms"] {
                XCTAssertGreaterThan(obj[key] as? Double ?? -1, 0, key)
            }
            weights[mode] = try SafetensorsFile.read(path: path).tensors.mapValues { try $0.floats() }
        }
        XCTAssertFalse(weights["thread"]!.isEmpty)
        XCTAssertEqual(weights["thread"]!, weights["after"]!, "the same sums in the same order: bit-identical")
    }
}
