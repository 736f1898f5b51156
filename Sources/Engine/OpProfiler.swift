// Wall time per op kind of a tape's forward and backward passes (`vqa-mpi bench engine --profile`).
//
// An op's forward time runs from its first `Tape.output` call to its `setBackward` call (work an
// op does after `setBackward`, or an op nested inside another, counts towards the enclosing op);
// its backward time is the run time of its backward closure. The op kind is the name of the
// function that called `setBackward` (e.g. "convolve", "groupNormGelu"). Profiling costs two
// clock reads per op and one extra closure per recorded op; without a profiler the tape does neither.

/// Accumulates forward and backward wall time per op kind; attach it with `tape.profiler = …`.
public final class OpProfiler {
    /// Totals of one op kind.
    public struct Entry: Sendable, Equatable {
        /// Op kind: the name of the function that recorded the op.
        public var name: String
        /// Ops of this kind recorded (forward calls).
        public var calls = 0
        /// Seconds spent in forward computation.
        public var forwardSeconds = 0.0
        /// Seconds spent in backward closures.
        public var backwardSeconds = 0.0
    }

    /// Totals per op kind, in order of first appearance.
    public private(set) var entries: [Entry] = []
    private var index: [UnsafeRawPointer: Int] = [:]
    private var opStart: Double? = nil

    /// An empty profile.
    public init() {}

    /// Forgets every total.
    public func clear() {
        entries.removeAll()
        index.removeAll()
        opStart = nil
    }

    /// Called by `Tape.output`: starts the forward clock unless an op is already open.
    func outputCreated() {
        if opStart == nil { opStart = Clock.now() }
    }

    /// Called by `Tape.setBackward`: books the forward time since the op started; returns the
    /// entry index for the backward closure.
    func opRecorded(_ function: StaticString) -> Int {
        let now = Clock.now()
        let key = UnsafeRawPointer(function.utf8Start)
        let k: Int
        if let found = index[key] {
            k = found
        } else {
            k = entries.count
            index[key] = k
            entries.append(Entry(name: OpProfiler.kind(of: "\(function)")))
        }
        entries[k].calls += 1
        if let start = opStart { entries[k].forwardSeconds += now - start }
        opStart = nil
        return k
    }

    /// Adds the run time of one backward closure of entry `k`.
    func backwardRan(_ k: Int, seconds: Double) { entries[k].backwardSeconds += seconds }

    /// Wraps a backward closure so that its run time is booked to entry `k`.
    func timed(_ k: Int, _ body: @escaping (Tape) -> Void) -> (Tape) -> Void {
        { [unowned self] t in
            let t0 = Clock.now()
            body(t)
            self.backwardRan(k, seconds: Clock.now() - t0)
        }
    }

    /// "convolve(_:_:_:_:outShape:)" → "convolve".
    static func kind(of function: String) -> String {
        String(function.prefix { $0 != "(" })
    }
}
