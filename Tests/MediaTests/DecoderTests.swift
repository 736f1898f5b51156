// VideoDecoder against the ffmpeg CLI: every frame's RGB24 bytes hash to the line of
// `ffmpeg -i F -f framemd5 -pix_fmt rgb24 -`, over containers, codecs, odd sizes, colour tags and
// still images; seeking yields the same bytes as decoding sequentially; info fields; work counters.

import XCTest
@testable import Media
import TestSupport

final class DecoderTests: XCTestCase {
    func testMD5KnownVectors() {
        XCTAssertEqual(Oracle.md5([]), "d41d8cd98f00b204e9800998ecf8427e")
        XCTAssertEqual(Oracle.md5(Array("abc".utf8)), "900150983cd24fb0d6963f7d28e17f72")
        XCTAssertEqual(Oracle.md5([UInt8](repeating: 0x61, count: 1_000_000)), "7707d6ae4e027c70eea2a935c2296f21")
        XCTAssertEqual(Oracle.md5(Array("12345678901234567890123456789012345678901234567890123456789012345678901234567890".utf8)),
                       "57edf4a22be3c955ac49da2e2107b67a")
    }

    /// Decodes every frame of `path` and compares with the CLI's framemd5 lines.
    private func assertMatchesCLI(_ path: String, threads: Int = 1, file: StaticString = #filePath, line: UInt = #line) throws {
        let expected = try Oracle.frameMD5s(path)
        XCTAssertFalse(expected.isEmpty, "ffmpeg produced no frames for \(path)", file: file, line: line)
        let dec = try VideoDecoder(path: path, threads: threads)
        XCTAssertEqual(dec.info.frameCount, expected.count, "frame count of \(path)", file: file, line: line)
        let frames = try dec.frames(at: Array(0..<expected.count))
        for (i, f) in frames.enumerated() {
            XCTAssertEqual(Oracle.md5(f.pixels), expected[i], "\(path) frame \(i)", file: file, line: line)
        }
        XCTAssertEqual(dec.stats.framesConverted, expected.count, file: file, line: line)
    }

    func testVideoContainersAndCodecsMatchFFmpegCLI() throws {
        let dir = try TempDir.make("media", for: self)
        let clips = [
            try Oracle.clip(dir, "h264.mp4", ["-c:v", "libx264", "-g", "12", "-bf", "2", "-pix_fmt", "yuv420p"]),
            try Oracle.clip(dir, "bt709.mp4", ["-c:v", "libx264", "-pix_fmt", "yuv420p", "-colorspace", "bt709",
                                               "-color_primaries", "bt709", "-color_trc", "bt709"]),
            try Oracle.clip(dir, "fullrange.mkv", ["-vf", "scale=out_range=full", "-c:v", "libx264",
                                                   "-pix_fmt", "yuv420p", "-color_range", "pc"]),
            try Oracle.clip(dir, "odd.webm", size: "175x97", ["-c:v", "libvpx-vp9", "-deadline", "realtime",
                                                              "-cpu-used", "8", "-pix_fmt", "yuv420p"]),
            try Oracle.clip(dir, "odd444.mkv", size: "175x97", ["-c:v", "libx264", "-pix_fmt", "yuv444p"]),
            try Oracle.clip(dir, "oddh422.mov", size: "176x97", ["-c:v", "libx264", "-pix_fmt", "yuv422p"]),
            try Oracle.clip(dir, "mjpeg.avi", ["-c:v", "mjpeg", "-q:v", "5"]),
            try Oracle.clip(dir, "av1.mkv", size: "96x64", frames: 10, ["-c:v", "libaom-av1", "-cpu-used", "8",
                                                                        "-crf", "40", "-pix_fmt", "yuv420p"]),
        ]
        for c in clips { try assertMatchesCLI(c) }
        try assertMatchesCLI(clips[0], threads: 2)
        try assertMatchesCLI(clips[3], threads: 2)
    }

