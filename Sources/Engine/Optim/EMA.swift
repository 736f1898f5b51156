// Exponential moving average of the flat weights (FAST-VQA's model_ema, decay 0.999).
//
// Shapes: shadow [P], values [P] (P = ParameterStore.flatCount).
// ema = d·ema + (1 − d)·w, in Float as torch's mul_(d).add_(w, alpha=1−d).

/// A shadow copy of the flat weights updated as an exponential moving average.
public final class WeightEMA {
    /// Decay d of `ema = d·ema + (1−d)·w`.
    public let decay: Float
    /// The averaged weights (same layout as ParameterStore.values); save or restore it directly.
    public let shadow: FloatBuffer
    let compute: Compute

    /// FAST-VQA's decay, the default of `vqa-mpi train` and of this average.
    public static let defaultDecay = 0.999

    /// Starts the average at the store's current weights (as FAST-VQA's deepcopy of the model).
    public init(store: ParameterStore, decay: Float = Float(defaultDecay), compute: Compute = Compute()) {
        precondition(decay >= 0 && decay <= 1, "EMA decay must be in [0, 1] (got \(decay))")
        self.decay = decay
        self.compute = compute
        shadow = FloatBuffer(count: store.flatCount)
        shadow.copy(from: store.values)
    }

    /// Folds the current weights into the average.
    public func update(from values: FloatBuffer) {
        precondition(values.count == shadow.count, "EMA: \(values.count) weights but the average holds \(shadow.count)")
        let d = decay, a = Float(1 - Double(decay))
        let box = UncheckedBox((shadow.base, values.base))
        compute.forEachChunk(shadow.count, grain: 65_536) { r in
            let (e, w) = box.value
            for i in r { e[i] = e[i] * d + w[i] * a }
        }
    }

    /// Folds the store's current weights into the average.
    public func update(from store: ParameterStore) { update(from: store.values) }
}
