// Errors of the distributed layer.

/// A failure in MPI or in coordinating ranks, with a hint on how to fix it.
public struct DistError: Error, CustomStringConvertible, Sendable {
    /// What went wrong.
    public let message: String

    /// Creates an error with `message`.
    public init(_ message: String) { self.message = message }

    public var description: String { message }
}
