// Finding the programs the tests need: the vqa-mpi binary under test, outside tools on PATH
// (a missing mpirun, python3 or ffmpeg skips the test locally but fails it when CI=true), and
// python3 as the runner of the Python-side oracles.

import Foundation
import XCTest

/// Outside programs on PATH.
public enum Tools {
    /// Whether this is a CI run (CI=true, as CI services set it): then a missing tool fails the
    /// test instead of skipping it.
    public static var isCI: Bool {
        ["true", "1", "yes"].contains((ProcessInfo.processInfo.environment["CI"] ?? "").lowercased())
    }

    /// The first executable `name` on PATH, or nil.
    public static func which(_ name: String) -> String? {
        for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":") {
            let path = "\(dir)/\(name)"
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        return nil
    }
}

/// The path of tool `name` on PATH. Missing: the test is skipped locally and fails when CI=true
/// (an environment without mpirun, python3 or ffmpeg must not pass CI by skipping).
public func requireTool(_ name: String) throws -> String {
    if let path = Tools.which(name) { return path }
    let fix = "install it (bash scripts/setup.sh installs every tool the tests use) or put it on PATH"
    if Tools.isCI { throw TestSupportError("\(name) is not on PATH, and CI=true requires it: \(fix)") }
    throw XCTSkip("\(name) is not on PATH: \(fix) (with CI=true this is a failure)")
}

/// The `vqa-mpi` binary under test.
public enum CLI {
    /// VQA_MPI_BIN if set, else the release build's .build/release/vqa-mpi.
    public static var binary: String {
        if let b = ProcessInfo.processInfo.environment["VQA_MPI_BIN"], !b.isEmpty { return b }
        return Repo.root.appendingPathComponent(".build/release/vqa-mpi").path
    }

    /// The binary's path; a missing binary fails the test (it is what is under test, never skipped).
    public static func requireBinary() throws -> String {
        let b = binary
        guard FileManager.default.isExecutableFile(atPath: b) else {
            throw TestSupportError("\(b) is missing: build it with `swift build -c release -Xswiftc -enable-testing` "
                                   + "(scripts/test.sh does) or set VQA_MPI_BIN to a built vqa-mpi")
        }
        return b
    }

    /// Runs any program (see `TestProcess.run`).
    public static func run(_ exe: String, _ args: [String], env: [String: String] = [:], stdin: Data? = nil,
                           timeout: Double? = nil, mergeOutput: Bool = false) throws -> ProcessResult {
        try TestProcess.run(exe, args, env: env, stdin: stdin, timeout: timeout, mergeOutput: mergeOutput)
    }

    /// Runs `vqa-mpi args` as one process (no launcher).
    public static func vqa(_ args: [String], env: [String: String] = [:], stdin: Data? = nil, timeout: Double? = nil) throws -> ProcessResult {
        try TestProcess.run(try requireBinary(), args, env: env, stdin: stdin, timeout: timeout)
    }
}

/// python3 for the Python-side oracles (numpy, scipy, safetensors and our own scripts).
public enum Python {
    /// `python3 args`; python3 missing: skipped locally, a failure when CI=true.
    public static func run(_ args: [String], env: [String: String] = [:], stdin: Data? = nil,
                           mergeOutput: Bool = false) throws -> ProcessResult {
        try TestProcess.run(try requireTool("python3"), args, env: env, stdin: stdin, mergeOutput: mergeOutput)
    }

    /// Checks that python3 imports `modules` (scripts/setup.sh installs numpy, scipy and safetensors);
    /// one missing: skipped locally, a failure when CI=true.
    public static func require(modules: [String]) throws {
        let r = try run(["-c", "import " + modules.joined(separator: ", ")], mergeOutput: true)
        guard r.status != 0 else { return }
        let message = "python3 cannot import \(modules.joined(separator: ", ")): install them with "
            + "`python3 -m pip install \(modules.joined(separator: " "))` (scripts/setup.sh does)\n\(r.stdout)"
        if Tools.isCI { throw TestSupportError(message + "\nCI=true requires them") }
        throw XCTSkip(message + "\n(with CI=true this is a failure)")
    }
}
