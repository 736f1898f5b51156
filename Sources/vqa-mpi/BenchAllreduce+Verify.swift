// `bench allreduce --verify`: every collective checked against values computed locally.

import Dist
import Engine
import Foundation
import Training

extension BenchAllreduce {
    /// Reports a mismatch on stderr (first few only) and counts it.
    static func expect(_ ok: Bool, _ what: @autoclosure () -> String, rank: Int, failures: inout Int64) {
        guard !ok else { return }
        if failures < 5 { FileHandle.standardError.write(Data("rank \(rank): verify: \(what())\n".utf8)) }
        failures += 1
    }

    /// Rank-dependent gradients through the buckets, parameters marked in a random rank-dependent
    /// order with some left for waitAll; every reduced float must equal the mean, the rest untouched.
    static func verifyBuckets(_ buckets: GradientBuckets, views: [GradientView], grads: FloatBuffer,
                              world: Communicator, reps: Int) throws -> Int64 {
        var failures: Int64 = 0
        let n = grads.count
        var inSpan = [Bool](repeating: false, count: n)
        for b in buckets.buckets { for i in b.offset..<(b.offset + b.count) { inSpan[i] = true } }
        let rankSum = Float(world.size * (world.size + 1) / 2)  // Σ (r+1)
        for rep in 0..<min(reps, 3) {
            for i in 0..<n { grads.base[i] = Float(world.rank + 1) * Float(i % 13 + 1) }
            var rng = CounterRNG(seed: 7, epoch: UInt64(rep), index: UInt64(world.rank), purpose: .test)
            let order = rng.permutation(views.count)
            for p in order where !(rep == 1 && p % 3 == 0) { buckets.markReady(p) }
            let timing = try buckets.waitAll()
            expect(timing.bucketSeconds.count == buckets.buckets.count, "timings for \(timing.bucketSeconds.count) buckets",
                   rank: world.rank, failures: &failures)
            for i in 0..<n {
                let mine = Float(world.rank + 1) * Float(i % 13 + 1)
                let want = inSpan[i] ? (rankSum * Float(i % 13 + 1)) * buckets.scale : mine
                expect(grads.base[i] == want, "rep \(rep) float \(i): got \(grads.base[i]), want \(want)",
                       rank: world.rank, failures: &failures)
            }
        }
        return failures
    }

    /// Chunked all-reduce of Float/Double/Int64, all-gather with 0...size-1 values per rank,
    /// broadcasts of floats, bytes and a string from the last rank.
    static func verifyCollectives(_ world: MPICommunicator) throws -> Int64 {
        var failures: Int64 = 0
        let r = world.rank, size = world.size
        let chunked = try world.duplicateMPI(maxChunk: 1000)
        let count = 4099
        var f = (0..<count).map { Float(r + 1) * Float($0 % 7) }
        var d = (0..<count).map { Double(r + 1) * Double($0) * 0.5 }
        var q = (0..<count).map { Int64(r + 1) * (Int64($0) + 3_000_000_000) }
        try chunked.allReduceSum(&f, count: count)
        try chunked.allReduceSum(&d, count: count)
        try chunked.allReduceSum(&q, count: count)
        let s = size * (size + 1) / 2
        for i in 0..<count {
            expect(f[i] == Float(s) * Float(i % 7), "chunked float sum at \(i): \(f[i])", rank: r, failures: &failures)
            expect(d[i] == Double(s) * Double(i) * 0.5, "chunked double sum at \(i): \(d[i])", rank: r, failures: &failures)
            expect(q[i] == Int64(s) * (Int64(i) + 3_000_000_000), "chunked int64 sum at \(i): \(q[i])", rank: r, failures: &failures)
        }

        let gathered = try world.allGather((0..<r).map { Float(r * 1000 + $0) })
        let wanted = (0..<size).flatMap { k in (0..<k).map { Float(k * 1000 + $0) } }
        expect(gathered == wanted, "allGather: got \(gathered.prefix(8))… (\(gathered.count)), want \(wanted.count) values",
               rank: r, failures: &failures)

        let root = size - 1
        let floats = try world.broadcast(r == root ? (0..<1500).map { Float(root * 7 + $0) } : [1, 2], root: root)
        expect(floats == (0..<1500).map { Float(root * 7 + $0) }, "broadcast floats: \(floats.prefix(4))…", rank: r, failures: &failures)
        let text = try world.broadcast(r == root ? "config from rank \(root): γ=1e-4 ✓" : "", root: root)
        expect(text == "config from rank \(root): γ=1e-4 ✓", "broadcast string: '\(text)'", rank: r, failures: &failures)
        let empty = try world.broadcast(r == root ? [UInt8]() : [9, 9], root: root)
        expect(empty.isEmpty, "broadcast of empty bytes gave \(empty.count)", rank: r, failures: &failures)
        var badRootFailed = false
        do { _ = try world.broadcast("x", root: size) } catch { badRootFailed = "\(error)".contains("valid: 0...") }
        expect(badRootFailed, "broadcast to root \(size) was not refused", rank: r, failures: &failures)
        return failures
    }
}
