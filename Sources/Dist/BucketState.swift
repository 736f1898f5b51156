// The state shared by the backward pass (markReady), the communication thread and waitAll,
// guarded by one condition variable. Arrays are sized once; a step only flips flags.

import Foundation
import Engine

final class BucketState: @unchecked Sendable {
    private let condition = NSCondition()
    private let buckets: [GradientBucket]
    private let owner: [Int]          // parameter → bucket
    private let buffer: UnsafeMutablePointer<Float>
    private let scale: Float

    private var pending: [Int]        // parameters not yet ready, per bucket
    private var ready: [Bool]         // bucket handed to the thread
    private var marked: [Bool]        // parameter marked in this step
    private var reduced = 0           // buckets finished this step (reduced in index order)
    private var seconds: [Double]     // per-bucket all-reduce + scale time
    private var cpu: [Double]         // per-bucket CPU time of the reducing thread
    private var byCaller = 0          // buckets the caller of finishStep reduced itself
    private var threadCPU = 0.0       // CPU seconds of the communication thread's all-reduces
    private var duplicate: Int?       // first parameter marked twice this step
    private var failure: Error?       // first communication error (sticky: MPI failures are fatal)
    private var stopping = false
    private var busy = false          // a thread is inside a collective
    /// The (duplicate) communicator for the buckets; nil when there is nothing to reduce.
    private let comm: Communicator?
    /// How the reducing thread waits for the other ranks before each bucket.
    private let peerWait: PeerWait

    init(buckets: [GradientBucket], owner: [Int], buffer: UnsafeMutablePointer<Float>, scale: Float, comm: Communicator?,
         peerWait: PeerWait) {
        self.comm = comm
        self.peerWait = peerWait
        self.buckets = buckets
        self.owner = owner
        self.buffer = buffer
        self.scale = scale
        pending = buckets.map { $0.parameters.count }
        ready = [Bool](repeating: false, count: buckets.count)
        marked = [Bool](repeating: false, count: owner.count)
        seconds = [Double](repeating: 0, count: buckets.count)
        cpu = [Double](repeating: 0, count: buckets.count)
    }

    func markReady(_ p: Int) {
        precondition(p >= 0 && p < owner.count, "markReady(\(p)): parameter index out of range 0..<\(owner.count)")
        condition.lock()
        markLocked(p)
        condition.unlock()
    }

    private func markLocked(_ p: Int) {
        if marked[p] {
            if duplicate == nil { duplicate = p }
            return
        }
        marked[p] = true
        let b = owner[p]
        pending[b] -= 1
        if pending[b] == 0 {
            ready[b] = true
            if b == reduced { condition.broadcast() }
        }
    }

    /// The communication thread: reduce ready buckets in index order until stopped.
    func run() {
        condition.lock()
        while true {
            while !stopping && !nextIsFree { condition.wait() }
            if stopping { break }
            reduceNextLocked()
        }
        condition.unlock()
    }

    /// Whether the next bucket in order is ready and no thread is reducing.
    private var nextIsFree: Bool { !busy && reduced < buckets.count && ready[reduced] }

    /// With the lock held and `nextIsFree`: reduces bucket `reduced` outside the lock. Only one
    /// thread at a time holds `busy`, so the collectives are issued in bucket order on every rank.
    private func reduceNextLocked(caller: Bool = false) {
        guard let comm else { return }
        busy = true
        if caller { byCaller += 1 }
        let bucket = buckets[reduced]
        let failed = failure != nil
        condition.unlock()
        let t0 = Clock.now(), c0 = threadCPUSeconds()
        var error: Error?
        if !failed {
            do {
                let base = buffer + bucket.offset
                try peerWait.arrive(comm)
                try comm.allReduceSum(base, count: bucket.count)
                if scale != 1 { for i in 0..<bucket.count { base[i] *= scale } }
            } catch let e { error = e }
        }
        let elapsed = Clock.now() - t0, used = threadCPUSeconds() - c0
        condition.lock()
        if let error, failure == nil {
            failure = DistError("gradient all-reduce of bucket \(bucket.index) (parameters \(bucket.parameters), "
                + "\(bucket.count) floats): \(error)")
        }
        seconds[bucket.index] = elapsed
        cpu[bucket.index] = used
        if !caller { threadCPU += used }
        reduced += 1
        busy = false
        condition.broadcast()
    }

    /// Marks what is left, waits for the thread (if any), re-arms, and returns the per-bucket wall
    /// and CPU seconds and how many buckets the caller reduced. The calling thread reduces buckets
    /// itself when no communication thread has picked them up yet (or there is none): it is
    /// already running, while waking the other thread can take a scheduler slice on a busy machine.
    func finishStep() throws -> (seconds: [Double], cpu: [Double], byCaller: Int, threadCPU: Double) {
        condition.lock()
        defer { condition.unlock() }
        for p in 0..<marked.count where !marked[p] { markLocked(p) }
        if comm != nil {
            while reduced < buckets.count && !stopping {
                if nextIsFree { reduceNextLocked(caller: true) } else { condition.wait() }
            }
        } else {
            reduced = buckets.count
            for b in seconds.indices { seconds[b] = 0; cpu[b] = 0 }
        }
        let timings = (seconds, cpu, byCaller, threadCPU)
        byCaller = 0
        threadCPU = 0
        let twice = duplicate
        for b in buckets.indices { pending[b] = buckets[b].parameters.count; ready[b] = false }
        for p in marked.indices { marked[p] = false }
        duplicate = nil
        reduced = 0
        if let failure { throw failure }
        if let twice {
            throw DistError("parameter \(twice) was marked ready twice in one step: its gradient was not complete at the "
                + "first call (a parameter used twice on the tape fires once per use). The step's gradients are reduced, "
                + "but the bucket holding it may have been sent early; fire markReady once per parameter.")
        }
        return timings
    }

    func stop() {
        condition.lock()
        stopping = true
        condition.broadcast()
        condition.unlock()
    }
}
