// The engine's video input, documented in one place.
//
// Shape legend: N samples·clips, C = 3 channels (R, G, B), T frames, H×W pixels.
//   batch tensor  Float [N, 3, T, H, W], row-major (PyTorch NCTHW)
//   one clip      Float [3, T, H, W]
//   one sample    Float [clips, 3, T, H, W] (clips = 1 in training, e.g. 4 at test; the model
//                 scores each clip and the scores are averaged)
// Values are RGB on the 0–255 scale normalised per channel: (x − mean[c]) / std[c] with the
// ImageNet statistics FAST-VQA, DOVER and SAMA use.

/// Layout and normalisation of the clips the engine consumes (Float [N, 3, T, H, W], RGB).
public enum ClipLayout {
    /// Colour channels per pixel (R, G, B).
    public static let channels = 3
    /// Per-channel mean on the 0–255 scale (R, G, B).
    public static let mean: [Float] = [123.675, 116.28, 103.53]
    /// Per-channel standard deviation on the 0–255 scale (R, G, B).
    public static let std: [Float] = [58.395, 57.12, 57.375]

    /// (value − mean[c]) / std[c] for a 0–255 value of channel c.
    @inline(__always)
    static func normalise(_ value: Float, channel c: Int) -> Float {
        (value - mean[c]) / std[c]
    }

    /// The 0–255 value that normalises to `normalised` in channel c (inverse of `normalise`).
    static func denormalise(_ normalised: Float, channel c: Int) -> Float {
        normalised * std[c] + mean[c]
    }

    /// Floats in one clip [3, T, H, W].
    public static func floatsPerClip(frames: Int, height: Int, width: Int) -> Int {
        channels * frames * height * width
    }

    /// Flat offset of element (c, t, y, x) inside one clip [3, T, H, W].
    @inline(__always)
    public static func offset(c: Int, t: Int, y: Int, x: Int, frames: Int, height: Int, width: Int) -> Int {
        ((c * frames + t) * height + y) * width + x
    }
}

/// The shape of one sample as a sampler writes it: Float [clips, 3, frames, height, width].
public struct ClipShape: Sendable, Equatable, Codable {
    /// Clips per sample (each scored separately, scores averaged).
    public var clips: Int
    /// Frames per clip.
    public var frames: Int
    /// Output height and width in pixels.
    public var height: Int
    public var width: Int

    /// A shape of `clips` clips of frames×height×width.
    public init(clips: Int, frames: Int, height: Int, width: Int) {
        self.clips = clips; self.frames = frames; self.height = height; self.width = width
    }

    /// Floats in one clip [3, T, H, W].
    public var floatsPerClip: Int { ClipLayout.floatsPerClip(frames: frames, height: height, width: width) }
    /// Floats in one sample [clips, 3, T, H, W].
    public var floatsPerSample: Int { clips * floatsPerClip }
}
