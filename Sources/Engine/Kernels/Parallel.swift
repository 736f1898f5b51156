// Parallel-for over index ranges, used by elementwise, im2col and reduction kernels.

import Dispatch
import Synchronization

/// How many threads kernels may use; passed explicitly (no global state).
public struct Compute: Sendable {
    /// Threads for Engine kernels (OpenBLAS threads are set separately by `BLAS.setThreads`).
    public var threads: Int

    /// Creates a compute context with `threads` worker threads (at least 1).
    public init(threads: Int = 1) { self.threads = max(1, threads) }

    /// Runs `body` over `0..<count` split into contiguous chunks, at most `threads` at once.
    /// `grain` is the smallest chunk worth a thread; small counts run inline.
    func forEachChunk(_ count: Int, grain: Int = 16_384, _ body: (Range<Int>) -> Void) {
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

    /// Runs `body(worker, item)` for every item in `0..<count` on at most `threads` workers that
    /// take the items one at a time in increasing order, so a worker slowed by other load simply
    /// takes fewer. `worker` (in `0..<min(threads, count)`) indexes per-worker scratch: no two
    /// calls with the same `worker` overlap. The result must not depend on which worker runs an item.
    func forEachItem(_ count: Int, _ body: (_ worker: Int, _ item: Int) -> Void) {
        if count <= 0 { return }
        let workers = min(threads, count)
        if workers == 1 { for i in 0..<count { body(0, i) }; return }
        let next = ItemCounter()
        withoutActuallyEscaping(body) { fn in
            let box = UncheckedBox(fn)
            DispatchQueue.concurrentPerform(iterations: workers) { w in
                while case let i = next.take(), i < count { box.value(w, i) }
            }
        }
    }
}

/// A range split into `parts` nearly equal pieces with aligned boundaries.
struct Pieces {
    let count: Int, parts: Int, align: Int

    /// `count` split into at most `parts` pieces of at least `minimum` (fewer when `count` is
    /// small), boundaries rounded down to multiples of `align` (`minimum ≥ align`).
    init(_ count: Int, parts: Int, minimum: Int, align: Int = 16) {
        self.count = count
        self.parts = max(1, min(parts, count / max(minimum, 1)))
        self.align = align
    }

    /// Piece `i` of `0..<parts`.
    func bounds(_ i: Int) -> Range<Int> {
        func edge(_ k: Int) -> Int { k == parts ? count : count * k / parts / align * align }
        return edge(i)..<edge(i + 1)
    }
}

/// The shared item counter of `Compute.forEachItem`.
final class ItemCounter: Sendable {
    private let next = Atomic<Int>(0)

    /// The next item index (each index is returned once).
    func take() -> Int { next.wrappingAdd(1, ordering: .relaxed).oldValue }
}

/// Wraps a non-Sendable value to cross into `concurrentPerform`; callers guarantee disjoint access.
struct UncheckedBox<T>: @unchecked Sendable {
    let value: T
    init(_ v: T) { value = v }
}
