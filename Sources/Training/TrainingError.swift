// Errors of the application layer: configuration, checkpoints, the run directory, training and
// landscape set-up. Distribution failures (MPI, ranks) stay DistError; files Media reads, MediaError.

/// A training-side failure: what it concerns (a file, a config key, a flag) and what went wrong, with how to fix it.
public struct TrainingError: Error, CustomStringConvertible, Sendable {
    /// What the error concerns: a file, a config key or a flag ("" when `reason` names it itself).
    public let context: String
    /// What went wrong and how to fix it.
    public let reason: String

    /// An error about `context` (printed as "context: reason").
    public init(_ context: String, _ reason: String) {
        self.context = context
        self.reason = reason
    }

    /// An error whose message names what it concerns itself.
    public init(_ message: String) {
        context = ""
        reason = message
    }

    public var description: String { context.isEmpty ? reason : "\(context): \(reason)" }
}
