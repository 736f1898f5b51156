// The synthetic UGC quality dataset: profiles, distortion levels, the MOS model and the plan of a
// set. Rendering lives in Synth+Content.swift, degradations in Synth+Distortions.swift, encoding in
// Synth+Encoder.swift and the parallel driver that writes a set in Synth+Generate.swift.
//
// Every random choice is drawn from SynthRNG keyed by (seed, video index, purpose[, frame]) (the
// content by the scene index instead), so a set depends only on its options, never on thread timing.

import Foundation
import Media

/// The distortions a synthetic video can carry, each with a level in [0, 1] (0 = absent).
public enum SynthDistortion: Int, CaseIterable, Sendable {
    case compression, blur, noise, scaling, stutter, banding, exposure

    /// Lower-case name used in distortions.csv and messages.
    public var name: String {
        switch self {
        case .compression: "compression"
        case .blur: "blur"
        case .noise: "noise"
        case .scaling: "scaling"
        case .stutter: "stutter"
        case .banding: "banding"
        case .exposure: "exposure"
        }
    }
}

/// One video's distortion levels, each in [0, 1].
public struct SynthLevels: Sendable, Equatable {
    /// Levels indexed by `SynthDistortion.rawValue`.
    public private(set) var values: [Double]

    /// All levels zero (a pristine video).
    public init() { values = Array(repeating: 0, count: SynthDistortion.allCases.count) }

    /// Levels from a partial map; missing distortions are zero, values are clamped to [0, 1].
    public init(_ levels: [SynthDistortion: Double]) {
        self.init()
        for (k, v) in levels { self[k] = v }
    }

    /// The level of `kind`, clamped to [0, 1] on write.
    public subscript(kind: SynthDistortion) -> Double {
        get { values[kind.rawValue] }
        set { values[kind.rawValue] = min(1, max(0, newValue)) }
    }
}

/// The documented quality model that turns distortion levels into a mean opinion score.
///
/// Impairment I = Σ_k w_k · ℓ_k^p_k over the distortions k with levels ℓ_k ∈ [0, 1], with
/// (w, p) = compression (1.8, 1.6), blur (1.4, 1.2), noise (1.0, 1.0), scaling (1.0, 1.3),
/// stutter (0.8, 1.0), banding (0.9, 1.5), exposure (1.0, 1.2).
/// Clean MOS = 1 + 4·exp(−I): 5 for a pristine video, strictly decreasing in every level, above 1.
/// The label is clamp(clean + ε, 1, 5) rounded to 4 decimals, ε ~ N(0, 0.1²) (`labelNoiseStd`),
/// drawn from the video's own random stream; the scale is KoNViD-1k's (1–5).
public enum SynthMOS {
    /// Standard deviation of the Gaussian label noise added to the clean MOS.
    static let labelNoiseStd = 0.1
    /// Lowest and highest possible score.
    public static let range: ClosedRange<Double> = 1...5

    /// (weight, exponent) of each distortion in the impairment sum.
    public static func coefficients(_ kind: SynthDistortion) -> (weight: Double, exponent: Double) {
        switch kind {
        case .compression: (1.8, 1.6)
        case .blur: (1.4, 1.2)
        case .noise: (1.0, 1.0)
        case .scaling: (1.0, 1.3)
        case .stutter: (0.8, 1.0)
        case .banding: (0.9, 1.5)
        case .exposure: (1.0, 1.2)
        }
    }

    /// The impairment sum I = Σ w_k ℓ_k^p_k (0 for a pristine video).
    static func impairment(_ levels: SynthLevels) -> Double {
        SynthDistortion.allCases.reduce(0) { sum, k in
            let (w, p) = coefficients(k)
            return sum + w * pow(levels[k], p)
        }
    }

    /// The noise-free MOS 1 + 4·exp(−I), in (1, 5].
    public static func clean(_ levels: SynthLevels) -> Double { 1 + 4 * exp(-impairment(levels)) }

    /// The label: clean MOS plus N(0, labelNoiseStd²) noise `z·labelNoiseStd`, clamped and rounded.
    public static func label(_ levels: SynthLevels, standardNormal z: Double) -> Double {
        let v = min(range.upperBound, max(range.lowerBound, clean(levels) + labelNoiseStd * z))
        return (v * 10_000).rounded() / 10_000
    }

