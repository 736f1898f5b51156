// Ops for the Video Swin backbone: the fused (gated) relative-position-bias + shift-mask add of
// window attention, and per-sample stochastic depth (DropPath).
//
// Shapes: windowBias  logits [B·nW, h, N, N] (windows fastest, as Video Swin orders them),
//                     tables [L, h] (L = (2wd−1)(2wh−1)(2ww−1)), index [N·N] into the rows of a table,
//                     gate [nW, N, N], mask [nW, N, N]  → [B·nW, h, N, N]
//         dropPath    x [B, ...] → [B, ...] (one keep/drop decision per sample b)

/// Geometry of one window attention bias: the table rows each (query, key) pair reads, and the
/// optional per-window gate and shift mask (constants computed by `SwinGeometryCache`). Windows
/// share patterns: the gate and mask are stored once per distinct [N, N] pattern (a shifted mask
/// has at most 8, the stage-0 gate of a 224² clip 49 of 128), with the pattern of every window.
struct WindowBiasGeometry: Sendable {
    /// Tokens per window.
    let tokens: Int
    /// Windows per sample.
    let windows: Int
    /// Table row for each (i, j), i·N + j.
    let index: [Int32]
    /// Distinct FAST-VQA fragment gates g[i, j] (L1 distance of the fragment coordinates), P·N² floats, or nil.
    let gatePatterns: [Float]?
    /// Gate pattern of each window.
    let gateOf: [Int32]
    /// Distinct shifted-window masks (0 or −100), Q·N² floats, or nil.
    let maskPatterns: [Float]?
    /// Mask pattern of each window.
    let maskOf: [Int32]

    /// A geometry from dense per-window gate and mask [nW, N, N] (deduplicated here).
    init(tokens: Int, windows: Int, index: [Int32], gate: [Float]?, mask: [Float]?) {
        self.tokens = tokens
        self.windows = windows
        self.index = index
        let nn = tokens * tokens
        func dedupe(_ dense: [Float]?, _ what: String) -> ([Float]?, [Int32]) {
            guard let dense else { return (nil, []) }
            precondition(dense.count == windows * nn, "WindowBiasGeometry: \(what) has \(dense.count) values, needs \(windows)×\(tokens)×\(tokens)")
            var patterns: [Float] = [], of: [Int32] = [], seen: [ArraySlice<Float>: Int32] = [:]
            for w in 0..<windows {
                let slice = dense[(w * nn)..<((w + 1) * nn)]
                if let k = seen[slice] { of.append(k); continue }
                let k = Int32(seen.count)
                seen[slice] = k
                patterns += slice
                of.append(k)
            }
            return (patterns, of)
        }
        (gatePatterns, gateOf) = dedupe(gate, "gate")
        (maskPatterns, maskOf) = dedupe(mask, "mask")
    }

    /// Whether a gate is present.
    var hasGate: Bool { gatePatterns != nil }
    /// Floats held by the distinct gate and mask patterns.
    var patternFloats: Int { (gatePatterns?.count ?? 0) + (maskPatterns?.count ?? 0) }
}

extension Tape {
    /// Checks the relative (and fragment) bias tables [L, heads] against `g`'s index and gate; returns
    /// the tables' shape. Shared by `windowBias` and the fused `windowAttention`.
    @discardableResult
    func checkBiasTables(_ op: String, relative: Var, fragment: Var?, heads: Int, geometry g: WindowBiasGeometry) -> [Int] {
        let rs = shape(relative), n = g.tokens
        precondition(rs.count == 2 && rs[1] == heads, "\(op): table \(rs) is not [L, \(heads)]")
        precondition(g.index.count == n * n && g.index.allSatisfy { Int($0) < rs[0] && $0 >= 0 },
                     "\(op): index does not address the \(rs[0]) rows of the table")
        if let f = fragment {
            precondition(shape(f) == rs, "\(op): fragment table \(shape(f)) differs from \(rs)")
            precondition(g.hasGate, "\(op): a fragment table needs a gate of \(g.windows)×\(n)×\(n)")
        }
        return rs
    }

