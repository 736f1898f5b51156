// Collectives over an MPI communicator (MPI_COMM_WORLD or a duplicate of it).
//
// Errors: MPI_ERRORS_RETURN is set on the communicator, so a failing call returns a code that
// becomes a `DistError` instead of aborting the job. Counts above Int32.max (MPI's `int` count)
// are sent in chunks. All-reduce is in place (MPI_IN_PLACE): no second buffer.

import CMPI
import CMPIShim
#if canImport(Glibc)
import Glibc
#endif

/// A communicator backed by MPI; it keeps its `MPIRuntime` alive.
public final class MPICommunicator: Communicator, @unchecked Sendable {
    /// The runtime that initialised MPI (finalised after the last communicator is gone).
    public let runtime: MPIRuntime
    /// This process's rank in the communicator.
    public let rank: Int
    /// Number of ranks in the communicator.
    public let size: Int
    /// The MPI handle (MPI_Comm).
    let comm: MPI_Comm
    /// Whether `comm` was created here (MPI_Comm_dup) and must be freed.
    private let ownsHandle: Bool
    /// Largest element count passed to one MPI call.
    let maxChunk: Int
    /// The collective watchdog and this communicator's channel on it (nil: collectives wait forever).
    var watch: (dog: CollectiveWatchdog, channel: Int32)?

    /// The world communicator of `runtime`.
    convenience init(world runtime: MPIRuntime) throws {
        try self.init(runtime: runtime, comm: mpishim_comm_world(), owns: false)
    }

    init(runtime: MPIRuntime, comm: MPI_Comm, owns: Bool, maxChunk: Int = Int(Int32.max)) throws {
        self.runtime = runtime
        self.comm = comm
        self.ownsHandle = owns
        self.maxChunk = maxChunk
        try DistError.checkMPI(MPI_Comm_set_errhandler(comm, mpishim_errors_return()), "MPI_Comm_set_errhandler")
        var r: Int32 = 0, s: Int32 = 0
        try DistError.checkMPI(MPI_Comm_rank(comm, &r), "MPI_Comm_rank")
        try DistError.checkMPI(MPI_Comm_size(comm, &s), "MPI_Comm_size")
        rank = Int(r)
        size = Int(s)
    }

    deinit {
        // Freeing after MPI_Finalize is an error; the runtime cannot be finalised while we exist,
        // unless someone called runtime.finalize() explicitly.
        if ownsHandle && !runtime.isFinalized {
            var handle: MPI_Comm? = comm
            MPI_Comm_free(&handle)
        }
    }

    // MARK: - All-reduce

    public func allReduceSum(_ buf: UnsafeMutablePointer<Float>, count: Int) throws {
        try allReduce(UnsafeMutableRawPointer(buf), count: count, stride: 4, type: mpishim_float(), what: "MPI_Allreduce(float)")
    }

    public func allReduceSum(_ buf: UnsafeMutablePointer<Double>, count: Int) throws {
        try allReduce(UnsafeMutableRawPointer(buf), count: count, stride: 8, type: mpishim_double(), what: "MPI_Allreduce(double)")
    }

    public func allReduceSum(_ buf: UnsafeMutablePointer<Int64>, count: Int) throws {
        try allReduce(UnsafeMutableRawPointer(buf), count: count, stride: 8, type: mpishim_int64(), what: "MPI_Allreduce(int64)")
    }

    private func allReduce(_ buf: UnsafeMutableRawPointer, count: Int, stride: Int, type: MPI_Datatype, what: String) throws {
        try checkCount(count, what)
        try watched(what) {
            var done = 0
            while done < count {
                let n = min(maxChunk, count - done)
                try DistError.checkMPI(MPI_Allreduce(mpishim_in_place(), buf + done * stride, Int32(n), type, mpishim_sum(), comm),
                                       "\(what) of \(n) elements at offset \(done)")
                done += n
            }
        }
    }

    // MARK: - Broadcast

    public func broadcast(_ buf: UnsafeMutablePointer<Float>, count: Int, root: Int) throws {
        try checkCount(count, "broadcast")
        try broadcastBytes(UnsafeMutableRawPointer(buf), byteCount: count * 4, root: root)
    }

