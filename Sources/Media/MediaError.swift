// Errors raised while reading media and label files. Every error names the file it concerns.

/// A media or label-file failure, naming the file and the reason.
public struct MediaError: Error, CustomStringConvertible, Sendable {
    /// The file concerned.
    public let path: String
    /// Why it failed, in words a user can act on.
    public let reason: String

    /// Creates an error for `path` with `reason`.
    public init(_ path: String, _ reason: String) {
        self.path = path
        self.reason = reason
    }

    public var description: String { "\(path): \(reason)" }
}
