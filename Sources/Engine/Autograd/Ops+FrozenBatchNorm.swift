// Frozen BatchNorm folded into the convolution before it, and in-place ReLUs: the memory-lean
// form of torchvision's conv → BN (eval statistics) → ReLU used by ResNet2D.
//
// A BatchNorm with fixed statistics is the affine map y = s·x + t per channel, s = w/√(var + eps),
// t = b − s·mean (PyTorch's CPU eval path computes exactly these alpha/beta). Folded into the
// convolution, conv(x, s·W) + t is the normalised output, so nothing of the BatchNorm's input is
// kept for backward and no pass over the activation is spent on it. Gradients (G′ = dL/dW′ of the
// folded weight, g_t = dL/dt = Σ dL/dy over positions):
//   dL/dW = s·G′,   dL/db = g_t,   dL/dw = rs·(Σ_k G′·W − mean·g_t)   (rs = 1/√(var + eps)),
// since Σ_k G′_ck·W_ck = Σ_p dy_cp·x_cp (x the unnormalised convolution output), so the last is
// rs·Σ_p dy·(x − mean) = Σ_p dy·x̂, BatchNorm's weight gradient.
// Shapes: W [Cout, ...], w/b/mean/var [Cout] → W′ like W, t [Cout].
// The in-place ReLUs overwrite the convolution output they follow (it must be the latest node, and
// a convolution does not read its output in backward) and back-propagate from their own output,
// as PyTorch's threshold_backward does: per conv → BN → ReLU one activation is kept, not three.

extension Tape {
    /// The folded weight s·W and bias t of a frozen BatchNorm after a bias-free convolution with
    /// weight `convWeight` [Cout, ...]; `runningMean`/`runningVar` are fixed ([Cout] each). The folded
    /// weight has `foldedShape` (same count and Cout, e.g. [Cout, Cin, 1, k, k] for conv3d) or W's.
    func foldFrozenBatchNorm(convWeight: Var, weight: Var, bias: Var, runningMean: UnsafePointer<Float>,
                             runningVar: UnsafePointer<Float>, eps: Float = 1e-5, foldedShape: [Int]? = nil) -> (weight: Var, bias: Var) {
        let ws = shape(convWeight), ch = ws[0], per = count(convWeight) / max(ch, 1)
        checkAffine("foldFrozenBatchNorm", weight, bias, ch, ws)
        let fs = foldedShape ?? ws
        precondition(fs.first == ch && fs.reduce(1, *) == count(convWeight), "foldFrozenBatchNorm: shape \(fs) does not fit weight \(ws)")
        let needs = anyNeedsGrad(convWeight, weight, bias)
        let rs = scratch(ch), scale = scratch(ch)
        let wp = UnsafePointer(value(weight)), bp = UnsafePointer(value(bias)), cw = UnsafePointer(value(convWeight))
        let (folded, fp) = output(shape: fs, needsGrad: needs)
        let (shift, sp) = output(shape: [ch], needsGrad: needs)
        for c in 0..<ch {
            rs[c] = 1 / (runningVar[c] + eps).squareRoot()
            scale[c] = wp[c] * rs[c]
            sp[c] = bp[c] - runningMean[c] * scale[c]
        }
        let cmp = compute
        cmp.forEachChunk(ch, grain: max(1, 65_536 / max(per, 1))) { r in
            for c in r { for k in 0..<per { fp[c * per + k] = scale[c] * cw[c * per + k] } }
        }
        setBackward(folded) { t in
            let g = t.grad(folded)
            let gW = t.needsGrad(convWeight) ? t.grad(convWeight) : nil
            let gw = t.needsGrad(weight) ? t.grad(weight) : nil
            cmp.forEachChunk(ch, grain: max(1, 65_536 / max(per, 1))) { r in
                for c in r {
                    let row = c * per
                    if let gW { for k in 0..<per { gW[row + k] += scale[c] * g[row + k] } }
                    if let gw {
                        var dot = 0.0
                        for k in 0..<per { dot += Double(g[row + k]) * Double(cw[row + k]) }
                        gw[c] += Float(dot * Double(rs[c]))
                    }
                }
            }
        }
        setBackward(shift) { t in
            let g = t.grad(shift)
            if t.needsGrad(bias) { let gb = t.grad(bias); for c in 0..<ch { gb[c] += g[c] } }
            if t.needsGrad(weight) { let gw = t.grad(weight); for c in 0..<ch { gw[c] -= runningMean[c] * rs[c] * g[c] } }
        }
        return (folded, shift)
    }

    /// max(x, 0) written over x's buffer (x must be the latest node and read by nothing else);
    /// backward from the output: dx += dy where y > 0.
    func reluInPlace(_ x: Var) -> Var {
        let n = count(x), c = compute
        let (y, yp) = overwriting(x, needsGrad: anyNeedsGrad(x))
        c.forEachChunk(n) { r in
            let p = yp + r.lowerBound
            for i in 0..<r.count { p[i] = p[i] > 0 ? p[i] : 0 }
        }
        setBackward(y) { t in
            guard t.needsGrad(x) else { return }
            let gx = t.grad(x), gy = t.grad(y)
            c.forEachChunk(n) { r in
                let o = r.lowerBound, py = yp + o, pg = gy + o, pd = gx + o
                for i in 0..<r.count { pd[i] += py[i] > 0 ? pg[i] : 0 }
            }
        }
        return y
    }

    /// relu(x + shortcut) written over x's buffer (x must be the latest node and read by nothing
    /// else; `shortcut` has x's shape and is only read); backward from the output to both.
    func addReluInPlace(_ x: Var, _ shortcut: Var) -> Var {
        precondition(shape(x) == shape(shortcut) && x != shortcut,
                     "addReluInPlace: needs two distinct values of one shape, got \(shape(x)) and \(shape(shortcut))")
        let n = count(x), c = compute, sp = UnsafePointer(value(shortcut))
        let (y, yp) = overwriting(x, needsGrad: anyNeedsGrad(x, shortcut))
        c.forEachChunk(n) { r in
            let p = yp + r.lowerBound, s = sp + r.lowerBound
            for i in 0..<r.count { let v = p[i] + s[i]; p[i] = v > 0 ? v : 0 }
        }
        setBackward(y) { t in
            let gy = t.grad(y)
            for v in [x, shortcut] where t.needsGrad(v) {
                let gv = t.grad(v)
                c.forEachChunk(n) { r in
                    let o = r.lowerBound, py = yp + o, pg = gy + o, pd = gv + o
                    for i in 0..<r.count { pd[i] += py[i] > 0 ? pg[i] : 0 }
                }
            }
        }
        return y
    }
}
