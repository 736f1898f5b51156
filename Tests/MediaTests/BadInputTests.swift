// Bad input never crashes: each kind becomes a MediaError naming the file, with a specific reason.

import Foundation
import XCTest
@testable import Media
import TestSupport

final class BadInputTests: XCTestCase {
    /// Asserts that `body` throws a MediaError for `path` whose reason contains every fragment.
    private func assertMediaError<T>(_ path: String, _ fragments: [String], file: StaticString = #filePath, line: UInt = #line,
                                     _ body: () throws -> T) {
        XCTAssertThrowsError(try body(), file: file, line: line) { e in
            guard let m = e as? MediaError else { return XCTFail("not a MediaError: \(e)", file: file, line: line) }
            XCTAssertEqual(m.path, path, file: file, line: line)
            for f in fragments {
                XCTAssertTrue(m.reason.contains(f), "reason '\(m.reason)' lacks '\(f)'", file: file, line: line)
            }
        }
    }

    private func write(_ dir: URL, _ name: String, _ bytes: [UInt8]) throws -> String {
        let url = dir.appendingPathComponent(name)
        try Data(bytes).write(to: url)
        return url.path
    }

    func testMissingEmptyDirectoryAndTextFiles() throws {
        let dir = try TempDir.make("media", for: self)
        let missing = dir.appendingPathComponent("nope.mp4").path
        assertMediaError(missing, ["file not found"]) { try VideoDecoder(path: missing) }
        assertMediaError(missing, ["file not found"]) { try probe(path: missing) }
        let empty = try write(dir, "empty.mp4", [])
        assertMediaError(empty, ["empty (0 bytes)"]) { try VideoDecoder(path: empty) }
        assertMediaError(dir.path, ["directory"]) { try VideoDecoder(path: dir.path) }
        let text = try write(dir, "notes.mp4", Array("this is a text file, not a video\n".utf8))
        assertMediaError(text, ["opening", "not a recognised video or image file"]) { try VideoDecoder(path: text) }
        assertMediaError(text, ["not a recognised"]) { try probe(path: text) }
    }

    func testAudioOnlyFileHasNoVideoStream() throws {
        let dir = try TempDir.make("media", for: self)
        let path = dir.appendingPathComponent("tone.m4a").path
        try FFmpeg.run(["-f", "lavfi", "-i", "sine=duration=1", "-c:a", "aac", path])
        assertMediaError(path, ["no video stream", "audio (aac)"]) { try VideoDecoder(path: path) }
        assertMediaError(path, ["no video stream"]) { try probe(path: path) }
    }

    func testUnknownCodecIsUnsupported() throws {
        // An AVI whose fourcc no FFmpeg decoder knows.
        let dir = try TempDir.make("media", for: self)
        let good = try Oracle.clip(dir, "m.avi", frames: 5, ["-c:v", "mpeg4"])
        let data = try Data(contentsOf: URL(fileURLWithPath: good))
        let patched = Array(data).replacing(Array("FMP4".utf8), with: Array("ZZZZ".utf8))
        XCTAssertNotEqual(patched, Array(data), "the fourcc should have been patched")
        let path = try write(dir, "unknown.avi", patched)
        assertMediaError(path, ["unsupported codec", "fourcc ZZZZ", "re-encode"]) { try VideoDecoder(path: path) }
    }

    func testDimensionsAboveMaxPixelsAreRefused() throws {
        let dir = try TempDir.make("media", for: self)
        let path = try Oracle.clip(dir, "a.mp4", frames: 3, ["-c:v", "libx264", "-pix_fmt", "yuv420p"])
        assertMediaError(path, ["176x144", "exceeds the limit of 10000 pixels"]) { try VideoDecoder(path: path, maxPixels: 10_000) }
        XCTAssertNoThrow(try VideoDecoder(path: path, maxPixels: 176 * 144))
    }

    func testAbsurdImageHeaderIsRefusedWithoutDecodingIt() throws {
        // A 64x48 PNG whose IHDR claims 9000x9000 (CRC fixed): refused by size, not decoded.
        let dir = try TempDir.make("media", for: self)
        let png = try Oracle.clip(dir, "s.png", size: "64x48", frames: 1, ["-update", "1"])
        var bytes = Array(try Data(contentsOf: URL(fileURLWithPath: png)))
        for (k, v) in [UInt32(9000), 9000].enumerated() {
            for j in 0..<4 { bytes[16 + 4 * k + j] = UInt8(truncatingIfNeeded: v >> (8 * UInt32(3 - j))) }
        }
        let crc = crc32(bytes[12..<29])
        for j in 0..<4 { bytes[29 + j] = UInt8(truncatingIfNeeded: crc >> (8 * UInt32(3 - j))) }
        let path = try write(dir, "huge.png", bytes)
        assertMediaError(path, ["exceed", "limit of 16777216 pixels"]) { try VideoDecoder(path: path) }
        assertMediaError(path, ["exceed", "limit of 16777216 pixels"]) { try probe(path: path) }
    }

