import Foundation
@testable import Media

/// An in-memory FrameReader whose pixels encode where they came from.
/// `.coordinates`: R = x mod 256, G = y mod 256, B = 4·frame + 2·(x ≥ 256) + (y ≥ 256) (x, y < 512,
/// frame < 64). `.gradient`: R = x, G = y, B = frame (x, y < 256), linear so bilinear resampling
/// has an exact analytic answer. `.constant(r, g, b)`: every pixel the same.
final class SyntheticReader: FrameReader, @unchecked Sendable {
    enum Pattern { case coordinates, gradient, constant(UInt8, UInt8, UInt8) }
    let info: VideoInfo
    let pattern: Pattern
    private let lock = NSLock()
    private(set) var requests: [[Int]] = []

    init(path: String = "synthetic.mp4", width: Int, height: Int, frames: Int, pattern: Pattern = .coordinates) {
        info = VideoInfo(path: path, frameCount: frames, fps: 25, duration: Double(frames) / 25, width: width,
                         height: height, codec: "synthetic")
        self.pattern = pattern
    }

    func frames(at indices: [Int]) throws -> [RGBFrame] {
        lock.lock(); requests.append(indices); lock.unlock()
        return try indices.map { f in
            guard f >= 0 && f < info.frameCount else { throw MediaError(info.path, "frame \(f) out of range") }
            return SyntheticReader.frame(index: f, width: info.width, height: info.height, pattern: pattern)
        }
    }

    static func frame(index f: Int, width w: Int, height h: Int, pattern: Pattern) -> RGBFrame {
        var p = [UInt8](repeating: 0, count: w * h * 3)
        for y in 0..<h {
            for x in 0..<w {
                let o = (y * w + x) * 3
                switch pattern {
                case .coordinates:
                    p[o] = UInt8(x & 255); p[o + 1] = UInt8(y & 255)
                    p[o + 2] = UInt8(4 * f + 2 * (x >> 8) + (y >> 8))
                case .gradient:
                    p[o] = UInt8(x); p[o + 1] = UInt8(y); p[o + 2] = UInt8(f)
                case .constant(let r, let g, let b):
                    p[o] = r; p[o + 1] = g; p[o + 2] = b
                }
            }
        }
        return RGBFrame(width: w, height: h, pixels: p)
    }
}

/// Reads back 0–255 values from a normalised clip.
struct ClipReader {
    let buffer: TestBuffer   // keeps the floats alive
    let shape: ClipShape
    var base: UnsafePointer<Float> { UnsafePointer(buffer.pointer) }

    /// The 0–255 value of channel c at (clip, t, y, x).
    func value(clip: Int, c: Int, t: Int, y: Int, x: Int) -> Float {
        let o = clip * shape.floatsPerClip
            + ClipLayout.offset(c: c, t: t, y: y, x: x, frames: shape.frames, height: shape.height, width: shape.width)
        return ClipLayout.denormalise(base[o], channel: c)
    }

    /// Decodes a `.coordinates` pixel into (frame, x, y).
    func source(clip: Int = 0, t: Int, y: Int, x: Int) -> (frame: Int, x: Int, y: Int) {
        let r = Int(value(clip: clip, c: 0, t: t, y: y, x: x).rounded())
        let g = Int(value(clip: clip, c: 1, t: t, y: y, x: x).rounded())
        let b = Int(value(clip: clip, c: 2, t: t, y: y, x: x).rounded())
        return (b >> 2, r + 256 * ((b >> 1) & 1), g + 256 * (b & 1))
    }
}

/// A zeroed Float buffer owned by a test.
final class TestBuffer {
    let pointer: UnsafeMutablePointer<Float>
    let count: Int
    init(_ count: Int) {
        self.count = count
        pointer = .allocate(capacity: count)
        pointer.initialize(repeating: .nan, count: count)
    }
    deinit { pointer.deallocate() }
    var array: [Float] { Array(UnsafeBufferPointer(start: pointer, count: count)) }
}
