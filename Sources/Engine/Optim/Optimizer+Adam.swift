// Adam and AdamW updates over one flat segment, as torch.optim.Adam / AdamW (non-amsgrad,
// foreach/for-loop path) compute them.
//
// Shapes: w, g, m (exp_avg), v (exp_avg_sq) all [P].
//   Adam:  g += wd·w
//   AdamW: w *= 1 − lr·wd
//   m = β1·m + (1−β1)·g;  v = β2·v + (1−β2)·g²
//   w -= lr/(1−β1^t) · m / (√v / √(1−β2^t) + ε)

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension Optimizer {
    /// One segment's update; `t` is its group's bias-correction step (1 at the group's first update).
    func adamSegment(_ store: ParameterStore, _ range: Range<Int>, lr: Float, wd: Float, decoupled: Bool, t steps: Int) {
        let w = store.values.base, g = store.grads.base
        let m = state["exp_avg"]!.base, v = state["exp_avg_sq"]!.base
        let b1 = config.beta1, b2 = config.beta2, eps = config.epsilon
        let t = Double(steps)
        // Scalars in Double, as PyTorch computes them in Python floats.
        let stepSize = Float(Double(lr) / (1 - pow(Double(b1), t)))
        let bc2Sqrt = Float((1 - pow(Double(b2), t)).squareRoot())
        let decay = Float(1 - Double(lr) * Double(wd))
        let box = UncheckedBox((w, g, m, v))
        compute.forEachChunk(range.count, grain: 16_384) { r in
            let (w, g, m, v) = box.value
            let lo = range.lowerBound + r.lowerBound, hi = range.lowerBound + r.upperBound
            // Eight lanes at a time with SIMD8 (the scalar loop does not auto-vectorise: the four
            // pointers may alias); the same IEEE operations per element as the scalar tail.
            var i = lo
            while i + 8 <= hi {
                var gi = UnsafeRawPointer(g + i).loadUnaligned(as: SIMD8<Float>.self)
                var wi = UnsafeRawPointer(w + i).loadUnaligned(as: SIMD8<Float>.self)
                var mi = UnsafeRawPointer(m + i).loadUnaligned(as: SIMD8<Float>.self)
                var vi = UnsafeRawPointer(v + i).loadUnaligned(as: SIMD8<Float>.self)
                if decoupled { wi *= decay } else { gi += wd * wi }
                mi += (gi - mi) * (1 - b1)  // torch: exp_avg.lerp_(grad, 1 − β1)
                vi = vi * b2 + (1 - b2) * gi * gi
                let denom = vi.squareRoot() / bc2Sqrt + eps
                wi -= stepSize * mi / denom
                UnsafeMutableRawPointer(w + i).storeBytes(of: wi, as: SIMD8<Float>.self)
                UnsafeMutableRawPointer(m + i).storeBytes(of: mi, as: SIMD8<Float>.self)
                UnsafeMutableRawPointer(v + i).storeBytes(of: vi, as: SIMD8<Float>.self)
                i += 8
            }
            while i < hi {
                var gi = g[i]
                if decoupled { w[i] *= decay } else { gi += wd * w[i] }
                m[i] += (gi - m[i]) * (1 - b1)
                v[i] = v[i] * b2 + (1 - b2) * gi * gi
                let denom = v[i].squareRoot() / bc2Sqrt + eps
                w[i] -= stepSize * m[i] / denom
                i += 1
            }
        }
    }
}
