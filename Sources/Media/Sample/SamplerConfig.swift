// What a sampler draws from a video: temporal and spatial kind plus their sizes, with presets for
// the published models. Defaults are FAST-VQA-B (7×7 fragments of 32×32, 32 frames at interval 2,
// 1 clip in training and 4 at test).

/// How a sampler picks pixels from each frame.
public enum SpatialKind: String, Codable, CaseIterable, Sendable {
    /// FAST-VQA grid mini-patch sampling: fragmentsH×fragmentsW cells, one fsize patch per cell.
    case fragments
    /// SAMA multi-scale fragments: the frame is rescaled by linspace(1, 1/ratio, samaScales)
    /// (one scale per frameInterval-sized step of frames) before the fragment grid is applied.
    case sama
    /// The whole frame bilinearly resized to resizeH×resizeW (FAST-VQA resize view, DOVER
    /// aesthetic view); squashes the aspect ratio unless keepAspectRatio, which crops the largest
    /// centred (random in training) region of the output aspect ratio first.
    case resize
}

/// How a sampler picks frame indices.
public enum TemporalKind: String, Codable, CaseIterable, Sendable {
    /// FAST-VQA: the video is cut into `clips` equal segments; in each, clipLen frames at
    /// frameInterval from a random start (seeded, also at test); indices wrap modulo the length.
    case fragments
    /// FasterVQA: each clip is tFrag segments of clipLen/tFrag frames at frameInterval, each from a
    /// random start inside its segment.
    case tFrag = "t_frag"
    /// clipLen frames spread evenly over the video (the centre of each of clips·clipLen equal
    /// segments at test, a random position inside each segment in training).
    case uniform
}

/// A sampler's settings (Codable for YAML configs; missing keys take FAST-VQA-B defaults).
public struct SamplerConfig: Codable, Equatable, Sendable {
    /// Spatial sampling kind.
    public var spatial: SpatialKind = .fragments
    /// Fragment grid (cells per side) and patch size in pixels.
    public var fragmentsH = 7
    public var fragmentsW = 7
    public var fsizeH = 32
    public var fsizeW = 32
    /// Frames that share one set of fragment offsets; 0 means the whole clip.
    var aligned = 0
    /// Output size of the resize view.
    var resizeH = 224
    var resizeW = 224
    /// Resize view: crop to the output aspect ratio instead of squashing.
    var keepAspectRatio = false
    /// SAMA: number of scales between 1 and 1/ratio.
    var samaScales = 16
    /// Temporal sampling kind.
    public var temporal: TemporalKind = .fragments
    /// Frames per clip and the stride between them.
    public var clipLen = 32
    public var frameInterval = 2
    /// Clips per sample in training and at test.
    var trainClips = 1
    public var testClips = 4
    /// FasterVQA temporal fragments per clip (temporal kind t_frag).
    var tFrag = 8
    /// Training-time augmentation (applied to whole frames before spatial sampling).
    public var augment = AugmentConfig()

    /// FAST-VQA-B defaults.
    public init() {}

    /// FAST-VQA-B: 7×7×32 fragments aligned over 32 frames, interval 2, 1 clip (train) / 4 (test).
    public static let fastVQAB = SamplerConfig()

    /// FasterVQA: FAST-VQA-B fragments with 8 temporal fragments of 4 frames, offsets aligned over 8
    /// frames, 1 clip in training and test.
    static var fasterVQA: SamplerConfig {
        var c = SamplerConfig()
        c.temporal = .tFrag; c.tFrag = 8; c.aligned = 8; c.testClips = 1
        return c
    }

    /// FAST-VQA-M: 4×4×32 fragments (128²), 16 frames at interval 2.
    public static var fastVQAM: SamplerConfig {
        var c = SamplerConfig()
        c.fragmentsH = 4; c.fragmentsW = 4; c.clipLen = 16
        return c
    }

    /// SAMA: multi-scale 7×7×32 fragments, 16 scales over a 32-frame clip, aligned over 32 frames.
    static var sama: SamplerConfig {
        var c = SamplerConfig()
        c.spatial = .sama; c.aligned = 32
        return c
    }

    /// DOVER aesthetic view: whole frames resized to 224² (squashed), 32 frames each from its own
    /// temporal segment (t_frag 32) at interval 2, 1 clip.
    static var doverAesthetic: SamplerConfig {
        var c = SamplerConfig()
        c.spatial = .resize; c.temporal = .tFrag; c.tFrag = 32; c.testClips = 1
        return c
    }

