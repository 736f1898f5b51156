// Bucketed all-reduce of the flat gradient buffer, overlapped with the backward pass.
//
// Layout: parameters are views (offset, count) into one flat gradient buffer, in declaration
// order, non-overlapping and with increasing offsets (as ParameterStore lays them out). The
// backward pass finishes the last parameters first, so buckets are cut in REVERSE parameter order:
// bucket 0 holds the last parameters and is small (~1 MiB, so communication starts early), later
// buckets ~25 MiB. A bucket never splits a parameter; it closes before a parameter that would make
// it exceed its cap (a single larger parameter gets a bucket of its own). Each bucket is one
// contiguous span of the buffer (padding between its parameters is reduced too; it stays zero).
//
// Per step: the tape calls `markReady(i)` as each parameter's gradient completes; when every
// parameter of a bucket is ready the communication thread (overlap `.thread`) all-reduces that
// span in place and scales it (by 1/size unless told otherwise). Buckets are always reduced in
// bucket index order, identical on all ranks, whatever order markReady comes in. `waitAll()` marks
// the parameters that never fired (unused in this forward pass), reduces itself the buckets the
// thread has not started (the caller is already running, while waking the thread can cost a
// scheduler slice on a busy machine; one thread at a time issues collectives, so the order holds),
// waits, reports timings and re-arms for the next step. With overlap `.after` there is no thread:
// `waitAll()` reduces every bucket (see GradientBuckets+Overlap.swift for when that is faster).
// Nothing is allocated per step except the small timing arrays returned.

import Foundation
import Engine

/// One parameter's slice of the flat gradient buffer.
public struct GradientView: Equatable, Sendable {
    /// First float of the parameter in the flat buffer.
    public let offset: Int
    /// Number of floats.
    public let count: Int

    /// A view of `count` floats at `offset`.
    public init(offset: Int, count: Int) { self.offset = offset; self.count = count }
}

/// A group of consecutive parameters all-reduced by one call.
public struct GradientBucket: Equatable, Sendable {
    /// Position in reduction order (0 is reduced first).
    public let index: Int
    /// Parameter indices it holds (ascending; they become ready from the top down).
    public let parameters: ClosedRange<Int>
    /// First float of its span in the flat buffer.
    public let offset: Int
    /// Floats in its span.
    public let count: Int
}

/// Timings of one step's gradient all-reduce.
public struct BucketTiming: Sendable {
    /// Seconds `waitAll()` blocked: communication not hidden behind the backward pass.
    let exposedSeconds: Double
    /// Seconds each bucket spent in all-reduce plus scaling, in bucket order.
    public let bucketSeconds: [Double]
    /// CPU seconds the reducing thread used per bucket (Open MPI polls: up to the wall time).
    public let bucketCPUSeconds: [Double]
    /// Buckets that the caller of `waitAll()` reduced itself (all of them with overlap `.after`).
    let callerBuckets: Int

    /// CPU seconds of this step's all-reduces on the communication thread: compute time taken
    /// from the backward pass when the thread shares a core with it.
    public let threadCPUSeconds: Double
}

/// Reusable bucketed, overlapped all-reduce of a flat gradient buffer (`markReady` may be called
/// from any thread; `waitAll` from one thread at a time).
public final class GradientBuckets: @unchecked Sendable {
    /// The buckets, in reduction order.
    public let buckets: [GradientBucket]
    /// The factor applied after summing (1/size for a mean).
    public let scale: Float
    /// `.thread` or `.after` (never `.auto`): how the buckets are reduced.
    /// (`peerWait` of the initialisers: how the reducing thread waits for the other ranks before each bucket.)
    public let overlap: OverlapMode
    private let state: BucketState
    private let thread: CommThread?

    /// Cuts `views` into buckets in reverse parameter order (see the file comment); caps in floats.
    static func partition(views: [GradientView], bucketFloats: Int, firstBucketFloats: Int) throws -> [GradientBucket] {
        guard bucketFloats > 0, firstBucketFloats > 0 else {
            throw DistError("bucket sizes must be positive (got \(bucketFloats) and first \(firstBucketFloats) floats)")
        }
        for (i, v) in views.enumerated() {
            guard v.offset >= 0, v.count >= 0 else { throw DistError("gradient view \(i) has offset \(v.offset), count \(v.count): both must be ≥ 0") }
            if i > 0, v.offset < views[i - 1].offset + views[i - 1].count {
                throw DistError("gradient view \(i) (offset \(v.offset)) overlaps or precedes view \(i - 1) "
                    + "(offset \(views[i - 1].offset), count \(views[i - 1].count)); views must be in increasing, non-overlapping order")
            }
        }
        var result: [GradientBucket] = []
        var hi = views.count - 1
        var filled = 0
        func close(_ lo: Int) {
            let span = views[hi].offset + views[hi].count - views[lo].offset
            result.append(GradientBucket(index: result.count, parameters: lo...hi, offset: views[lo].offset, count: span))
            hi = lo - 1
            filled = 0
        }
        var i = views.count - 1
        while i >= 0 {
            let cap = result.isEmpty ? firstBucketFloats : bucketFloats
            if i < hi, filled + views[i].count > cap { close(i + 1); continue }
            filled += views[i].count
            i -= 1
        }
        if hi >= 0 { close(0) }
        return result
    }

