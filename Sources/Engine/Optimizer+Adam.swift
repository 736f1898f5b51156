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
    func adamSegment(_ store: ParameterStore, _ range: Range<Int>, lr: Float, wd: Float, decoupled: Bool) {
        let w = store.values.base, g = store.grads.base
        let m = state["exp_avg"]!.base, v = state["exp_avg_sq"]!.base
        let b1 = config.beta1, b2 = config.beta2, eps = config.epsilon
        let t = Double(stepCount)
        // Scalars in Double, as PyTorch computes them in Python floats.
        let stepSize = Float(Double(lr) / (1 - pow(Double(b1), t)))
        let bc2Sqrt = Float((1 - pow(Double(b2), t)).squareRoot())
        let decay = Float(1 - Double(lr) * Double(wd))
        let box = UncheckedBox((w, g, m, v))
        compute.forEachChunk(range.count, grain: 16_384) { r in
            let (w, g, m, v) = box.value
            for k in r {
                let i = range.lowerBound + k
                var gi = g[i]
                if decoupled { w[i] *= decay } else { gi += wd * w[i] }
                m[i] += (gi - m[i]) * (1 - b1)  // torch: exp_avg.lerp_(grad, 1 − β1)
                v[i] = v[i] * b2 + (1 - b2) * gi * gi
                let denom = v[i].squareRoot() / bc2Sqrt + eps
                w[i] -= stepSize * m[i] / denom
            }
        }
    }
}
