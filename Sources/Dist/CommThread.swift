// A dedicated OS thread for blocking collectives, and the monitor that feeds it.
//
// Open MPI does not progress non-blocking collectives in the background (`ompi_info`: "OMPI
// progress: no"), so an MPI_Iallreduce started during the backward pass would mostly run inside
// the final MPI_Wait. A thread that sits in blocking MPI_Allreduce calls makes the transfer
// overlap with compute for real (MPI_THREAD_MULTIPLE).

import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Owns one pthread running `body`; `join()` waits for it (the owner must make `body` return first).
final class CommThread {
    private final class Box {
        let body: () -> Void
        init(_ body: @escaping () -> Void) { self.body = body }
    }

    private var thread = pthread_t()
    private var joined = false

    /// Starts `body` on a new thread named `name`.
    init(name: String, _ body: @escaping () -> Void) throws {
        let context = Unmanaged.passRetained(Box {
            Thread.current.name = name  // shows in top -H / gdb
            body()
        }).toOpaque()
        let rc = pthread_create(&thread, nil, { raw in
            let box = Unmanaged<Box>.fromOpaque(raw!).takeRetainedValue()
            box.body()
            return nil
        }, context)
        guard rc == 0 else {
            Unmanaged<Box>.fromOpaque(context).release()
            throw DistError("cannot start the communication thread '\(name)': pthread_create returned \(rc) "
                + "(\(String(cString: strerror(rc)))); the process may be at its thread limit (ulimit -u)")
        }
    }

    /// Waits for the thread to finish (once).
    func join() {
        guard !joined else { return }
        joined = true
        pthread_join(thread, nil)
    }

    deinit { join() }
}
