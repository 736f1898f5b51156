// The study tables never average a NaN away silently: a mean over fewer runs than the group has
// says how many values were NaN (cells and differences to the baseline).

import XCTest
@testable import Reports

final class StudyTableNaNTests: XCTestCase {
    func run(_ kind: String, seed: Int, srcc: Double) -> StudyRun {
        let s = StudyScores(inDomainSRCC: srcc, inDomainPLCC: 0.5, shiftedSRCC: 0.3, shiftedPLCC: 0.3)
        return StudyRun(directory: "/runs/\(kind)-\(seed)", kind: kind, setting: "", seed: seed, epochs: 3, final: s, best: s,
                        bestEpoch: 3, gap: 0.1, gapFromEval: true)
    }

    func testNaNIsCountedNotAveragedSilently() throws {
        let stat = MeanStd([0.6, .nan, 0.8])
        XCTAssertEqual(stat.count, 2)
        XCTAssertEqual(stat.nonFinite, 1)
        XCTAssertEqual(StudyTable.cell(stat), "0.700 ± 0.141 (1 of 3 NaN)")
        XCTAssertEqual(StudyTable.cell(MeanStd([0.6, 0.8])), "0.700 ± 0.141", "no note without NaN")
        XCTAssertEqual(StudyTable.cell(MeanStd([.nan, .nan])), "–", "nothing averaged: no number at all")

        let runs = [run("none", seed: 1, srcc: 0.5), run("none", seed: 2, srcc: 0.6),
                    run("awp", seed: 1, srcc: 0.7), run("awp", seed: 2, srcc: .nan)]
        let groups = StudyTable.groups(runs)
        let final = StudyTable.finalTable(groups)
        let awpRow = try XCTUnwrap(final.split(separator: "\n").first { $0.hasPrefix("| awp |") })
        XCTAssertTrue(awpRow.contains("0.700 ± – (1 of 2 NaN)"), String(awpRow))
        let delta = try XCTUnwrap(StudyTable.deltaTable(groups))
        let deltaRow = try XCTUnwrap(delta.split(separator: "\n").first { $0.hasPrefix("| awp |") })
        XCTAssertTrue(deltaRow.contains("+0.150") && deltaRow.contains("(1 NaN left out)"), String(deltaRow))
        XCTAssertTrue(StudyTable.markdown(runs).contains("(k of n NaN)"), "the legend explains the note")
    }
}
