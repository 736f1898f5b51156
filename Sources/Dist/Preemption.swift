// Graceful preemption: SIGTERM (schedulers, `kill`, mpirun's shutdown) and SIGINT (Ctrl-C) set a
// flag; the trainer polls it once per step, the ranks agree on it inside the step's existing count
// all-gather (DataParallelStep.stopSignal), rank 0 saves a checkpoint at that step boundary and
// every rank exits with 128 + the signal number (143 / 130). See docs/faults.md.
// SIGUSR2 and SIGUSR1 count as SIGTERM and SIGINT: scripts/launch.sh relays a SIGTERM/SIGINT it
// receives as these, because mpirun forwards them to every rank at once without ending the job
// (it turns SIGTERM into its own slow teardown).
//
// Why a static: a POSIX signal handler is a C function pointer that cannot capture context, so the
// flag it sets must live at a fixed address. It is one lock-free atomic owned by this type, touched
// once before the handler is installed (so its lazy initialisation never runs inside the handler);
// storing to it is async-signal-safe. Everything else (the previous handlers) is instance state.

import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Catches SIGTERM and SIGINT (and SIGUSR2/SIGUSR1 as those) while alive and records the first one; a second signal exits at once.
/// (`@unchecked Sendable`: the saved C handlers are immutable after init and only read by deinit.)
public final class PreemptionSignal: @unchecked Sendable {
    /// The first signal received (0: none). The only state a C signal handler can reach.
    private static let received = Atomic<Int32>(0)
    /// The signals handled.
    static let signals: [Int32] = [SIGTERM, SIGINT, SIGUSR2, SIGUSR1]
    private let previous: [Int32: sigaction]

    /// Installs the handlers (replacing the default "terminate at once" action) until deinit.
    public init() {
        PreemptionSignal.received.store(0, ordering: .sequentiallyConsistent)
        var old: [Int32: sigaction] = [:]
        for sig in PreemptionSignal.signals {
            var action = sigaction()
            action.__sigaction_handler.sa_handler = { raw in
                // First signal: remember it (the run stops at the next step boundary). Second: the
                // user insists; leave now without a checkpoint (_exit is async-signal-safe).
                let sig = raw == SIGUSR2 ? SIGTERM : raw == SIGUSR1 ? SIGINT : raw
                let (first, _) = PreemptionSignal.received.compareExchange(expected: 0, desired: sig, ordering: .sequentiallyConsistent)
                if !first { _exit(128 + sig) }
            }
            action.sa_flags = SA_RESTART
            sigemptyset(&action.sa_mask)
            var saved = sigaction()
            sigaction(sig, &action, &saved)
            old[sig] = saved
        }
        previous = old
    }

    deinit {
        for (sig, saved) in previous {
            var s = saved
            sigaction(sig, &s, nil)
        }
    }

    /// The signal received so far on this process (0: none).
    public var pending: Int32 { PreemptionSignal.received.load(ordering: .sequentiallyConsistent) }

    /// "SIGTERM", "SIGINT" or "signal N".
    public static func name(_ sig: Int32) -> String {
        switch sig {
        case SIGTERM: return "SIGTERM"
        case SIGINT: return "SIGINT"
        default: return "signal \(sig)"
        }
    }
}
