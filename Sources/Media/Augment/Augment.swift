import Foundation

// Training-time augmentation of whole RGB frames, before spatial sampling (as VQA-Generalization
// applies torchvision v2 transforms to the decoded clip before fragments). One random draw per
// clip; the same operation is applied to every frame of that clip.
//
// Shape legend: frames are RGBFrame h×w×3 (packed RGB24); every op keeps h×w.
//
// TrivialAugment-wide magnitudes (torchvision TrivialAugmentWide, num_magnitude_bins = 31, one op
// chosen uniformly, one bin chosen uniformly, signed ops negated with probability 1/2):
//   brightness, contrast, saturation ("Color"), sharpness: factor 1 + m, m ∈ linspace(0, 0.99)
//   shear_x, shear_y: m ∈ linspace(0, 0.99) (x_in = x + ⌊½ + m·(y + ½)⌋, top-left origin, as PIL)
//   translate_x, translate_y: m ∈ linspace(0, 32) pixels
//   rotate: m ∈ linspace(0, 135) degrees about the centre, counter-clockwise for m > 0
//   posterize: bits = 8 − round(bin / 5)   solarize: threshold ∈ linspace(255, 0)
//   identity, autocontrast, equalize: no magnitude
// Geometric ops use nearest-neighbour sampling and fill uncovered pixels with 0 (torchvision's
// defaults); blends compute in float32 and truncate, as torchvision does on uint8 images.

/// A top-level augmentation step.
public enum AugmentOp: String, Codable, CaseIterable, Sendable {
    /// Mirror left–right with probability flipProbability.
    case hflip
    /// Crop a random area (cropScale of the frame, aspect in cropRatio) and resize it back to the
    /// frame size (bilinear), as torchvision RandomResizedCrop.
    case randomResizedCrop = "random_resized_crop"
    /// One TrivialAugment-wide operation from trivialOps.
    case trivialAugment = "trivial_augment"
}

/// The operations TrivialAugment-wide chooses from.
enum TrivialOp: String, Codable, CaseIterable, Sendable {
    case identity, brightness, contrast, saturation, sharpness, posterize, solarize
    case autocontrast, equalize, rotate
    case shearX = "shear_x", shearY = "shear_y", translateX = "translate_x", translateY = "translate_y"
}

/// Which augmentations run in training, in order, and their ranges.
public struct AugmentConfig: Codable, Equatable, Sendable {
    /// Steps applied in this order (empty: no augmentation).
    public var ops: [AugmentOp] = []
    /// Probability of a flip for the hflip step.
    var flipProbability = 0.5
    /// Area fraction range of random_resized_crop (DOVER uses 0.4–1 for VQA).
    var cropScale: [Double] = [0.4, 1.0]
    /// Aspect-ratio range of random_resized_crop (torchvision default 3/4–4/3).
    var cropRatio: [Double] = [3.0 / 4.0, 4.0 / 3.0]
    /// Operations trivial_augment picks from (default: all of TrivialAugment-wide).
    var trivialOps: [TrivialOp] = TrivialOp.allCases
    /// Magnitude bins of trivial_augment.
    var bins = 31

    /// No augmentation.
    public init() {}

    /// Steps by name (e.g. ["hflip", "trivial_augment"]); unknown names are rejected with the list
    /// of valid ones.
    public init(names: [String]) throws {
        ops = try names.map(AugmentConfig.op(named:))
    }

