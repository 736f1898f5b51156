// Ops for the Video Swin backbone: the fused (gated) relative-position-bias + shift-mask add of
// window attention, and per-sample stochastic depth (DropPath).
//
// Shapes: windowBias  logits [B·nW, h, N, N] (windows fastest, as Video Swin orders them),
//                     tables [L, h] (L = (2wd−1)(2wh−1)(2ww−1)), index [N·N] into the rows of a table,
//                     gate [nW, N, N], mask [nW, N, N]  → [B·nW, h, N, N]
//         dropPath    x [B, ...] → [B, ...] (one keep/drop decision per sample b)

/// Geometry of one window attention bias: the table rows each (query, key) pair reads, and the
/// optional per-window gate and shift mask (constants computed by `SwinGeometry`).
public struct WindowBiasGeometry: Sendable {
    /// Tokens per window.
    public let tokens: Int
    /// Windows per sample.
    public let windows: Int
    /// Table row for each (i, j), i·N + j.
    public let index: [Int32]
    /// FAST-VQA fragment gate g[w, i, j] (L1 distance of the fragment coordinates), or nil.
    public let gate: [Float]?
    /// Shifted-window mask (0 or −100) per (w, i, j), or nil.
    public let mask: [Float]?
}

extension Tape {
    /// logits + bias + mask, with bias[w, h, i, j] = R[idx(i,j), h]·g[w,i,j] + F[idx(i,j), h]·(1 − g[w,i,j])
    /// when a fragment table F is given (FAST-VQA's gated relative position bias; g from `geometry.gate`),
    /// R[idx(i,j), h] otherwise. Backward scatter-adds into the tables.
    public func windowBias(_ logits: Var, relative: Var, fragment: Var?, geometry g: WindowBiasGeometry) -> Var {
        let s = shape(logits), n = g.tokens, nW = g.windows
        precondition(s.count == 4 && s[2] == n && s[3] == n && s[0] % nW == 0,
                     "windowBias: logits \(s) are not [B·\(nW), heads, \(n), \(n)]")
        let heads = s[1], rs = shape(relative)
        precondition(rs.count == 2 && rs[1] == heads, "windowBias: table \(rs) is not [L, \(heads)]")
        precondition(g.index.count == n * n && g.index.allSatisfy { Int($0) < rs[0] && $0 >= 0 },
                     "windowBias: index does not address the \(rs[0]) rows of the table")
        if let f = fragment {
            precondition(shape(f) == rs, "windowBias: fragment table \(shape(f)) differs from \(rs)")
            precondition(g.gate?.count == nW * n * n, "windowBias: a fragment table needs a gate of \(nW)×\(n)×\(n)")
        }
        if let m = g.mask { precondition(m.count == nW * n * n, "windowBias: mask has \(m.count) values, needs \(nW * n * n)") }
        let nn = n * n, batchWindows = s[0]
        let gate = fragment == nil ? nil : g.gate
        let inputs = [logits, relative] + (fragment.map { [$0] } ?? [])
        let (y, yp) = output(shape: s, needsGrad: anyNeedsGrad(inputs))
        let xp = value(logits), rp = value(relative), fp = fragment.map { value($0) }
        let c = compute
        // The bias of window w, head h: bias[(w·heads + h)·N² + ij] (built once per call, nW·h·N² floats).
        let bias = scratch(nW * heads * nn)
        c.forEach(nW * heads) { wh in
            let w = wh / heads, h = wh % heads, dst = bias + wh * nn
            g.index.withUnsafeBufferPointer { idx in
                if let gt = gate, let fp {
                    gt.withUnsafeBufferPointer { gp in
                        let gw = gp.baseAddress! + w * nn
                        for ij in 0..<nn {
                            let r = Int(idx[ij]) * heads + h
                            dst[ij] = rp[r] * gw[ij] + fp[r] * (1 - gw[ij])
                        }
                    }
                } else {
                    for ij in 0..<nn { dst[ij] = rp[Int(idx[ij]) * heads + h] }
                }
            }
        }
        let mask = g.mask
        c.forEach(batchWindows * heads) { bh in
            let w = (bh / heads) % nW, h = bh % heads
            let src = xp + bh * nn, dst = yp + bh * nn, b = bias + (w * heads + h) * nn
            if let m = mask {
                m.withUnsafeBufferPointer { mp in
                    let mw = mp.baseAddress! + w * nn
                    for ij in 0..<nn { dst[ij] = (src[ij] + b[ij]) + mw[ij] }
                }
            } else {
                for ij in 0..<nn { dst[ij] = src[ij] + b[ij] }
            }
        }
        setBackward(y) { t in
            let gy = t.grad(y)
            if t.needsGrad(logits) { Kernels.axpy(batchWindows * heads * nn, gy, t.grad(logits), compute: c) }
            let needR = t.needsGrad(relative), needF = fragment.map { t.needsGrad($0) } ?? false
            guard needR || needF else { return }
            // Sum dy over the batch per (w, h, ij), in a fixed order, then scatter into the tables.
            let sum = t.scratch(nW * heads * nn)
            let reps = batchWindows / nW
            c.forEach(nW * heads) { wh in
                let d = sum + wh * nn
                for ij in 0..<nn { d[ij] = 0 }
                for b in 0..<reps {
                    let src = gy + (b * nW * heads + wh) * nn
                    for ij in 0..<nn { d[ij] += src[ij] }
                }
            }
            let gr = needR ? t.grad(relative) : nil
            let gf = needF ? t.grad(fragment!) : nil
            // Table rows are shared by many (w, ij): scatter per head (heads are disjoint columns).
            c.forEach(heads) { h in
                g.index.withUnsafeBufferPointer { idx in
                    for w in 0..<nW {
                        let d = sum + (w * heads + h) * nn
                        if let gt = gate {
                            gt.withUnsafeBufferPointer { gp in
                                let gw = gp.baseAddress! + w * nn
                                for ij in 0..<nn {
                                    let r = Int(idx[ij]) * heads + h
                                    gr?[r] += d[ij] * gw[ij]
                                    gf?[r] += d[ij] * (1 - gw[ij])
                                }
                            }
                        } else if let gr {
                            for ij in 0..<nn { gr[Int(idx[ij]) * heads + h] += d[ij] }
                        }
                    }
                }
            }
        }
        return y
    }

