// One rule for "readable": check-dataset's checkReadable and the loader (VideoDecoder + sampler)
// accept and refuse the same files; label scores that break the loss are refused with their line;
// paths and headers that cannot be opened get one line naming the cause.

import Foundation
import XCTest
@testable import Media
import TestSupport

final class ReadRuleTests: XCTestCase {
    /// A small evaluation sampler: 2×2 fragments of 8 px, 4 frames, one clip.
    var config: SamplerConfig {
        var c = SamplerConfig()
        c.fragmentsH = 2; c.fragmentsW = 2; c.fsizeH = 8; c.fsizeW = 8
        c.clipLen = 4; c.frameInterval = 1; c.trainClips = 1; c.testClips = 1
        return c
    }

    /// Validity of each entry after one epoch of the loader train/eval/score use (VideoDecoder per sample).
    func loaderAccepts(_ paths: [String], train: Bool = false) throws -> [Bool] {
        let entries = paths.enumerated().map { LabelEntry(path: $1, mos: Double($0)) }
        let loader = try Loader(entries: entries, sampler: config, rank: 0, worldSize: 1, batchSizePerRank: 1, seed: 3,
                                shuffle: false, train: train, decodeThreads: 1, maxFailureFraction: 1,
                                failures: FailureLog(sink: { _ in }), open: { try VideoDecoder(path: $0, threads: 1) })
        loader.start(epoch: 0)
        var valid = [Bool](repeating: false, count: paths.count)
        while let b = try loader.next() { for (k, i) in b.indices.enumerated() { valid[i] = b.valid[k] } }
        return valid
    }

    /// JPEGs at the sizes the issue reports (320×240 is synth --profile images' default) are readable
    /// for both; reading frame 0 a second time used to find "0 frames".
    func testJPEGsAreReadableByCheckAndLoader() throws {
        let dir = try TempDir.make("media", for: self)
        var paths: [String] = []
        for size in ["64x48", "320x240", "1024x768"] {
            paths.append(try Oracle.clip(dir, "img-\(size).jpg", size: size, frames: 1, ["-update", "1"]))
        }
        for p in paths {
            let info = try checkReadable(path: p)
            XCTAssertEqual(info.frameCount, 1, p)
            XCTAssertEqual(info.codec, "mjpeg")
            let d = try VideoDecoder(path: p)
            XCTAssertEqual(try d.frames(at: [0]).count, 1)
            XCTAssertEqual(try d.frames(at: [0]).count, 1, "frame 0 again (going back on a still image): \(p)")
        }
        XCTAssertEqual(try loaderAccepts(paths), [true, true, true])
    }

    /// An mp4 with its index at the front (faststart), cut at 50 %: the header still announces 96
    /// frames. check-dataset accepted it (48 frames) while the loader skipped it every epoch; now
    /// both refuse it, and both accept the whole file.
    func testTruncatedFaststartMP4IsRefusedByBoth() throws {
        let dir = try TempDir.make("media", for: self)
        let whole = try Oracle.clip(dir, "whole.mp4", rate: 24, frames: 96,
                                    ["-c:v", "libx264", "-pix_fmt", "yuv420p", "-g", "12", "-movflags", "+faststart"])
        let bytes = try Data(contentsOf: URL(fileURLWithPath: whole))
        let half = dir.appendingPathComponent("half.mp4").path
        try bytes.prefix(bytes.count / 2).write(to: URL(fileURLWithPath: half))
        XCTAssertEqual(try checkReadable(path: whole).frameCount, 96)
        XCTAssertEqual(try probe(path: half).frameCount, 96, "the index at the front still announces every frame")
        for open in [{ _ = try checkReadable(path: half) }, { _ = try VideoDecoder(path: half) }] {
            XCTAssertThrowsError(try open()) { e in
                let m = e as? MediaError
                XCTAssertEqual(m?.path, half)
                XCTAssertTrue(m?.reason.contains("file truncated") ?? false, "\(e)")
            }
        }
        XCTAssertEqual(try loaderAccepts([whole, half]), [true, false])
        XCTAssertEqual(try loaderAccepts([whole, half], train: true), [true, false])
    }

    /// A reader whose stream ends one frame before its header says.
    final class ShortByOne: FrameReader {
        var info = VideoInfo(path: "short.mp4", frameCount: 50, fps: 25, duration: 2, width: 8, height: 8, codec: "h264")
        var calls = 0
        func frames(at indices: [Int]) throws -> [RGBFrame] {
            calls += 1
            if indices.contains(where: { $0 >= 49 }) {
                if FrameCountRule.tolerates(produced: 49, announced: info.frameCount) { info.frameCount = 49 }
                throw MediaError(info.path, "the video ends after 49 frames although the header announced 50")
            }
            return indices.map { _ in RGBFrame(width: 8, height: 8, pixels: [UInt8](repeating: 0, count: 192)) }
        }
    }