    /// The step called `name`, or a MediaError listing the valid names.
    public static func op(named name: String) throws -> AugmentOp {
        let key = name.trimmingCharacters(in: .whitespaces).lowercased().replacingOccurrences(of: "-", with: "_")
        guard let op = AugmentOp(rawValue: key) else {
            throw MediaError("augment config", "unknown augmentation '\(name)'; valid: \(AugmentOp.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return op
    }

    /// The TrivialAugment operation called `name`, or a MediaError listing the valid names.
    static func trivialOp(named name: String) throws -> TrivialOp {
        let key = name.trimmingCharacters(in: .whitespaces).lowercased().replacingOccurrences(of: "-", with: "_")
        guard let op = TrivialOp(rawValue: key) else {
            throw MediaError("augment config", "unknown trivial_augment operation '\(name)'; valid: \(TrivialOp.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return op
    }

    /// Throws a MediaError naming the bad setting.
    public func validate() throws {
        func fail(_ s: String) throws -> Never { throw MediaError("augment config", s) }
        if !(0...1).contains(flipProbability) { try fail("flipProbability must be in [0, 1], got \(flipProbability)") }
        if cropScale.count != 2 || !(cropScale[0] > 0 && cropScale[0] <= cropScale[1] && cropScale[1] <= 1) {
            try fail("cropScale must be [min, max] with 0 < min ≤ max ≤ 1, got \(cropScale)")
        }
        if cropRatio.count != 2 || !(cropRatio[0] > 0 && cropRatio[0] <= cropRatio[1]) {
            try fail("cropRatio must be [min, max] with 0 < min ≤ max, got \(cropRatio)")
        }
        if ops.contains(.trivialAugment) && trivialOps.isEmpty { try fail("trivialOps is empty; list at least one of \(TrivialOp.allCases.map(\.rawValue))") }
        if bins < 2 { try fail("bins must be ≥ 2, got \(bins)") }
    }

    private enum CodingKeys: String, CodingKey, CaseIterable { case ops, flipProbability, cropScale, cropRatio, trivialOps, bins }

    /// Decodes a config; absent keys keep defaults, unknown keys and op names are rejected with the
    /// list of valid ones.
    public init(from decoder: Decoder) throws {
        try rejectUnknownKeys(decoder, valid: CodingKeys.allCases.map(\.rawValue), what: "augment config")
        let c = try decoder.container(keyedBy: CodingKeys.self)
        if let names = try c.decodeIfPresent([String].self, forKey: .ops) { ops = try names.map(AugmentConfig.op(named:)) }
        flipProbability = try c.decodeIfPresent(Double.self, forKey: .flipProbability) ?? flipProbability
        cropScale = try c.decodeIfPresent([Double].self, forKey: .cropScale) ?? cropScale
        cropRatio = try c.decodeIfPresent([Double].self, forKey: .cropRatio) ?? cropRatio
        if let names = try c.decodeIfPresent([String].self, forKey: .trivialOps) {
            trivialOps = try names.map(AugmentConfig.trivialOp(named:))
        }
        bins = try c.decodeIfPresent(Int.self, forKey: .bins) ?? bins
    }
}

/// One clip's augmentation draw: each step with its parameters, applied to every frame.
struct AugmentPlan: Equatable {
    enum Step: Equatable {
        case flip
        case crop(PixelRect)
        case trivial(TrivialOp, Double)
    }
    var steps: [Step] = []
}

/// Draws and applies augmentation plans, reusing a scratch frame buffer.
struct Augmenter {
    let config: AugmentConfig
    var scratch: [UInt8] = []

    init(config: AugmentConfig) { self.config = config }

    /// One plan for a clip of w×h frames.
    func draw(width w: Int, height h: Int, rng: inout MediaRNG) -> AugmentPlan {
        var plan = AugmentPlan()
        for op in config.ops {
            switch op {
            case .hflip:
                if rng.nextBool(probability: config.flipProbability) { plan.steps.append(.flip) }
            case .randomResizedCrop:
                plan.steps.append(.crop(cropRect(width: w, height: h, rng: &rng)))
            case .trivialAugment:
                let op = config.trivialOps[rng.nextInt(below: config.trivialOps.count)]
                let bin = rng.nextInt(below: config.bins)
                var m = Augmenter.magnitude(op, bin: bin, bins: config.bins)
                if Augmenter.signed(op) && rng.nextBool(probability: 0.5) { m = -m }
                plan.steps.append(.trivial(op, m))
            }
        }
        return plan
    }

    /// torchvision RandomResizedCrop.get_params: 10 tries of (area, log-uniform ratio), else the
    /// central crop of the clamped ratio.
    func cropRect(width w: Int, height h: Int, rng: inout MediaRNG) -> PixelRect {
        let area = Double(w * h)
        let logLo = log(config.cropRatio[0]), logHi = log(config.cropRatio[1])
        for _ in 0..<10 {
            let target = area * rng.nextDouble(in: config.cropScale[0], config.cropScale[1])
            let ratio = exp(rng.nextDouble(in: logLo, logHi))
            let cw = Int((target * ratio).squareRoot().rounded())
            let ch = Int((target / ratio).squareRoot().rounded())
            if cw > 0 && ch > 0 && cw <= w && ch <= h {
                return PixelRect(x: rng.nextInt(below: w - cw + 1), y: rng.nextInt(below: h - ch + 1), width: cw, height: ch)
            }
        }
        let inRatio = Double(w) / Double(h)
        var cw = w, ch = h
        if inRatio < config.cropRatio[0] {
            ch = Int((Double(w) / config.cropRatio[0]).rounded())
        } else if inRatio > config.cropRatio[1] {
            cw = Int((Double(h) * config.cropRatio[1]).rounded())
        }
        cw = min(max(cw, 1), w); ch = min(max(ch, 1), h)
        return PixelRect(x: (w - cw) / 2, y: (h - ch) / 2, width: cw, height: ch)
    }

    /// TrivialAugment-wide magnitude of `op` at `bin` (see the file comment).
    static func magnitude(_ op: TrivialOp, bin: Int, bins: Int) -> Double {
        let f = Double(bin) / Double(bins - 1)
        switch op {
        case .identity, .autocontrast, .equalize: return 0
        case .brightness, .contrast, .saturation, .sharpness, .shearX, .shearY: return 0.99 * f
        case .translateX, .translateY: return 32 * f
        case .rotate: return 135 * f
        case .posterize: return Double(8 - Int((Double(bin) / (Double(bins - 1) / 6)).rounded(.toNearestOrEven)))
        case .solarize: return 255 * (1 - f)
        }
    }

    /// Whether `op`'s magnitude gets a random sign.
    static func signed(_ op: TrivialOp) -> Bool {
        switch op {
        case .brightness, .contrast, .saturation, .sharpness, .shearX, .shearY, .translateX, .translateY, .rotate: return true
        default: return false
        }
    }

    /// Applies `plan` to every frame of a clip.
    mutating func apply(_ plan: AugmentPlan, to frames: inout [RGBFrame]) {
        for step in plan.steps {
            for k in frames.indices { apply(step, to: &frames[k]) }
        }
    }

    /// Applies one step to one frame.
    mutating func apply(_ step: AugmentPlan.Step, to frame: inout RGBFrame) {
        switch step {
        case .flip: PixelOps.flipHorizontal(&frame)
        case .crop(let r): PixelOps.resizedCrop(&frame, rect: r, scratch: &scratch)
        case .trivial(let op, let m): PixelOps.trivial(op, magnitude: m, frame: &frame, scratch: &scratch)
        }
    }
}
