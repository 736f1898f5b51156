// Directions in weight space for loss-landscape plots and sharpness (Li et al. 2018,
// "Visualizing the Loss Landscape of Neural Nets").
//
// Shapes: a direction has the store's flat layout (flatCount floats); parameter i is
// d[offset_i ..< offset_i + count_i] with shape_i, and a "filter" is one slice along dim 0
// (an output channel of a conv, an output row of a linear layer).
//
// Raw direction: d ~ N(0, 1) elementwise, drawn in flat order from
// CounterRNG(seed, epoch: family, index: k, purpose: .landscape). It depends only on
// (seed, family, k, flatCount), so every checkpoint of the same architecture gets the SAME raw
// direction — the comparison the plots need.
// Filter normalisation: for each tensor with ndim ≥ 2, each filter d_f is rescaled to ‖w_f‖
// (d_f ← d_f·‖w_f‖/‖d_f‖). Tensors with ndim ≤ 1 (biases, norm scales/shifts) are set to zero, or,
// with `includeBiasAndNorm`, to the weights themselves (the reference code's choice: a 1-D
// tensor's "filters" are single numbers, so the normalised direction is w).

/// Random filter-normalised directions in a parameter store's flat layout.
public enum LandscapeDirection {
    /// Random streams of a landscape run: the plot axes, the sharpness directions, the
    /// power-iteration start, and the subset permutation.
    public enum Family: UInt64, Sendable {
        case axis = 0, sharpness = 1, hessianStart = 2, subset = 3
    }

    /// Fills `out[0..<count]` with the raw N(0, 1) direction `k` of `family` for `seed`.
    public static func gaussian(_ out: UnsafeMutablePointer<Float>, count: Int, seed: UInt64, family: Family, index k: Int) {
        var rng = CounterRNG(seed: seed, epoch: family.rawValue, index: UInt64(k), purpose: .landscape)
        for i in 0..<count { out[i] = rng.nextGaussian() }
    }

    /// Rescales `direction` (the store's flat layout) in place filter by filter to the norms of
    /// the filters of `weights`; ndim ≤ 1 tensors become 0 (or `weights` when `includeBiasAndNorm`).
    public static func filterNormalize(_ direction: UnsafeMutablePointer<Float>, weights: UnsafePointer<Float>,
                                       infos: [ParameterInfo], includeBiasAndNorm: Bool = false) {
        for info in infos {
            let d = direction + info.offset, w = weights + info.offset
            if info.shape.count <= 1 {
                if includeBiasAndNorm { d.update(from: w, count: info.count) } else { d.update(repeating: 0, count: info.count) }
                continue
            }
            let filters = info.shape[0], size = info.count / max(filters, 1)
            for f in 0..<filters {
                let df = d + f * size, wf = w + f * size
                var dn = 0.0, wn = 0.0
                for j in 0..<size { dn += Double(df[j]) * Double(df[j]); wn += Double(wf[j]) * Double(wf[j]) }
                let scale = dn > 0 ? Float(wn.squareRoot() / dn.squareRoot()) : 0
                for j in 0..<size { df[j] *= scale }
            }
        }
    }

    /// A new filter-normalised direction `k` of `family` for the weights currently in `store`.
    public static func make(store: ParameterStore, seed: UInt64, family: Family, index k: Int,
                            includeBiasAndNorm: Bool = false) -> FloatBuffer {
        let d = FloatBuffer(count: store.flatCount)
        gaussian(d.base, count: d.count, seed: seed, family: family, index: k)
        filterNormalize(d.base, weights: store.values.base, infos: store.infos, includeBiasAndNorm: includeBiasAndNorm)
        return d
    }
}

/// Sets `out = base + Σ coefficient_i · direction_i` over `count` floats.
public func combineWeights(_ out: UnsafeMutablePointer<Float>, base: UnsafePointer<Float>, count: Int,
                           _ terms: [(coefficient: Float, direction: UnsafePointer<Float>)], compute: Compute = Compute()) {
    compute.forEachChunk(count) { r in
        for i in r { out[i] = base[i] }
        for t in terms where t.coefficient != 0 {
            let a = t.coefficient, d = t.direction
            for i in r { out[i] += a * d[i] }
        }
    }
}