    /// CRC-32 (IEEE, as in PNG chunks).
    private func crc32(_ data: ArraySlice<UInt8>) -> UInt32 {
        var c: UInt32 = 0xFFFF_FFFF
        for b in data {
            c ^= UInt32(b)
            for _ in 0..<8 { c = (c & 1) != 0 ? (c >> 1) ^ 0xEDB8_8320 : c >> 1 }
        }
        return ~c
    }

    func testTruncatedFiles() throws {
        let dir = try TempDir.make("media", for: self)
        // Default mp4 keeps its index (moov) at the end: cut in the middle, it cannot be opened.
        let mp4 = try Oracle.clip(dir, "a.mp4", frames: 50, ["-c:v", "libx264", "-pix_fmt", "yuv420p"])
        let bytes = Array(try Data(contentsOf: URL(fileURLWithPath: mp4)))
        let cut = try write(dir, "cut.mp4", Array(bytes.prefix(bytes.count / 2)))
        assertMediaError(cut, ["opening"]) { try VideoDecoder(path: cut) }

        // faststart puts the index first: the header still announces 50 frames, but the index points
        // past the end of the file, so it is refused when opened (as check-dataset refuses it),
        // not accepted or skipped depending on which frames an epoch samples (ReadRuleTests).
        let fast = try Oracle.clip(dir, "fast.mp4", frames: 50, ["-c:v", "libx264", "-pix_fmt", "yuv420p", "-movflags", "+faststart"])
        let fbytes = Array(try Data(contentsOf: URL(fileURLWithPath: fast)))
        let fcut = try write(dir, "fastcut.mp4", Array(fbytes.prefix(fbytes.count / 2)))
        XCTAssertEqual(try probe(path: fcut).frameCount, 50, "the header still announces 50 frames")
        assertMediaError(fcut, ["file truncated", "index lists 50 frames", "frames missing"]) { try VideoDecoder(path: fcut) }

        // Matroska cut in the middle: counted from its packets, every counted frame decodes.
        let mkv = try Oracle.clip(dir, "a.mkv", frames: 50, ["-c:v", "libx264", "-pix_fmt", "yuv420p"])
        let mbytes = Array(try Data(contentsOf: URL(fileURLWithPath: mkv)))
        let mcut = try write(dir, "cut.mkv", Array(mbytes.prefix(mbytes.count / 2)))
        let mdec = try VideoDecoder(path: mcut)
        XCTAssertLessThan(mdec.info.frameCount, 50)
        XCTAssertGreaterThan(mdec.info.frameCount, 0)
        let all = try mdec.frames(at: Array(0..<mdec.info.frameCount))
        let mexpected = try Oracle.frameMD5s(mkv)
        XCTAssertEqual(Oracle.md5(all[0].pixels), mexpected[0])
    }

    func testCorruptPacketsMidStreamAreSkippedOrReported() throws {
        let dir = try TempDir.make("media", for: self)
        let mkv = try Oracle.clip(dir, "a.mkv", frames: 60, ["-c:v", "libx264", "-g", "10", "-pix_fmt", "yuv420p"])
        var bytes = Array(try Data(contentsOf: URL(fileURLWithPath: mkv)))
        // Overwrite a stretch in the second half with garbage (deterministic pattern).
        let start = bytes.count * 3 / 5
        for j in 0..<min(3000, bytes.count - start) { bytes[start + j] = UInt8(truncatingIfNeeded: j &* 7919 &+ 13) }
        let bad = try write(dir, "bad.mkv", bytes)
        let expected = try Oracle.frameMD5s(mkv)
        let dec = try VideoDecoder(path: bad)
        // Frames before the damage are exact.
        let early = try dec.frames(at: [0, 5, 12])
        XCTAssertEqual(early.map { Oracle.md5($0.pixels) }, [expected[0], expected[5], expected[12]])
        // Every frame is either produced or refused with a MediaError naming the file: never a crash.
        var damaged = 0
        for i in 0..<dec.info.frameCount {
            do {
                let f = try dec.frames(at: [i])
                if i >= expected.count || Oracle.md5(f[0].pixels) != expected[i] { damaged += 1 }
            } catch let e as MediaError {
                damaged += 1
                XCTAssertEqual(e.path, bad)
                XCTAssertTrue(e.reason.contains("could not be decoded") || e.reason.contains("decoding"), e.reason)
            }
        }
        XCTAssertGreaterThan(damaged, 0, "the garbage should have hit video data")
        XCTAssertGreaterThan(dec.stats.skippedPackets + damaged, 0)
    }
}
