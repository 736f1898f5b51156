// The collective operations the distributed layer needs, independent of the transport.
//
// There is no global rank: the communicator is created once by the command that runs the work
// (see `Launcher.connect` and `MPIRuntime`) and passed to whatever needs it. Every method is a
// collective: all ranks must call it in the same order with matching arguments. Collectives of
// one communicator must not run concurrently on two threads; code with its own thread (the
// gradient buckets) uses `duplicate()`.

/// Collective operations over a fixed group of ranks.
public protocol Communicator: AnyObject {
    /// This process's index in the group, 0..<size.
    var rank: Int { get }
    /// Number of ranks in the group.
    var size: Int { get }

    /// Replaces `buf[0..<count]` by its element-wise sum over all ranks (in place).
    func allReduceSum(_ buf: UnsafeMutablePointer<Float>, count: Int) throws
    /// Replaces `buf[0..<count]` by its element-wise sum over all ranks (in place).
    func allReduceSum(_ buf: UnsafeMutablePointer<Double>, count: Int) throws
    /// Replaces `buf[0..<count]` by its element-wise sum over all ranks (in place; counters, sizes).
    func allReduceSum(_ buf: UnsafeMutablePointer<Int64>, count: Int) throws
    /// Copies `buf[0..<count]` of rank `root` into `buf` on every rank.
    func broadcast(_ buf: UnsafeMutablePointer<Float>, count: Int, root: Int) throws
    /// Copies `byteCount` raw bytes at `buf` of rank `root` into `buf` on every rank.
    func broadcastBytes(_ buf: UnsafeMutableRawPointer, byteCount: Int, root: Int) throws
    /// Concatenates every rank's `values` in rank order; ranks may contribute different counts.
    func allGather(_ values: [Float]) throws -> [Float]
    /// Returns once every rank has called it.
    func barrier() throws
    /// A new communicator over the same ranks whose collectives never mix with this one's.
    func duplicate() throws -> Communicator
    /// Ends every rank of the job with exit status `code` (use after an unrecoverable error on one rank).
    func abort(code: Int32) -> Never
}

extension Communicator {
    /// Whether this is rank 0 (the one that prints and writes files).
    public var isRoot: Bool { rank == 0 }

    /// Rank `root`'s `bytes` on every rank (other ranks' arguments are ignored; lengths may differ).
    public func broadcast(_ bytes: [UInt8], root: Int) throws -> [UInt8] {
        try checkRoot(root)
        var length = Int64(rank == root ? bytes.count : 0)
        try broadcastBytes(&length, byteCount: MemoryLayout<Int64>.size, root: root)
        var out = rank == root ? bytes : [UInt8](repeating: 0, count: Int(length))
        try out.withUnsafeMutableBytes { raw in
            guard let base = raw.baseAddress, raw.count > 0 else { return }
            try broadcastBytes(base, byteCount: raw.count, root: root)
        }
        return out
    }

    /// Rank `root`'s `string` on every rank (e.g. a config or a checkpoint path).
    public func broadcast(_ string: String, root: Int) throws -> String {
        String(decoding: try broadcast(Array(string.utf8), root: root), as: UTF8.self)
    }

    /// Rank `root`'s `values` on every rank.
    public func broadcast(_ values: [Float], root: Int) throws -> [Float] {
        try checkRoot(root)
        var length = Int64(rank == root ? values.count : 0)
        try broadcastBytes(&length, byteCount: MemoryLayout<Int64>.size, root: root)
        var out = rank == root ? values : [Float](repeating: 0, count: Int(length))
        try out.withUnsafeMutableBufferPointer { p in
            guard let base = p.baseAddress, p.count > 0 else { return }
            try broadcast(base, count: p.count, root: root)
        }
        return out
    }

    /// Throws unless `root` names a rank of this communicator.
    func checkRoot(_ root: Int) throws {
        guard (0..<size).contains(root) else {
            throw DistError("broadcast root \(root) is not a rank of this communicator (valid: 0...\(size - 1))")
        }
    }

    /// Throws unless `count` is a valid element count.
    func checkCount(_ count: Int, _ what: String) throws {
        guard count >= 0 else { throw DistError("\(what): negative element count \(count)") }
    }
}