    func testStillImagesAreOneFrameVideos() throws {
        let dir = try TempDir.make("media", for: self)
        for (name, extra) in [("a.png", [String]()), ("b.jpg", ["-q:v", "3"]), ("c.bmp", []),
                              ("d.webp", []), ("e.png", ["-pix_fmt", "rgba"])] {
            let path = try Oracle.clip(dir, name, size: "175x97", frames: 1, ["-update", "1"] + extra)
            try assertMatchesCLI(path)
            let dec = try VideoDecoder(path: path)
            XCTAssertEqual(dec.info.frameCount, 1, name)
            XCTAssertEqual(dec.info.fps, 0, name)
            XCTAssertEqual(dec.info.width, 175, name)
            XCTAssertEqual(dec.info.height, 97, name)
            XCTAssertEqual(try probe(path: path), dec.info, name)
        }
    }

    func testInfoFieldsAndProbe() throws {
        let dir = try TempDir.make("media", for: self)
        let mp4 = try Oracle.clip(dir, "a.mp4", rate: 30, frames: 60, ["-c:v", "libx264", "-pix_fmt", "yuv420p"])
        let info = try VideoDecoder(path: mp4).info
        XCTAssertEqual(info.path, mp4)
        XCTAssertEqual(info.codec, "h264")
        XCTAssertEqual(info.frameCount, 60)
        XCTAssertEqual(info.fps, 30, accuracy: 1e-9)
        XCTAssertEqual(info.duration, 2.0, accuracy: 0.05)
        XCTAssertEqual(info.width, 176)
        XCTAssertEqual(info.height, 144)
        XCTAssertEqual(try probe(path: mp4), info)

        // webm stores no frame count: probe estimates it, the decoder counts packets exactly.
        let webm = try Oracle.clip(dir, "b.webm", frames: 37, ["-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8"])
        let dec = try VideoDecoder(path: webm)
        XCTAssertEqual(dec.info.codec, "vp9")
        XCTAssertEqual(dec.info.frameCount, 37)
        XCTAssertEqual(dec.info.fps, 25, accuracy: 1e-9)
        XCTAssertEqual(try probe(path: webm).frameCount, 37, accuracy: 2)
        XCTAssertEqual(try dec.decodeAll(toRGB: false), 37)
    }

    func testSeekingGivesSameBytesAsSequentialDecoding() throws {
        let dir = try TempDir.make("media", for: self)
        let clips = [
            try Oracle.clip(dir, "g12.mp4", frames: 75, ["-c:v", "libx264", "-g", "12", "-bf", "3", "-pix_fmt", "yuv420p"]),
            try Oracle.clip(dir, "g10.webm", frames: 60, ["-c:v", "libvpx-vp9", "-g", "10", "-deadline", "realtime", "-cpu-used", "8"]),
            try Oracle.clip(dir, "g8.mkv", frames: 60, ["-c:v", "libx264", "-g", "8", "-pix_fmt", "yuv420p"]),
        ]
        for path in clips {
            let sequential = try VideoDecoder(path: path).frames(at: Array(0..<VideoDecoder(path: path).info.frameCount))
            let expected = try Oracle.frameMD5s(path)
            XCTAssertEqual(sequential.map { Oracle.md5($0.pixels) }, expected, path)
            for threads in [1, 2] {
                let dec = try VideoDecoder(path: path, threads: threads)
                let n = dec.info.frameCount
                let requests = [[n - 3], [2, 5], [n / 2, n / 2 + 1, n - 1], [1], [n - 20, 40, 0, n - 20]]
                for req in requests {
                    let got = try dec.frames(at: req)
                    for (j, i) in req.enumerated() {
                        XCTAssertEqual(got[j], sequential[i], "\(path) frame \(i) threads \(threads) after request \(req)")
                    }
                }
                XCTAssertGreaterThan(dec.stats.seeks, 0, "\(path): the sparse requests should have seeked")
                XCTAssertLessThan(dec.stats.framesDecoded, 3 * n, "\(path): seeking should bound the work")
            }
        }
    }

