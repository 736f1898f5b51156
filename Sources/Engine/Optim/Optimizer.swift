// Optimizers over the flat parameter/gradient buffers (llm.c style), matching torch.optim.
//
// Shapes: values [P], grads [P], state buffers [P] (P = ParameterStore.flatCount, including the
// alignment padding between tensors, which has zero value and zero gradient and so stays zero).
// Each parameter's group (ParameterInfo.group) selects an LR multiplier and whether weight decay
// applies; adjacent tensors of the same group form one contiguous segment, updated in parallel
// chunks with Compute. A group whose LR multiplier is 0 is frozen, as torch skips parameters with
// `requires_grad=False`: no update, and its state and step count stay as they are. Adam's bias
// correction counts each group's own updates (torch counts `state['step']` per parameter), so a
// group unfrozen after a linear probe starts at t = 1 while the head's count goes on.
//
// SGD (torch.optim.SGD, dampening 0):  g += wd·w;  b = μ·b + g;  g = nesterov ? g + μ·b : b;
//                                       w -= lr·g
// Adam / AdamW: see Optimizer+Adam.swift.

/// Which update rule an `Optimizer` applies.
public enum OptimizerKind: String, Sendable, Codable, CaseIterable {
    /// SGD with optional momentum, Nesterov and coupled L2 weight decay.
    case sgd
    /// Adam with coupled L2 weight decay (torch.optim.Adam).
    case adam
    /// Adam with decoupled weight decay (torch.optim.AdamW).
    case adamw
}

/// How one parameter group is treated.
public struct GroupRule: Sendable, Equatable, Codable {
    /// Multiplier applied to the base learning rate.
    public var lrMultiplier: Float
    /// Whether weight decay applies to this group.
    public var weightDecay: Bool

    /// A rule with an LR multiplier and a weight-decay flag.
    public init(lrMultiplier: Float = 1, weightDecay: Bool = true) {
        self.lrMultiplier = lrMultiplier
        self.weightDecay = weightDecay
    }
}

/// Hyper-parameters of an optimizer (defaults: torch.optim.AdamW with FAST-VQA's groups).
public struct OptimizerConfig: Sendable, Equatable {
    /// Update rule.
    public var kind: OptimizerKind
    /// Weight decay (L2 for sgd/adam, decoupled for adamw).
    public var weightDecay: Float
    /// SGD momentum (0 disables the momentum buffer).
    public var momentum: Float
    /// SGD Nesterov momentum (needs momentum > 0).
    var nesterov: Bool
    /// Adam β1.
    public var beta1: Float
    /// Adam β2.
    public var beta2: Float
    /// Adam ε (added to the bias-corrected √v).
    public var epsilon: Float
    /// Rule per ParameterInfo.group; groups not listed use `defaultRule`.
    public var groups: [String: GroupRule]
    /// Rule for groups not in `groups`.
    var defaultRule: GroupRule

    /// A configuration; defaults are torch.optim.AdamW's (wd 0.01) with the backbone at ×0.1 LR.
    public init(kind: OptimizerKind = .adamw, weightDecay: Float = 0.01, momentum: Float = 0,
                nesterov: Bool = false, beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-8,
                groups: [String: GroupRule] = ["backbone": GroupRule(lrMultiplier: 0.1)],
                defaultRule: GroupRule = GroupRule()) {
        precondition(!nesterov || momentum > 0, "optimizer: Nesterov momentum needs momentum > 0 (got \(momentum))")
        self.kind = kind; self.weightDecay = weightDecay; self.momentum = momentum; self.nesterov = nesterov
        self.beta1 = beta1; self.beta2 = beta2; self.epsilon = epsilon
        self.groups = groups; self.defaultRule = defaultRule
    }

    /// The group of constant tensors stored with the parameters (frozen BatchNorm statistics):
    /// never updated, never decayed, whatever `groups` says.
    static let frozenGroup = "frozen"

    /// The rule for a parameter group.
    public func rule(for group: String) -> GroupRule {
        group == OptimizerConfig.frozenGroup ? GroupRule(lrMultiplier: 0, weightDecay: false) : groups[group] ?? defaultRule
    }
}

/// A contiguous range of the flat buffers of one parameter group.
struct OptimizerSegment: Equatable {
    var range: Range<Int>
    var rule: GroupRule
    var group: String
}

/// An optimizer over a ParameterStore's flat buffers; state lives in FloatBuffers.
public final class Optimizer {
    /// Hyper-parameters (the group rules change with `setGroups`).
    public private(set) var config: OptimizerConfig
    /// Number of updates applied so far.
    public var stepCount: Int = 0
    /// Updates each parameter group has received (Adam's bias-correction step t of that group);
    /// frozen groups (LR multiplier 0) do not count.
    public var groupSteps: [String: Int] = [:]
    /// Per-element state by PyTorch name: "exp_avg"/"exp_avg_sq" (Adam) or "momentum_buffer"
    /// (SGD with momentum); each has `flatCount` floats. Restore a checkpoint by copying into them.
    public private(set) var state: [String: FloatBuffer] = [:]
    private(set) var segments: [OptimizerSegment]
    let store: ParameterStore
    let compute: Compute

