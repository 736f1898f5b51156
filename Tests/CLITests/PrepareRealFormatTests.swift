// scripts/prepare/koniq10k.py and youtube_ugc.py on the metadata as the projects ship it: KonIQ's
// koniq10k_distributions_sets.csv (MOS 0–100, c1..c5 fractions, set column, no MOS_zscore) and the
// database download's koniq10k_scores_and_distributions.csv (counts, MOS 1–5, MOS_zscore); the
// YouTube-UGC .xlsx with sheets readme / MOS / diff2 (written by
// Tests/Fixtures/prepare/make_youtube_ugc_xlsx.py). Expected 1–5 values are recomputed here from
// the fixture's c1..c5 columns, an independent path from the script's.

import Foundation
import XCTest
import TestSupport

final class PrepareRealFormatTests: XCTestCase {
    private var dir: URL!
    private let fm = FileManager.default

    override func setUpWithError() throws {
        dir = fm.temporaryDirectory.appendingPathComponent("vqa-prepare-real-\(UUID().uuidString)")
        try fm.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? fm.removeItem(at: dir) }

    private func fixture(_ name: String) -> String { Repo.root.appendingPathComponent("Tests/Fixtures/prepare/\(name)").path }

    private func prepare(_ script: String, _ args: [String]) throws -> ProcessResult {
        try CLI.run("/usr/bin/env", ["python3", Repo.root.appendingPathComponent("scripts/prepare/\(script)").path] + args)
    }

    private func touch(_ root: URL, _ relative: [String]) throws {
        for r in relative {
            let to = root.appendingPathComponent(r)
            try fm.createDirectory(at: to.deletingLastPathComponent(), withIntermediateDirectories: true)
            XCTAssertTrue(fm.createFile(atPath: to.path, contents: Data("x".utf8)))
        }
    }

    private func labels(_ url: URL) throws -> [String: Double] {
        var out: [String: Double] = [:]
        for line in try String(contentsOf: url, encoding: .utf8).split(separator: "\n") {
            let f = line.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            XCTAssertEqual(f.count, 4, String(line))
            out[f[0]] = Double(f[3])
        }
        return out
    }

