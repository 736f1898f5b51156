#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

// Counter-based random numbers (Philox4x32-10, Salmon et al. 2011).
//
// Every random choice is a pure function of (seed, epoch, index, purpose) and a counter, so results
// never depend on thread timing, rank count or resume point.

/// What a random stream is used for; part of the key so streams never overlap.
public enum RandomPurpose: UInt32, Sendable {
    case parameterInit = 1, dropout = 2, rwpNoise = 3, sampling = 4, augmentation = 5
    case shuffle = 6, split = 7, landscape = 8, synth = 9, test = 10
}

/// A Philox4x32-10 stream keyed by (seed, epoch, index, purpose).
public struct CounterRNG: Sendable {
    private let key0: UInt32, key1: UInt32
    private var counter: (UInt32, UInt32, UInt32, UInt32)
    private var buffer: (UInt32, UInt32, UInt32, UInt32) = (0, 0, 0, 0)
    private var used = 4

    /// A stream for one (seed, epoch, index, purpose); `index` is e.g. a global sample index.
    public init(seed: UInt64, epoch: UInt64 = 0, index: UInt64 = 0, purpose: RandomPurpose) {
        key0 = UInt32(truncatingIfNeeded: seed)
        key1 = UInt32(truncatingIfNeeded: seed >> 32) ^ (purpose.rawValue &* 0x9E37_79B9)
        // Counter words: block, epoch, index (64 bits, the top byte shared with the purpose).
        counter = (0, UInt32(truncatingIfNeeded: epoch), UInt32(truncatingIfNeeded: index),
                   UInt32(truncatingIfNeeded: index >> 32) ^ (purpose.rawValue << 24))
    }

    /// Philox4x32 with 10 rounds on (counter, key).
    static func philox(_ c: (UInt32, UInt32, UInt32, UInt32), _ k0: UInt32, _ k1: UInt32)
        -> (UInt32, UInt32, UInt32, UInt32) {
        var (x0, x1, x2, x3) = c
        var a = k0, b = k1
        for _ in 0..<10 {
            let p0 = UInt64(0xD251_1F53) &* UInt64(x0)
            let p1 = UInt64(0xCD9E_8D57) &* UInt64(x2)
            let n0 = UInt32(truncatingIfNeeded: p1 >> 32) ^ x1 ^ a
            let n2 = UInt32(truncatingIfNeeded: p0 >> 32) ^ x3 ^ b
            x1 = UInt32(truncatingIfNeeded: p1); x3 = UInt32(truncatingIfNeeded: p0)
            x0 = n0; x2 = n2
            a = a &+ 0x9E37_79B9; b = b &+ 0xBB67_AE85
        }
        return (x0, x1, x2, x3)
    }

    /// Next 32 random bits.
    mutating func nextUInt32() -> UInt32 {
        if used == 4 {
            buffer = CounterRNG.philox(counter, key0, key1)
            counter.0 = counter.0 &+ 1  // block counter: 2^32 blocks (16 GiB of bits) per stream
            used = 0
        }
        defer { used += 1 }
        switch used {
        case 0: return buffer.0
        case 1: return buffer.1
        case 2: return buffer.2
        default: return buffer.3
        }
    }

    /// Uniform in [0, 1) with 24 bits of precision.
    public mutating func nextFloat() -> Float { Float(nextUInt32() >> 8) * (1.0 / 16_777_216.0) }

    /// Uniform in [0, 1) with 53 bits of precision.
    public mutating func nextDouble() -> Double {
        let hi = UInt64(nextUInt32() >> 5), lo = UInt64(nextUInt32() >> 6)
        return Double(hi << 26 | lo) * (1.0 / 9_007_199_254_740_992.0)
    }

    /// Uniform integer in `0..<bound` (bound > 0), without modulo bias.
    public mutating func nextInt(below bound: Int) -> Int {
        precondition(bound > 0, "nextInt(below:) needs a positive bound")
        if bound == 1 { return 0 }
        let b = UInt64(bound)
        let limit = UInt64.max - UInt64.max % b
        while true {
            let r = UInt64(nextUInt32()) << 32 | UInt64(nextUInt32())
            if r < limit { return Int(r % b) }
        }
    }

    /// Standard normal deviate (Box–Muller on doubles).
    public mutating func nextGaussian() -> Float {
        var u1 = nextDouble()
        if u1 < 1e-300 { u1 = 1e-300 }
        let u2 = nextDouble()
        return Float((-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2))
    }

    /// A uniformly random permutation of `0..<n` (Fisher–Yates).
    public mutating func permutation(_ n: Int) -> [Int] {
        var p = Array(0..<n)
        if n < 2 { return p }
        for i in stride(from: n - 1, to: 0, by: -1) { p.swapAt(i, nextInt(below: i + 1)) }
        return p
    }
}

