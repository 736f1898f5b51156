// Temporary directories of the tests, all below one root per test process
// (<tmp>/vqa-tests-<pid>): a test's own directory is removed when the test ends; a directory
// shared by a class's tests (a synthetic data set made once) lives until the process ends, and
// the roots of test processes that have ended are removed when the next one starts.

import Foundation
import XCTest

/// Temporary directories with clean-up.
public enum TempDir {
    private static let prefix = "vqa-tests-"

    /// This test process's root directory, created on first use (removing the roots left by test
    /// processes that are no longer running).
    public static let processRoot: URL = {
        let fm = FileManager.default
        let tmp = fm.temporaryDirectory
        for name in (try? fm.contentsOfDirectory(atPath: tmp.path)) ?? [] where name.hasPrefix(prefix) {
            guard let pid = Int32(name.dropFirst(prefix.count)), pid != getpid() else { continue }
            if kill(pid, 0) != 0 && errno == ESRCH { try? fm.removeItem(at: tmp.appendingPathComponent(name)) }
        }
        let root = tmp.appendingPathComponent(prefix + "\(getpid())")
        try? fm.createDirectory(at: root, withIntermediateDirectories: true)
        return root
    }()

    /// A new empty directory `<name>-<uuid>`, removed with its contents when `test` ends.
    public static func make(_ name: String, for test: XCTestCase) throws -> URL {
        let dir = processRoot.appendingPathComponent("\(name)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        test.addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        return dir
    }

    /// A path that does not exist yet (for a program that must create it), inside a new directory
    /// removed with its contents when `test` ends.
    public static func newPath(_ name: String, for test: XCTestCase) throws -> URL {
        try make(name, for: test).appendingPathComponent("out")
    }

    /// The directory `name` shared by every test of this process that asks for it (created, not
    /// emptied); it goes with the process root.
    public static func shared(_ name: String) -> URL {
        let dir = processRoot.appendingPathComponent(name)
        try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }
}
