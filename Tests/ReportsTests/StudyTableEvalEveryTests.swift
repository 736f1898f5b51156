// study-table on runs validated only every N epochs (train.eval_every > 1): the epochs without a
// "val" entry are skipped, the epoch count is the last epoch's number, the best epoch is a validated one.

import XCTest
import Foundation
@testable import Reports
import TestSupport

final class StudyTableEvalEveryTests: XCTestCase {
    var root: URL!

    override func setUpWithError() throws { root = try TempDir.make("study-every", for: self) }

    func write(_ lines: [String]) throws -> String {
        try Data("{\"kind\": \"none\", \"setting\": \"\", \"seed\": 1}".utf8).write(to: root.appendingPathComponent("study.json"))
        try Data((lines.joined(separator: "\n") + "\n").utf8).write(to: root.appendingPathComponent("metrics.jsonl"))
        return root.path
    }

    func validated(_ epoch: Int, _ test: Double, _ shifted: Double) -> String {
        "{\"epoch\": \(epoch), \"gap_srcc\": 0.1, \"val\": {\"test\": {\"ema\": {\"srcc\": \(test), \"plcc\": \(test)}}, "
            + "\"shifted\": {\"ema\": {\"srcc\": \(shifted), \"plcc\": \(shifted)}}}}"
    }

    func unvalidated(_ epoch: Int) -> String { "{\"epoch\": \(epoch), \"train_loss\": 0.4, \"train\": {\"srcc\": 0.2, \"plcc\": 0.2}}" }

    func testEpochsWithoutValidationAreSkipped() throws {
        let dir = try write([unvalidated(1), unvalidated(2), validated(3, 0.7, 0.1), unvalidated(4), unvalidated(5), validated(6, 0.4, 0.3)])
        let r = try StudyRun(directory: dir, inDomain: "test", shifted: "shifted")
        XCTAssertEqual(r.epochs, 6, "the last epoch's number, not the count of validated epochs")
        XCTAssertEqual(r.final.inDomainSRCC, 0.4); XCTAssertEqual(r.final.shiftedSRCC, 0.3)
        XCTAssertEqual(r.bestEpoch, 3); XCTAssertEqual(r.best.inDomainSRCC, 0.7)
    }

    func testARunWithoutAnyValidationSaysSo() throws {
        let dir = try write([unvalidated(1), unvalidated(2)])
        XCTAssertThrowsError(try StudyRun(directory: dir, inDomain: "test", shifted: "shifted")) { e in
            XCTAssertTrue("\(e)".contains("no validated epochs") && "\(e)".contains("eval_every"), "\(e)")
        }
    }

    func testAValidatedEpochMissingASetIsStillAnError() throws {
        let dir = try write([validated(1, 0.5, 0.5).replacingOccurrences(of: "\"shifted\"", with: "\"other\"")])
        XCTAssertThrowsError(try StudyRun(directory: dir, inDomain: "test", shifted: "shifted")) { e in
            XCTAssertTrue("\(e)".contains("no validation set 'shifted'"), "\(e)")
        }
    }
}
