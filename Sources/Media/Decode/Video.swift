// What every frame source delivers: video facts and packed RGB frames.
//
// Layout: an RGBFrame is H×W×3 bytes, row-major, RGB order, no padding between rows.
// The engine consumes clips as Float [N, 3, T, H, W] (see ClipLayout), normalised with the
// FAST-VQA mean/std; the sampler converts from RGBFrame to that layout.

/// Facts about one video (or still image, which is a one-frame video).
public struct VideoInfo: Sendable, Equatable {
    /// The file the facts describe.
    public var path: String
    /// Number of frames (counted or estimated from the stream; ≥ 1 for a readable file).
    public var frameCount: Int
    /// Frames per second (0 for still images).
    public var fps: Double
    /// Duration in seconds (0 for still images).
    public var duration: Double
    /// Width and height in pixels as displayed (coded sides swapped for a 90/270° display rotation).
    public var width: Int
    public var height: Int
    /// Codec name as FFmpeg reports it (e.g. "h264", "vp9", "mjpeg").
    public var codec: String

    public init(path: String, frameCount: Int, fps: Double, duration: Double, width: Int, height: Int, codec: String) {
        self.path = path; self.frameCount = frameCount; self.fps = fps; self.duration = duration
        self.width = width; self.height = height; self.codec = codec
    }
}

/// One decoded frame as packed RGB24 (H×W×3 bytes, row-major).
public struct RGBFrame: Sendable, Equatable {
    public var width: Int
    public var height: Int
    /// width·height·3 bytes, RGB order.
    public var pixels: [UInt8]

    public init(width: Int, height: Int, pixels: [UInt8]) {
        precondition(pixels.count == width * height * 3, "RGBFrame: \(pixels.count) bytes for \(width)×\(height)")
        self.width = width; self.height = height; self.pixels = pixels
    }
}

/// A source of frames by index: a decoded video file, an image, or a synthetic source in tests.
public protocol FrameReader: AnyObject {
    /// Facts about the source.
    var info: VideoInfo { get }
    /// Frames at `indices` (each in 0..<info.frameCount, any order, repeats allowed), in the
    /// order asked, at native resolution. Throws a MediaError naming the file on failure.
    func frames(at indices: [Int]) throws -> [RGBFrame]
}
