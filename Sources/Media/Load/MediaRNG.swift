// Counter-based random numbers for the data pipeline (Media cannot import Engine's CounterRNG).
//
// A stream is a pure function of (seed, epoch, index, purpose): the key is folded through the
// SplitMix64 finaliser into a 64-bit start state, and draws are SplitMix64 steps from there. So a
// sample's fragments, frames and augmentation never depend on which thread, rank or resume point
// produced it.

/// What a Media random stream is used for; part of the key, so streams never overlap.
enum MediaPurpose: UInt64, Sendable {
    case temporal = 1, spatial = 2, augment = 3, shuffle = 4, split = 5, test = 6
}

/// A SplitMix64 stream keyed by (seed, epoch, index, purpose).
struct MediaRNG: Sendable {
    private var state: UInt64

    /// A stream for one (seed, epoch, index, purpose); `index` is e.g. a global sample index.
    init(seed: UInt64, epoch: Int = 0, index: Int = 0, purpose: MediaPurpose) {
        var h = MediaRNG.mix(seed ^ 0x243F_6A88_85A3_08D3)
        h = MediaRNG.mix(h ^ UInt64(bitPattern: Int64(epoch)) &* 0x9E37_79B9_7F4A_7C15)
        h = MediaRNG.mix(h ^ UInt64(bitPattern: Int64(index)) &* 0xC2B2_AE3D_27D4_EB4F)
        h = MediaRNG.mix(h ^ purpose.rawValue &* 0x1656_67B1_9E37_79F9)
        state = h
    }

    /// The SplitMix64 finaliser (a bijective 64-bit mixer).
    static func mix(_ x: UInt64) -> UInt64 {
        var z = x
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Next 64 random bits.
    mutating func nextUInt64() -> UInt64 {
        state = state &+ 0x9E37_79B9_7F4A_7C15
        return MediaRNG.mix(state)
    }

    /// Uniform in [0, 1) with 53 random bits.
    mutating func nextDouble() -> Double {
        Double(nextUInt64() >> 11) * 0x1.0p-53
    }

    /// Uniform integer in 0..<n (n ≥ 1), without modulo bias (Lemire's multiply-shift with rejection).
    mutating func nextInt(below n: Int) -> Int {
        precondition(n >= 1, "MediaRNG.nextInt(below:) needs n ≥ 1, got \(n)")
        let bound = UInt64(n)
        var product = nextUInt64().multipliedFullWidth(by: bound)
        if product.low < bound {
            let threshold = (0 &- bound) % bound
            while product.low < threshold { product = nextUInt64().multipliedFullWidth(by: bound) }
        }
        return Int(product.high)
    }

    /// Uniform in [lower, upper).
    mutating func nextDouble(in lower: Double, _ upper: Double) -> Double {
        lower + (upper - lower) * nextDouble()
    }

    /// True with probability p.
    mutating func nextBool(probability p: Double) -> Bool { nextDouble() < p }

    /// A uniformly random permutation of 0..<n (Fisher–Yates).
    mutating func permutation(_ n: Int) -> [Int] {
        var p = Array(0..<n)
        var i = n - 1
        while i > 0 {
            let j = nextInt(below: i + 1)
            p.swapAt(i, j)
            i -= 1
        }
        return p
    }
}
