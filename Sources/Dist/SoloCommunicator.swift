// A world of one process without MPI: every collective is the identity.
//
// `Launcher.connect()` returns this when no launcher started the process, so laptop runs skip
// MPI initialisation (a singleton MPI_Init costs ~0.3 s and starts helper threads).

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The communicator of a single process: rank 0 of 1, no MPI.
public final class SoloCommunicator: Communicator, Sendable {
    /// Creates the world of one.
    public init() {}

    public var rank: Int { 0 }
    public var size: Int { 1 }

    public func allReduceSum(_ buf: UnsafeMutablePointer<Float>, count: Int) throws { try checkCount(count, "allReduceSum") }
    public func allReduceSum(_ buf: UnsafeMutablePointer<Double>, count: Int) throws { try checkCount(count, "allReduceSum") }
    public func allReduceSum(_ buf: UnsafeMutablePointer<Int64>, count: Int) throws { try checkCount(count, "allReduceSum") }

    public func broadcast(_ buf: UnsafeMutablePointer<Float>, count: Int, root: Int) throws {
        try checkRoot(root)
        try checkCount(count, "broadcast")
    }

    public func broadcastBytes(_ buf: UnsafeMutableRawPointer, byteCount: Int, root: Int) throws {
        try checkRoot(root)
        try checkCount(byteCount, "broadcastBytes")
    }

    public func allGather(_ values: [Float]) throws -> [Float] { values }

    public func barrier() throws {}

    public func duplicate() throws -> Communicator { SoloCommunicator() }

    public func abort(code: Int32) -> Never { exit(code) }
}
