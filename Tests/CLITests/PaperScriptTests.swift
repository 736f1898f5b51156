// scripts/experiments/paper.sh end to end in its --smoke mode (tiny data, a few steps under mpirun -np 2;
// none, TrivialAugment and two AWP γ at 1 seed, the better γ raised to 2 seeds, pre-training, fine-tuning
// on two targets: every code path of the full mode) into a temporary directory: results.md,
// summary.json with every key issue #19 lists (numbers or null), the SVG figures; a second call keeps
// every run; nothing is written into the repository.

import XCTest
import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import TestSupport

final class PaperScriptTests: XCTestCase {
    func testSmokeWritesSummaryResultsAndFiguresAndResumes() throws {
        let fm = FileManager.default
        let tmp = try TempDir.make("paper-smoke", for: self)
        let out = tmp.appendingPathComponent("out").path, data = tmp.appendingPathComponent("data").path
        let script = Repo.root.appendingPathComponent("scripts/experiments/paper.sh").path
        let args = [script, "--smoke", "--out", out, "--data", data]
        let env = ["VQA_MPI_BIN": try CLI.requireBinary()]
        let repoData = Repo.root.appendingPathComponent("data/paper/smoke").path
        let repoDataBefore = fm.fileExists(atPath: repoData)

        let first = try CLI.run("/bin/bash", args, env: env)
        XCTAssertEqual(first.status, 0, first.stdout + first.stderr)
        XCTAssertTrue(first.stdout.contains("synthesising"), first.stdout)

        let summaryData = try Data(contentsOf: URL(fileURLWithPath: out + "/summary.json"))
        let summary = try XCTUnwrap(try JSONSerialization.jsonObject(with: summaryData) as? [String: Any], "summary.json is not an object")
        func numberOrNull(_ v: Any?, _ path: String) {
            XCTAssertTrue(v is NSNumber || v is NSNull, "\(path) is \(String(describing: v)), expected a number or null")
        }
        func object(_ v: Any?, _ path: String) throws -> [String: Any] {
            try XCTUnwrap(v as? [String: Any], "\(path) missing or not an object in \(summary)")
        }
        XCTAssertTrue(summary["minutes"] is NSNumber, "minutes: \(String(describing: summary["minutes"]))")
        let overfit = try object(summary["overfit"], "overfit")
        for (kind, seeds) in [("none", 1), ("awp", 2)] {
            let k = try object(overfit[kind], "overfit.\(kind)")
            for key in ["train_srcc", "test_srcc", "shifted_srcc", "gap"] { numberOrNull(k[key], "overfit.\(kind).\(key)") }
            XCTAssertEqual((k["seeds"] as? NSNumber)?.intValue, seeds, "overfit.\(kind).seeds")
        }
        let gamma = try XCTUnwrap((try object(overfit["awp"], "overfit.awp")["gamma"] as? NSNumber)?.doubleValue)
        XCTAssertTrue(gamma == 0.02 || gamma == 0.05, "best AWP γ \(gamma)")
        XCTAssertTrue(fm.fileExists(atPath: out + "/overfit/awp-\(gamma == 0.02 ? "0.02" : "0.05")-s2/done"), "the best γ got no second seed")
        // The smoke runs train for 4 steps: the train-set SRCC exists (a number), whatever its value.
        XCTAssertTrue(try object(overfit["none"], "overfit.none")["train_srcc"] is NSNumber)
        let awpVsNone = try object(summary["awp_vs_none"], "awp_vs_none")
        for key in ["test_srcc_delta", "shifted_srcc_delta", "gap_delta", "p_test", "p_shifted", "p_gap"] {
            numberOrNull(awpVsNone[key], "awp_vs_none.\(key)")
        }
        let corr = try object(summary["flatness_gap_correlation"], "flatness_gap_correlation")
        XCTAssertTrue(corr["measure"] is String)
        for key in ["spearman", "p"] { numberOrNull(corr[key], "flatness_gap_correlation.\(key)") }
        XCTAssertEqual((corr["runs"] as? NSNumber)?.intValue, 5)
        let finetune = try object(summary["finetune"], "finetune")
        for kind in ["none", "awp"] {
            let k = try object(finetune[kind], "finetune.\(kind)")
            for key in ["target_srcc", "shifted_srcc"] { numberOrNull(k[key], "finetune.\(kind).\(key)") }
        }
        for key in ["p_target", "p_shifted"] { numberOrNull(finetune[key], "finetune.\(key)") }
        XCTAssertEqual(Set(try object(finetune["targets"], "finetune.targets").keys), ["small", "shifted-split"])

        let results = try String(contentsOfFile: out + "/results.md", encoding: .utf8)
        for heading in ["# The paper's phenomenon", "## Over-fitting regime", "## Fine-tuning regime", "**Flatness–gap correlation**",
                        "**Wall time of this call**", "| none | 1 |"] {
            XCTAssertTrue(results.contains(heading), "results.md lacks '\(heading)':\n\(results)")
        }
        for svg in ["fig1ab-curves.svg", "flatness-gap.svg", "gap-curves-all.svg", "fig1c-epochs/landscape.svg", "fig2-awp/landscape.svg",
                    "fig2-aug/landscape.svg", "fig1d-methods/landscape.svg"] {
            let url = URL(fileURLWithPath: out + "/" + svg)
            let parser = try XCTUnwrap(XMLParser(contentsOf: url), "\(svg) missing")
            XCTAssertTrue(parser.parse(), "\(svg) is not well-formed XML: \(String(describing: parser.parserError))")
            XCTAssertTrue(try String(contentsOf: url, encoding: .utf8).contains("<svg"), svg)
        }
        // Fig. 1c: the baseline at 4 epochs (one curve each, 3 points each in smoke).
        let csv = try String(contentsOfFile: out + "/fig1c-epochs/landscape.csv", encoding: .utf8)
        XCTAssertEqual(csv.split(separator: "\n").count, 1 + 4 * 3, csv)
        // Fig. 1d: fragnet and SimpleVQA-18 trained alike, one curve each; their table row and summary entry.
        let methodsCSV = try String(contentsOfFile: out + "/fig1d-methods/landscape.csv", encoding: .utf8)
        XCTAssertEqual(methodsCSV.split(separator: "\n").count, 1 + 2 * 3, methodsCSV)
        XCTAssertTrue(methodsCSV.contains("simplevqa-s1"), methodsCSV)
        let methods = try object(summary["methods"], "methods")
        XCTAssertEqual(Set(methods.keys), ["fragnet", "simplevqa"])
        numberOrNull(try object(methods["simplevqa"], "methods.simplevqa")["gap"], "methods.simplevqa.gap")
        XCTAssertTrue(results.contains("| simplevqa | 1 |"), results)
        XCTAssertEqual(fm.fileExists(atPath: repoData), repoDataBefore, "the smoke run wrote into the repository (\(repoData))")

        let again = try CLI.run("/bin/bash", args, env: env)
        XCTAssertEqual(again.status, 0, again.stdout + again.stderr)
        XCTAssertTrue(again.stdout.contains("reusing"), again.stdout)
        // 5 over-fitting runs, the second method, the pre-training and 2 × 2 fine-tuning runs.
        XCTAssertEqual(again.stdout.components(separatedBy: "done before, kept").count - 1, 11, again.stdout)

        let noOut = try CLI.run("/bin/bash", [script, "--smoke"], env: env)
        XCTAssertEqual(noOut.status, 2)
        XCTAssertTrue(noOut.stderr.contains("--out DIR is required"), noOut.stderr)
        let bad = try CLI.run("/bin/bash", [script, "--bogus"], env: env)
        XCTAssertEqual(bad.status, 2)
        XCTAssertTrue(bad.stderr.contains("valid: --quick --smoke"), bad.stderr)
    }
}
