// Errors of the engine (models, options, tensors, safetensors files).

/// An engine error carrying what went wrong and how to fix it.
public struct EngineError: Error, CustomStringConvertible, Sendable {
    /// The message.
    public let message: String
    /// Creates an error with `message`.
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
