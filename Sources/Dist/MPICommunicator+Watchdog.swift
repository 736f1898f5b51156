// The collective watchdog (train.collective_timeout, `train --collective-timeout`; off in bench).
//
// Open MPI's blocking collectives busy-poll forever: a rank stopped with SIGSTOP (a wedged node, a
// stuck NFS read) hangs the job, and the waiting ranks never get back to the step boundary where a
// SIGTERM is acted upon. With the watchdog on, every collective of the communicator (and of its
// duplicates) records where it is (position, start time) and a watchdog thread checks every
// 100 ms. It aborts the job (MPI_Abort)
// - with status 1 when one collective has waited `seconds`;
// - with 128 + the signal when a stop signal (SIGTERM/SIGINT) is pending and a collective has
//   waited `signalPatience` seconds since the signal (the other ranks normally arrive and the run
//   checkpoints at the step boundary as usual): a checkpoint or an exit, never a hang.
// Either way it names the ranks that did not arrive: on a side channel (a duplicate of the world
// communicator) it asks every other rank's watchdog thread where that rank is on this channel;
// a rank that does not answer within `probeSeconds` (stopped, wedged) or answers with an earlier
// position (still computing) did not arrive. The collective itself stays Open MPI's blocking one.

import CMPI
import CMPIShim
import Engine
import Foundation
import Synchronization

/// Settings, per-channel positions and the thread of the collective watchdog, shared by a
/// communicator and its duplicates (one channel each).
final class CollectiveWatchdog: @unchecked Sendable {
    /// Where one channel (communicator) is: collectives entered, and since when the current one waits.
    struct Slot { var position: Int64 = 0; var since: Double?; var what = "" }

    let seconds: Double
    let signalPatience: Double
    let probeSeconds = 2.0
    let stopSignal: (@Sendable () -> Int32)?
    /// The side channel (MPI_Comm_dup of the watched communicator).
    let side: MPI_Comm
    let rank: Int, size: Int
    private let slots = Mutex<[Int32: Slot]>([:])
    private let channels = Atomic<Int32>(0)
    private let stopping = Atomic<Bool>(false)
    private let finished = DispatchSemaphore(value: 0)
    static let probeTag: Int32 = 1, answerTag: Int32 = 2

    init(seconds: Double, signalPatience: Double, stopSignal: (@Sendable () -> Int32)?, side: MPI_Comm, rank: Int, size: Int) {
        self.seconds = seconds; self.signalPatience = signalPatience; self.stopSignal = stopSignal
        self.side = side; self.rank = rank; self.size = size
    }

    /// The next channel id (0 is the communicator the watchdog was enabled on).
    func nextChannel() -> Int32 { channels.wrappingAdd(1, ordering: .sequentiallyConsistent).newValue }

    /// A collective `what` starts on `channel`.
    func enter(_ channel: Int32, _ what: String) {
        let t = Clock.now()
        slots.withLock { s in
            var slot = s[channel] ?? Slot()
            slot.position += 1; slot.since = t; slot.what = what
            s[channel] = slot
        }
    }

    /// The collective on `channel` has returned.
    func leave(_ channel: Int32) { slots.withLock { s in s[channel]?.since = nil } }

    func position(_ channel: Int32) -> Int64 { slots.withLock { $0[channel]?.position ?? 0 } }

    /// Starts the watchdog thread.
    func start() {
        let t = Thread { [self] in run() }
        t.name = "vqa-watchdog"
        t.start()
    }

    /// Stops the thread and waits for it (before MPI_Finalize).
    func stop() {
        guard !stopping.exchange(true, ordering: .sequentiallyConsistent) else { return }
        finished.wait()
    }

    private func run() {
        defer { finished.signal() }
        var signal: Int32 = 0, signalSeen = 0.0
        while !stopping.load(ordering: .sequentiallyConsistent) {
            answerProbes()
            let now = Clock.now()
            if signal == 0, let s = stopSignal?(), s != 0 { signal = s; signalSeen = now }
            let waiting = slots.withLock { s in s.compactMap { c, slot in slot.since.map { (c, slot, $0) } } }
            for (channel, slot, since) in waiting {
                if now - since >= seconds { expire(channel, slot, waited: now - since, signal: 0) }
                if signal != 0 && now - max(since, signalSeen) >= signalPatience { expire(channel, slot, waited: now - since, signal: signal) }
            }
            usleep(100_000)
        }
    }

