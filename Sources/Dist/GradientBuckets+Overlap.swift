// Whether the gradient all-reduce runs on its own thread during the backward pass, or after it.
//
// A thread only pays when it has a core of its own. Open MPI's blocking collectives busy-poll
// (opal_progress) while they wait for the peers and while they move the data through shared
// memory, and a shared-memory transfer advances only while BOTH ranks' reducing threads are on a
// CPU. With one compute thread per core (mpirun binds each of 2 ranks to one core by default), a
// communication thread shares its rank's core with the backward pass: every microsecond it polls
// is taken from the compute, and the transfer crawls along at the pace of scheduler slices.
// Reducing after the backward pass instead costs the plain all-reduce time once (all cores idle
// but the transfer's), which for this project's models is a few ms against steps of seconds.
// `auto` picks the thread only when this rank can run its compute threads plus the
// communication thread on distinct cores.

import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// When the gradient buckets are all-reduced.
public enum OverlapMode: String, CaseIterable, Sendable, Codable {
    /// On a communication thread, each bucket as soon as the backward pass completes it.
    case thread
    /// By the caller of `waitAll()`, after the backward pass (no extra thread).
    case after
    /// `thread` when this rank has a core to spare for it (see `resolve`), else `after`.
    case auto

    /// `thread` or `after`: `auto` becomes `thread` when the cores this rank may use (its CPU
    /// affinity, and its share of the node's online cores among `localRanks` ranks) leave one
    /// core beyond the `computeThreads`.
    public func resolve(computeThreads: Int, localRanks: Int, affinityCores: Int, onlineCores: Int) -> OverlapMode {
        guard self == .auto else { return self }
        let share = onlineCores / max(localRanks, 1)
        return min(affinityCores, share) >= computeThreads + 1 ? .thread : .after
    }

    /// Parses `thread`, `after` or `auto`.
    public static func parse(_ s: String) throws -> OverlapMode {
        guard let m = OverlapMode(rawValue: s) else {
            throw DistError("unknown all-reduce overlap '\(s)'; valid: \(allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return m
    }
}

/// How a rank waits for slower ranks at the step's collectives.
///
/// Open MPI's blocking collectives busy-poll while they wait. A rank bound to its own core burns
/// only that core, but on a shared node the spinning keeps the core from the other processes, so
/// they stay on (and slow down) the core of the rank everyone is waiting for. `spin` is the
/// default: it adds nothing to a collective (between nodes an extra barrier costs a network round
/// trip), and on a quiet 2-core VM neither policy was measurably better (docs/scaling.md:
/// throughput against independent replicas, median of 10–14 rounds, spin 0.91, sleep 0.89,
/// rounds ranging 0.80–0.98). `sleep` first waits
/// for every rank to arrive with a non-blocking barrier polled every 50 µs with sleeps between
/// polls (`MPICommunicator.waitForPeers`), then runs the collective with all ranks present: it
/// costs one small barrier (microseconds) per collective and frees the early rank's core.
public enum PeerWait: String, CaseIterable, Sendable, Codable {
    /// Wait inside the collective (Open MPI's busy polling).
    case spin
    /// Sleep-poll an arrival barrier, then run the collective.
    case sleep

    /// Parses `spin` or `sleep`.
    public static func parse(_ s: String) throws -> PeerWait {
        guard let w = PeerWait(rawValue: s) else {
            throw DistError("unknown peer wait '\(s)'; valid: \(allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return w
    }

    /// Waits for every rank of `comm` as this policy says (nothing for `spin`, or on a world of one,
    /// or for a communicator that is not MPI's).
    func arrive(_ comm: Communicator) throws {
        guard self == .sleep, comm.size > 1, let m = comm as? MPICommunicator else { return }
        try m.waitForPeers()
    }
}

/// Where this process may run: the facts `OverlapMode.resolve` needs.
enum CorePlacement {
    /// Cores in this process's CPU affinity mask (mpirun's `--bind-to core` gives 1), read from
    /// the `Cpus_allowed` hex mask of /proc/self/status (Glibc's module hides sched_getaffinity);
    /// the online cores where that file does not exist.
    static func affinityCores() -> Int {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
              let n = allowedCores(status: status) else { return onlineCores() }
        return n
    }

    /// The number of set bits of the `Cpus_allowed:` line of a /proc/PID/status text (nil if absent).
    static func allowedCores(status: String) -> Int? {
        guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix("Cpus_allowed:") }) else { return nil }
        var n = 0
        for c in line.dropFirst("Cpus_allowed:".count) {
            if let v = c.hexDigitValue { n += v.nonzeroBitCount }
        }
        return n > 0 ? n : nil
    }

    /// Online cores of this node.
    static func onlineCores() -> Int { max(Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))), 1) }

    /// Ranks of `comm` on this node (same host name), found with one collective on every rank.
    static func localRanks(_ comm: Communicator) throws -> Int {
        guard comm.size > 1 else { return 1 }
        var slots = [Int64](repeating: 0, count: comm.size)
        slots[comm.rank] = hostHash()
        try slots.withUnsafeMutableBufferPointer { try comm.allReduceSum($0.baseAddress!, count: $0.count) }
        return slots.filter { $0 == slots[comm.rank] }.count
    }

    /// FNV-1a of the host name, kept positive so sums of one non-zero slot stay exact.
    static func hostHash() -> Int64 {
        var name = [CChar](repeating: 0, count: 256)
        gethostname(&name, name.count - 1)
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for c in name where c != 0 { h = (h ^ UInt64(UInt8(bitPattern: c))) &* 0x100_0000_01b3 }
        return Int64(bitPattern: h >> 1) | 1
    }
}

/// CPU seconds consumed by the calling thread (CLOCK_THREAD_CPUTIME_ID).
func threadCPUSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
}
