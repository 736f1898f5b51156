// check-dataset agrees with the loader (JPEGs, a truncated faststart mp4), refuses labels that
// break training, shards its work under mpirun; score with nothing readable fails.

import Foundation
import XCTest
import TestSupport

final class CheckDatasetInputTests: XCTestCase {
    private var dir: URL!

    override func setUpWithError() throws {
        dir = try TempDir.make("vqa-check-in", for: self)
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("videos"), withIntermediateDirectories: true)
    }

    private func writeLabels(_ text: String, _ name: String = "labels.txt") throws -> String {
        let url = dir.appendingPathComponent(name)
        try text.write(to: url, atomically: true, encoding: .utf8)
        return url.path
    }

    /// `synth --profile images` at its default size (384×288 JPEGs) passes check-dataset, as it
    /// passes training (it reported "frame 0 could not be decoded … ends after 0 frames").
    func testSynthImagesPassCheckDataset() throws {
        let out = dir.appendingPathComponent("syn").path
        let s = try CLI.vqa(["synth", "--out", out, "--videos", "4", "--profile", "images", "--threads", "2"])
        XCTAssertEqual(s.status, 0, s.stderr)
        let r = try CLI.vqa(["check-dataset", "--labels", out + "/labels.txt", "--data-root", out, "--json"])
        XCTAssertEqual(r.status, 0, r.stdout + r.stderr)
        let obj = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any], r.stdout)
        XCTAssertEqual(obj["readable"] as? Int, 4)
        XCTAssertEqual(obj["codecs"] as? [String: Int], ["mjpeg": 4])
        let sizes = try XCTUnwrap(obj["resolutions"] as? [String: Int])
        XCTAssertEqual(Array(sizes.values), [4], "one default size: \(sizes)")
        XCTAssertNotEqual(sizes.keys.first, "64x48", "the default size, larger than the one JPEG size that passed before")
    }

    /// A faststart mp4 cut at 50 % was "readable (48 frames)" here and skipped by training every
    /// epoch; now check-dataset refuses it, naming the cause.
    func testTruncatedFaststartMP4IsUnreadable() throws {
        let whole = dir.appendingPathComponent("videos/whole.mp4").path
        try FFmpeg.run(["-f", "lavfi", "-i", "testsrc2=size=176x144:rate=24", "-frames:v", "96", "-c:v", "libx264",
                    "-pix_fmt", "yuv420p", "-movflags", "+faststart", whole])
        let bytes = try Data(contentsOf: URL(fileURLWithPath: whole))
        try bytes.prefix(bytes.count / 2).write(to: dir.appendingPathComponent("videos/half.mp4"))
        let labels = try writeLabels("videos/whole.mp4, -1, -1, 3.0\nvideos/half.mp4, -1, -1, 4.0\n")
        let r = try CLI.vqa(["check-dataset", "--labels", labels, "--data-root", dir.path])
        XCTAssertEqual(r.status, 1, r.stdout + r.stderr)
        let row = r.stdout.split(separator: "\n").first { $0.contains("videos/half.mp4") }
        XCTAssertTrue(row?.contains("file truncated") ?? false, r.stdout)
        XCTAssertTrue(r.stdout.contains("entries: 2, readable: 1, unreadable: 1"), r.stdout)
    }

    /// Constant and overflowing scores are refused before any file is opened.
    func testUnusableScoresAreRefused() throws {
        try FFmpeg.run(["-f", "lavfi", "-i", "testsrc2=size=64x48:rate=8", "-frames:v", "4", "-c:v", "libx264",
                    "-pix_fmt", "yuv420p", dir.appendingPathComponent("videos/a.mp4").path])
        let same = try writeLabels("videos/a.mp4, -1, -1, 3.5\nvideos/a.mp4, -1, -1, 3.5\n", "same.txt")
        let r = try CLI.vqa(["check-dataset", "--labels", same, "--data-root", dir.path])
        XCTAssertEqual(r.status, 1, r.stdout + r.stderr)
        XCTAssertTrue(r.stderr.contains("labels have no variance; PLCC/rank loss are undefined"), r.stderr)
        let huge = try writeLabels("videos/a.mp4, -1, -1, 3.5\nvideos/a.mp4, -1, -1, 1e308\n", "huge.txt")
        let h = try CLI.vqa(["check-dataset", "--labels", huge, "--data-root", dir.path])
        XCTAssertEqual(h.status, 1, h.stdout + h.stderr)
        XCTAssertTrue(h.stderr.contains(huge) && h.stderr.contains("line 2") && h.stderr.contains("1e308"), h.stderr)
    }

    /// Under mpirun each rank checks its share and rank 0 alone prints one merged report.
    func testShardsUnderMPIRun() throws {
        _ = try requireTool("mpirun")
        var lines = ""
        for i in 0..<5 {
            let name = "videos/v\(i).mp4"
            try FFmpeg.run(["-f", "lavfi", "-i", "testsrc2=size=64x48:rate=8", "-frames:v", "\(4 + i)", "-c:v", "libx264",
                        "-pix_fmt", "yuv420p", dir.appendingPathComponent(name).path])
            lines += "\(name), -1, -1, \(Double(i) + 1)\n"
        }
        lines += "videos/missing.mp4, -1, -1, 2.5\n"
        let labels = try writeLabels(lines)
        let r = try MPIRun.vqa(2, ["check-dataset", "--labels", labels, "--data-root", dir.path, "--json"])
        XCTAssertNotEqual(r.status, 0, r.stdout + r.stderr)
        let obj = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any],
                                "one JSON object from rank 0 alone: \(r.stdout)")
        XCTAssertEqual(obj["entries"] as? Int, 6)
        XCTAssertEqual(obj["readable"] as? Int, 5)
        XCTAssertEqual(obj["checked_per_rank"] as? [Int], [3, 3])
        let bad = try XCTUnwrap(obj["unreadable"] as? [[String: String]])
        XCTAssertEqual(bad.count, 1)
        XCTAssertEqual(bad.first?["path"].map { URL(fileURLWithPath: $0).lastPathComponent }, "missing.mp4")
        let frames = try XCTUnwrap(obj["frames"] as? [String: Int])
        XCTAssertEqual(frames["min"], 4); XCTAssertEqual(frames["max"], 8)
    }

    /// score whose every input is unreadable printed a CSV header and exited 0.
    func testScoreWithNothingReadableFails() throws {
        let ck = FaultTests.good
        XCTAssertTrue(FileManager.default.fileExists(atPath: ck))
        let a = dir.appendingPathComponent("videos/a.mp4").path, b = dir.appendingPathComponent("videos/b.mp4").path
        try Data("not a video".utf8).write(to: URL(fileURLWithPath: a))
        try Data("nor this".utf8).write(to: URL(fileURLWithPath: b))
        let r = try CLI.vqa(["score", "--checkpoint", ck, a, b])
        XCTAssertEqual(r.status, 1, r.stdout + r.stderr)
        XCTAssertFalse(r.stdout.contains("path,score,raw"), r.stdout)
        XCTAssertTrue(r.stderr.contains("none of the 2 input file(s) could be read"), r.stderr)
        // A symbolic-link loop is named as such, not "no such file".
        let loop = dir.appendingPathComponent("loop.mp4").path
        try FileManager.default.createSymbolicLink(atPath: loop, withDestinationPath: loop)
        let l = try CLI.vqa(["score", "--checkpoint", ck, loop])
        XCTAssertNotEqual(l.status, 0)
        XCTAssertTrue(l.stderr.contains(loop + ": symbolic link loop"), l.stderr)
    }
}