    /// A frame or two short is a header off by one: the count is corrected and the read repeated;
    /// half the frames missing is a truncated file.
    func testFrameCountRule() throws {
        XCTAssertTrue(FrameCountRule.tolerates(produced: 49, announced: 50))
        XCTAssertTrue(FrameCountRule.tolerates(produced: 98, announced: 100))
        XCTAssertTrue(FrameCountRule.tolerates(produced: 490, announced: 500))
        XCTAssertFalse(FrameCountRule.tolerates(produced: 48, announced: 96))
        XCTAssertFalse(FrameCountRule.tolerates(produced: 0, announced: 2))
        XCTAssertFalse(FrameCountRule.tolerates(produced: 96, announced: 96))
        let r = ShortByOne()
        let got = try withFrameCountCorrection(r) { try r.frames(at: [0, r.info.frameCount - 1]).count }
        XCTAssertEqual(got, 2)
        XCTAssertEqual(r.info.frameCount, 49)
        XCTAssertEqual(r.calls, 2)
    }

    /// MOS that overflow the Float loss are refused with their line; constant MOS are refused for training.
    func testScoresThatBreakTheLossAreRefused() throws {
        for bad in ["1e308", "-2e7"] {
            XCTAssertThrowsError(try Labels.parse(text: "a.mp4, -1, -1, 3.0\nb.mp4, -1, -1, \(bad)\n", source: "l.txt")) { e in
                XCTAssertTrue("\(e)".contains("line 2") && "\(e)".contains(bad), "\(e)")
            }
            XCTAssertThrowsError(try Labels.parse(text: "name,mos\na.mp4,3\n\nb.mp4,\(bad)\n", source: "l.csv")) { e in
                XCTAssertTrue("\(e)".contains("line 4"), "\(e)")
            }
        }
        XCTAssertEqual(try Labels.parse(text: "a.mp4, -1, -1, 1e6\nb.mp4, -1, -1, 0\n", source: "l.txt").count, 2)
        let same = try Labels.parse(text: "a.mp4, -1, -1, 3.5\nb.mp4, -1, -1, 3.5\n", source: "l.txt")
        XCTAssertThrowsError(try Labels.requireVariance(same, source: "l.txt")) { e in
            XCTAssertTrue("\(e)".contains("labels have no variance; PLCC/rank loss are undefined"), "\(e)")
            XCTAssertTrue("\(e)".hasPrefix("l.txt: "), "\(e)")
        }
        XCTAssertNoThrow(try Labels.requireVariance(same + [LabelEntry(path: "c.mp4", mos: 3.6)], source: "l.txt"))
    }

    /// A symbolic-link loop, a dangling link, and a y4m whose header declares 100000×100000: one line
    /// each naming the path and the cause (was "no such file" / "Device or resource busy").
    func testPathAndHeaderMessages() throws {
        let dir = try TempDir.make("media", for: self)
        let a = dir.appendingPathComponent("loop-a.mp4").path, b = dir.appendingPathComponent("loop-b.mp4").path
        try FileManager.default.createSymbolicLink(atPath: a, withDestinationPath: b)
        try FileManager.default.createSymbolicLink(atPath: b, withDestinationPath: a)
        XCTAssertThrowsError(try VideoDecoder(path: a)) { e in
            XCTAssertEqual((e as? MediaError)?.path, a)
            XCTAssertTrue("\(e)".contains("symbolic link loop"), "\(e)")
        }
        XCTAssertEqual(pathProblem(a)?.hasPrefix(a + ": symbolic link loop"), true)
        let dangling = dir.appendingPathComponent("dangling.mp4").path
        try FileManager.default.createSymbolicLink(atPath: dangling, withDestinationPath: dir.appendingPathComponent("gone.mp4").path)
        XCTAssertTrue(pathProblem(dangling)?.contains("dangling symbolic link") ?? false, pathProblem(dangling) ?? "nil")
        XCTAssertNil(pathProblem(dir.path))

        let y4m = dir.appendingPathComponent("huge.y4m")
        var bytes = Data("YUV4MPEG2 W100000 H100000 F25:1 Ip A1:1 C420jpeg\n".utf8)
        bytes.append(Data("FRAME\n".utf8)); bytes.append(Data(count: 64 * 48 * 3 / 2))
        try bytes.write(to: y4m)
        XCTAssertThrowsError(try checkReadable(path: y4m.path)) { e in
            let text = "\(e)"
            XCTAssertTrue(text.hasPrefix(y4m.path + ": "), text)
            XCTAssertTrue(text.contains("rejected the file's header") && text.contains("absurd frame size"), text)
            XCTAssertFalse(text.contains("\n"), text)
        }
    }
}