    /// Answers every pending probe ([channel, position]) with [channel, this rank's position].
    func answerProbes() {
        var flag: Int32 = 0
        var status = MPI_Status()
        while MPI_Iprobe(MPI_ANY_SOURCE, CollectiveWatchdog.probeTag, side, &flag, &status) == MPI_SUCCESS && flag != 0 {
            var asked = [Int64](repeating: 0, count: 2)
            MPI_Recv(&asked, 2, mpishim_int64(), status.MPI_SOURCE, CollectiveWatchdog.probeTag, side, mpishim_status_ignore())
            var answer = [asked[0], position(Int32(asked[0]))]
            MPI_Send(&answer, 2, mpishim_int64(), status.MPI_SOURCE, CollectiveWatchdog.answerTag, side)
        }
    }

    /// The ranks that do not answer within `probeSeconds` or answer with an earlier position.
    func missingRanks(channel: Int32, position: Int64) -> [Int] {
        let others = (0..<size).filter { $0 != rank }
        var probe: [Int64] = [Int64(channel), position]
        for r in others { MPI_Send(&probe, 2, mpishim_int64(), Int32(r), CollectiveWatchdog.probeTag, side) }
        var arrived = Set<Int>()
        let end = Clock.now() + probeSeconds
        var answered = 0
        while answered < others.count && Clock.now() < end {
            answerProbes()
            var flag: Int32 = 0
            var status = MPI_Status()
            if MPI_Iprobe(MPI_ANY_SOURCE, CollectiveWatchdog.answerTag, side, &flag, &status) == MPI_SUCCESS && flag != 0 {
                var answer = [Int64](repeating: 0, count: 2)
                MPI_Recv(&answer, 2, mpishim_int64(), status.MPI_SOURCE, CollectiveWatchdog.answerTag, side, mpishim_status_ignore())
                if answer[0] == Int64(channel) {
                    answered += 1
                    if answer[1] >= position { arrived.insert(Int(status.MPI_SOURCE)) }
                }
            } else {
                usleep(1000)
            }
        }
        return others.filter { !arrived.contains($0) }
    }

    /// Ends the job, naming the ranks that did not arrive at `slot`'s collective.
    func expire(_ channel: Int32, _ slot: Slot, waited: Double, signal: Int32) -> Never {
        let missing = missingRanks(channel: channel, position: slot.position)
        let who = missing.isEmpty ? "a rank that answered but did not complete it" : "rank(s) \(missing.map(String.init).joined(separator: ", "))"
        let w = String(format: "%.0f s", waited)
        let message = signal != 0
            ? "error: rank \(rank): stopped by \(PreemptionSignal.name(signal)) while waiting \(w) in \(slot.what) for \(who), which did not arrive (stopped, wedged or far slower): no checkpoint could be agreed at this step; --resume continues from the last one. Aborting the job\n"
            : "error: rank \(rank): collective watchdog: waited \(w) in \(slot.what) (collective #\(slot.position)) for \(who), which did not arrive (stopped, wedged or far slower). Aborting the job; --resume continues from the last checkpoint. The limit is train.collective_timeout / --collective-timeout (\(String(format: "%g", seconds)) s; 0 waits forever)\n"
        FileHandle.standardError.write(Data(message.utf8))
        let code = signal != 0 ? 128 + signal : 1
        MPI_Abort(side, code)
        exit(code)
    }
}

extension MPICommunicator {
    /// Turns the collective watchdog on for this communicator and the duplicates made from it
    /// afterwards (collective: creates the side channel; starts the watchdog thread, stopped by
    /// `runtime.finalize()`). `seconds` 0 leaves it off.
    public func enableWatchdog(seconds: Double, signalPatience: Double = 30, stopSignal: (@Sendable () -> Int32)?) throws {
        guard seconds > 0, size > 1, watch == nil else { return }
        var handle: MPI_Comm? = nil
        try DistError.checkMPI(MPI_Comm_dup(comm, &handle), "MPI_Comm_dup (watchdog channel)")
        guard let handle else { throw DistError("MPI_Comm_dup returned no communicator") }
        try DistError.checkMPI(MPI_Comm_set_errhandler(handle, mpishim_errors_return()), "MPI_Comm_set_errhandler")
        let dog = CollectiveWatchdog(seconds: seconds, signalPatience: min(signalPatience, seconds), stopSignal: stopSignal,
                                     side: handle, rank: rank, size: size)
        watch = (dog, 0)
        runtime.beforeFinalize(dog.stop)
        dog.start()
    }

    /// Runs the blocking collective `body` under the watchdog (when on).
    func watched<T>(_ what: String, _ body: () throws -> T) rethrows -> T {
        guard let w = watch else { return try body() }
        w.dog.enter(w.channel, what)
        defer { w.dog.leave(w.channel) }
        return try body()
    }
}
