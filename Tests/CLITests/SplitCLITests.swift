// `vqa-mpi split` round trips on a synthetic versioned set (12 videos, 4 scenes × 3 versions):
// union = input, the sides are disjoint, a seed gives the same files, split 1 of K equals the K = 1
// split, and with a scene grouping (synth's distortions.csv) no scene straddles the split.
// Also check-dataset's label/file agreement warning and its --data-root rule.

import Foundation
import XCTest
import TestSupport

final class SplitCLITests: XCTestCase {
    /// A synthetic set of 12 one-second videos in 4 scenes (3 versions each).
    static let data: String = {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("split-cli-\(getpid())").path
        _ = try? CLI.vqa(["synth", "--out", dir + "/syn", "--videos", "12", "--versions", "3", "--width", "64", "--height", "48",
                          "--frames", "8", "--fps", "8", "--threads", "2"])
        return dir
    }()

    private var syn: String { Self.data + "/syn" }

    /// (path, MOS) pairs of a FAST-VQA label file, in file order.
    private func entries(_ path: String) throws -> [String] {
        try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map { line in
            let f = line.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            return "\(f[0])|\(Double(f[3])!)"
        }
    }

    private func split(_ out: String, _ extra: [String]) throws -> ProcessResult {
        try CLI.vqa(["split", "--labels", syn + "/labels.txt", "--out", Self.data + "/" + out] + extra)
    }

    /// scene of each video file, from synth's distortions.csv (file, split, scene, ...).
    private func scenes() throws -> [String: String] {
        var out: [String: String] = [:]
        for line in try String(contentsOfFile: syn + "/distortions.csv", encoding: .utf8).split(separator: "\n").dropFirst() {
            let f = line.split(separator: ",").map(String.init)
            out[f[0]] = f[2]
        }
        return out
    }

    func testSplitRoundTripsAndIsSeeded() throws {
        let all = try entries(syn + "/labels.txt")
        XCTAssertEqual(all.count, 12)
        let r = try split("one", ["--ratio", "0.75", "--seed", "3"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let train = try entries(Self.data + "/one/labels_train.txt"), test = try entries(Self.data + "/one/labels_test.txt")
        XCTAssertEqual(train.count, 9, "⌊0.75 · 12⌋ entries train")
        XCTAssertTrue(Set(train).isDisjoint(with: test))
        XCTAssertEqual(Set(train + test), Set(all), "the union is the input")
        XCTAssertEqual(train, all.filter(train.contains), "each side keeps the input order")

        let again = try split("again", ["--ratio", "0.75", "--seed", "3"])
        XCTAssertEqual(again.status, 0, again.stderr)
        for f in ["labels_train.txt", "labels_test.txt"] {
            XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: "\(Self.data)/again/\(f)")),
                           try Data(contentsOf: URL(fileURLWithPath: "\(Self.data)/one/\(f)")), "\(f): the same seed gives the same file")
        }
        XCTAssertEqual(try split("other", ["--ratio", "0.75", "--seed", "4"]).status, 0)
        XCTAssertNotEqual(Set(try entries(Self.data + "/other/labels_test.txt")), Set(test), "another seed, another split")

        let k = try split("k", ["--ratio", "0.75", "--seed", "3", "--repeats", "3"])
        XCTAssertEqual(k.status, 0, k.stderr)
        var tests: [Set<String>] = []
        for i in 1...3 {
            let d = Self.data + String(format: "/k/split-%02d", i)
            let tr = try entries(d + "/labels_train.txt"), te = try entries(d + "/labels_test.txt")
            XCTAssertEqual(Set(tr + te), Set(all)); XCTAssertTrue(Set(tr).isDisjoint(with: te))
            tests.append(Set(te))
        }
        XCTAssertEqual(tests[0], Set(test), "split 1 of K is the single split of the same seed")
        XCTAssertGreaterThan(Set(tests).count, 1, "the K splits differ")

