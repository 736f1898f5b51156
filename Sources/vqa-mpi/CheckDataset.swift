// `vqa-mpi check-dataset`: opens every labelled file in parallel with the loader's own read path
// (Media's checkReadable: the decoder train/eval/score use, first and last frame), lists the
// unreadable ones with their reasons, summarises the readable ones; exit 1 if any failed or the
// labels are unusable for training (no variance). Under mpirun each rank checks its share
// (entries i ≡ rank mod size) and rank 0 prints the merged report.

import ArgumentParser
import Dist
import Foundation
import Media

extension LabelFormat: ExpressibleByArgument {}

struct CheckDataset: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-dataset",
        abstract: "Check that every file in a label file can be opened and decoded (first and last frame)."
    )

    @Option(help: "Label file: FAST-VQA 'path, duration, fps, MOS' lines, or CSV with a header.") var labels: String
    @Option(help: "Label file format: auto, fastvqa or csv (auto: fastvqa when the first line is 'path, number, number, number').")
    var format: LabelFormat = .auto
    @Option(name: .customLong("file-column"), help: "CSV column holding the file path (default: the first of \(Labels.fileColumnNames.joined(separator: ", "))).")
    var fileColumn: String?
    @Option(name: .customLong("score-column"), help: "CSV column holding the score (default: the first of \(Labels.scoreColumnNames.joined(separator: ", "))).")
    var scoreColumn: String?
    @Option(name: .customLong("data-root"), help: "Directory the label paths are relative to (optional when every path is absolute).") var dataRoot: String?
    @Option(help: "Files checked at once (per rank).") var threads = 2
    @Option(name: .customLong("max-pixels"), help: "Largest width·height accepted.") var maxPixels = 4096 * 4096
    @Option(help: "Relative difference allowed between a label's duration or fps and the file's before a warning (0.1: 10%).") var tolerance = 0.1
    @Flag(help: "Print one JSON object.") var json = false

    func validate() throws {
        if threads < 1 { throw ValidationError("--threads must be at least 1, got \(threads)") }
        if maxPixels < 1 { throw ValidationError("--max-pixels must be positive, got \(maxPixels)") }
        if !(tolerance >= 0 && tolerance.isFinite) { throw ValidationError("--tolerance must be a finite number ≥ 0, got \(tolerance)") }
    }

    func run() throws {
        guard FileManager.default.isReadableFile(atPath: labels) else {
            throw MediaError(labels, "cannot read the label file; check the --labels path")
        }
        let entries = try Labels.load(path: labels, dataRoot: dataRoot, format: format,
                                      fileColumn: fileColumn, scoreColumn: scoreColumn)
        if dataRoot == nil { try LabelAgreement.requireAbsolute(entries, labels: labels) }
        try Labels.requireVariance(entries, source: labels)
        let paths = entries.map(\.path)
        let comm = try Launcher.connect(.auto, threadsNeeded: false)
        var results: [Result<VideoInfo, MediaError>] = [], perRank: [Int] = []
        try collective(comm) {
            let mine = Array(stride(from: comm.rank, to: paths.count, by: comm.size))
            let local = checkAll(mine.map { paths[$0] })
            (results, perRank) = try CheckOutcome.merge(Array(zip(mine, local)), count: paths.count, comm: comm)
        }
        var report = DatasetReport(paths: paths, results: results)
        report.perRank = perRank
        report.disagreements = LabelAgreement.disagreements(entries, results, tolerance: tolerance)
        report.tolerance = tolerance
        if comm.rank == 0 { print(json ? report.json() : report.text()) }
        if !report.failures.isEmpty { throw ExitCode(1) }
    }

    /// Checks `paths` on `threads` workers, each taking the next unchecked file.
    private func checkAll(_ paths: [String]) -> [Result<VideoInfo, MediaError>] {
        let queue = CheckQueue(count: paths.count)
        let limit = maxPixels
        DispatchQueue.concurrentPerform(iterations: min(threads, max(paths.count, 1))) { _ in
            while let i = queue.next() { queue.store(i, checkEntry(paths[i], maxPixels: limit)) }
        }
        return queue.results.map { $0! }
    }
}

/// Checks one file exactly as the loader reads it (Media.checkReadable).
func checkEntry(_ path: String, maxPixels: Int) -> Result<VideoInfo, MediaError> {
    do {
        return .success(try checkReadable(path: path, maxPixels: maxPixels))
    } catch let e as MediaError {
        return .failure(e)
    } catch {
        return .failure(MediaError(path, "\(error)"))
    }
}

/// One checked entry in the form the ranks exchange (JSON).
struct CheckOutcome: Codable {
    var index: Int
    var path: String
    var reason: String?
    var frameCount = 0, width = 0, height = 0
    var fps = 0.0, duration = 0.0
    var codec = ""

    init(index: Int, _ r: Result<VideoInfo, MediaError>) {
        self.index = index
        switch r {
        case .success(let v):
            path = v.path; frameCount = v.frameCount; width = v.width; height = v.height
            fps = v.fps; duration = v.duration; codec = v.codec
        case .failure(let e):
            path = e.path; reason = e.reason
        }
    }

    var result: Result<VideoInfo, MediaError> {
        if let reason { return .failure(MediaError(path, reason)) }
        return .success(VideoInfo(path: path, frameCount: frameCount, fps: fps, duration: duration,
                                  width: width, height: height, codec: codec))
    }

