// Reverse-mode autograd over coarse, fused ops.
//
// A Tape records one forward pass: every op appends a node (shape, value buffer from the arena,
// optional backward closure). `backward` walks the nodes in reverse; a node's gradient buffer is
// taken (zeroed) from the arena the first time a consumer accumulates into it. Parameter nodes
// point straight into the ParameterStore's flat value and gradient buffers, so gradients land in
// the flat buffer that the optimizer and all-reduce use. Once a node's backward closure has run, its
// gradient buffer is dead (only that closure reads it): it goes back to the arena and later
// gradients reuse it, so backward needs about the largest few gradients at once instead of one per
// node; so do the workspaces a closure takes with `scratch`. Leaf gradients (`leaf`, parameters)
// stay readable after `backward`. `reset()` starts the next pass reusing every buffer.

/// A value recorded on a tape (an index into its nodes).
public struct Var: Hashable, Sendable {
    /// Node index on the owning tape.
    let id: Int
}

/// The autograd tape: nodes, the arena their buffers come from, and the compute context.
public final class Tape {
    struct Node {
        var shape: [Int]
        var count: Int
        var value: UnsafeMutablePointer<Float>
        var grad: UnsafeMutablePointer<Float>?
        var needsGrad: Bool
        var backward: ((Tape) -> Void)?
        var parameter: Int  // index in the store, or -1
    }

    /// Where values, gradients and op workspaces come from.
    public let arena: Arena
    /// Threads for Engine kernels.
    public var compute: Compute
    /// Training mode (dropout active); evaluation disables it.
    public var training = true
    /// When false, ops record no backward closures (inference).
    public var recording = true
    /// Seed and step for per-op randomness (dropout): set by the trainer before each pass.
    public var seed: UInt64 = 0
    /// Step counter folded into dropout streams.
    public var step: UInt64 = 0
    /// Global sample index of every row of the batch dimension: random ops draw one stream per
    /// sample, so a sample's dropout mask does not depend on how the batch is split over ranks.
    public var sampleKeys: [UInt64] = []
    /// Called during `backward` with each parameter index once its gradient is complete.
    public var onParameterGradReady: ((Int) -> Void)?
    /// When set, books forward and backward wall time per op kind (see OpProfiler.swift).
    public var profiler: OpProfiler?

    private(set) var nodes: [Node] = []
    private var randomOps: UInt64 = 0
    /// Whether a backward closure is running (its `scratch` is released when it returns).
    private var runningBackward = false
    private var backwardScratch: [UnsafeMutablePointer<Float>] = []

    /// A tape with its own arena.
    public init(compute: Compute = Compute(), arena: Arena = Arena()) {
        self.compute = compute
        self.arena = arena
        nodes.reserveCapacity(1024)
    }

    /// Forgets all nodes and makes every arena buffer reusable.
    public func reset() {
        nodes.removeAll(keepingCapacity: true)
        arena.reset()
        randomOps = 0
    }

    // MARK: - Reading nodes

    /// Shape of `v`.
    public func shape(_ v: Var) -> [Int] { nodes[v.id].shape }
    /// Element count of `v`.
    public func count(_ v: Var) -> Int { nodes[v.id].count }
    /// Value buffer of `v`.
    public func value(_ v: Var) -> UnsafeMutablePointer<Float> { nodes[v.id].value }
    /// Whether gradients flow into `v`.
    func needsGrad(_ v: Var) -> Bool { nodes[v.id].needsGrad }
    /// A copy of `v`'s values (tests, small reads).
    public func array(_ v: Var) -> [Float] { Array(UnsafeBufferPointer(start: value(v), count: count(v))) }

    /// Gradient buffer of `v`, created zeroed on first use. Only call for nodes that need grads.
    public func grad(_ v: Var) -> UnsafeMutablePointer<Float> {
        if let g = nodes[v.id].grad { return g }
        let g = arena.takeReusableZeroed(nodes[v.id].count)
        nodes[v.id].grad = g
        return g
    }

    /// The gradient of `v` if anything flowed into it (an op output's gradient is released once
    /// its backward closure has run: read leaf and parameter gradients after `backward`).
    func gradIfPresent(_ v: Var) -> UnsafeMutablePointer<Float>? { nodes[v.id].grad }

    // MARK: - Creating nodes

    /// A leaf holding a copy of `data` (no gradient).
    public func constant(_ data: UnsafePointer<Float>, shape: [Int]) -> Var {
        let (v, p) = output(shape: shape, needsGrad: false)
        p.update(from: data, count: count(v))
        return v
    }

    /// A leaf holding a copy of `data` (no gradient).
    public func constant(_ data: [Float], shape: [Int]) -> Var {
        precondition(data.count == shape.reduce(1, *), "constant: \(data.count) values for shape \(shape)")
        return data.withUnsafeBufferPointer { constant($0.baseAddress!, shape: shape) }
    }

    /// A leaf whose gradient is wanted (tests, input sensitivities).
    public func leaf(_ data: [Float], shape: [Int]) -> Var {
        let v = constant(data, shape: shape)
        nodes[v.id].needsGrad = recording
        return v
    }

    /// An uninitialised input leaf of `shape`; fill `value(v)` before use.
    public func input(shape: [Int]) -> Var { output(shape: shape, needsGrad: false).0 }

