// scripts/experiments/generalization.sh end to end in its --smoke mode (tiny data, 2 regularizers,
// 1 seed, 2 steps, under mpirun -np 2), so the study script cannot rot; then a second call that must
// reuse the data and the finished runs.

import XCTest
import Foundation
import TestSupport

final class StudyScriptTests: XCTestCase {
    func testSmokeStudyWritesTablesFiguresAndResumes() throws {
        let tmp = try TempDir.make("study-smoke", for: self)
        let out = tmp.appendingPathComponent("out").path, data = tmp.appendingPathComponent("data").path
        let script = Repo.root.appendingPathComponent("scripts/experiments/generalization.sh").path
        let args = [script, "--smoke", "--out", out, "--data", data]
        let env = ["VQA_MPI_BIN": try CLI.requireBinary()]

        let first = try CLI.run("/bin/bash", args, env: env)
        XCTAssertEqual(first.status, 0, first.stdout + first.stderr)
        XCTAssertTrue(first.stdout.contains("synthesising"), first.stdout)

        let results = try String(contentsOfFile: out + "/results.md", encoding: .utf8)
        XCTAssertTrue(results.hasPrefix("# Regulariser study (smoke)"), results)
        for heading in ["## Final epoch", "## Best epoch", "## Difference to the baseline", "## Every run"] {
            XCTAssertTrue(results.contains(heading), heading)
        }
        // One row per setting with 1 seed, and finite numbers in it (no "–" where a value must exist).
        for label in ["none", "awp γ=0.02"] {
            let row = try XCTUnwrap(results.split(separator: "\n").first { $0.hasPrefix("| \(label) | 1 |") }, "no row for \(label):\n\(results)")
            let cells = row.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }
            XCTAssertEqual(cells.count, 10, String(row))   // 10 columns: λ_max and the λ of largest magnitude
            for c in cells[2...] { XCTAssertTrue(c.first.map { $0 == "-" || $0.isNumber } ?? false, "cell '\(c)' in \(row)") }
        }
        for run in ["none-s1", "awp-0.02-s1"] {
            let dir = out + "/runs/" + run
            for f in ["study.json", "metrics.jsonl", "eval-train.json", "sharpness/sharpness.json", "last.safetensors", "done"] {
                XCTAssertTrue(FileManager.default.fileExists(atPath: dir + "/" + f), "\(dir)/\(f) missing")
            }
        }
        // The overlay: one curve per kind, labelled by the best run's directory name, same directions.
        let landscape = try String(contentsOfFile: out + "/landscape/landscape.svg", encoding: .utf8)
        XCTAssertTrue(landscape.contains("none-s1") && landscape.contains("awp-0.02-s1"), "overlay lacks a run")
        let csv = try String(contentsOfFile: out + "/landscape/landscape.csv", encoding: .utf8)
        XCTAssertEqual(csv.split(separator: "\n").count, 1 + 2 * 3, csv)   // header + 2 checkpoints × 3 points
        let curves = try String(contentsOfFile: out + "/gap-curves.svg", encoding: .utf8)
        XCTAssertTrue(curves.contains("Generalisation gap"), "gap curves missing")
        XCTAssertTrue(try String(contentsOfFile: out + "/commands.txt", encoding: .utf8).contains("landscape"))

        let again = try CLI.run("/bin/bash", args, env: env)
        XCTAssertEqual(again.status, 0, again.stdout + again.stderr)
        XCTAssertTrue(again.stdout.contains("reusing"), again.stdout)
        XCTAssertEqual(again.stdout.components(separatedBy: "done before, kept").count - 1, 2, again.stdout)

        let bad = try CLI.run("/bin/bash", [script, "--bogus"], env: env)
        XCTAssertEqual(bad.status, 2)
        XCTAssertTrue(bad.stderr.contains("valid: --quick --smoke"), bad.stderr)
    }
}