    /// Stochastic depth (timm DropPath): in training, keeps each sample (first dimension) with
    /// probability 1 − p and scales kept samples by 1/(1 − p); the identity in evaluation or for p = 0.
    /// Decisions are a pure function of (tape.seed, tape.step, sample key, op position).
    public func dropPath(_ x: Var, p: Float) -> Var {
        precondition(p >= 0 && p < 1, "dropPath: p = \(p) must be in [0, 1)")
        guard training, p > 0 else { return x }
        let s = shape(x), rows = s.first ?? 1, per = count(x) / max(rows, 1)
        let op = nextRandomOp()
        let keys = sampleKeys.count == rows ? sampleKeys : (0..<rows).map { UInt64($0) }
        let scale: [Float] = keys.map { key in
            var rng = CounterRNG(seed: seed, epoch: step, index: key &* 1024 &+ op, purpose: .dropout)
            return rng.nextFloat() < p ? 0 : 1 / (1 - p)
        }
        let (y, yp) = output(shape: s, needsGrad: anyNeedsGrad(x))
        let xp = value(x), c = compute
        c.forEach(rows) { r in
            let k = scale[r], src = xp + r * per, dst = yp + r * per
            for i in 0..<per { dst[i] = src[i] * k }
        }
        setBackward(y) { t in
            guard t.needsGrad(x) else { return }
            let gx = t.grad(x), gy = t.grad(y)
            c.forEach(rows) { r in
                let k = scale[r], src = gy + r * per, dst = gx + r * per
                for i in 0..<per { dst[i] += src[i] * k }
            }
        }
        return y
    }
}
