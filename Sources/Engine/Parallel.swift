// Parallel-for over index ranges, used by elementwise, im2col and reduction kernels.

import Dispatch

/// How many threads kernels may use; passed explicitly (no global state).
public struct Compute: Sendable {
    /// Threads for Engine kernels (OpenBLAS threads are set separately by `BLAS.setThreads`).
    public var threads: Int

    /// Creates a compute context with `threads` worker threads (at least 1).
    public init(threads: Int = 1) { self.threads = max(1, threads) }

    /// Runs `body` over `0..<count` split into contiguous chunks, at most `threads` at once.
    /// `grain` is the smallest chunk worth a thread; small counts run inline.
    public func forEachChunk(_ count: Int, grain: Int = 16_384, _ body: (Range<Int>) -> Void) {
        if count <= 0 { return }
        let chunks = min(threads, max(1, count / max(grain, 1)))
        if chunks <= 1 { body(0..<count); return }
        withoutActuallyEscaping(body) { fn in
            let box = UncheckedBox(fn)
            DispatchQueue.concurrentPerform(iterations: chunks) { c in
                let lo = count * c / chunks, hi = count * (c + 1) / chunks
                box.value(lo..<hi)
            }
        }
    }

    /// Runs `body(i)` for every i in `0..<count`, items distributed over the threads.
    public func forEach(_ count: Int, _ body: (Int) -> Void) {
        if count <= 0 { return }
        if threads == 1 || count == 1 { for i in 0..<count { body(i) }; return }
        forEachChunk(count, grain: 1) { r in for i in r { body(i) } }
    }
}

/// Wraps a non-Sendable value to cross into `concurrentPerform`; callers guarantee disjoint access.
struct UncheckedBox<T>: @unchecked Sendable {
    let value: T
    init(_ v: T) { value = v }
}
