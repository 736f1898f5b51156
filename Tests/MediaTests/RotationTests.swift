// Display-matrix rotation against the ffmpeg CLI, which autorotates before `-pix_fmt rgb24`.

import XCTest
@testable import Media
import TestSupport

final class RotationTests: XCTestCase {
    func testRotatedClipsMatchTheCLIAndSwapSides() throws {
        let dir = try TempDir.make("media", for: self)
        let plain = try Oracle.clip(dir, "plain.mp4", size: "96x64", frames: 6, ["-c:v", "libx264", "-pix_fmt", "yuv420p"])
        for angle in [0, 90, 180, 270] {
            let path = dir.appendingPathComponent("r\(angle).mp4").path
            try FFmpeg.run(["-i", plain, "-c", "copy", "-metadata:s:v", "rotate=\(angle)", path])
            let expected = try Oracle.frameMD5s(path)
            XCTAssertEqual(expected.count, 6)
            let dec = try VideoDecoder(path: path)
            let swapped = angle == 90 || angle == 270
            XCTAssertEqual(dec.info.width, swapped ? 64 : 96, "angle \(angle)")
            XCTAssertEqual(dec.info.height, swapped ? 96 : 64, "angle \(angle)")
            XCTAssertEqual(try probe(path: path).width, dec.info.width)
            let frames = try dec.frames(at: Array(0..<6))
            for (i, f) in frames.enumerated() {
                XCTAssertEqual(f.width, dec.info.width)
                XCTAssertEqual(Oracle.md5(f.pixels), expected[i], "angle \(angle) frame \(i)")
            }
            // The sampler sees the upright frame too (streaming path), so fragments come out the same
            // as from the CLI's frames.
            let sampler = try FragmentSampler(config: .fastVQAB)
            var out = [Float](repeating: 0, count: sampler.shape(train: false).floatsPerSample)
            try out.withUnsafeMutableBufferPointer {
                try sampler.sample(reader: try VideoDecoder(path: path), sampleIndex: 0, epoch: 0, seed: 1, train: false,
                                   into: $0.baseAddress!)
            }
            var ref = [Float](repeating: 1, count: out.count)
            try ref.withUnsafeMutableBufferPointer {
                try sampler.sample(reader: CopyingReader(try VideoDecoder(path: path)), sampleIndex: 0, epoch: 0, seed: 1,
                                   train: false, into: $0.baseAddress!)
            }
            XCTAssertTrue(out == ref, "angle \(angle)")
        }
    }

    func testMatrixAnglesFollowFFmpegAutorotate() {
        let one: Int32 = 1 << 16
        // av_display_rotation_set(m, -90) writes [0 one; -one 0] in the 2×2 part: displayed turned 90° clockwise.
        XCTAssertEqual(DisplayRotation.from(matrix: [0, one, 0, -one, 0, 0, 0, 0, 1 << 30]), .clockwise90)
        XCTAssertEqual(DisplayRotation.from(matrix: [0, -one, 0, one, 0, 0, 0, 0, 1 << 30]), .clockwise270)
        XCTAssertEqual(DisplayRotation.from(matrix: [-one, 0, 0, 0, -one, 0, 0, 0, 1 << 30]), .half)
        XCTAssertEqual(DisplayRotation.from(matrix: [one, 0, 0, 0, one, 0, 0, 0, 1 << 30]), DisplayRotation.none)
        XCTAssertEqual(DisplayRotation.from(matrix: [0, 0, 0, 0, 0, 0, 0, 0, 0]), DisplayRotation.none)
        // 45°: not a right angle, left as stored.
        let c = Int32(Double(one) * 0.7071)
        XCTAssertEqual(DisplayRotation.from(matrix: [c, c, 0, -c, c, 0, 0, 0, 1 << 30]), DisplayRotation.none)
        var rgb: [UInt8] = Array(0..<18)  // 3 wide, 2 tall
        var out = [UInt8](repeating: 0, count: 18)
        rgb.withUnsafeMutableBufferPointer { s in
            DisplayRotation.clockwise90.apply(s.baseAddress!, width: 3, height: 2, into: &out)
        }
        // Pixels p0 p1 p2 / p3 p4 p5 turned clockwise: rows p3 p0 / p4 p1 / p5 p2.
        XCTAssertEqual(out, [9, 10, 11, 0, 1, 2, 12, 13, 14, 3, 4, 5, 15, 16, 17, 6, 7, 8])
    }
}