    /// Parameter `index` of `store` as a node: its value and gradient alias the flat buffers.
    public func parameter(_ store: ParameterStore, _ index: Int) -> Var {
        let info = store.infos[index]
        let id = nodes.count
        nodes.append(Node(shape: info.shape, count: info.count, value: store.values.base + info.offset,
                          grad: recording ? store.grads.base + info.offset : nil,
                          needsGrad: recording, backward: nil, parameter: index))
        return Var(id: id)
    }

    /// For op implementers: a new node of `shape` with an arena value buffer.
    public func output(shape: [Int], needsGrad: Bool) -> (Var, UnsafeMutablePointer<Float>) {
        profiler?.outputCreated()
        let n = shape.reduce(1, *)
        let p = arena.take(n)
        let id = nodes.count
        nodes.append(Node(shape: shape, count: n, value: p, grad: nil, needsGrad: needsGrad && recording,
                          backward: nil, parameter: -1))
        return (Var(id: id), p)
    }

    /// For op implementers: a node that shares `source`'s value buffer with a new shape (views).
    public func alias(_ source: Var, shape: [Int]) -> Var {
        let n = shape.reduce(1, *)
        precondition(n == count(source), "alias: shape \(shape) does not fit \(self.shape(source))")
        let id = nodes.count
        nodes.append(Node(shape: shape, count: n, value: value(source), grad: nil,
                          needsGrad: needsGrad(source), backward: nil, parameter: -1))
        return Var(id: id)
    }

    /// For op implementers of in-place ops: a new node of `source`'s shape that takes over its value
    /// buffer, to be overwritten. `source` must be the most recent node (so nothing has read it yet);
    /// its value is gone afterwards, so its producer must not read its own output in backward
    /// (true of convolutions and elementwise ops whose backward reads only their inputs).
    func overwriting(_ source: Var, needsGrad: Bool) -> (Var, UnsafeMutablePointer<Float>) {
        precondition(source.id == nodes.count - 1 && nodes[source.id].parameter < 0,
                     "in-place op: the overwritten value must be the most recent op output (nothing may have read it)")
        profiler?.outputCreated()
        let src = nodes[source.id], id = nodes.count
        nodes.append(Node(shape: src.shape, count: src.count, value: src.value, grad: nil, needsGrad: needsGrad && recording,
                          backward: nil, parameter: -1))
        return (Var(id: id), src.value)
    }

    /// For op implementers: whether any of `inputs` needs a gradient.
    func anyNeedsGrad(_ inputs: Var...) -> Bool { recording && inputs.contains { nodes[$0.id].needsGrad } }
    /// For op implementers: whether any of `inputs` needs a gradient.
    func anyNeedsGrad(_ inputs: [Var]) -> Bool { recording && inputs.contains { nodes[$0.id].needsGrad } }

    /// For op implementers: sets the backward closure of `v`. It runs only if `v` received a
    /// gradient; it reads `tape.grad(v)` and accumulates into inputs that `needsGrad`.
    func setBackward(_ v: Var, function: StaticString = #function, _ body: @escaping (Tape) -> Void) {
        guard let profiler else {
            if nodes[v.id].needsGrad { nodes[v.id].backward = body }
            return
        }
        let k = profiler.opRecorded(function)
        if nodes[v.id].needsGrad { nodes[v.id].backward = profiler.timed(k, body) }
    }

    /// Workspace floats: in forward valid until `reset()` (im2col columns, saved statistics); inside
    /// a backward closure valid until that closure returns, then handed back to the arena, so the
    /// workspaces of successive backward ops share memory instead of piling up until `reset()`.
    public func scratch(_ count: Int) -> UnsafeMutablePointer<Float> {
        guard runningBackward else { return arena.take(count) }
        let p = arena.takeReusable(count)
        backwardScratch.append(p)
        return p
    }

    /// For op implementers: gives back `v`'s value buffer once nothing reads it any more (not
    /// forward consumers still to come, not any backward closure), so that backward's gradients
    /// and workspaces can reuse it. `v` must own its buffer (an op output, not an alias or parameter).
    func releaseValue(_ v: Var) {
        precondition(nodes[v.id].parameter < 0, "releaseValue: parameters own no arena buffer")
        arena.release(nodes[v.id].value)
    }

    /// A fresh stream id for an op that draws random numbers (dropout), stable across passes.
    func nextRandomOp() -> UInt64 { randomOps += 1; return randomOps }

    // MARK: - Backward

    /// Back-propagates from scalar `loss` (seed gradient 1).
    public func backward(_ loss: Var) {
        precondition(count(loss) == 1, "backward(_:) needs a scalar; use backward(_:seed:) for vectors")
        var one: Float = 1
        backward(loss, seed: &one)
    }

    /// Back-propagates from `output` with upstream gradient `seed` (count(output) floats), e.g. the
    /// dL/dŷ of this rank's samples computed from the global-batch loss. Each op output's gradient
    /// returns to the arena as soon as its backward closure has run.
    public func backward(_ output: Var, seed: UnsafePointer<Float>) {
        guard nodes[output.id].needsGrad else { return }
        let g = grad(output)
        for i in 0..<count(output) { g[i] += seed[i] }
        var i = output.id
        while i >= 0 {
            let node = nodes[i]
            if node.parameter >= 0 {
                onParameterGradReady?(node.parameter)
            } else if let g = node.grad, let fn = node.backward {
                runningBackward = true
                fn(self)
                runningBackward = false
                for p in backwardScratch { arena.release(p) }
                backwardScratch.removeAll(keepingCapacity: true)
                nodes[i].grad = nil
                arena.release(g)
            }
            i -= 1
        }
    }
}
