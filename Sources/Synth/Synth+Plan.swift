// Profiles (distribution-shifted families of sets), generator options and the plan of a set:
// which content, geometry, distortion levels, MOS and split each video gets.

import Foundation
import Media

/// A family of synthetic sets. Profiles differ in content generators, frame size, frame rate and
/// distortion mix, so a model trained on one and tested on another faces a dataset shift.
public enum SynthProfile: String, CaseIterable, Sendable {
    /// 320×240 landscape, 24 fps, 72 frames (3 s); shapes, foliage, landscape pans, text;
    /// mostly compression, blur, down-up scaling and banding.
    case `default`
    /// 240×320 portrait, 30 fps, 75 frames (2.5 s); talking heads, water ripples, landscape pans;
    /// mostly sensor noise, exposure faults and stutter.
    case shifted
    /// One-frame 384×288 JPEG images (IQA); every content generator; JPEG quality as compression.
    case images

    /// The profile called `name`, or an error listing the valid names.
    public static func named(_ name: String) throws -> SynthProfile {
        guard let p = SynthProfile(rawValue: name) else {
            throw SynthError("unknown profile '\(name)'; valid profiles: \(allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return p
    }

    /// Default frame width, height, frame count and frame rate.
    var defaultGeometry: (width: Int, height: Int, frames: Int, fps: Double) {
        switch self {
        case .default: (320, 240, 72, 24)
        case .shifted: (240, 320, 75, 30)
        case .images: (384, 288, 1, 0)
        }
    }

    /// The content generators this profile draws from (uniformly).
    public var contents: [SynthContent] {
        switch self {
        case .default: [.shapes, .foliage, .landscape, .text]
        case .shifted: [.faces, .ripples, .landscape]
        case .images: SynthContent.allCases
        }
    }

    /// Probability that `kind` is present in a video (compression is always present) and the
    /// range its level is drawn from (uniformly) when present.
    func mix(_ kind: SynthDistortion) -> (probability: Double, range: ClosedRange<Double>) {
        switch (self, kind) {
        case (_, .compression): (1, 0...1)
        case (.default, .blur): (0.4, 0.1...1)
        case (.default, .noise): (0.25, 0.1...0.8)
        case (.default, .scaling): (0.4, 0.1...1)
        case (.default, .stutter): (0.15, 0.1...0.7)
        case (.default, .banding): (0.35, 0.1...1)
        case (.default, .exposure): (0.1, 0.1...0.6)
        case (.shifted, .blur): (0.2, 0.1...0.7)
        case (.shifted, .noise): (0.55, 0.1...1)
        case (.shifted, .scaling): (0.15, 0.1...0.6)
        case (.shifted, .stutter): (0.45, 0.1...1)
        case (.shifted, .banding): (0.1, 0.1...0.6)
        case (.shifted, .exposure): (0.45, 0.1...1)
        case (.images, .stutter): (0, 0...0)
        case (.images, _): (0.35, 0.1...1)
        }
    }
}

/// Options of one synthetic set (the flags of `vqa-mpi synth`).
public struct SynthOptions: Sendable {
    /// Number of videos (or images), ≥ 1.
    public var videos: Int
    /// Distorted versions per scene, ≥ 1: videos `s·versions ..< (s+1)·versions` show scene `s` (the
    /// same content, frames identical before distortion) with independent distortion draws, and
    /// always share a split. 1 gives every video its own scene.
    public var versions: Int
    /// Seed of every random choice; equal options give equal sets.
    public var seed: UInt64
    /// Distribution family.
    public var profile: SynthProfile
    /// Content generators to draw scenes from (uniformly) instead of the profile's, e.g. one
    /// generator for a narrow training distribution; nil keeps the profile's list.
    public var contents: [SynthContent]?
    /// Overrides of the profile's frame size, frame count and frame rate.
    public var width: Int?
    public var height: Int?
    public var frames: Int?
    public var fps: Double?
    /// Share of videos listed in labels_test.txt, in [0, 1).
    public var testFraction: Double
    /// Videos encoded at once (each encoder uses one thread).
    public var threads: Int

    /// Options with the profile's geometry and an 80/20 split.
    public init(videos: Int, seed: UInt64, profile: SynthProfile = .default, width: Int? = nil, height: Int? = nil,
                frames: Int? = nil, fps: Double? = nil, testFraction: Double = 0.2, threads: Int = 2, versions: Int = 1,
                contents: [SynthContent]? = nil) {
        self.videos = videos; self.versions = versions; self.seed = seed; self.profile = profile; self.contents = contents
        self.width = width; self.height = height; self.frames = frames; self.fps = fps
        self.testFraction = testFraction; self.threads = threads
    }

    /// The content generators scenes are drawn from: the override, else the profile's.
    var effectiveContents: [SynthContent] { contents ?? profile.contents }

    /// The effective geometry: overrides, else the profile's defaults.
    public var geometry: (width: Int, height: Int, frames: Int, fps: Double) {
        let d = profile.defaultGeometry
        return (width ?? d.width, height ?? d.height, frames ?? d.frames, fps ?? d.fps)
    }

    /// Throws a SynthError naming the first invalid option and its valid range.
    public func validate() throws {
        guard videos >= 1 else { throw SynthError("--videos must be at least 1, got \(videos)") }
        guard videos <= 1_000_000 else { throw SynthError("--videos must be at most 1000000, got \(videos)") }
        guard versions >= 1, versions <= videos else {
            throw SynthError("--versions must be in 1...\(videos) (at most --videos), got \(versions)")
        }
        guard threads >= 1 else { throw SynthError("--threads must be at least 1, got \(threads)") }
        if let c = contents, c.isEmpty {
            throw SynthError("--contents needs at least one generator; valid: \(SynthContent.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        guard testFraction >= 0, testFraction < 1 else {
            throw SynthError("--test-fraction must be in [0, 1), got \(testFraction)")
        }
        let g = geometry
        for (flag, v) in [("--width", g.width), ("--height", g.height)] {
            guard v >= 32, v <= 4096, v % 2 == 0 else {
                throw SynthError("\(flag) must be an even number of pixels in 32...4096 (4:2:0 chroma needs even sizes), got \(v)")
            }
        }
        if profile == .images {
            if let f = frames, f != 1 { throw SynthError("--frames must be 1 (or absent) with --profile images, got \(f)") }
            if fps != nil { throw SynthError("--fps does not apply to --profile images (still images); drop it") }
        } else {
            guard g.frames >= 1, g.frames <= 100_000 else {
                throw SynthError("--frames must be in 1...100000, got \(g.frames)")
            }
            guard g.fps.isFinite, g.fps >= 1, g.fps <= 240 else {
                throw SynthError("--fps must be in 1...240, got \(g.fps)")
            }
        }
    }
}

/// Planning: the per-video decisions, made before any pixel is rendered.
public enum SynthPlan {
    /// The videos of the set described by `options` (validated first), in index order.
    ///
    /// Video i shows scene s = i / versions. The scene's plan stream draws its content generator
    /// (and the content stream keyed by s its picture); the video's own plan stream, after the same
    /// first draw, decides the distortion levels, so with one version per scene every choice is
    /// keyed by i alone. The test split is drawn over scenes, so no scene straddles it.
    public static func videos(_ options: SynthOptions) throws -> [SynthVideo] {
        try options.validate()
        let g = options.geometry
        let (num, den) = options.profile == .images ? (0, 1) : rational(g.fps)
        let scenes = sceneCount(options)
        let testScenes = testIndices(count: scenes, fraction: options.testFraction, seed: options.seed)
        let digits = max(5, String(options.videos - 1).count)
        return (0..<options.videos).map { i in
            let scene = i / options.versions
            var sceneRNG = SynthRNG(seed: options.seed, UInt64(scene), SynthPurpose.plan.rawValue)
            let contents = options.effectiveContents
            let content = contents[sceneRNG.int(below: contents.count)]
            var rng = SynthRNG(seed: options.seed, UInt64(i), SynthPurpose.plan.rawValue)
            _ = rng.next()   // the content draw (the scene's own for the first version of a one-version set)
            var levels = SynthLevels()
            for kind in SynthDistortion.allCases {
                let m = options.profile.mix(kind)
                let present = rng.chance(m.probability)
                let level = rng.uniform(m.range.lowerBound, m.range.upperBound)
                if present { levels[kind] = (level * 1000).rounded() / 1000 }
            }
            let exposureSign = rng.chance(0.5) ? 1 : -1
            var labelRNG = SynthRNG(seed: options.seed, UInt64(i), SynthPurpose.label.rawValue)
            let name = String(repeating: "0", count: max(0, digits - String(i).count)) + String(i)
            return SynthVideo(index: i, scene: scene, file: "videos/\(name).\(options.profile == .images ? "jpg" : "mp4")",
                              content: content, levels: levels, exposureSign: exposureSign,
                              width: g.width, height: g.height, frames: options.profile == .images ? 1 : g.frames,
                              fpsNum: num, fpsDen: den, mosClean: SynthMOS.clean(levels),
                              mos: SynthMOS.label(levels, standardNormal: labelRNG.gaussian()),
                              split: testScenes.contains(scene) ? .test : .train, seed: options.seed)
        }
    }

    /// Number of scenes: ⌈videos / versions⌉ (the last scene has fewer versions when K ∤ videos).
    public static func sceneCount(_ options: SynthOptions) -> Int {
        (options.videos + options.versions - 1) / options.versions
    }

    /// round(count·fraction) indices drawn by a seeded permutation (at least one when the
    /// fraction is positive and there are two or more videos, never all of them).
    static func testIndices(count: Int, fraction: Double, seed: UInt64) -> Set<Int> {
        guard fraction > 0, count > 1 else { return [] }
        let n = min(count - 1, max(1, Int((Double(count) * fraction).rounded())))
        var rng = SynthRNG(seed: seed, SynthPurpose.split.rawValue)
        return Set(rng.permutation(count).prefix(n))
    }

    /// A frame rate as num/den: integers exactly, NTSC-style rates (29.97…) as n·1000/1001,
    /// anything else to 1/1000 precision.
    static func rational(_ fps: Double) -> (Int, Int) {
        if fps == fps.rounded() { return (Int(fps), 1) }
        let ntsc = (fps * 1001 / 1000).rounded()
        if abs(ntsc * 1000 / 1001 - fps) < 1e-3 { return (Int(ntsc) * 1000, 1001) }
        var num = Int((fps * 1000).rounded()), den = 1000
        var a = num, b = den
        while b != 0 { (a, b) = (b, a % b) }
        num /= a; den /= a
        return (num, den)
    }
}
