// Errors of the reports layer (study tables, plots).

/// A report that cannot be made from its inputs (a bad metrics file, an unknown column), with a hint.
public struct ReportError: Error, CustomStringConvertible, Sendable {
    /// What went wrong.
    public let message: String

    /// Creates an error with `message`.
    public init(_ message: String) { self.message = message }

    public var description: String { message }
}
