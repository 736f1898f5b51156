// End-to-end tests of `vqa-mpi synth` (they spawn the release binary; see CLITests.swift).

import XCTest
import Foundation
import TestSupport

final class SynthCLITests: XCTestCase {
    private func read(_ dir: String, _ file: String) throws -> String {
        try String(contentsOfFile: dir + "/" + file, encoding: .utf8)
    }

    private let tiny = ["--videos", "5", "--width", "64", "--height", "48", "--frames", "8", "--fps", "16", "--threads", "2"]

    func testSynthWritesASetAndReportsItAsJSON() throws {
        let out = try TempDir.newPath("synth-cli-json", for: self).path
        let r = try CLI.vqa(["synth", "--out", out, "--seed", "3", "--test-fraction", "0.4", "--json"] + tiny)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertFalse(r.stderr.contains("libx264"), "encoder chatter on stderr: \(r.stderr)")
        let obj = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]
        XCTAssertEqual(obj?["videos"] as? Int, 5)
        XCTAssertEqual(obj?["train"] as? Int, 3)
        XCTAssertEqual(obj?["test"] as? Int, 2)
        XCTAssertEqual(obj?["codec"] as? String, "h264")
        XCTAssertEqual(obj?["profile"] as? String, "default")
        let train = try read(out, "labels_train.txt").split(separator: "\n")
        let test = try read(out, "labels_test.txt").split(separator: "\n")
        XCTAssertEqual(train.count, 3); XCTAssertEqual(test.count, 2)
        for line in train + test {
            let f = line.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            XCTAssertEqual(f.count, 4, String(line))
            XCTAssertTrue(FileManager.default.fileExists(atPath: out + "/" + f[0]), f[0])
            XCTAssertEqual(f[1], "0.5"); XCTAssertEqual(f[2], "16.0")
            XCTAssertTrue((1...5).contains(Double(f[3]) ?? 0), String(line))
        }
        XCTAssertEqual(try read(out, "distortions.csv").split(separator: "\n").count, 6)
    }

    func testSameSeedSameLabelsAndOtherSeedOrProfileDiffers() throws {
        let a = try TempDir.newPath("synth-cli-a", for: self).path, b = try TempDir.newPath("synth-cli-b", for: self).path, c = try TempDir.newPath("synth-cli-c", for: self).path, d = try TempDir.newPath("synth-cli-d", for: self).path
        for (dir, extra) in [(a, ["--seed", "8"]), (b, ["--seed", "8", "--threads", "1"]), (c, ["--seed", "9"]),
                             (d, ["--seed", "8", "--profile", "shifted"])] {
            let r = try CLI.vqa(["synth", "--out", dir] + tiny + extra)
            XCTAssertEqual(r.status, 0, r.stderr)
        }
        for f in ["labels_train.txt", "labels_test.txt", "distortions.csv", "videos/00000.mp4", "videos/00004.mp4"] {
            XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: a + "/" + f)), try Data(contentsOf: URL(fileURLWithPath: b + "/" + f)), f)
        }
        XCTAssertNotEqual(try read(a, "distortions.csv"), try read(c, "distortions.csv"))
        let shifted = try read(d, "distortions.csv")
        XCTAssertNotEqual(try read(a, "distortions.csv"), shifted)
        XCTAssertFalse(shifted.contains(",shapes,") || shifted.contains(",foliage,") || shifted.contains(",text,"), shifted)
    }

    func testBadArgumentsAreRejectedWithClearMessages() throws {
        let out = try TempDir.newPath("synth-cli-bad", for: self).path
        let cases: [([String], String)] = [
            (["--profile", "konvid"], "valid profiles: default, shifted, images"),
            (["--videos", "0"], "--videos must be at least 1"),
            (["--width", "65"], "even number of pixels"),
            (["--test-fraction", "1.5"], "--test-fraction must be in [0, 1)"),
            (["--fps", "0"], "--fps must be in 1...240"),
            (["--profile", "images", "--frames", "5"], "--frames must be 1"),
            (["--codec", "vp9"], "valid codecs: h264, mpeg4"),
            (["--contents", "foliage,trees"], "valid: shapes, foliage, landscape, text, faces, ripples"),
        ]
        for (args, expected) in cases {
            let r = try CLI.vqa(["synth", "--out", out] + args)
            XCTAssertNotEqual(r.status, 0, args.joined(separator: " "))
            XCTAssertTrue(r.stderr.contains(expected), "\(args): \(r.stderr)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: out), "a rejected run must not create the output directory")
        let r = try CLI.vqa(["synth", "--out", "/dev/null/set"] + tiny)
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("/dev/null/set: cannot create the output directory"), r.stderr)
    }

    func testHelpDocumentsTheMOSModel() throws {
        let r = try CLI.vqa(["synth", "--help"])
        XCTAssertEqual(r.status, 0)
        let text = r.stdout.replacingOccurrences(of: "\n", with: " ").split(separator: " ").joined(separator: " ")
        XCTAssertTrue(text.contains("1 + 4·exp(−Σ w·level^p)"), r.stdout)
        XCTAssertTrue(text.contains("N(0, 0.1²)"), r.stdout)
        XCTAssertTrue(text.contains("--profile"), r.stdout)
    }
}
