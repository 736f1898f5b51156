// Support for the end-to-end and fault tests: the tiny synthetic set, signalling one MPI rank (found
// by its environment) or the launcher of a background run, and reading checkpoints independently of
// the engine (header JSON, tensor bytes as Float32).

import XCTest
import Foundation
import TestSupport

/// Makes the tiny synthetic data set of the end-to-end tests (12 videos, 64×48, 8 frames at 8 fps:
/// 3 training steps per epoch at batch 4) in the shared temporary directory `name` and returns that
/// directory (the set is in its `syn/`). Callers keep it in a `static let`: made once per process.
func tinySyntheticSet(_ name: String) -> String {
    let dir = TempDir.shared(name).path
    _ = try? CLI.vqa(["synth", "--out", dir + "/syn", "--videos", "12", "--width", "64", "--height", "48",
                      "--frames", "8", "--fps", "8", "--threads", "2"])
    return dir
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

    /// Whom `signal(_:…)` signals: the launcher (mpirun or launch.sh) or one rank of the job whose
    /// ranks carry VQA_FAULT_TAG=`tag`.
    enum Target { case launcher, rank(Int, tag: String) }

    /// Waits (up to 120 s) until `run` prints `line`, sends `signal` to `target`, then waits up to
    /// `timeout` seconds for the end; prints `what` with the outcome and returns the exit status
    /// (-1: still running after `timeout`) and the seconds since the signal.
    static func signal(_ run: TestProcess, _ signal: Int32, to target: Target, after line: String, timeout: Double,
                       what: String, file: StaticString = #filePath, lineNumber: UInt = #line) throws -> (status: Int32, seconds: Double) {
        XCTAssertTrue(run.waitFor(timeout: 120) { run.stdout.contains(line) }, run.stdout + run.stderr, file: file, line: lineNumber)
        let pid: Int32
        switch target {
        case .launcher: pid = run.pid
        case let .rank(rank, tag): pid = try XCTUnwrap(rankPid(tag: tag, rank: rank), "rank \(rank) not found", file: file, line: lineNumber)
        }
        let sent = Date()
        kill(pid, signal)
        let (status, seconds) = run.finish(timeout: timeout, since: sent)
        print("\(what): exited \(status) after \(String(format: "%.1f", seconds)) s")
        return (status, seconds)
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
