// Trainer.atomicWrite (metrics.jsonl, curves.svg) on a full disk: one line naming the file and the
// cause, no temporary file left behind, the previous file intact. The full disk is /dev/full
// behind the temporary file's name (a symlink), which works as root and in CI without a mount.

import Foundation
import XCTest
@testable import Dist
@testable import Training
import TestSupport

final class AtomicWriteTests: XCTestCase {
    func testFullDiskGivesOneLineAndLeavesNoTemporaryFile() throws {
        guard FileManager.default.fileExists(atPath: "/dev/full") else { throw XCTSkip("/dev/full is missing") }
        let dir = try TempDir.make("atomic", for: self).path
        let path = dir + "/metrics.jsonl"
        try Trainer.atomicWrite("{\"epoch\": 1}\n", to: path)
        try FileManager.default.createSymbolicLink(atPath: path + ".tmp", withDestinationPath: "/dev/full")
        XCTAssertThrowsError(try Trainer.atomicWrite("{\"epoch\": 1}\n{\"epoch\": 2}\n", to: path)) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains(path) && text.contains("No space left on device"), text)
            XCTAssertFalse(text.contains("\n") || text.contains("Error Domain"), text)
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: path + ".tmp"), "the temporary file was left behind")
        XCTAssertEqual(try String(contentsOfFile: path, encoding: .utf8), "{\"epoch\": 1}\n", "the previous file is intact")
    }
}
