// End-to-end tests: they spawn the release binary built by scripts/test.sh.

import XCTest
import Foundation

/// Runs the built `vqa-mpi` (or another program) and captures its output.
enum CLI {
    static var root: URL { URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent() }
    static var binary: String {
        if let b = ProcessInfo.processInfo.environment["VQA_MPI_BIN"] { return b }
        return root.appendingPathComponent(".build/release/vqa-mpi").path
    }

    struct Result { let status: Int32; let stdout: String; let stderr: String }

    static func run(_ exe: String, _ args: [String], env: [String: String] = [:]) throws -> Result {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: exe)
        p.arguments = args
        var e = ProcessInfo.processInfo.environment
        for (k, v) in env { e[k] = v }
        p.environment = e
        let out = Pipe(), err = Pipe()
        p.standardOutput = out; p.standardError = err
        try p.run()
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let r = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return Result(status: p.terminationStatus, stdout: String(decoding: o, as: UTF8.self), stderr: String(decoding: r, as: UTF8.self))
    }

    static func vqa(_ args: [String], env: [String: String] = [:]) throws -> Result { try run(binary, args, env: env) }
}

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
