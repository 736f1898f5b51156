import Foundation

// Bad inputs are reported once, counted, and summarised per epoch; the run never crashes on them.

/// Thread-safe record of inputs that could not be read: each file is reported once as
/// `path: reason` through `sink`, then only counted.
public final class FailureLog: @unchecked Sendable {
    private let lock = NSLock()
    private let sink: @Sendable (String) -> Void
    private var firstReason: [String: String] = [:]
    private var order: [String] = []
    private var total: [String: Int] = [:]
    private var epochCounts: [String: Int] = [:]

    /// A log that reports through `sink` (default: standard error).
    public init(sink: @escaping @Sendable (String) -> Void = FailureLog.standardError) {
        self.sink = sink
    }

    /// Writes a line to standard error.
    public static let standardError: @Sendable (String) -> Void = { line in
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }

    /// Records a failure of `path`; the first failure of each path is reported through the sink.
    public func record(path: String, reason: String) {
        lock.lock()
        let first = firstReason[path] == nil
        if first { firstReason[path] = reason; order.append(path) }
        total[path, default: 0] += 1
        epochCounts[path, default: 0] += 1
        lock.unlock()
        if first { sink("\(path): \(reason)") }
    }

    /// Times `path` failed so far (0 if never).
    public func count(for path: String) -> Int {
        lock.lock(); defer { lock.unlock() }
        return total[path] ?? 0
    }

    /// Failures recorded so far, over all files.
    var totalFailures: Int {
        lock.lock(); defer { lock.unlock() }
        return total.values.reduce(0, +)
    }

    /// Distinct files that failed at least once.
    public var failedFiles: [String] {
        lock.lock(); defer { lock.unlock() }
        return order
    }

    /// The first reason recorded for `path`.
    public func reason(for path: String) -> String? {
        lock.lock(); defer { lock.unlock() }
        return firstReason[path]
    }

    /// Failures since the last `startEpoch` (sample count, distinct files).
    var epochFailures: (samples: Int, files: Int) {
        lock.lock(); defer { lock.unlock() }
        return (epochCounts.values.reduce(0, +), epochCounts.count)
    }

    /// Resets the per-epoch counts.
    public func startEpoch() {
        lock.lock(); epochCounts = [:]; lock.unlock()
    }

    /// One line summarising this epoch's failures ("" when there were none).
    func epochSummary(epoch: Int) -> String {
        lock.lock(); defer { lock.unlock() }
        guard !epochCounts.isEmpty else { return "" }
        let samples = epochCounts.values.reduce(0, +)
        let files = order.filter { epochCounts[$0] != nil }
        let shown = files.prefix(5).map { "\($0) ×\(epochCounts[$0]!)" }.joined(separator: ", ")
        let more = files.count > 5 ? ", … \(files.count - 5) more" : ""
        return "epoch \(epoch): skipped \(samples) sample(s) from \(files.count) unreadable file(s): \(shown)\(more)"
    }

    /// Sends a line through the sink.
    func report(_ line: String) { sink(line) }
}