    public func broadcastBytes(_ buf: UnsafeMutableRawPointer, byteCount: Int, root: Int) throws {
        try checkRoot(root)
        try checkCount(byteCount, "broadcastBytes")
        try watched("MPI_Bcast") {
            var done = 0
            while done < byteCount {
                let n = min(maxChunk, byteCount - done)
                try DistError.checkMPI(MPI_Bcast(buf + done, Int32(n), mpishim_byte(), Int32(root), comm),
                                       "MPI_Bcast of \(n) bytes at offset \(done) from root \(root)")
                done += n
            }
        }
    }

    // MARK: - All-gather

    public func allGather(_ values: [Float]) throws -> [Float] {
        guard values.count <= Int(Int32.max) else {
            throw DistError("allGather: \(values.count) values on rank \(rank) exceed MPI's int count limit; gather in parts")
        }
        var mine = Int32(values.count)
        var counts = [Int32](repeating: 0, count: size)
        try watched("MPI_Allgather") {
            try DistError.checkMPI(MPI_Allgather(&mine, 1, mpishim_int(), &counts, 1, mpishim_int(), comm), "MPI_Allgather(counts)")
        }
        var displacements = [Int32](repeating: 0, count: size)
        var total = 0
        for r in 0..<size {
            guard total <= Int(Int32.max) else {
                throw DistError("allGather: \(counts.map { Int($0) }.reduce(0, +)) values in total exceed MPI's int displacement limit; gather in parts")
            }
            displacements[r] = Int32(total)
            total += Int(counts[r])
        }
        var out = [Float](repeating: 0, count: total)
        try values.withUnsafeBufferPointer { send in
            try out.withUnsafeMutableBufferPointer { recv in
                try watched("MPI_Allgatherv") {
                    try DistError.checkMPI(MPI_Allgatherv(send.baseAddress, mine, mpishim_float(),
                                                      recv.baseAddress, counts, displacements, mpishim_float(), comm),
                                           "MPI_Allgatherv of \(values.count) floats from rank \(rank)")
                }
            }
        }
        return out
    }

    // MARK: - Other

    public func barrier() throws { try watched("MPI_Barrier") { try DistError.checkMPI(MPI_Barrier(comm), "MPI_Barrier") } }

    /// Returns once every rank has called it, like `barrier()`, but a rank that arrives early
    /// sleeps `pollMicroseconds` between polls (after ~`spinPolls` back-to-back ones) instead of
    /// busy-polling as Open MPI's blocking calls do: its core is free for other work meanwhile.
    /// Called before a collective, it moves the wait for the slowest rank out of the collective,
    /// which then runs with every rank present.
    func waitForPeers(pollMicroseconds: Int = 50, spinPolls: Int = 64) throws {
        try watched("MPI_Ibarrier (arrival)") { try pollArrival(pollMicroseconds: pollMicroseconds, spinPolls: spinPolls) }
    }

    private func pollArrival(pollMicroseconds: Int, spinPolls: Int) throws {
        var request: MPI_Request? = mpishim_request_null()
        try DistError.checkMPI(MPI_Ibarrier(comm, &request), "MPI_Ibarrier")
        var done: Int32 = 0
        var pause = timespec(tv_sec: 0, tv_nsec: max(pollMicroseconds, 1) * 1000)
        var polls = 0
        while true {
            try DistError.checkMPI(MPI_Test(&request, &done, mpishim_status_ignore()), "MPI_Test of the arrival barrier")
            if done != 0 { return }
            polls += 1
            if polls > spinPolls { nanosleep(&pause, nil) }
        }
    }

    public func duplicate() throws -> Communicator { try duplicateMPI() }

    /// A duplicate of this communicator (MPI_Comm_dup), freed when released. `maxChunk` caps the
    /// elements per MPI call (default Int32.max); a small cap exercises the chunked path cheaply.
    public func duplicateMPI(maxChunk: Int? = nil) throws -> MPICommunicator {
        if let maxChunk, !(1...Int(Int32.max)).contains(maxChunk) {
            throw DistError("maxChunk \(maxChunk) must be in 1...\(Int32.max)")
        }
        var handle: MPI_Comm? = nil
        try DistError.checkMPI(MPI_Comm_dup(comm, &handle), "MPI_Comm_dup")
        guard let handle else { throw DistError("MPI_Comm_dup returned no communicator") }
        let dup = try MPICommunicator(runtime: runtime, comm: handle, owns: true, maxChunk: maxChunk ?? self.maxChunk)
        dup.watch = watch.map { ($0.dog, $0.dog.nextChannel()) }
        return dup
    }

    public func abort(code: Int32) -> Never {
        MPI_Abort(comm, code)
        exit(code)
    }
}