    /// The sets fixture's rows: name -> (set, MOS column, 1–5 mean of c1..c5).
    private func setsRows() throws -> [String: (set: String, mos: Double, mean: Double)] {
        let lines = try String(contentsOfFile: fixture("koniq10k_distributions_sets.csv"), encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(String(lines[0]), "image_name,c1,c2,c3,c4,c5,c_total,MOS,SD,set", "the header of the KonIQ project's metadata file")
        var out: [String: (String, Double, Double)] = [:]
        for l in lines.dropFirst() {
            let f = l.split(separator: ",").map(String.init)
            let c = f[1...5].map { Double($0)! }
            XCTAssertEqual(c.reduce(0, +), 1, accuracy: 1e-9, "c1..c5 are fractions")
            out[f[0]] = (f[9], Double(f[7])!, zip(1...5, c).map { Double($0) * $1 }.reduce(0, +) / c.reduce(0, +))
        }
        return out
    }

    func testKonIQSetsFileWritesTheChosenScaleOnTheOfficialSplit() throws {
        let rows = try setsRows()
        let root = dir.appendingPathComponent("koniq10k")
        try touch(root, rows.keys.map { "1024x768/\($0)" })
        func run(_ score: [String], _ out: String) throws -> [String: [String: Double]] {
            let r = try prepare("koniq10k.py", ["--metadata", fixture("koniq10k_distributions_sets.csv"), "--videos", root.appendingPathComponent("1024x768").path,
                                                "--out", dir.appendingPathComponent(out).path, "--data-root", root.path] + score)
            XCTAssertEqual(r.status, 0, r.stderr)
            XCTAssertTrue(r.stdout.contains("official split"), r.stdout)
            var got: [String: [String: Double]] = [:]
            for f in ["labels_train.txt", "labels_val.txt", "labels_test.txt"] { got[f] = try labels(dir.appendingPathComponent("\(out)/\(f)")) }
            return got
        }
        let file = ["training": "labels_train.txt", "validation": "labels_val.txt", "test": "labels_test.txt"]
        for (score, out) in [([String](), "default"), (["--score", "mos100"], "mos100"), (["--score", "zscore"], "zscore")] {
            let got = try run(score, out)
            for (name, row) in rows { XCTAssertEqual(got[file[row.set]!]?["1024x768/\(name)"], row.mos, "\(out): \(name) keeps the file's 0–100 MOS") }
            XCTAssertEqual(got.values.map(\.count).reduce(0, +), rows.count)
        }
        let five = try run(["--score", "mos5"], "mos5")
        for (name, row) in rows {
            let v = try XCTUnwrap(five[file[row.set]!]?["1024x768/\(name)"], name)
            XCTAssertEqual(v, row.mean, accuracy: 1e-9, name)
            XCTAssertTrue((1...5).contains(v), "\(name): \(v) is on the 1–5 scale")
        }
        let bad = try prepare("koniq10k.py", ["--metadata", fixture("koniq10k_distributions_sets.csv"), "--videos", root.path, "--out", dir.path, "--score", "z"])
        XCTAssertEqual(bad.status, 2)
        XCTAssertTrue(bad.stderr.contains("valid values: mos100") && bad.stderr.contains("mos5"), bad.stderr)
    }

    func testKonIQScoresFileGivesTheSameScalesAsTheSetsFile() throws {
        let rows = try setsRows()
        let root = dir.appendingPathComponent("koniq10k")
        let names = ["2017593302.jpg", "3361248415.jpg", "4880531207.jpg", "5526780134.jpg"]
        try touch(root, names.map { "1024x768/\($0)" })
        for (score, expect) in [("mos100", { (n: String) in rows[n]!.mos }), ("mos5", { (n: String) in rows[n]!.mean })] {
            let out = dir.appendingPathComponent(score)
            let r = try prepare("koniq10k.py", ["--metadata", fixture("koniq10k_scores_and_distributions.csv"), "--videos", root.path,
                                                "--out", out.path, "--data-root", root.path, "--score", score, "--test-fraction", "0.25"])
            XCTAssertEqual(r.status, 0, r.stderr)
            XCTAssertTrue(r.stdout.contains("random split"), r.stdout)
            let all = try labels(out.appendingPathComponent("labels_train.txt")).merging(try labels(out.appendingPathComponent("labels_test.txt"))) { a, _ in a }
            XCTAssertEqual(all.count, names.count)
            for n in names { XCTAssertEqual(try XCTUnwrap(all["1024x768/\(n)"]), expect(n), accuracy: 1e-8, "\(score) \(n)") }
        }
    }

    func testYouTubeUGCReadsTheMOSSheetOfTheOfficialWorkbook() throws {
        let xlsx = dir.appendingPathComponent("original_videos_MOS_for_YouTube_UGC_dataset.xlsx")
        let make = try CLI.run("/usr/bin/env", ["python3", fixture("make_youtube_ugc_xlsx.py"), xlsx.path])
        XCTAssertEqual(make.status, 0, make.stderr)
        let root = dir.appendingPathComponent("YouTube-UGC")
        try touch(root, ["original_videos/Animation/1080P/Animation_1080P-05f8.mkv", "original_videos/Gaming/720P/Gaming_720P-0ef8.mkv",
                         "original_videos/Vlog/360P/Vlog_360P-2e9d_crf_10_ss_00_t_20.0.mp4", "original_videos/Sports/2160P/Sports_2160P-1b70.mkv",
                         "original_videos/LiveMusic/480P/LiveMusic_480P-6bb6.mkv", "original_videos/HDR/1080P/HDR_1080P-3a1c.mkv"])
        let expected = ["original_videos/Animation/1080P/Animation_1080P-05f8.mkv": 3.5816, "original_videos/Gaming/720P/Gaming_720P-0ef8.mkv": 4.2104,
                        "original_videos/Vlog/360P/Vlog_360P-2e9d_crf_10_ss_00_t_20.0.mp4": 2.1375,
                        "original_videos/Sports/2160P/Sports_2160P-1b70.mkv": 3.9981, "original_videos/LiveMusic/480P/LiveMusic_480P-6bb6.mkv": 2.9023]
        // The workbook and a CSV export of its MOS sheet give the same label files.
        for (meta, out) in [(xlsx.path, "x"), (fixture("youtube_ugc_mos.csv"), "c")] {
            let o = dir.appendingPathComponent(out)
            let r = try prepare("youtube_ugc.py", ["--metadata", meta, "--videos", root.appendingPathComponent("original_videos").path,
                                                   "--out", o.path, "--data-root", root.path, "--test-fraction", "0.4"])
            XCTAssertEqual(r.status, 0, r.stderr)
            XCTAssertTrue(r.stderr.contains("1 row(s)") && r.stderr.contains("HDR_1080P-3a1c"), "the unrated row is skipped and counted: \(r.stderr)")
            XCTAssertTrue(r.stdout.contains("1 without MOS full skipped"), r.stdout)
            let all = try labels(o.appendingPathComponent("labels_train.txt")).merging(try labels(o.appendingPathComponent("labels_test.txt"))) { a, _ in a }
            XCTAssertEqual(all, expected, meta)
            XCTAssertEqual(try labels(o.appendingPathComponent("labels_test.txt")).count, 2)
            XCTAssertEqual(try labels(o.appendingPathComponent("labels.txt")), expected, "the whole set, for vqa-mpi split")
        }
        // diff2 is another table: reading it by name gives its own scores, proving the sheet is chosen by name.
        let d = try prepare("youtube_ugc.py", ["--metadata", xlsx.path, "--sheet", "diff2", "--videos", root.appendingPathComponent("original_videos").path,
                                               "--out", dir.appendingPathComponent("d").path, "--data-root", root.path, "--max-missing", "1"])
        XCTAssertEqual(d.status, 0, d.stderr)
        let diff2 = try labels(dir.appendingPathComponent("d/labels_train.txt")).merging(try labels(dir.appendingPathComponent("d/labels_test.txt"))) { a, _ in a }
        XCTAssertEqual(diff2, ["original_videos/Animation/1080P/Animation_1080P-05f8.mkv": 1.0, "original_videos/Gaming/720P/Gaming_720P-0ef8.mkv": 1.5])
        let missing = try prepare("youtube_ugc.py", ["--metadata", xlsx.path, "--sheet", "Sheet1", "--videos", root.path, "--out", dir.path])
        XCTAssertEqual(missing.status, 2)
        XCTAssertTrue(missing.stderr.contains("no sheet named 'Sheet1'") && missing.stderr.contains("readme, MOS, diff2"), missing.stderr)
        let notZip = dir.appendingPathComponent("broken.xlsx")
        _ = fm.createFile(atPath: notZip.path, contents: Data("PK".utf8))
        let broken = try prepare("youtube_ugc.py", ["--metadata", notZip.path, "--videos", root.path, "--out", dir.path])
        XCTAssertEqual(broken.status, 2)
        XCTAssertTrue(broken.stderr.contains("broken.xlsx: not an .xlsx workbook"), broken.stderr)
    }

    func testKonIQConfigSelectsOnValidationAndReportsTest() throws {
        let text = try Repo.text("configs/koniq-10k.yaml")
        let val = text.split(separator: "\n").filter { $0.contains("labels:") && $0.contains("data/koniq10k/labels_") && !$0.contains("labels_train") }
        XCTAssertEqual(val.count, 2, text)
        XCTAssertTrue(val[0].contains("labels_val.txt"), "the first val set selects best.safetensors: \(val[0])")
        XCTAssertTrue(val[1].contains("labels_test.txt"), String(val[1]))
        let dry = try CLI.vqa(["train", "--config", Repo.root.appendingPathComponent("configs/koniq-10k.yaml").path, "--dry-run"])
        XCTAssertEqual(dry.status, 0, dry.stderr)
    }
}
