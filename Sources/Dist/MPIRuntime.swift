// The owner of the MPI library's lifetime in this process.
//
// Create exactly one with `MPIRuntime.start()` in the command that runs the work (for the CLI:
// inside the subcommand's `run()`, not at program start, so `--help` and non-MPI subcommands never
// touch MPI). It calls MPI_Init_thread(MPI_THREAD_MULTIPLE) once and MPI_Finalize in `finalize()` or,
// failing that, in `deinit`. Every `MPICommunicator` keeps its runtime alive, so MPI is finalized
// only after the last communicator (and the comm thread that uses one) is gone. MPI cannot be
// initialised again in the same process after finalisation (an MPI rule).

import CMPI
import CMPIShim

/// Owns MPI initialisation and finalisation for this process.
public final class MPIRuntime: @unchecked Sendable {
    /// Thread support levels, as MPI numbers them.
    public enum ThreadLevel: Int32, Sendable, Comparable, CustomStringConvertible {
        /// Only one thread exists.
        case single = 0
        /// Only the main thread calls MPI.
        case funneled = 1
        /// Any thread calls MPI, one at a time.
        case serialized = 2
        /// Any thread calls MPI at any time (needed by the gradient communication thread).
        case multiple = 3

        public static func < (a: ThreadLevel, b: ThreadLevel) -> Bool { a.rawValue < b.rawValue }

        public var description: String {
            switch self {
            case .single: return "MPI_THREAD_SINGLE"
            case .funneled: return "MPI_THREAD_FUNNELED"
            case .serialized: return "MPI_THREAD_SERIALIZED"
            case .multiple: return "MPI_THREAD_MULTIPLE"
            }
        }
    }

    /// The thread level MPI granted.
    public let provided: ThreadLevel
    /// Whether MPI_Finalize has run.
    private(set) var isFinalized = false

    /// Run by `finalize()` before MPI_Finalize (e.g. stopping the collective watchdog's thread).
    private var finalizers: [() -> Void] = []

    private init(provided: ThreadLevel) { self.provided = provided }

    /// Registers `body` to run at `finalize()`, before MPI_Finalize.
    func beforeFinalize(_ body: @escaping () -> Void) { finalizers.append(body) }

    /// Initialises MPI once for this process.
    ///
    /// - Parameter threadsNeeded: when true (the default: gradient buckets all-reduce on their own
    ///   thread) a library that does not grant MPI_THREAD_MULTIPLE is refused with an explanation.
    public static func start(threadsNeeded: Bool = true) throws -> MPIRuntime {
        var flag: Int32 = 0
        try DistError.checkMPI(MPI_Finalized(&flag), "MPI_Finalized")
        if flag != 0 {
            throw DistError("MPI was already finalized in this process and cannot be started again; "
                + "create one MPIRuntime per process and keep it until the work is done.")
        }
        try DistError.checkMPI(MPI_Initialized(&flag), "MPI_Initialized")
        if flag != 0 {
            throw DistError("MPI is already initialised in this process; MPIRuntime.start() must be called "
                + "once, by the command that owns the process, and its communicators passed around.")
        }
        var granted: Int32 = -1
        try DistError.checkMPI(MPI_Init_thread(nil, nil, Int32(MPI_THREAD_MULTIPLE), &granted),
                               "MPI_Init_thread(MPI_THREAD_MULTIPLE)")
        let level = ThreadLevel(rawValue: granted) ?? .single
        let runtime = MPIRuntime(provided: level)
        if threadsNeeded && level < .multiple {
            runtime.finalize()
            throw DistError("the MPI library granted \(level), but the overlapped gradient all-reduce needs "
                + "MPI_THREAD_MULTIPLE. Use an MPI built with thread support (Open MPI ≥ 3: check "
                + "`ompi_info | grep -i thread` shows 'MPI_THREAD_MULTIPLE: yes').")
        }
        return runtime
    }

    /// The communicator over every process of the job (MPI_COMM_WORLD), with errors returned as Swift errors.
    public func world() throws -> MPICommunicator {
        guard !isFinalized else { throw DistError("MPI is finalized: no communicator can be created any more") }
        return try MPICommunicator(world: self)
    }

    /// Calls MPI_Finalize (collective: every rank must call it); later calls do nothing.
    public func finalize() {
        guard !isFinalized else { return }
        isFinalized = true
        for f in finalizers { f() }
        finalizers = []
        var flag: Int32 = 0
        MPI_Finalized(&flag)
        if flag == 0 { MPI_Finalize() }
    }

    deinit { finalize() }
}
