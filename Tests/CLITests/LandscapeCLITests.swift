// `vqa-mpi report` on hand-written metrics.jsonl files (nested and flat keys), and the argument
// checks of `vqa-mpi landscape` (its numeric runs are tested in TrainingTests/LandscapeMPITests, which
// can build checkpoints with the engine).

import XCTest
import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import TestSupport

final class LandscapeCLITests: XCTestCase {
    var work: URL!

    override func setUpWithError() throws { work = try TempDir.make("report-cli", for: self) }

    func runDir(_ name: String, _ lines: [String]) throws -> String {
        let dir = work.appendingPathComponent(name)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try Data((lines.joined(separator: "\n") + "\n").utf8).write(to: dir.appendingPathComponent("metrics.jsonl"))
        return dir.path
    }

    func testReportReadsNestedAndFlatMetrics() throws {
        let nested = try runDir("awp", [
            #"{"epoch": 0, "train": {"srcc": 0.50, "plcc": 0.52}, "val": {"konvid": {"srcc": 0.40, "plcc": 0.41}}}"#,
            #"{"epoch": 1, "train": {"srcc": 0.70, "plcc": 0.71}, "val": {"konvid": {"srcc": 0.60, "plcc": 0.62}}}"#,
            #"{"epoch": 2, "train": {"srcc": 0.80, "plcc": 0.81}, "val": {"konvid": {"srcc": 0.65, "plcc": 0.66}}, "lr": 0.001}"#,
        ])
        let flat = try runDir("none", [
            #"{"epoch": 0, "train.srcc": 0.55, "train.plcc": 0.56, "val.konvid.srcc": 0.45, "val.konvid.plcc": 0.46}"#,
            #"{"epoch": 1, "train.srcc": 0.90, "train.plcc": 0.91}"#,
            "",
            #"{"epoch": 2, "train.srcc": 0.95, "train.plcc": 0.96, "val.konvid.srcc": 0.50, "val.konvid.plcc": 0.52}"#,
        ])
        let svg = work.appendingPathComponent("report.svg")
        let r = try CLI.vqa(["report", nested, flat, "--out", svg.path])
        XCTAssertEqual(r.status, 0, r.stderr)
        let rows = r.stdout.split(separator: "\n").map { $0.split(separator: " ").map(String.init) }
        let awp = try XCTUnwrap(rows.first { $0.first == "awp" }), none = try XCTUnwrap(rows.first { $0.first == "none" })
        XCTAssertEqual(awp, ["awp", "3", "0.8000", "0.6500", "0.1500", "konvid"])
        XCTAssertEqual(none, ["none", "3", "0.9500", "0.5000", "0.4500", "konvid"])
        let data = try Data(contentsOf: svg)
        let parser = XMLParser(data: data)
        XCTAssertTrue(parser.parse(), "\(parser.parserError.map { "\($0)" } ?? "")")
        let text = String(decoding: data, as: UTF8.self)
        for label in ["awp train", "awp konvid", "none train", "none konvid", "Generalisation gap"] {
            XCTAssertTrue(text.contains(label), label)
        }
    }

    func testReportErrorsNameTheFile() throws {
        let missing = work.appendingPathComponent("nothing").path
        let r = try CLI.vqa(["report", missing, "--out", work.appendingPathComponent("x.svg").path])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("nothing/metrics.jsonl"), r.stderr)
        let bad = try runDir("bad", [#"{"epoch": 0, "train.srcc": 0.5}"#, "not json"])
        let r2 = try CLI.vqa(["report", bad, "--out", work.appendingPathComponent("y.svg").path])
        XCTAssertNotEqual(r2.status, 0)
        XCTAssertTrue(r2.stderr.contains("metrics.jsonl:2"), r2.stderr)
    }

    func testLandscapeRejectsBadArguments() throws {
        let base = ["landscape", "--checkpoint", "x.safetensors", "--labels", "l.txt", "--data-root", ".", "--out", work.path]
        for (extra, message) in [(["--dims", "3"], "--dims must be 1 or 2"), (["--range", "1:-1"], "LO < HI"),
                                 (["--model-option", "widths"], "key=value"), (["--radius", "0"], "--radius must be positive")] {
            let r = try CLI.vqa(base + extra)
            XCTAssertNotEqual(r.status, 0)
            XCTAssertTrue(r.stderr.contains(message), "\(extra): \(r.stderr)")
        }
        let r = try CLI.vqa(["landscape", "--labels", "l.txt", "--data-root", ".", "--out", work.path])
        XCTAssertTrue(r.stderr.contains("--checkpoint"), r.stderr)
        let missing = try CLI.vqa(base)
        XCTAssertNotEqual(missing.status, 0)
        XCTAssertTrue(missing.stderr.contains("x.safetensors"), missing.stderr)
    }
}
