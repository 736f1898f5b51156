// The study reads the Hessian's top eigenvalue λ_max and its largest-magnitude one separately from
// sharpness.json, and names both in its tables; a file written before they were separated (plain
// power iteration, "eigenvalue") gives λ_max only when that value is positive.

import XCTest
import Foundation
@testable import Reports

final class StudyHessianTests: XCTestCase {
    func run(hessian: String) throws -> StudyRun {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("study-hessian-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("sharpness"), withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try Data(#"{"kind": "awp", "setting": "", "seed": 1}"#.utf8).write(to: dir.appendingPathComponent("study.json"))
        let rec = #"{"epoch": 1, "complete": true, "val": {"test": {"ema": {"srcc": 0.5, "plcc": 0.4}}, "shifted": {"ema": {"srcc": 0.2, "plcc": 0.1}}}, "train": {"srcc": 0.7, "plcc": 0.6}, "gap_srcc": 0.2}"#
        try Data((rec + "\n").utf8).write(to: dir.appendingPathComponent("metrics.jsonl"))
        let json = #"{"checkpoints": [{"checkpoint": "last", "loss": 0.3, "srcc": 0.5, "meanRise": 0.1, "maxRise": 0.2, "hessian": "# + hessian + "}]}"
        try Data(json.utf8).write(to: dir.appendingPathComponent("sharpness/sharpness.json"))
        return try StudyRun(directory: dir.path, inDomain: "test", shifted: "shifted")
    }

    func testTopAndLargestMagnitudeAreReadAndTabledSeparately() throws {
        let r = try run(hessian: #"{"top": 2.5, "largestMagnitude": -40}"#)
        XCTAssertEqual(r.hessianTop, 2.5)
        XCTAssertEqual(r.hessianLargestMagnitude, -40)
        let table = StudyTable.runTable(StudyTable.groups([r]))
        XCTAssertTrue(table.contains("Hessian λ_max") && table.contains("Hessian λ of largest magnitude"), table)
        XCTAssertTrue(table.contains("| 2.5 | -40 |"), table)
    }

    func testOldFilesGiveTheTopOnlyWhenPositive() throws {
        let neg = try run(hessian: #"{"eigenvalue": -30.6, "rayleigh": -30.6, "iterations": 5, "converged": true, "epsilon": 0.001}"#)
        XCTAssertTrue(neg.hessianTop.isNaN, "a negative largest-magnitude eigenvalue says nothing about λ_max")
        XCTAssertEqual(neg.hessianLargestMagnitude, -30.6)
        let pos = try run(hessian: #"{"eigenvalue": 7, "rayleigh": 7, "iterations": 5, "converged": true, "epsilon": 0.001}"#)
        XCTAssertEqual(pos.hessianTop, 7)
    }
}