    /// The clip shape this config produces.
    public func shape(train: Bool) -> ClipShape {
        let (h, w) = spatial == .resize ? (resizeH, resizeW) : (fragmentsH * fsizeH, fragmentsW * fsizeW)
        return ClipShape(clips: train ? trainClips : testClips, frames: clipLen, height: h, width: w)
    }

    /// Throws a MediaError naming the offending setting when the config cannot be sampled.
    public func validate() throws {
        func fail(_ s: String) throws -> Never { throw MediaError("sampler config", s) }
        for (name, v) in [("fragmentsH", fragmentsH), ("fragmentsW", fragmentsW), ("fsizeH", fsizeH),
                          ("fsizeW", fsizeW), ("resizeH", resizeH), ("resizeW", resizeW),
                          ("samaScales", samaScales), ("clipLen", clipLen), ("frameInterval", frameInterval),
                          ("trainClips", trainClips), ("testClips", testClips), ("tFrag", tFrag)] where v < 1 {
            try fail("\(name) must be ≥ 1, got \(v)")
        }
        if aligned < 0 { try fail("aligned must be ≥ 0 (0 = whole clip), got \(aligned)") }
        if aligned > 0 && clipLen % aligned != 0 {
            try fail("aligned (\(aligned)) must divide clipLen (\(clipLen)); use 0 for the whole clip")
        }
        if temporal == .tFrag && clipLen % tFrag != 0 {
            try fail("clipLen (\(clipLen)) must be a multiple of tFrag (\(tFrag)) for temporal t_frag")
        }
        try augment.validate()
    }

    private enum CodingKeys: String, CodingKey, CaseIterable {
        case spatial, fragmentsH, fragmentsW, fsizeH, fsizeW, aligned, resizeH, resizeW, keepAspectRatio
        case samaScales, temporal, clipLen, frameInterval, trainClips, testClips, tFrag, augment
    }

    /// Decodes a config; absent keys keep FAST-VQA-B defaults, unknown keys are a MediaError
    /// listing the valid ones.
    public init(from decoder: Decoder) throws {
        try rejectUnknownKeys(decoder, valid: CodingKeys.allCases.map(\.rawValue), what: "sampler config")
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = SamplerConfig()
        spatial = try c.decodeIfPresent(SpatialKind.self, forKey: .spatial) ?? d.spatial
        fragmentsH = try c.decodeIfPresent(Int.self, forKey: .fragmentsH) ?? d.fragmentsH
        fragmentsW = try c.decodeIfPresent(Int.self, forKey: .fragmentsW) ?? d.fragmentsW
        fsizeH = try c.decodeIfPresent(Int.self, forKey: .fsizeH) ?? d.fsizeH
        fsizeW = try c.decodeIfPresent(Int.self, forKey: .fsizeW) ?? d.fsizeW
        aligned = try c.decodeIfPresent(Int.self, forKey: .aligned) ?? d.aligned
        resizeH = try c.decodeIfPresent(Int.self, forKey: .resizeH) ?? d.resizeH
        resizeW = try c.decodeIfPresent(Int.self, forKey: .resizeW) ?? d.resizeW
        keepAspectRatio = try c.decodeIfPresent(Bool.self, forKey: .keepAspectRatio) ?? d.keepAspectRatio
        samaScales = try c.decodeIfPresent(Int.self, forKey: .samaScales) ?? d.samaScales
        temporal = try c.decodeIfPresent(TemporalKind.self, forKey: .temporal) ?? d.temporal
        clipLen = try c.decodeIfPresent(Int.self, forKey: .clipLen) ?? d.clipLen
        frameInterval = try c.decodeIfPresent(Int.self, forKey: .frameInterval) ?? d.frameInterval
        trainClips = try c.decodeIfPresent(Int.self, forKey: .trainClips) ?? d.trainClips
        testClips = try c.decodeIfPresent(Int.self, forKey: .testClips) ?? d.testClips
        tFrag = try c.decodeIfPresent(Int.self, forKey: .tFrag) ?? d.tFrag
        augment = try c.decodeIfPresent(AugmentConfig.self, forKey: .augment) ?? d.augment
    }
}
