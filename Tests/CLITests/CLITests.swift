// End-to-end tests: they spawn the release binary built by scripts/test.sh (TestSupport's CLI).

import XCTest
import Foundation
import TestSupport

final class CLITests: XCTestCase {
    func testRootListsSubcommands() throws {
        let r = try CLI.vqa(["--help"])
        XCTAssertEqual(r.status, 0)
        XCTAssertTrue(r.stdout.contains("bench"), r.stdout)
    }

    func testBenchSgemmPrintsJSON() throws {
        let r = try CLI.vqa(["bench", "sgemm", "--shape", "64,256,64", "--threads", "1", "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let obj = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]
        XCTAssertGreaterThan(obj?["sgemm_gflops"] as? Double ?? 0, 0)
    }

    func testBadShapeIsRejectedWithMessage() throws {
        let r = try CLI.vqa(["bench", "sgemm", "--shape", "1,2"])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("three positive integers"), r.stderr)
    }
}
