// The regulariser study's aggregation (Reports/Study*.swift) on fabricated run directories: values read
// back, mean ± sample std against hand-computed figures, grouping, best-run choice and table shape.

import XCTest
@testable import Reports
import TestSupport

final class StudyTableTests: XCTestCase {
    var root: URL!

    override func setUpWithError() throws { root = try TempDir.make("study-table", for: self) }

    /// One metrics.jsonl line with EMA and raw entries (the EMA one must win) and the trainer's gap.
    func line(epoch: Int, test: (Double, Double), shifted: (Double, Double), trainSRCC: Double) -> String {
        func set(_ v: (Double, Double)) -> String {
            "{\"ema\": {\"srcc\": \(v.0), \"plcc\": \(v.1), \"n\": 10}, \"raw\": {\"srcc\": -0.9, \"plcc\": -0.9, \"n\": 10}}"
        }
        return "{\"epoch\": \(epoch), \"gap_srcc\": \(trainSRCC - test.0), \"train\": {\"srcc\": \(trainSRCC), \"plcc\": 0.5}, "
            + "\"val\": {\"test\": \(set(test)), \"shifted\": \(set(shifted))}}"
    }

    /// Writes a run: 3 epochs whose last in-domain SRCC is `final`, best at epoch 2; optional eval and sharpness.
    @discardableResult
    func fabricate(_ name: String, kind: String, setting: String = "", seed: Int, final: Double, shifted: Double = 0.2,
                   trainEval: Double? = 0.9, sharpness: (Double, Double, Double)? = (0.1, 0.2, 5)) throws -> String {
        let dir = root.appendingPathComponent(name)
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("sharpness"), withIntermediateDirectories: true)
        try Data("{\"kind\": \"\(kind)\", \"setting\": \"\(setting)\", \"seed\": \(seed)}".utf8).write(to: dir.appendingPathComponent("study.json"))
        let lines = [line(epoch: 1, test: (0.1, 0.1), shifted: (0.0, 0.0), trainSRCC: 0.3),
                     line(epoch: 2, test: (0.95, 0.9), shifted: (0.5, 0.4), trainSRCC: 0.7),
                     line(epoch: 3, test: (final, final - 0.05), shifted: (shifted, shifted + 0.01), trainSRCC: 0.8)]
        try Data((lines.joined(separator: "\n") + "\n").utf8).write(to: dir.appendingPathComponent("metrics.jsonl"))
        if let t = trainEval {
            try Data("progress line\n{\"srcc\": \(t), \"plcc\": 0.8, \"n\": 50}\n".utf8).write(to: dir.appendingPathComponent("eval-train.json"))
        }
        if let (mean, mx, h) = sharpness {
            let json = """
                {"radius": 0.05, "directions": 4, "seed": 0, "checkpoints": [{"checkpoint": "last", "loss": 0.3, "srcc": 0.5,
                 "radius": 0.05, "rises": [\(mean)], "meanRise": \(mean), "maxRise": \(mx),
                 "hessian": {"eigenvalue": \(h), "rayleigh": \(h), "iterations": 5, "converged": true, "epsilon": 0.001}}]}
                """
            try Data(json.utf8).write(to: dir.appendingPathComponent("sharpness/sharpness.json"))
        }
        return dir.path
    }

    func testMeanAndSampleStdMatchHandValues() {
        let a = MeanStd([0.6, 0.7, 0.8])
        XCTAssertEqual(a.mean, 0.7, accuracy: 1e-12)
        XCTAssertEqual(a.std, 0.1, accuracy: 1e-12)
        let b = MeanStd([1, 2, 3, 4, .nan])          // NaN left out: mean 2.5, std √(5/3)
        XCTAssertEqual(b.count, 4)
        XCTAssertEqual(b.mean, 2.5, accuracy: 1e-12)
        XCTAssertEqual(b.std, 1.2909944487358056, accuracy: 1e-12)
        let one = MeanStd([0.42])
        XCTAssertEqual(one.mean, 0.42)
        XCTAssertTrue(one.std.isNaN)
        XCTAssertEqual(StudyTable.cell(one), "0.420 ± –")
        XCTAssertEqual(StudyTable.cell(MeanStd([])), "–")
        XCTAssertEqual(StudyTable.cell(a), "0.700 ± 0.100")
    }

    func testRunIsReadBackFromItsDirectory() throws {
        let dir = try fabricate("awp-s1", kind: "awp", setting: "γ=0.02", seed: 1, final: 0.6, shifted: 0.3)
        let r = try StudyRun(directory: dir, inDomain: "test", shifted: "shifted")
        XCTAssertEqual(r.kind, "awp"); XCTAssertEqual(r.setting, "γ=0.02"); XCTAssertEqual(r.seed, 1); XCTAssertEqual(r.epochs, 3)
        XCTAssertEqual(r.final.inDomainSRCC, 0.6); XCTAssertEqual(r.final.inDomainPLCC, 0.55, accuracy: 1e-12)
        XCTAssertEqual(r.final.shiftedSRCC, 0.3); XCTAssertEqual(r.final.shiftedPLCC, 0.31, accuracy: 1e-12)
        XCTAssertEqual(r.bestEpoch, 2)
        XCTAssertEqual(r.best, StudyScores(inDomainSRCC: 0.95, inDomainPLCC: 0.9, shiftedSRCC: 0.5, shiftedPLCC: 0.4))
        XCTAssertTrue(r.gapFromEval)
        XCTAssertEqual(r.gap, 0.9 - 0.6, accuracy: 1e-12)
        XCTAssertEqual(r.sharpnessMean, 0.1); XCTAssertEqual(r.sharpnessMax, 0.2); XCTAssertEqual(r.hessianTop, 5)
    }

    func testGapFallsBackToTrainersRunningGapAndSharpnessIsOptional() throws {
        let dir = try fabricate("none-s1", kind: "none", seed: 1, final: 0.5, trainEval: nil, sharpness: nil)
        let r = try StudyRun(directory: dir, inDomain: "test", shifted: "shifted")
        XCTAssertFalse(r.gapFromEval)
        XCTAssertEqual(r.gap, 0.8 - 0.5, accuracy: 1e-12)
        XCTAssertTrue(r.sharpnessMean.isNaN && r.hessianTop.isNaN)
        let doc = StudyTable.markdown([r])
        XCTAssertTrue(doc.contains("0.300 ± –*"), doc)
        XCTAssertTrue(doc.contains("* marks the trainer's running train SRCC"), doc)
    }

    func testMissingFilesAndSetsAreErrorsThatSayWhatToDo() throws {
        let dir = try fabricate("x", kind: "none", seed: 1, final: 0.5)
        XCTAssertThrowsError(try StudyRun(directory: dir, inDomain: "synthetic-test", shifted: "shifted")) { e in
            XCTAssertTrue("\(e)".contains("no validation set 'synthetic-test'; sets present: shifted, test"), "\(e)")
        }
        try FileManager.default.removeItem(atPath: dir + "/study.json")
        XCTAssertThrowsError(try StudyRun(directory: dir, inDomain: "test", shifted: "shifted")) { e in
            XCTAssertTrue("\(e)".contains("study.json is missing"), "\(e)")
        }
    }

    func testGroupsAggregateSeedsAndTablesHaveOneRowPerSetting() throws {
        var runs: [StudyRun] = []
        // Given in a scrambled order: awp first, then baseline, then l2 — rows must follow none, l2, awp.
        for (s, v) in [(1, 0.5), (2, 0.6), (3, 0.7)] {
            runs.append(try StudyRun(directory: try fabricate("awp-a-\(s)", kind: "awp", setting: "γ=0.02", seed: s, final: v,
                                                              sharpness: (0.01 * Double(s), 0.1, 2 * Double(s))), inDomain: "test", shifted: "shifted"))
        }
        for (s, v) in [(1, 0.2), (2, 0.4)] {
            runs.append(try StudyRun(directory: try fabricate("none-\(s)", kind: "none", seed: s, final: v,
                                                              sharpness: (0.04, 0.1, 10)), inDomain: "test", shifted: "shifted"))
        }
        runs.append(try StudyRun(directory: try fabricate("l2-1", kind: "l2", setting: "λ=0.1", seed: 1, final: 0.3), inDomain: "test", shifted: "shifted"))
        let g = StudyTable.groups(runs)
        XCTAssertEqual(g.map(\.label), ["none", "l2 λ=0.1", "awp γ=0.02"])
        XCTAssertEqual(g.map { $0.runs.count }, [2, 1, 3])
        // awp: in-domain {0.5, 0.6, 0.7} → 0.6 ± 0.1; gap 0.9 − in-domain = {0.4, 0.3, 0.2} → 0.3 ± 0.1;
        // sharpness {0.01, 0.02, 0.03} → 0.0200 ± 0.0100; λ_max {2, 4, 6} → 4 ± 2.
        let awp = g[2]
        XCTAssertEqual(StudyTable.cell(awp.stat(\.final.inDomainSRCC)), "0.600 ± 0.100")
        XCTAssertEqual(StudyTable.cell(awp.stat(\.gap)), "0.300 ± 0.100")
        XCTAssertEqual(StudyTable.cell(awp.stat(\.sharpnessMean), digits: 4), "0.0200 ± 0.0100")

        let table = StudyTable.finalTable(g)
        let rows = table.split(separator: "\n")
        XCTAssertEqual(rows.count, 2 + 3, table)                       // header, rule, one row per setting
        for r in rows { XCTAssertEqual(r.filter { $0 == "|" }.count, 11, String(r)) }   // 10 columns
        XCTAssertEqual(String(rows[4]), "| awp γ=0.02 | 3 | 0.600 ± 0.100 | 0.550 ± 0.100 | 0.200 ± 0.000 | 0.210 ± 0.000 | 0.300 ± 0.100 | 0.0200 ± 0.0100 | 4 ± 2 | 4 ± 2 |")
        // none: in-domain {0.2, 0.4} → 0.300 ± 0.141; λ_max 10 ± 0.
        XCTAssertTrue(rows[2].hasPrefix("| none | 2 | 0.300 ± 0.141 |"), String(rows[2]))

        let delta = try XCTUnwrap(StudyTable.deltaTable(g))
        let d = delta.split(separator: "\n")
        XCTAssertEqual(d.count, 2 + 2 + 1, delta)                      // the baseline has no row of its own; a note on p
        // awp − none: in-domain +0.300; gap 0.3 − 0.6 = −0.300; sharpness 0.02/0.04 = ×0.50; λ 4/10 = ×0.40.
        // 3 vs 2 seeds fully separated: p = 2/C(5,3) = 0.20 (scipy.stats.permutation_test); equal values: p 1.
        XCTAssertEqual(String(d[3]), "| awp γ=0.02 | +0.300 (p 0.20) | +0.000 (p 1.00) | -0.300 (p 0.20) | ×0.50 (p 0.20) | ×0.40 (p 0.20) |")
        XCTAssertTrue(d[4].contains("no p can be below 0.2,"), String(d[4]))

        let best = StudyTable.bestTable(g).split(separator: "\n")
        XCTAssertEqual(best.count, 5)
        XCTAssertTrue(best[4].hasPrefix("| awp γ=0.02 | 3 | 2.0 ± 0.0 | 0.950 ± 0.000 |"), String(best[4]))
        XCTAssertEqual(StudyTable.runTable(g).split(separator: "\n").count, 2 + 6)

        let picked = StudyTable.bestPerKind(runs)
        XCTAssertEqual(picked.map(\.kind), ["none", "l2", "awp"])
        XCTAssertEqual(picked.map(\.seed), [2, 1, 3])
    }

    func testMarkdownCarriesHeaderFooterAndAllSections() throws {
        let r = try StudyRun(directory: try fabricate("a", kind: "none", seed: 1, final: 0.5), inDomain: "test", shifted: "shifted")
        let doc = StudyTable.markdown([r], header: "# My study\nwall time 3 min", footer: "![landscape](landscape.svg)")
        XCTAssertTrue(doc.hasPrefix("# My study\nwall time 3 min\n\n## Final epoch"), doc)
        XCTAssertTrue(doc.hasSuffix("![landscape](landscape.svg)\n"), doc)
        for section in ["## Final epoch", "## Best epoch", "## Every run"] { XCTAssertTrue(doc.contains(section), section) }
        XCTAssertFalse(doc.contains("## Difference to the baseline (means"), "only a baseline: no difference table")
    }
}
