// Arena: reusable Float buffers handed out in request order.
//
// A training step asks for the same sequence of buffer sizes every time, so after the first step
// every request is served from memory that is already mapped. This matters on VMs where a fresh
// 4 KiB page costs ~1.7 µs (a fresh 40 MB buffer ~17 ms) while reused memory runs at ~45 GB/s.
// Short-lived buffers (activation gradients during backward, op workspaces) can be given back with
// `release` and handed out again by `takeReusable` (best fit) before the next `reset()`: the same
// request/release sequence every step makes the same choices, so reuse stays allocation-free.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A pool of 64-byte aligned Float buffers, reused in request order after every `reset()`.
public final class Arena {
    private var slots: [(ptr: UnsafeMutablePointer<Float>, capacity: Int)] = []
    private var cursor = 0
    /// Slot index of every buffer handed out (for `release`).
    private var slotOf: [UnsafeMutablePointer<Float>: Int] = [:]
    /// Slots released since the last `reset()`, available to `takeReusable`.
    private var released: [Int] = []
    /// Buffers obtained from the system (a new slot or a slot grown); zero in a steady state.
    public private(set) var freshAllocations = 0
    /// Total Float capacity held by the arena.
    private(set) var reservedFloats = 0

    public init() {}

    deinit { for s in slots { free(s.ptr) } }

    /// Returns an uninitialised buffer of at least `count` floats, valid until the next `reset()`.
    func take(_ count: Int) -> UnsafeMutablePointer<Float> {
        let n = max(count, 1)
        if cursor < slots.count {
            if slots[cursor].capacity >= n {
                cursor += 1
                return slots[cursor - 1].ptr
            }
            free(slots[cursor].ptr)
            slotOf[slots[cursor].ptr] = nil
            reservedFloats -= slots[cursor].capacity
            let cap = Arena.rounded(n)
            slots[cursor] = (Arena.alignedAlloc(cap), cap)
            slotOf[slots[cursor].ptr] = cursor
            reservedFloats += cap
            freshAllocations += 1
            cursor += 1
            return slots[cursor - 1].ptr
        }
        let cap = Arena.rounded(n)
        slots.append((Arena.alignedAlloc(cap), cap))
        slotOf[slots[cursor].ptr] = cursor
        reservedFloats += cap
        freshAllocations += 1
        cursor += 1
        return slots[cursor - 1].ptr
    }

    /// Like `take`, with the first `count` floats set to zero.
    func takeZeroed(_ count: Int) -> UnsafeMutablePointer<Float> {
        let p = take(count)
        p.update(repeating: 0, count: count)
        return p
    }

    /// Like `take`, but first serves the request from the smallest released buffer that fits.
    func takeReusable(_ count: Int) -> UnsafeMutablePointer<Float> {
        let n = max(count, 1)
        var best = -1
        for (k, slot) in released.enumerated() where slots[slot].capacity >= n {
            if best < 0 || slots[slot].capacity < slots[released[best]].capacity { best = k }
        }
        guard best >= 0 else { return take(n) }
        return slots[released.remove(at: best)].ptr
    }

    /// Like `takeReusable`, with the first `count` floats set to zero.
    func takeReusableZeroed(_ count: Int) -> UnsafeMutablePointer<Float> {
        let p = takeReusable(count)
        p.update(repeating: 0, count: count)
        return p
    }

    /// Gives back `p`, a buffer handed out since the last `reset()` that nothing reads any more:
    /// later `takeReusable` calls of this pass may hand it out again.
    public func release(_ p: UnsafeMutablePointer<Float>) {
        guard let slot = slotOf[p], slot < cursor else {
            preconditionFailure("Arena.release: the buffer was not handed out by this arena since the last reset")
        }
        precondition(!released.contains(slot), "Arena.release: the buffer was released twice")
        released.append(slot)
    }

    /// Makes every buffer available again (the pointers handed out become invalid).
    public func reset() {
        cursor = 0
        released.removeAll(keepingCapacity: true)
    }

    /// Rounds a request up so that slightly growing shapes do not reallocate every step.
    static func rounded(_ n: Int) -> Int {
        if n <= 1024 { return (n + 15) & ~15 }
        return n + n / 8
    }

    static func alignedAlloc(_ count: Int) -> UnsafeMutablePointer<Float> {
        var raw: UnsafeMutableRawPointer? = nil
        let rc = posix_memalign(&raw, 64, count * MemoryLayout<Float>.stride)
        precondition(rc == 0 && raw != nil, "out of memory allocating \(count) floats")
        return raw!.bindMemory(to: Float.self, capacity: count)
    }
}

/// An owned, 64-byte aligned Float buffer with a fixed size (parameters, gradients, optimizer state).
public final class FloatBuffer {
    /// Base address; valid for `count` floats while the buffer lives.
    public let base: UnsafeMutablePointer<Float>
    /// Number of floats.
    public let count: Int

    /// Allocates `count` floats set to `value`.
    public init(count: Int, value: Float = 0) {
        self.count = count
        base = Arena.alignedAlloc(max(count, 1))
        base.initialize(repeating: value, count: max(count, 1))
    }

    deinit { free(base) }

    /// The whole buffer as a mutable buffer pointer.
    public var buffer: UnsafeMutableBufferPointer<Float> { UnsafeMutableBufferPointer(start: base, count: count) }

    /// A copy of the contents as an array (for tests and small reads).
    public func toArray() -> [Float] { Array(buffer) }

    /// Sets every element to `value`.
    public func fill(_ value: Float) { base.update(repeating: value, count: count) }

    /// Copies all elements from `other`, which must have the same count.
    public func copy(from other: FloatBuffer) {
        precondition(other.count == count, "FloatBuffer size mismatch \(other.count) vs \(count)")
        base.update(from: other.base, count: count)
    }
}
