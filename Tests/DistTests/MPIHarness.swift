// Spawning the release binary as a singleton or under mpirun, shared by the Dist test classes.

import XCTest
import Foundation

/// What a spawned process printed and how it ended.
struct Run { let status: Int32; let stdout: String; let stderr: String }

extension XCTestCase {
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

}
