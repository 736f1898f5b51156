// Option groups shared by train, eval and score, and the collective-error wrapper.

import ArgumentParser
import Foundation
import Dist
import Engine
import Training

/// Threads for compute and decoding.
struct RuntimeOptions: ParsableArguments {
    @Option(help: "Compute threads per rank (OpenBLAS and parallel loops).") var threads: Int?
    @Option(name: .customLong("decode-threads"), help: "Decoder threads per rank.") var decodeThreads: Int?

    func validate() throws {
        if let t = threads, t < 1 { throw ValidationError("--threads must be at least 1, got \(t)") }
        if let t = decodeThreads, t < 1 { throw ValidationError("--decode-threads must be at least 1, got \(t)") }
    }
}

/// Which weights of a checkpoint score.
struct WeightOptions: ParsableArguments {
    @Flag(help: "Use the EMA weights (default when the checkpoint has them).") var ema = false
    @Flag(help: "Use the raw (non-EMA) weights.") var raw = false

    func validate() throws { if ema && raw { throw ValidationError("--ema and --raw exclude each other; pass one") } }
    /// nil: EMA when present.
    var choice: Bool? { ema ? true : (raw ? false : nil) }
}

/// Runs `body` on every rank; an error on any rank is printed with its rank and ends the job
/// (under MPI the other ranks would otherwise wait forever in a collective).
func collective(_ comm: Communicator, _ body: () throws -> Void) throws {
    do { try body() } catch {
        let prefix = comm.size > 1 ? "rank \(comm.rank): " : ""
        FileHandle.standardError.write(Data("error: \(prefix)\(error)\n".utf8))
        if comm.size > 1 { comm.abort(code: 1) }
        throw ExitCode(1)
    }
}

/// JSON text of a dictionary with sorted keys (one line).
func jsonLine(_ object: [String: Any]) -> String {
    let d = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data("{}".utf8)
    return String(decoding: d, as: UTF8.self)
}

/// A finite Double for JSON (nil → NSNull).
func jsonNumber(_ v: Double?) -> Any { v.flatMap { $0.isFinite ? $0 : nil } ?? NSNull() }