        let bad = try split("bad", ["--ratio", "1.5"])
        XCTAssertEqual(bad.status, 64, bad.stderr)
        XCTAssertTrue(bad.stderr.contains("--ratio must be strictly between 0 and 1"), bad.stderr)
    }

    func testGroupedSplitKeepsEveryScenesVersionsTogether() throws {
        let scene = try scenes()
        XCTAssertEqual(Set(scene.values).count, 4, "\(scene)")
        for seed in 0..<5 {
            let out = "grouped-\(seed)"
            let r = try split(out, ["--ratio", "0.75", "--seed", "\(seed)", "--group-column", "scene", "--groups", syn + "/distortions.csv", "--repeats", "2"])
            XCTAssertEqual(r.status, 0, r.stderr)
            XCTAssertTrue(r.stdout.contains("over 4 groups"), r.stdout)
            for i in 1...2 {
                let d = Self.data + "/\(out)" + String(format: "/split-%02d", i)
                let tr = try entries(d + "/labels_train.txt").map { String($0.split(separator: "|")[0]) }
                let te = try entries(d + "/labels_test.txt").map { String($0.split(separator: "|")[0]) }
                XCTAssertEqual(tr.count + te.count, 12)
                let trainScenes = Set(tr.map { scene[$0]! }), testScenes = Set(te.map { scene[$0]! })
                XCTAssertTrue(trainScenes.isDisjoint(with: testScenes), "seed \(seed) split \(i): a scene straddles the split")
                XCTAssertEqual(trainScenes.count, 3, "⌊0.75 · 4⌋ scenes train")
            }
        }
        // The same grouping from the path: every file is its own group, so the split is the ungrouped one.
        let p = try split("pattern", ["--ratio", "0.75", "--seed", "3", "--group-pattern", "^videos/([0-9]+)\\.mp4$"])
        XCTAssertEqual(p.status, 0, p.stderr)
        let unmatched = try split("nomatch", ["--group-pattern", "^clips/(.*)$"])
        XCTAssertEqual(unmatched.status, 1, unmatched.stderr)
        XCTAssertTrue(unmatched.stderr.contains("does not match --group-pattern"), unmatched.stderr)
        let missing = try split("nocol", ["--group-column", "shot", "--groups", syn + "/distortions.csv"])
        XCTAssertEqual(missing.status, 1)
        XCTAssertTrue(missing.stderr.contains("no column 'shot'") && missing.stderr.contains("scene"), missing.stderr)
    }

    func testConfigSplitTrainsOnTheSameSideAsTheSplitCommand() throws {
        let k = try split("cfg", ["--ratio", "0.75", "--seed", "3", "--repeats", "2"])
        XCTAssertEqual(k.status, 0, k.stderr)
        func train(_ index: Int, val: String, _ extra: [String] = []) throws -> ProcessResult {
            try CLI.vqa(["train", "--train-labels", syn + "/labels.txt", "--data-root", syn, "--val-labels", Self.data + "/cfg/split-02/" + val,
                         "--set", "data.split.ratio=0.75", "--set", "data.split.seed=3", "--set", "data.split.index=\(index)",
                         "--epochs", "1", "--max-steps", "1", "--batch-size", "2", "--set", "model.options.widths=4,8,8,8",
                         "--set", "data.train.sampler.clip_len=4", "--set", "data.train.sampler.fragments_h=2", "--set", "data.train.sampler.fragments_w=2",
                         "--set", "data.train.sampler.test_clips=1", "--out", Self.data + "/cfg-run-\(index)-\(val)"] + extra)
        }
        // data.split index 2 trains on split-02's training side: all 9 of its files, none of its test files.
        let same = try train(2, val: "labels_train.txt")
        XCTAssertEqual(same.status, 1)
        XCTAssertTrue(same.stderr.contains("shares 9 file(s)"), same.stderr)
        let disjoint = try train(2, val: "labels_test.txt")
        XCTAssertEqual(disjoint.status, 0, disjoint.stderr)
        let record = try XCTUnwrap(try String(contentsOfFile: Self.data + "/cfg-run-2-labels_test.txt/metrics.jsonl", encoding: .utf8)
            .split(separator: "\n").last.flatMap { try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] })
        let val = try XCTUnwrap(record["val"] as? [String: Any])
        XCTAssertEqual(((val["split-test"] as? [String: Any])?["raw"] as? [String: Any])?["n"] as? Int, 3, "\(val)")
        let bad = try CLI.vqa(["train", "--set", "data.split.ratio=2", "--dry-run"])
        XCTAssertNotEqual(bad.status, 0)
        XCTAssertTrue(bad.stderr.contains("data.split.ratio must be in (0, 1)"), bad.stderr)
    }

    func testCheckDatasetWarnsWhenLabelsDisagreeWithTheFiles() throws {
        // synth's labels say 1 s at 8 fps, which is what the files hold: no warning.
        let good = try CLI.vqa(["check-dataset", "--labels", syn + "/labels.txt", "--data-root", syn, "--json"])
        XCTAssertEqual(good.status, 0, good.stderr)
        let obj = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(good.stdout.utf8)) as? [String: Any])
        XCTAssertEqual((obj["disagreements"] as? [Any])?.count, 0, good.stdout)
        // The labels claim 8 s at 30 fps: every entry is named, the check still passes (a warning).
        let wrong = Self.data + "/wrong.txt"
        let text = try String(contentsOfFile: syn + "/labels.txt", encoding: .utf8).split(separator: "\n").map { line -> String in
            let f = line.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            return "\(f[0]), 8, 30, \(f[3])"
        }.joined(separator: "\n") + "\n"
        try text.write(toFile: wrong, atomically: true, encoding: .utf8)
        let warned = try CLI.vqa(["check-dataset", "--labels", wrong, "--data-root", syn])
        XCTAssertEqual(warned.status, 0, warned.stderr)
        XCTAssertTrue(warned.stdout.contains("warning: 24 label value(s) disagree"), warned.stdout)
        XCTAssertTrue(warned.stdout.contains("label duration 8.000, file 1.000") && warned.stdout.contains("label fps 30.000, file 8.000"), warned.stdout)
        let tolerant = try CLI.vqa(["check-dataset", "--labels", wrong, "--data-root", syn, "--tolerance", "10", "--json"])
        XCTAssertTrue(tolerant.stdout.contains("\"disagreements\":[]"), tolerant.stdout)

        // Absolute paths need no --data-root; relative ones without it are refused with the fix.
        let absolute = Self.data + "/absolute.txt"
        try (try String(contentsOfFile: syn + "/labels.txt", encoding: .utf8)).split(separator: "\n").map { syn + "/" + $0 }
            .joined(separator: "\n").write(toFile: absolute, atomically: true, encoding: .utf8)
        let abs = try CLI.vqa(["check-dataset", "--labels", absolute])
        XCTAssertEqual(abs.status, 0, abs.stderr)
        XCTAssertTrue(abs.stdout.contains("entries: 12, readable: 12"), abs.stdout)
        let rel = try CLI.vqa(["check-dataset", "--labels", syn + "/labels.txt"])
        XCTAssertEqual(rel.status, 1)
        XCTAssertTrue(rel.stderr.contains("12 of 12 paths are relative") && rel.stderr.contains("--data-root"), rel.stderr)
    }
}