    /// Every rank's (entry index, result) pairs, gathered on every rank in entry order, and how
    /// many entries each rank checked.
    static func merge(_ local: [(Int, Result<VideoInfo, MediaError>)], count: Int,
                      comm: Communicator) throws -> ([Result<VideoInfo, MediaError>], [Int]) {
        var all = local, perRank = [local.count]
        if comm.size > 1 {
            let mine = Array(try JSONEncoder().encode(local.map { CheckOutcome(index: $0.0, $0.1) }))
            all = []; perRank = []
            for r in 0..<comm.size {
                let bytes = try comm.broadcast(r == comm.rank ? mine : [], root: r)
                let theirs = try JSONDecoder().decode([CheckOutcome].self, from: Data(bytes))
                all += theirs.map { ($0.index, $0.result) }
                perRank.append(theirs.count)
            }
        }
        var out = [Result<VideoInfo, MediaError>?](repeating: nil, count: count)
        for (i, r) in all { out[i] = r }
        let merged = try out.enumerated().map { i, r in
            guard let r else { throw MediaError("check-dataset", "entry \(i) was checked by no rank") }
            return r
        }
        return (merged, perRank)
    }
}

/// Hands out indices to workers and collects results (lock-protected).
final class CheckQueue: @unchecked Sendable {
    private let lock = NSLock()
    private var cursor = 0
    private let count: Int
    private(set) var results: [Result<VideoInfo, MediaError>?]

    init(count: Int) {
        self.count = count
        results = Array(repeating: nil, count: count)
    }

    func next() -> Int? {
        lock.lock(); defer { lock.unlock() }
        if cursor >= count { return nil }
        cursor += 1
        return cursor - 1
    }

    func store(_ i: Int, _ r: Result<VideoInfo, MediaError>) {
        lock.lock(); defer { lock.unlock() }
        results[i] = r
    }
}

/// What check-dataset prints: failures and a summary of the readable files.
struct DatasetReport {
    let total: Int
    let failures: [MediaError]
    let readable: [VideoInfo]
    /// Entries checked by each rank (one element without MPI).
    var perRank: [Int] = []
    /// Entries whose label duration/fps disagree with the file (warnings, not failures).
    var disagreements: [LabelDisagreement] = []
    var tolerance = 0.1

    init(paths: [String], results: [Result<VideoInfo, MediaError>]) {
        total = paths.count
        failures = results.compactMap { if case .failure(let e) = $0 { return e } else { return nil } }
        readable = results.compactMap { try? $0.get() }
    }

    /// (key, count) sorted by count descending, then key.
    static func histogram(_ keys: [String]) -> [(String, Int)] {
        Dictionary(keys.map { ($0, 1) }, uniquingKeysWith: +).sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }
    }

    var resolutions: [(String, Int)] { Self.histogram(readable.map { "\($0.width)x\($0.height)" }) }
    var codecs: [(String, Int)] { Self.histogram(readable.map(\.codec)) }
    var durations: (Double, Double)? {
        let d = readable.map(\.duration)
        guard let lo = d.min(), let hi = d.max() else { return nil }
        return (lo, hi)
    }

    func text() -> String {
        var out: [String] = []
        if !failures.isEmpty {
            let width = min(60, failures.map(\.path.count).max() ?? 0)
            out.append("UNREADABLE".padding(toLength: max(width, 10), withPad: " ", startingAt: 0) + "  REASON")
            for f in failures { out.append(f.path.padding(toLength: max(width, f.path.count), withPad: " ", startingAt: 0) + "  " + f.reason) }
            out.append("")
        }
        if !disagreements.isEmpty {
            out.append("warning: \(disagreements.count) label value(s) disagree with the file by more than \(Int((tolerance * 100).rounded()))% (the label file's duration/fps are wrong, or the files are not the ones it describes):")
            for d in disagreements.prefix(20) { out.append("  " + d.text) }
            if disagreements.count > 20 { out.append("  ... and \(disagreements.count - 20) more") }
            out.append("")
        }
        out.append("entries: \(total), readable: \(readable.count), unreadable: \(failures.count)")
        if perRank.count > 1 { out.append("checked by \(perRank.count) ranks: " + perRank.map(String.init).joined(separator: " + ")) }
        if !readable.isEmpty {
            out.append("resolutions: " + resolutions.map { "\($0.0) ×\($0.1)" }.joined(separator: ", "))
            out.append("codecs: " + codecs.map { "\($0.0) ×\($0.1)" }.joined(separator: ", "))
            if let (lo, hi) = durations { out.append(String(format: "duration: %.2f–%.2f s", lo, hi)) }
            let frames = readable.map(\.frameCount)
            out.append("frames: \(frames.min()!)–\(frames.max()!)")
        }
        return out.joined(separator: "\n")
    }

    func json() -> String {
        var obj: [String: Any] = [
            "entries": total,
            "readable": readable.count,
            "unreadable": failures.map { ["path": $0.path, "reason": $0.reason] },
            "resolutions": Dictionary(uniqueKeysWithValues: resolutions),
            "codecs": Dictionary(uniqueKeysWithValues: codecs),
            "checked_per_rank": perRank,
            "disagreements": disagreements.map { ["path": $0.path, "field": $0.field, "label": $0.label, "file": $0.file] as [String: Any] },
        ]
        if let (lo, hi) = durations { obj["duration"] = ["min": lo, "max": hi] }
        let frames = readable.map(\.frameCount)
        if let lo = frames.min(), let hi = frames.max() { obj["frames"] = ["min": lo, "max": hi] }
        let data = (try? JSONSerialization.data(withJSONObject: obj, options: [.sortedKeys])) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self)
    }
}
