// Support for the fault tests: a process running in the background (output to files, so signals
// can be sent while it runs), finding one MPI rank's pid, and reading checkpoints independently of
// the engine (header JSON, tensor bytes as Float32).

import XCTest
import Foundation

/// A process started in the background with its output in files.
final class BackgroundRun {
    let process = Process()
    let stdoutPath: String, stderrPath: String
    let started = Date()

    init(_ exe: String, _ args: [String], env: [String: String], logPrefix: String) throws {
        stdoutPath = logPrefix + ".out"; stderrPath = logPrefix + ".err"
        _ = FileManager.default.createFile(atPath: stdoutPath, contents: nil)
        _ = FileManager.default.createFile(atPath: stderrPath, contents: nil)
        process.executableURL = URL(fileURLWithPath: exe)
        process.arguments = args
        var e = ProcessInfo.processInfo.environment.filter { k, _ in !["OMPI_COMM", "PMIX_", "PMI_"].contains { k.hasPrefix($0) } }
        for (k, v) in env { e[k] = v }
        process.environment = e
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: stdoutPath))
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: stderrPath))
        try process.run()
    }

    var pid: Int32 { process.processIdentifier }
    var stdout: String { (try? String(contentsOfFile: stdoutPath, encoding: .utf8)) ?? "" }
    var stderr: String { (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? "" }

    /// Polls until `condition` holds (true) or the process ends or `timeout` passes (false).
    func waitFor(timeout: Double, _ condition: () -> Bool) -> Bool {
        let end = Date().addingTimeInterval(timeout)
        while Date() < end {
            if condition() { return true }
            if !process.isRunning { return condition() }
            usleep(20_000)
        }
        return false
    }

    /// Waits for the end (hang guard: kills the process group after `timeout`); returns the status
    /// and the seconds since `since`.
    func finish(timeout: Double, since: Date? = nil) -> (status: Int32, seconds: Double) {
        let end = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < end { usleep(20_000) }
        if process.isRunning { kill(pid, SIGKILL); process.waitUntilExit(); return (-1, timeout) }
        process.waitUntilExit()
        return (process.terminationStatus, Date().timeIntervalSince(since ?? started))
    }
}

enum FaultSupport {
    /// The pid of the process whose environment holds VQA_FAULT_TAG=`tag` and OMPI_COMM_WORLD_RANK=`rank`.
    static func rankPid(tag: String, rank: Int) -> Int32? {
        let fm = FileManager.default
        for name in (try? fm.contentsOfDirectory(atPath: "/proc")) ?? [] {
            guard let pid = Int32(name), let env = fm.contents(atPath: "/proc/\(name)/environ") else { continue }
            let vars = env.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
            if vars.contains("VQA_FAULT_TAG=\(tag)") && vars.contains("OMPI_COMM_WORLD_RANK=\(rank)") { return pid }
        }
        return nil
    }

    /// Header (tensor entries and __metadata__) and data area of a safetensors file.
    static func parse(_ path: String) throws -> (header: [String: Any], data: Data) {
        let d = try Data(contentsOf: URL(fileURLWithPath: path))
        let n = Int(d.prefix(8).enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) })
        let header = try XCTUnwrap(try JSONSerialization.jsonObject(with: d.subdata(in: 8..<8 + n)) as? [String: Any])
        return (header, d.subdata(in: 8 + n..<d.count))
    }

    /// The checkpoint's metadata.
    static func metadata(_ path: String) throws -> [String: String] {
        try XCTUnwrap(try parse(path).header["__metadata__"] as? [String: String])
    }

    /// Tensor name → raw bytes.
    static func tensors(_ path: String) throws -> [String: Data] {
        let (header, data) = try parse(path)
        var out: [String: Data] = [:]
        for (k, v) in header where k != "__metadata__" {
            let o = try XCTUnwrap((v as? [String: Any])?["data_offsets"] as? [Int])
            out[k] = data.subdata(in: o[0]..<o[1])
        }
        return out
    }

    /// Names of the F32 tensors holding a NaN or infinity.
    static func nonfinite(_ path: String) throws -> [String] {
        try tensors(path).compactMap { name, bytes in
            let bad = bytes.withUnsafeBytes { raw in
                (0..<raw.count / 4).contains { !Float(bitPattern: raw.loadUnaligned(fromByteOffset: 4 * $0, as: UInt32.self).littleEndian).isFinite }
            }
            return bad ? name : nil
        }
    }

    /// Files in `dir` whose name starts with "." (temporary files of the atomic writer), except
    /// the run's lock file `.lock`.
    static func hiddenFiles(_ dir: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).filter { $0.hasPrefix(".") && $0 != ".lock" }
    }
}
