// Wall time per op kind of a tape's forward and backward passes (`vqa-mpi bench engine --profile`).
//
// An op's forward time runs from its first `Tape.output` call to its `setBackward` call (work an
// op does after `setBackward`, or an op nested inside another, counts towards the enclosing op);
// its backward time is the run time of its backward closure. The op kind is the name of the
// function that called `setBackward` (e.g. "convolve", "groupNormGelu"). An op may also `label`
// itself before `setBackward` (convolutions give their layer shape and FLOPs): its times are then
// booked a second time under that label in `layers`, so one kind splits into its layers. Profiling
// costs two clock reads per op and one extra closure per recorded op; without a profiler the tape
// does neither.

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
        /// Floating-point operations of the forward and backward passes, summed over the calls
        /// (labelled ops only; 0 for op kinds).
        public var forwardFlops = 0.0, backwardFlops = 0.0
    }

    /// Totals per op kind, in order of first appearance.
    public private(set) var entries: [Entry] = []
    /// Totals per labelled op (for convolutions: one per layer shape), in order of first appearance.
    public private(set) var layers: [Entry] = []
    private var index: [UnsafeRawPointer: Int] = [:]
    private var layerIndex: [String: Int] = [:]
    /// Booking slots handed to the tape: (entry, layer or -1) per distinct combination.
    private var slots: [(entry: Int, layer: Int)] = []
    private var slotIndex: [Int: Int] = [:]
    private var opStart: Double? = nil
    private var pending: (label: String, forwardFlops: Double, backwardFlops: Double)? = nil

    /// An empty profile.
    public init() {}

    /// Forgets every total.
    func clear() {
        entries.removeAll()
        index.removeAll()
        layers.removeAll()
        layerIndex.removeAll()
        slots.removeAll()
        slotIndex.removeAll()
        opStart = nil
        pending = nil
    }

    /// Names the op about to be recorded (call before its `setBackward`) with its FLOPs per call.
    public func label(_ text: String, forwardFlops: Double, backwardFlops: Double) {
        pending = (text, forwardFlops, backwardFlops)
    }

    /// Called by `Tape.output`: starts the forward clock unless an op is already open.
    func outputCreated() {
        if opStart == nil { opStart = Clock.now() }
    }

    /// Called by `Tape.setBackward`: books the forward time since the op started (under its kind
    /// and, when labelled, its layer); returns the booking slot for the backward closure.
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
        let elapsed = opStart.map { now - $0 } ?? 0
        entries[k].calls += 1
        entries[k].forwardSeconds += elapsed
        opStart = nil
        var layer = -1
        if let p = pending {
            if let found = layerIndex[p.label] {
                layer = found
            } else {
                layer = layers.count
                layerIndex[p.label] = layer
                layers.append(Entry(name: p.label))
            }
            layers[layer].calls += 1
            layers[layer].forwardSeconds += elapsed
            layers[layer].forwardFlops += p.forwardFlops
            layers[layer].backwardFlops += p.backwardFlops
            pending = nil
        }
        let slotKey = k << 32 | (layer + 1)
        if let s = slotIndex[slotKey] { return s }
        slots.append((k, layer))
        slotIndex[slotKey] = slots.count - 1
        return slots.count - 1
    }

    /// Adds the run time of one backward closure booked to `slot`.
    func backwardRan(_ slot: Int, seconds: Double) {
        let s = slots[slot]
        entries[s.entry].backwardSeconds += seconds
        if s.layer >= 0 { layers[s.layer].backwardSeconds += seconds }
    }

    /// Wraps a backward closure so that its run time is booked to slot `k`.
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