    /// logits + bias + mask, with bias[w, h, i, j] = R[idx(i,j), h]·g[w,i,j] + F[idx(i,j), h]·(1 − g[w,i,j])
    /// when a fragment table F is given (FAST-VQA's gated relative position bias; g from `geometry`),
    /// R[idx(i,j), h] otherwise. The bias is gathered on the fly per (window, head): nothing of
    /// size nW·h·N² is materialised. Backward scatter-adds into the tables, one head per task.
    func windowBias(_ logits: Var, relative: Var, fragment: Var?, geometry g: WindowBiasGeometry) -> Var {
        let s = shape(logits), n = g.tokens, nW = g.windows
        precondition(s.count == 4 && s[2] == n && s[3] == n && s[0] % nW == 0,
                     "windowBias: logits \(s) are not [B·\(nW), heads, \(n), \(n)]")
        let heads = s[1]
        checkBiasTables("windowBias", relative: relative, fragment: fragment, heads: heads, geometry: g)
        let nn = n * n, batchWindows = s[0]
        let gate = fragment == nil ? nil : g.gatePatterns, gateOf = g.gateOf
        let mask = g.maskPatterns, maskOf = g.maskOf
        let inputs = [logits, relative] + (fragment.map { [$0] } ?? [])
        let (y, yp) = output(shape: s, needsGrad: anyNeedsGrad(inputs))
        let xp = value(logits), rp = value(relative), fp = fragment.map { value($0) }
        let c = compute
        withOptionalPointer(g.index) { idx in withOptionalPointer(gate) { gp in withOptionalPointer(mask) { mp in
            let idx = idx!
            c.forEach(batchWindows * heads) { bh in
                let w = (bh / heads) % nW, h = bh % heads
                let src = xp + bh * nn, dst = yp + bh * nn
                let mw = mp.map { $0 + Int(maskOf[w]) * nn }
                if let gp, let fp {
                    let gw = gp + Int(gateOf[w]) * nn
                    if let mw {
                        for ij in 0..<nn {
                            let r = Int(idx[ij]) * heads + h
                            dst[ij] = (src[ij] + (rp[r] * gw[ij] + fp[r] * (1 - gw[ij]))) + mw[ij]
                        }
                    } else {
                        for ij in 0..<nn {
                            let r = Int(idx[ij]) * heads + h
                            dst[ij] = src[ij] + (rp[r] * gw[ij] + fp[r] * (1 - gw[ij]))
                        }
                    }
                } else if let mw {
                    for ij in 0..<nn { dst[ij] = (src[ij] + rp[Int(idx[ij]) * heads + h]) + mw[ij] }
                } else {
                    for ij in 0..<nn { dst[ij] = src[ij] + rp[Int(idx[ij]) * heads + h] }
                }
            }
        } } }
        setBackward(y) { t in
            let gy = t.grad(y)
            if t.needsGrad(logits) { Kernels.axpy(batchWindows * heads * nn, gy, t.grad(logits), compute: c) }
            let needR = t.needsGrad(relative), needF = fragment.map { t.needsGrad($0) } ?? false
            guard needR || needF else { return }
            let gr = needR ? t.grad(relative) : nil
            let gf = needF ? t.grad(fragment!) : nil
            // Table rows are shared by many (w, ij): scatter per head (heads are disjoint columns),
            // in a fixed (b, w, ij) order, so the result does not depend on the thread count.
            withOptionalPointer(g.index) { idx in withOptionalPointer(gate) { gp in
                let idx = idx!
                c.forEach(heads) { h in
                    for bw in 0..<batchWindows {
                        let d = gy + (bw * heads + h) * nn
                        if let gp {
                            let gw = gp + Int(gateOf[bw % nW]) * nn
                            for ij in 0..<nn {
                                let r = Int(idx[ij]) * heads + h
                                gr?[r] += d[ij] * gw[ij]
                                gf?[r] += d[ij] * (1 - gw[ij])
                            }
                        } else if let gr {
                            for ij in 0..<nn { gr[Int(idx[ij]) * heads + h] += d[ij] }
                        }
                    }
                }
            } }
        }
        return y
    }

    /// Stochastic depth (timm DropPath): in training, keeps each sample (first dimension) with
    /// probability 1 − p and scales kept samples by 1/(1 − p); the identity in evaluation or for p = 0.
    /// Decisions are a pure function of (tape.seed, tape.step, sample key, op position).
    func dropPath(_ x: Var, p: Float) -> Var {
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

/// Calls body with the base address of `a`, or nil when `a` is nil.
func withOptionalPointer<T, R>(_ a: [T]?, _ body: (UnsafePointer<T>?) -> R) -> R {
    guard let a else { return body(nil) }
    return a.withUnsafeBufferPointer { body($0.baseAddress!) }
}