    func testFarRequestDecodesOnlyFromThePreviousKeyframe() throws {
        let dir = try TempDir.make("media", for: self)
        let path = try Oracle.clip(dir, "g12.mp4", frames: 100, ["-c:v", "libx264", "-g", "12", "-keyint_min", "12",
                                                                  "-sc_threshold", "0", "-bf", "0", "-pix_fmt", "yuv420p"])
        let dec = try VideoDecoder(path: path)
        let one = try dec.frames(at: [90])
        XCTAssertEqual(Oracle.md5(one[0].pixels), try Oracle.frameMD5s(path)[90])
        XCTAssertEqual(dec.stats.seeks, 1)
        XCTAssertEqual(dec.stats.framesConverted, 1)
        XCTAssertLessThanOrEqual(dec.stats.framesDecoded, 12, "keyframes every 12: frame 90 needs frames 84...90")
    }

    func testNearRequestsDecodeSequentiallyAndConvertOnlyWhatIsAsked() throws {
        let dir = try TempDir.make("media", for: self)
        let path = try Oracle.clip(dir, "a.mp4", frames: 40, ["-c:v", "libx264", "-pix_fmt", "yuv420p"])
        let dec = try VideoDecoder(path: path)
        let frames = try dec.frames(at: [6, 2, 6, 4])
        let expected = try Oracle.frameMD5s(path)
        XCTAssertEqual(frames.map { Oracle.md5($0.pixels) }, [expected[6], expected[2], expected[6], expected[4]])
        XCTAssertEqual(dec.stats.framesConverted, 3)
        XCTAssertEqual(dec.stats.framesDecoded, 7)
        XCTAssertEqual(dec.stats.seeks + dec.stats.rewinds, 0)
        var seen: [Int] = []
        try dec.decode(indices: [9, 8, 9]) { i, view in
            seen.append(i)
            XCTAssertEqual(view.stride, 176 * 3)
            XCTAssertEqual(Oracle.md5(Array(view.pixels)), expected[i])
        }
        XCTAssertEqual(seen, [8, 9])
        XCTAssertEqual(dec.stats.framesDecoded, 10)
    }

    func testBackwardRequestWithoutTimestampsRewinds() throws {
        // Raw H.264 elementary streams carry no pts: the decoder must reopen to go back.
        let dir = try TempDir.make("media", for: self)
        let path = try Oracle.clip(dir, "raw.h264", frames: 30, ["-c:v", "libx264", "-pix_fmt", "yuv420p", "-f", "h264"])
        let expected = try Oracle.frameMD5s(path)
        let dec = try VideoDecoder(path: path)
        XCTAssertEqual(dec.info.frameCount, expected.count)
        let got = try dec.frames(at: [25])
        let back = try dec.frames(at: [3])
        XCTAssertEqual(Oracle.md5(got[0].pixels), expected[25])
        XCTAssertEqual(Oracle.md5(back[0].pixels), expected[3])
        XCTAssertGreaterThanOrEqual(dec.stats.rewinds, 1)
    }

    func testPTSTableLookups() {
        let t = PTSTable(pts: [0, 512, 1024, 1536, 2048, 2560], keyframes: [0, 3])
        XCTAssertEqual(t.index(of: 1536), 3)
        XCTAssertEqual(t.index(of: 0), 0)
        XCTAssertEqual(t.index(of: 2560), 5)
        XCTAssertNil(t.index(of: 100))
        XCTAssertNil(t.index(of: 3000))
        XCTAssertEqual(t.keyframe(atOrBefore: 2), 0)
        XCTAssertEqual(t.keyframe(atOrBefore: 3), 3)
        XCTAssertEqual(t.keyframe(atOrBefore: 5), 3)
        XCTAssertNil(PTSTable(pts: [10, 20], keyframes: [1]).keyframe(atOrBefore: 0))
    }

    func testOutOfRangeIndexIsAClearError() throws {
        let dir = try TempDir.make("media", for: self)
        let path = try Oracle.clip(dir, "a.mp4", frames: 10, ["-c:v", "libx264", "-pix_fmt", "yuv420p"])
        XCTAssertThrowsError(try VideoDecoder(path: path).frames(at: [10])) { e in
            XCTAssertTrue("\(e)".contains("out of range 0..<10"), "\(e)")
            XCTAssertEqual((e as? MediaError)?.path, path)
        }
    }
}