    /// An optimizer for `store` (allocated) with zeroed state.
    public init(config: OptimizerConfig, store: ParameterStore, compute: Compute = Compute()) {
        self.config = config
        self.compute = compute
        self.store = store
        segments = Optimizer.segments(store: store, config: config)
        switch config.kind {
        case .sgd:
            if config.momentum != 0 { state["momentum_buffer"] = FloatBuffer(count: store.flatCount) }
        case .adam, .adamw:
            state["exp_avg"] = FloatBuffer(count: store.flatCount)
            state["exp_avg_sq"] = FloatBuffer(count: store.flatCount)
        }
    }

    /// Splits the flat buffers into segments of one group (each tensor with its trailing padding).
    static func segments(store: ParameterStore, config: OptimizerConfig) -> [OptimizerSegment] {
        var out: [OptimizerSegment] = []
        let infos = store.infos
        for (i, info) in infos.enumerated() {
            let end = i + 1 < infos.count ? infos[i + 1].offset : store.flatCount
            if let last = out.last, last.group == info.group, last.range.upperBound == info.offset {
                out[out.count - 1].range = last.range.lowerBound..<end
            } else {
                out.append(OptimizerSegment(range: info.offset..<end, rule: config.rule(for: info.group), group: info.group))
            }
        }
        return out
    }

    /// Changes the group rules (e.g. unfreezing the backbone after a linear probe), keeping every
    /// moment and step count: what torch does when `requires_grad` is switched on for a group of
    /// the same optimizer.
    public func setGroups(_ groups: [String: GroupRule]) {
        config.groups = groups
        segments = Optimizer.segments(store: store, config: config)
    }

    /// Whether the optimizer updates the parameter `info` (its group's LR multiplier is not 0).
    public func trains(_ info: ParameterInfo) -> Bool { config.rule(for: info.group).lrMultiplier != 0 }

    /// The groups of the store, in order of first appearance.
    public var groupNames: [String] {
        var seen: [String] = []
        for s in segments where !seen.contains(s.group) { seen.append(s.group) }
        return seen
    }

    /// Applies one update with base learning rate `lr` using the store's gradients.
    public func step(store: ParameterStore, lr: Float) {
        precondition(store.flatCount == (state.values.first?.count ?? store.flatCount),
                     "optimizer: store has \(store.flatCount) floats but the optimizer state was built for another model")
        stepCount += 1
        let active = segments.filter { $0.rule.lrMultiplier != 0 }
        for g in Set(active.map(\.group)) { groupSteps[g, default: 0] += 1 }
        for seg in active {
            let segLR = lr * seg.rule.lrMultiplier
            let wd = seg.rule.weightDecay ? config.weightDecay : 0
            switch config.kind {
            case .sgd: sgdSegment(store, seg.range, lr: segLR, wd: wd)
            case .adam, .adamw: adamSegment(store, seg.range, lr: segLR, wd: wd, decoupled: config.kind == .adamw, t: groupSteps[seg.group]!)
            }
        }
    }

    func sgdSegment(_ store: ParameterStore, _ range: Range<Int>, lr: Float, wd: Float) {
        let w = store.values.base, g = store.grads.base
        let mu = config.momentum, nesterov = config.nesterov
        let buf = state["momentum_buffer"]?.base
        let box = UncheckedBox((w, g, buf))
        compute.forEachChunk(range.count, grain: 32_768) { r in
            let (w, g, buf) = box.value
            for k in r {
                let i = range.lowerBound + k
                var d = g[i] + wd * w[i]
                if let b = buf {
                    b[i] = mu * b[i] + d
                    d = nesterov ? d + mu * b[i] : b[i]
                }
                w[i] -= lr * d
            }
        }
    }
}

/// Scales the gradients so their global L2 norm is at most `maxNorm` (torch.nn.utils.clip_grad_norm_:
/// coefficient min(1, maxNorm/(norm + 1e-6))); returns the norm before clipping.
@discardableResult
public func clipGradientNorm(_ grads: FloatBuffer, maxNorm: Float, compute: Compute = Compute()) -> Float {
    let norm = l2Norm(UnsafeBufferPointer(grads.buffer), compute: compute)
    let coef = Float(min(1, Double(maxNorm) / (norm + 1e-6)))
    if coef < 1 {
        let box = UncheckedBox(grads.base)
        compute.forEachChunk(grads.count, grain: 65_536) { r in
            for i in r { box.value[i] *= coef }
        }
    }
    return Float(norm)
}

/// L2 norm of a buffer, accumulated in Double over parallel chunks (fixed chunking: the result
/// does not depend on the thread count).
func l2Norm(_ x: UnsafeBufferPointer<Float>, compute: Compute) -> Double {
    let chunk = 65_536
    let chunks = (x.count + chunk - 1) / chunk
    guard chunks > 0 else { return 0 }
    var partial = [Double](repeating: 0, count: chunks)
    partial.withUnsafeMutableBufferPointer { p in
        let box = UncheckedBox((p.baseAddress!, x.baseAddress!))
        compute.forEach(chunks) { c in
            let (out, base) = box.value
            var s = 0.0
            for i in c * chunk..<min(x.count, (c + 1) * chunk) { s += Double(base[i]) * Double(base[i]) }
            out[c] = s
        }
    }
    return partial.reduce(0, +).squareRoot()
}