    /// Buckets over `views` of `buffer` (`bufferCount` floats), reduced with a duplicate of
    /// `communicator` on a thread or after the backward pass (`overlap`; `.auto` decides from the
    /// cores left beside `computeThreads`, with one collective on `communicator`). Caps are in MiB
    /// (2^20 bytes); `scale` defaults to 1/size. `buffer` must outlive this object; finish a
    /// started step with `waitAll()` before releasing it.
    public init(views: [GradientView], buffer: UnsafeMutablePointer<Float>, bufferCount: Int,
                communicator: Communicator, bucketMiB: Double = 25, firstBucketMiB: Double = 1, scale: Float? = nil,
                overlap: OverlapMode = .auto, computeThreads: Int = 1, peerWait: PeerWait = .spin) throws {
        guard bucketMiB > 0, firstBucketMiB > 0, bucketMiB.isFinite, firstBucketMiB.isFinite else {
            throw DistError("bucket sizes must be positive MiB (got \(bucketMiB), first \(firstBucketMiB))")
        }
        if let last = views.last, last.offset + last.count > bufferCount {
            throw DistError("gradient view \(views.count - 1) ends at float \(last.offset + last.count), past the buffer of \(bufferCount) floats")
        }
        let floats = { (mib: Double) in max(1, Int(mib * 1_048_576 / 4)) }
        buckets = try Self.partition(views: views, bucketFloats: floats(bucketMiB), firstBucketFloats: floats(firstBucketMiB))
        self.scale = scale ?? 1 / Float(communicator.size)
        var owner = [Int](repeating: 0, count: views.count)
        for b in buckets { for p in b.parameters { owner[p] = b.index } }
        if communicator.size == 1 && self.scale == 1 {
            // Nothing to do: the sum over one rank is the identity.
            state = BucketState(buckets: buckets, owner: owner, buffer: buffer, scale: 1, comm: nil, peerWait: .spin)
            thread = nil
            self.overlap = .after
        } else {
            let mode = overlap == .auto
                ? overlap.resolve(computeThreads: computeThreads, localRanks: try CorePlacement.localRanks(communicator),
                                  affinityCores: CorePlacement.affinityCores(), onlineCores: CorePlacement.onlineCores())
                : overlap
            let state = BucketState(buckets: buckets, owner: owner, buffer: buffer, scale: self.scale,
                                    comm: try communicator.duplicate(), peerWait: peerWait)
            self.state = state
            self.overlap = mode
            thread = mode == .thread ? try CommThread(name: "vqa-allreduce") { state.run() } : nil
        }
    }

    /// Buckets over every parameter of `store` (its flat gradient buffer).
    public convenience init(store: ParameterStore, communicator: Communicator,
                            bucketMiB: Double = 25, firstBucketMiB: Double = 1, scale: Float? = nil,
                            overlap: OverlapMode = .auto, computeThreads: Int = 1, peerWait: PeerWait = .spin) throws {
        try self.init(views: store.infos.map { GradientView(offset: $0.offset, count: $0.count) },
                      buffer: store.grads.base, bufferCount: store.flatCount, communicator: communicator,
                      bucketMiB: bucketMiB, firstBucketMiB: firstBucketMiB, scale: scale,
                      overlap: overlap, computeThreads: computeThreads, peerWait: peerWait)
    }

    /// Records that parameter `index`'s gradient is complete (call from the backward pass, any order).
    public func markReady(_ index: Int) { state.markReady(index) }

    /// Marks every parameter not yet ready, waits until all buckets are reduced and re-arms for the
    /// next step. Throws the first MPI error, or if a parameter was marked twice in the step.
    @discardableResult
    public func waitAll() throws -> BucketTiming {
        let t0 = Clock.now()
        let r = try state.finishStep()
        return BucketTiming(exposedSeconds: Clock.now() - t0, bucketSeconds: r.seconds, bucketCPUSeconds: r.cpu,
                            callerBuckets: r.byCaller, threadCPUSeconds: r.threadCPU)
    }

    deinit {
        state.stop()
        thread?.join()
    }
}