    /// The model as text, for --help and the README.
    public static let formula = """
        MOS = clamp(1 + 4·exp(−Σ w·level^p) + N(0, 0.1²), 1, 5), with (w, p) = compression (1.8, 1.6), \
        blur (1.4, 1.2), noise (1.0, 1.0), scaling (1.0, 1.3), stutter (0.8, 1.0), banding (0.9, 1.5), \
        exposure (1.0, 1.2); strictly decreasing in every level.
        """
}

/// A failure in the synthetic generator's options or output, with what to do about it.
public struct SynthError: Error, CustomStringConvertible, Sendable {
    /// The message shown to the user.
    public let description: String
    /// Creates an error with `message`.
    public init(_ message: String) { description = message }
}

/// Whether a video goes to labels_train.txt or labels_test.txt.
public enum SynthSplit: String, Sendable {
    case train, test
}

/// Everything that defines one synthetic video or image; the renderer needs nothing else.
public struct SynthVideo: Sendable, Equatable {
    /// Position in the set (0-based).
    public var index: Int
    /// The source scene (0-based): videos with the same scene have the same content generator and
    /// identical frames before distortion; it keys the content stream.
    public var scene: Int
    /// Path relative to the output directory, e.g. `videos/00007.mp4`.
    public var file: String
    /// The procedural scene.
    public var content: SynthContent
    /// Distortion levels in [0, 1].
    public var levels: SynthLevels
    /// +1 for over-exposure, −1 for under-exposure (meaningful when levels[.exposure] > 0).
    var exposureSign: Int
    /// Frame size in pixels (even).
    public var width: Int
    public var height: Int
    /// Frame count (1 for images).
    public var frames: Int
    /// Frame rate as a rational (0/1 for images).
    var fpsNum: Int
    var fpsDen: Int
    /// Noise-free and labelled MOS (see SynthMOS).
    var mosClean: Double
    public var mos: Double
    /// Train or test.
    public var split: SynthSplit
    /// The set's seed; every per-video random stream is keyed by (seed, index, purpose).
    public var seed: UInt64

    /// Frames per second as a Double (0 for images).
    public var fps: Double { fpsDen == 0 ? 0 : Double(fpsNum) / Double(fpsDen) }
    /// Duration in seconds (0 for images).
    public var duration: Double { fpsNum == 0 ? 0 : Double(frames) * Double(fpsDen) / Double(fpsNum) }
    /// True for the still images of the `images` profile (one frame, no frame rate).
    var isImage: Bool { fpsNum == 0 }
}

/// Purposes that key the independent random streams of one video.
enum SynthPurpose: UInt64 {
    case plan = 1, content, noise, stutter, label, split
}

/// SplitMix64 keyed by a seed and a list of keys; small, fast and reproducible everywhere.
struct SynthRNG {
    private var state: UInt64

    init(seed: UInt64, _ keys: UInt64...) {
        var s = Self.mix(seed ^ 0x6A09_E667_F3BC_C908)
        for k in keys { s = Self.mix(s ^ Self.mix(k &+ 0x9E37_79B9_7F4A_7C15)) }
        state = s
    }

    static func mix(_ z0: UInt64) -> UInt64 {
        var z = z0 &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    mutating func uniform() -> Double { Double(next() >> 11) * 0x1p-53 }
    /// Uniform in [lo, hi).
    mutating func uniform(_ lo: Double, _ hi: Double) -> Double { lo + (hi - lo) * uniform() }
    /// Uniform integer in 0..<n (n ≥ 1).
    mutating func int(below n: Int) -> Int { Int(next() % UInt64(n)) }
    /// True with probability p.
    mutating func chance(_ p: Double) -> Bool { uniform() < p }
    /// Standard normal (Box–Muller).
    mutating func gaussian() -> Double {
        let u1 = max(uniform(), 0x1p-60), u2 = uniform()
        return (-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2)
    }
    /// Approximately standard normal from one draw: the sum of four 16-bit uniforms, centred and
    /// scaled to unit variance (Irwin–Hall). Used for per-pixel sensor noise, where speed matters.
    mutating func fastGaussian() -> Float {
        let r = next()
        let s = Float(r & 0xFFFF) + Float((r >> 16) & 0xFFFF) + Float((r >> 32) & 0xFFFF) + Float(r >> 48)
        return (s * (1 / 65536) - 2) * 1.7320508
    }
    /// A random permutation of 0..<n (Fisher–Yates).
    mutating func permutation(_ n: Int) -> [Int] {
        var p = Array(0..<n)
        if n > 1 { for i in stride(from: n - 1, to: 0, by: -1) { p.swapAt(i, int(below: i + 1)) } }
        return p
    }
}
