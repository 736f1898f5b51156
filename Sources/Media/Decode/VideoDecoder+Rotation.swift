// Display rotation: phone videos store upright-ness as a display matrix on the stream, and the
// ffmpeg CLI (autorotate, on by default) turns the decoded picture accordingly. We do the same on
// the RGB24 frame so our pixels match `ffmpeg -i F -pix_fmt rgb24`.
//
// Shape legend: source RGB h×w×3 packed; after 90 or 270 the frame is w×h×3 (width and height swap,
// also in VideoInfo), after 180 it stays h×w×3.
//
// FFmpeg 5.1 fftools: theta = −round(av_display_rotation_get(matrix)), brought into [0, 360);
// |theta − 90| < 1 → transpose=clock, |theta − 180| < 1 → hflip+vflip, |theta − 270| < 1 →
// transpose=cclock. Other angles (rare, non-right) are not applied: the CLI would rotate with
// black corners, which no VQA dataset contains; such files keep their stored orientation.
// av_display_rotation_get is recomputed here from the 16.16 fixed-point matrix
// [a b u; c d v; x y w]: rotation = −atan2(b/|(b,d)|, a/|(a,c)|) in degrees.

import CFFmpeg
import Foundation

/// A right-angle display rotation (clockwise degrees applied for display).
enum DisplayRotation: Int, Sendable {
    case none = 0, clockwise90 = 90, half = 180, clockwise270 = 270

    /// True when width and height swap.
    var swapsSides: Bool { self == .clockwise90 || self == .clockwise270 }

    /// The rotation fftools' autorotate applies for `stream` (see the file comment).
    static func of(_ stream: UnsafeMutablePointer<AVStream>) -> DisplayRotation {
        var size = 0
        guard let raw = av_stream_get_side_data(stream, AV_PKT_DATA_DISPLAYMATRIX, &size), size >= 9 * 4 else {
            return .none
        }
        let m = UnsafeRawPointer(raw).bindMemory(to: Int32.self, capacity: 9)
        return from(matrix: (0..<9).map { m[$0] })
    }

    /// The rotation for a 3×3 display matrix (row-major, 16.16 fixed point for the 2×2 part).
    static func from(matrix m: [Int32]) -> DisplayRotation {
        let a = Double(m[0]), b = Double(m[1]), c = Double(m[3]), d = Double(m[4])
        let s0 = (a * a + c * c).squareRoot(), s1 = (b * b + d * d).squareRoot()
        guard s0 > 0, s1 > 0 else { return .none }
        let degrees = -atan2(b / s1, a / s0) * 180 / Double.pi
        var theta = -degrees.rounded()
        theta -= 360 * (theta / 360 + 0.9 / 360).rounded(.down)
        if abs(theta - 90) < 1 { return .clockwise90 }
        if abs(theta - 180) < 1 { return .half }
        if abs(theta - 270) < 1 { return .clockwise270 }
        return .none
    }

    /// Writes `src` (h×w×3 packed) turned by this rotation into `dst` (same byte count).
    func apply(_ src: UnsafePointer<UInt8>, width w: Int, height h: Int, into dst: UnsafeMutablePointer<UInt8>) {
        switch self {
        case .none:
            dst.update(from: src, count: w * h * 3)
        case .half:
            // Row r of the output is row h−1−r of the input, reversed.
            for r in 0..<h {
                let s = src + (h - 1 - r) * w * 3
                let o = dst + r * w * 3
                for c in 0..<w {
                    let q = s + (w - 1 - c) * 3
                    o[c * 3] = q[0]; o[c * 3 + 1] = q[1]; o[c * 3 + 2] = q[2]
                }
            }
        case .clockwise90, .clockwise270:
            // Output is h wide and w tall. clock: out(r, c) = in(h−1−c, r); cclock: out(r, c) = in(c, w−1−r).
            // Walk the input in tiles so both sides stay in cache.
            let clock = self == .clockwise90
            let tile = 32
            for r0 in stride(from: 0, to: w, by: tile) {
                for c0 in stride(from: 0, to: h, by: tile) {
                    for r in r0..<min(r0 + tile, w) {
                        let o = dst + r * h * 3
                        for c in c0..<min(c0 + tile, h) {
                            let q = clock ? src + ((h - 1 - c) * w + r) * 3 : src + (c * w + (w - 1 - r)) * 3
                            o[c * 3] = q[0]; o[c * 3 + 1] = q[1]; o[c * 3 + 2] = q[2]
                        }
                    }
                }
            }
        }
    }
}
