// Real MPI: spawns the release binary under mpirun (and as a singleton) running
// `vqa-mpi bench allreduce --verify`, which checks every collective on every rank.

import XCTest
import Foundation

final class MPIRunTests: XCTestCase {
    struct Run { let status: Int32; let stdout: String; let stderr: String }

    static var binary: String {
        if let b = ProcessInfo.processInfo.environment["VQA_MPI_BIN"] { return b }
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        return root.appendingPathComponent(".build/release/vqa-mpi").path
    }

    static func which(_ name: String) -> String? {
        for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":") {
            let p = "\(dir)/\(name)"
            if FileManager.default.isExecutableFile(atPath: p) { return p }
        }
        return nil
    }

    func run(_ exe: String, _ args: [String], env: [String: String] = [:]) throws -> Run {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: exe)
        p.arguments = args
        // A child must not inherit a launcher's identity (if this test process was itself started
        // by mpirun or srun, the singleton would try to join that job).
        var e = ProcessInfo.processInfo.environment.filter { key, _ in
            !["OMPI_", "PMIX_", "PMI_", "SLURM_"].contains { key.hasPrefix($0) }
        }
        for (k, v) in env { e[k] = v }
        p.environment = e
        let out = Pipe(), err = Pipe()
        p.standardOutput = out; p.standardError = err
        try p.run()
        let o = out.fileHandleForReading.readDataToEndOfFile(), r = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return Run(status: p.terminationStatus, stdout: String(decoding: o, as: UTF8.self), stderr: String(decoding: r, as: UTF8.self))
    }

    func binaryOrFail() throws -> String {
        let b = Self.binary
        guard FileManager.default.isExecutableFile(atPath: b) else {
            XCTFail("\(b) is missing: run `swift build -c release -Xswiftc -enable-testing` first or set VQA_MPI_BIN")
            throw XCTSkip("no binary")
        }
        return b
    }

    func mpirun(_ np: Int, _ args: [String]) throws -> Run {
        guard let mpirun = Self.which("mpirun") else { throw XCTSkip("mpirun is not installed") }
        let bin = try binaryOrFail()
        var flags = ["-np", "\(np)", "--mca", "btl", "self,vader", "--mca", "btl_vader_single_copy_mechanism", "none"]
        if np > 2 { flags.append("--oversubscribe") }
        return try run(mpirun, flags + [bin] + args, env: ["OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1"])
    }

    func verifiedJSON(_ r: Run, ranks: Int, file: StaticString = #filePath, line: UInt = #line) throws -> [String: Any] {
        XCTAssertEqual(r.status, 0, "stdout: \(r.stdout)\nstderr: \(r.stderr)", file: file, line: line)
        let lines = r.stdout.split(separator: "\n").filter { $0.hasPrefix("{") }
        XCTAssertEqual(lines.count, 1, "exactly rank 0 prints JSON: \(r.stdout)", file: file, line: line)
        let obj = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data((lines.first ?? "").utf8)) as? [String: Any])
        XCTAssertEqual(obj["ranks"] as? Int, ranks, file: file, line: line)
        XCTAssertEqual(obj["verified"] as? Bool, true, file: file, line: line)
        XCTAssertGreaterThan(obj["ours_ms"] as? Double ?? -1, 0, file: file, line: line)
        XCTAssertGreaterThan(obj["raw_mpi_ms"] as? Double ?? -1, 0, file: file, line: line)
        return obj
    }

    func testTwoRanksVerify() throws {
        let obj = try verifiedJSON(try mpirun(2, ["bench", "allreduce", "--mb", "1", "--reps", "3", "--json", "--verify"]), ranks: 2)
        XCTAssertEqual(obj["buckets"] as? Int, 1)
    }

    func testThreeRanksManyBucketsVerify() throws {
        let r = try mpirun(3, ["bench", "allreduce", "--mb", "1", "--reps", "3", "--json", "--verify",
                               "--bucket-mb", "0.2", "--first-bucket-mb", "0.05"])
        let obj = try verifiedJSON(r, ranks: 3)
        XCTAssertGreaterThanOrEqual(obj["buckets"] as? Int ?? 0, 5)
    }

    func testSingletonWithoutLauncherVerifies() throws {
        let bin = try binaryOrFail()
        _ = try verifiedJSON(try run(bin, ["bench", "allreduce", "--mb", "0.5", "--reps", "2", "--json", "--verify",
                                           "--bucket-mb", "0.1", "--first-bucket-mb", "0.01"]), ranks: 1)
    }

    /// Plain `srun` with Open MPI gives singletons; the launcher's size must not be silently ignored.
    func testSingletonUnderAnAnnouncedSlurmStepIsRefused() throws {
        let bin = try binaryOrFail()
        let r = try run(bin, ["bench", "allreduce", "--mb", "0.1", "--reps", "1"],
                        env: ["SLURM_STEP_NUM_TASKS": "2", "SLURM_STEP_ID": "0"])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("srun --mpi=pmix -n 2"), r.stderr)
    }

    func testInvalidOptionsAreRejectedBeforeMPIStarts() throws {
        let bin = try binaryOrFail()
        let r = try run(bin, ["bench", "allreduce", "--reps", "0"])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("--reps must be at least 1"), r.stderr)
        let m = try run(bin, ["bench", "allreduce", "--first-bucket-mb", "0"])
        XCTAssertNotEqual(m.status, 0)
        XCTAssertTrue(m.stderr.contains("must be positive"), m.stderr)
    }
}
