// The one way the tests run a program: arguments, an environment without any inherited launcher
// identity, optional stdin, output captured in files (readable while the program runs, so a test
// can wait for a line and then send a signal), an optional timeout, stderr optionally merged.

import Foundation

/// What a finished program printed and how it ended.
public struct ProcessResult: Sendable {
    /// Exit status (for a program ended by a signal, the signal's number as Foundation reports it); -1 after a timeout.
    public let status: Int32
    /// stdout as bytes (raw frames, binary files).
    public let stdoutData: Data
    /// Empty when the run merged stderr into stdout.
    public let stderr: String
    /// True when the timeout ended the program (SIGKILL).
    public let timedOut: Bool

    /// stdout as text (invalid UTF-8 replaced).
    public var stdout: String { String(decoding: stdoutData, as: UTF8.self) }

    /// stdout followed by stderr, for failure messages.
    public var output: String { stdout + stderr }
}

/// A program started in the background with its stdout and stderr in files.
public final class TestProcess {
    /// Variables a child never inherits: an mpirun, srun or PMIx identity of the test process itself
    /// (a singleton would try to join that job) and Open MPI settings (each test sets what it needs).
    public static let launcherPrefixes = ["OMPI_", "PMIX_", "PMI_", "SLURM_"]

    /// This process's environment without the launcher variables and the names in `unset`, then
    /// `overrides` on top.
    public static func environment(_ overrides: [String: String] = [:], unset: [String] = []) -> [String: String] {
        var env = ProcessInfo.processInfo.environment.filter { key, _ in
            !launcherPrefixes.contains { key.hasPrefix($0) } && !unset.contains(key)
        }
        for (k, v) in overrides { env[k] = v }
        return env
    }

    public let process = Process()
    public let stdoutPath: String
    public let stderrPath: String
    /// When the program was started.
    public let started = Date()
    private let merged: Bool

    /// Starts `exe args` with `environment(env, unset:)`. Output goes to `logPrefix.out` / `.err`
    /// (default: fresh files in the test process's temporary root); `mergeOutput` sends stderr to the
    /// stdout file; `stdin` is fed from a file (default /dev/null); `directory` is the working
    /// directory (default: this process's).
    public init(_ exe: String, _ args: [String], env: [String: String] = [:], unset: [String] = [], stdin: Data? = nil,
                mergeOutput: Bool = false, logPrefix: String? = nil, directory: String? = nil) throws {
        let prefix = logPrefix ?? TempDir.processRoot.appendingPathComponent("proc-\(UUID().uuidString)").path
        stdoutPath = prefix + ".out"; stderrPath = prefix + ".err"; merged = mergeOutput
        let fm = FileManager.default
        _ = fm.createFile(atPath: stdoutPath, contents: nil)
        if !mergeOutput { _ = fm.createFile(atPath: stderrPath, contents: nil) }
        process.executableURL = URL(fileURLWithPath: exe)
        process.arguments = args
        process.environment = Self.environment(env, unset: unset)
        if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
        let out = try FileHandle(forWritingTo: URL(fileURLWithPath: stdoutPath))
        process.standardOutput = out
        process.standardError = mergeOutput ? out : try FileHandle(forWritingTo: URL(fileURLWithPath: stderrPath))
        if let stdin {
            let inPath = prefix + ".in"
            try stdin.write(to: URL(fileURLWithPath: inPath))
            process.standardInput = try FileHandle(forReadingFrom: URL(fileURLWithPath: inPath))
        } else {
            process.standardInput = FileHandle.nullDevice
        }
        do { try process.run() } catch {
            throw TestSupportError("cannot start \(exe): \(error.localizedDescription) (is it built and executable?)")
        }
    }

    public var pid: Int32 { process.processIdentifier }
    public var isRunning: Bool { process.isRunning }
    /// What the program has written to stdout so far.
    public var stdout: String { Self.read(stdoutPath) }
    /// What the program has written to stderr so far (empty when merged).
    public var stderr: String { merged ? "" : Self.read(stderrPath) }

    /// Polls until `condition` holds (true), or the program ends or `timeout` seconds pass (false).
    public func waitFor(timeout: Double, _ condition: () -> Bool) -> Bool {
        let end = Date().addingTimeInterval(timeout)
        while Date() < end {
            if condition() { return true }
            if !process.isRunning { return condition() }
            usleep(20_000)
        }
        return false
    }

    /// Waits for the end (with `timeout`, SIGKILL after that many seconds: status -1); returns the
    /// status and the seconds since `since` (default: the start).
    @discardableResult
    public func finish(timeout: Double? = nil, since: Date? = nil) -> (status: Int32, seconds: Double) {
        if let timeout {
            let end = Date().addingTimeInterval(timeout)
            while process.isRunning && Date() < end { usleep(20_000) }
            if process.isRunning { kill(pid, SIGKILL); process.waitUntilExit(); return (-1, timeout) }
        }
        process.waitUntilExit()
        return (process.terminationStatus, Date().timeIntervalSince(since ?? started))
    }

    /// Runs `exe args` to the end and returns what it printed (the output files are removed).
    public static func run(_ exe: String, _ args: [String], env: [String: String] = [:], stdin: Data? = nil,
                           timeout: Double? = nil, mergeOutput: Bool = false, directory: String? = nil) throws -> ProcessResult {
        let p = try TestProcess(exe, args, env: env, stdin: stdin, mergeOutput: mergeOutput, directory: directory)
        let (status, _) = p.finish(timeout: timeout)
        let result = ProcessResult(status: status, stdoutData: FileManager.default.contents(atPath: p.stdoutPath) ?? Data(),
                                   stderr: p.stderr, timedOut: status == -1 && timeout != nil)
        for suffix in [".out", ".err", ".in"] {
            try? FileManager.default.removeItem(atPath: String(p.stdoutPath.dropLast(4)) + suffix)
        }
        return result
    }

    private static func read(_ path: String) -> String {
        String(decoding: FileManager.default.contents(atPath: path) ?? Data(), as: UTF8.self)
    }
}

/// A test-support failure with a message that says how to fix it.
public struct TestSupportError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
