// `vqa-mpi check-dataset` and `vqa-mpi bench decode` end to end, on clips made by the ffmpeg CLI.

import Foundation
import XCTest
import TestSupport

final class CheckDatasetTests: XCTestCase {
    private var dir: URL!

    override func setUpWithError() throws {
        dir = try TempDir.make("vqa-check", for: self)
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("videos"), withIntermediateDirectories: true)
    }

    private func makeClip(_ name: String, _ size: String, frames: Int, _ codec: [String]) throws {
        try FFmpeg.run(["-f", "lavfi", "-i", "testsrc2=size=\(size):rate=25", "-frames:v", "\(frames)"] + codec
                       + [dir.appendingPathComponent("videos/\(name)").path])
    }

    /// Two good clips, one missing entry, one corrupt file (text with a video name), one truncated mp4.
    private func makeDataset() throws -> String {
        try makeClip("good.mp4", "176x144", frames: 30, ["-c:v", "libx264", "-pix_fmt", "yuv420p"])
        try makeClip("good2.webm", "128x96", frames: 20, ["-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8"])
        try Data("definitely not a video\n".utf8).write(to: dir.appendingPathComponent("videos/corrupt.mp4"))
        let good = try Data(contentsOf: dir.appendingPathComponent("videos/good.mp4"))
        try good.prefix(good.count / 2).write(to: dir.appendingPathComponent("videos/half.mp4"))
        let labels = dir.appendingPathComponent("labels.txt")
        try """
        videos/good.mp4, 1.2, 25, 3.5
        videos/missing.mp4, -1, -1, 2.0
        videos/corrupt.mp4, -1, -1, 4.1
        videos/good2.webm, -1, -1, 1.5
        videos/half.mp4, -1, -1, 2.5

        """.write(to: labels, atomically: true, encoding: .utf8)
        return labels.path
    }

    func testReportsOnlyUnreadableEntriesAndExitsOne() throws {
        let labels = try makeDataset()
        let r = try CLI.vqa(["check-dataset", "--labels", labels, "--data-root", dir.path, "--threads", "2"])
        XCTAssertEqual(r.status, 1, r.stdout + r.stderr)
        let lines = r.stdout.split(separator: "\n").map(String.init)
        func row(_ name: String) -> String? { lines.first { $0.contains("videos/\(name)") } }
        XCTAssertTrue(row("missing.mp4")?.contains("file not found") ?? false, r.stdout)
        XCTAssertTrue(row("corrupt.mp4")?.contains("not a recognised video or image file") ?? false, r.stdout)
        XCTAssertNotNil(row("half.mp4"), r.stdout)
        XCTAssertNil(row("good.mp4"), "readable entries are never reported: \(r.stdout)")
        XCTAssertNil(row("good2.webm"), "readable entries are never reported: \(r.stdout)")
        XCTAssertTrue(r.stdout.contains("entries: 5, readable: 2, unreadable: 3"), r.stdout)
        XCTAssertTrue(r.stdout.contains("176x144 ×1"), r.stdout)
        XCTAssertTrue(r.stdout.contains("h264 ×1") && r.stdout.contains("vp9 ×1"), r.stdout)
    }

    func testJSONSummary() throws {
        let labels = try makeDataset()
        let r = try CLI.vqa(["check-dataset", "--labels", labels, "--data-root", dir.path, "--json"])
        XCTAssertEqual(r.status, 1, r.stderr)
        let obj = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any], r.stdout)
        XCTAssertEqual(obj["entries"] as? Int, 5)
        XCTAssertEqual(obj["readable"] as? Int, 2)
        let bad = try XCTUnwrap(obj["unreadable"] as? [[String: String]])
        XCTAssertEqual(Set(bad.compactMap { $0["path"].map { URL(fileURLWithPath: $0).lastPathComponent } }),
                       ["missing.mp4", "corrupt.mp4", "half.mp4"])
        XCTAssertEqual(obj["resolutions"] as? [String: Int], ["176x144": 1, "128x96": 1])
        XCTAssertEqual(obj["codecs"] as? [String: Int], ["h264": 1, "vp9": 1])
        let frames = try XCTUnwrap(obj["frames"] as? [String: Int])
        XCTAssertEqual(frames["min"], 20)
        XCTAssertEqual(frames["max"], 30)
        let duration = try XCTUnwrap(obj["duration"] as? [String: Double])
        XCTAssertEqual(duration["min"] ?? 0, 0.8, accuracy: 0.05)
        XCTAssertEqual(duration["max"] ?? 0, 1.2, accuracy: 0.05)
    }

    func testAllReadableExitsZeroWithCSVHeader() throws {
        try makeClip("a.mp4", "176x144", frames: 10, ["-c:v", "libx264", "-pix_fmt", "yuv420p"])
        try makeClip("b.png", "64x48", frames: 1, ["-update", "1"])
        let labels = dir.appendingPathComponent("labels.csv")
        try "image_name,MOS\nvideos/a.mp4,3.0\nvideos/b.png,4.0\n".write(to: labels, atomically: true, encoding: .utf8)
        let r = try CLI.vqa(["check-dataset", "--labels", labels.path, "--data-root", dir.path])
        XCTAssertEqual(r.status, 0, r.stdout + r.stderr)
        XCTAssertTrue(r.stdout.contains("entries: 2, readable: 2, unreadable: 0"), r.stdout)
        XCTAssertFalse(r.stdout.contains("UNREADABLE"), r.stdout)
    }

    func testLabelErrorsNameTheLineAndCSVColumnsCanBeChosen() throws {
        try makeClip("a.mp4", "176x144", frames: 10, ["-c:v", "libx264", "-pix_fmt", "yuv420p"])
        let bad = dir.appendingPathComponent("bad.txt")
        try "videos/a.mp4, -1, -1, 3.0\nvideos/a.mp4, -1, -1, good\n".write(to: bad, atomically: true, encoding: .utf8)
        let r = try CLI.vqa(["check-dataset", "--labels", bad.path, "--data-root", dir.path])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("bad.txt") && r.stderr.contains("line 2") && r.stderr.contains("'good'"), r.stderr)

        let csv = dir.appendingPathComponent("cols.csv")
        try "clip,rating,mos\nvideos/a.mp4,3.5,oops\n".write(to: csv, atomically: true, encoding: .utf8)
        let ok = try CLI.vqa(["check-dataset", "--labels", csv.path, "--data-root", dir.path, "--format", "csv",
                              "--file-column", "clip", "--score-column", "rating"])
        XCTAssertEqual(ok.status, 0, ok.stdout + ok.stderr)
        XCTAssertTrue(ok.stdout.contains("entries: 1, readable: 1, unreadable: 0"), ok.stdout)
        // Default columns: 'mos' holds a non-number on line 2, which must be named.
        let r2 = try CLI.vqa(["check-dataset", "--labels", csv.path, "--data-root", dir.path, "--file-column", "clip"])
        XCTAssertNotEqual(r2.status, 0)
        XCTAssertTrue(r2.stderr.contains("line 2") && r2.stderr.contains("'oops'"), r2.stderr)
        let r3 = try CLI.vqa(["check-dataset", "--labels", csv.path, "--data-root", dir.path, "--format", "fastvqa"])
        XCTAssertNotEqual(r3.status, 0)
        XCTAssertTrue(r3.stderr.contains("line 1") && r3.stderr.contains("expected 4"), r3.stderr)
        let r4 = try CLI.vqa(["check-dataset", "--labels", csv.path, "--data-root", dir.path, "--format", "tsv"])
        XCTAssertNotEqual(r4.status, 0)
        XCTAssertTrue(r4.stderr.contains("fastvqa"), r4.stderr)
    }

    func testMissingLabelFileIsAClearError() throws {
        let r = try CLI.vqa(["check-dataset", "--labels", dir.appendingPathComponent("none.txt").path, "--data-root", dir.path])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("none.txt") && r.stderr.contains("--labels"), r.stderr)
    }

    func testBenchDecodeReportsRatesAgainstFFmpeg() throws {
        try makeClip("a.mp4", "176x144", frames: 25, ["-c:v", "libx264", "-pix_fmt", "yuv420p"])
        let r = try CLI.vqa(["bench", "decode", "--input", dir.appendingPathComponent("videos/a.mp4").path,
                             "--threads", "1", "--repeats", "1", "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let obj = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any], r.stdout)
        XCTAssertEqual(obj["frames"] as? Int, 25)
        for key in ["decode_fps", "rgb_fps", "ffmpeg_fps", "ratio", "cpu_ratio"] {
            XCTAssertGreaterThan(obj[key] as? Double ?? 0, 0, key)
        }
        let ratio = try XCTUnwrap(obj["ratio"] as? Double), fps = try XCTUnwrap(obj["decode_fps"] as? Double)
        let ff = try XCTUnwrap(obj["ffmpeg_fps"] as? Double)
        XCTAssertEqual(ratio, fps / ff, accuracy: 1e-9 * ratio)
        for mode in ["train", "test"] {
            let sfps = try XCTUnwrap(obj["sample_fps_" + mode] as? Double, mode)
            XCTAssertGreaterThan(sfps, 0, mode)
            XCTAssertEqual(try XCTUnwrap(obj["sample_ratio_" + mode] as? Double), sfps / ff, accuracy: 1e-9 * sfps / ff)
            XCTAssertGreaterThan(obj["clip_fps_" + mode] as? Double ?? 0, 0, mode)
        }
    }
}
