// Fused layer, group and batch normalisation.
//
// Shapes: layerNorm  x [R..., C], weight/bias [C]          statistics per row of C
//         groupNorm  x [N, C, S...], weight/bias [C]        statistics per (n, group) of C/G·S
//         batchNorm  x [N, C, S...], weight/bias [C]        statistics per channel over N·S
// Statistics are two-pass (mean, then Σ(x−mean)²) with Double accumulation; x̂ = (x−μ)·rstd,
// y = x̂·w + b. Backward: dx = rstd·(g − mean(g) − x̂·mean(g·x̂)) with g = dy·w (batch statistics),
// dx = rstd·g (fixed statistics); dw = Σ dy·x̂, db = Σ dy. Parameter-gradient sums are split into
// a fixed number of parts (independent of the thread count) and added in order.

extension Tape {
    /// nn.LayerNorm over the last dimension; `weight`/`bias` [C] are optional (no affine).
    func layerNorm(_ x: Var, _ weight: Var?, _ bias: Var?, eps: Float = 1e-5) -> Var {
        let s = shape(x)
        precondition(!s.isEmpty, "layerNorm: needs at least one dimension")
        let ch = s[s.count - 1], rows = count(x) / max(ch, 1)
        checkAffine("layerNorm", weight, bias, ch, s)
        let stats = scratch(2 * rows)  // mean, rstd per row
        let (y, yp) = output(shape: s, needsGrad: anyNeedsGrad([x] + [weight, bias].compactMap { $0 }))
        let xp = value(x), wp = weight.map { UnsafePointer(value($0)) }, bp = bias.map { UnsafePointer(value($0)) }
        let c = compute, grain = max(1, 16_384 / max(ch, 1))
        c.forEachChunk(rows, grain: grain) { range in
            for r in range {
                let p = xp + r * ch
                let (m, rs) = Tape.moments(p, ch, eps: eps)
                stats[2 * r] = m; stats[2 * r + 1] = rs
                Tape.normalizeRow(p, yp + r * ch, ch, mean: m, rstd: rs, weight: wp, bias: bp)
            }
        }
        setBackward(y) { t in
            let gy = t.grad(y)
            if t.needsGrad(x) {
                let gx = t.grad(x)
                c.forEachChunk(rows, grain: grain) { range in
                    for r in range {
                        Tape.normBackwardRun(x: xp + r * ch, gy: gy + r * ch, gx: gx + r * ch, n: ch, mean: stats[2 * r],
                                             rstd: stats[2 * r + 1], weightAt: wp, perElement: true)
                    }
                }
            }
            let gw = weight.flatMap { t.needsGrad($0) ? t.grad($0) : nil }
            let gb = bias.flatMap { t.needsGrad($0) ? t.grad($0) : nil }
            if gw == nil && gb == nil { return }
            // Per-part partial sums [parts][2·C] (Σ dy·x̂, Σ dy), then added in part order.
            let parts = max(1, min(rows, 16, rows * ch / 8192))
            let partial = t.arena.takeZeroed(parts * 2 * ch)
            c.forEach(parts) { part in
                let acc = partial + part * 2 * ch
                for r in (rows * part / parts)..<(rows * (part + 1) / parts) {
                    let px = xp + r * ch, pg = gy + r * ch, m = stats[2 * r], rs = stats[2 * r + 1]
                    for i in 0..<ch {
                        acc[i] += pg[i] * (px[i] - m) * rs
                        acc[ch + i] += pg[i]
                    }
                }
            }
            for part in 0..<parts {
                let acc = partial + part * 2 * ch
                if let gw { for i in 0..<ch { gw[i] += acc[i] } }
                if let gb { for i in 0..<ch { gb[i] += acc[ch + i] } }
            }
        }
        return y
    }

    /// nn.GroupNorm for x [N, C, S...] with `groups` dividing C; per-channel `weight`/`bias` [C].
    func groupNorm(_ x: Var, groups: Int, _ weight: Var?, _ bias: Var?, eps: Float = 1e-5) -> Var {
        let s = shape(x)
        precondition(s.count >= 2, "groupNorm: expected [N, C, ...], got \(s)")
        let n = s[0], ch = s[1], spatial = s[2...].reduce(1, *)
        precondition(groups > 0 && ch % groups == 0, "groupNorm: groups \(groups) must divide C = \(ch)")
        checkAffine("groupNorm", weight, bias, ch, s)
        let cg = ch / groups, block = cg * spatial
        let stats = scratch(2 * n * groups)
        let (y, yp) = output(shape: s, needsGrad: anyNeedsGrad([x] + [weight, bias].compactMap { $0 }))
        let xp = value(x), wp = weight.map { UnsafePointer(value($0)) }, bp = bias.map { UnsafePointer(value($0)) }
        let c = compute, grain = max(1, 16_384 / max(block, 1))
        c.forEachChunk(n * groups, grain: grain) { range in
            for ng in range {
                let p = xp + ng * block, g = ng % groups
                let (m, rs) = Tape.moments(p, block, eps: eps)
                stats[2 * ng] = m; stats[2 * ng + 1] = rs
                for j in 0..<cg {
                    let ci = g * cg + j
                    Tape.normalizeRun(p + j * spatial, yp + ng * block + j * spatial, spatial, mean: m, rstd: rs,
                                      w: wp.map { $0[ci] } ?? 1, b: bp.map { $0[ci] } ?? 0)
                }
            }
        }
        setBackward(y) { t in
            let gy = t.grad(y)
            let gx = t.needsGrad(x) ? t.grad(x) : nil
            let gw = weight.flatMap { t.needsGrad($0) ? t.grad($0) : nil }
            let gb = bias.flatMap { t.needsGrad($0) ? t.grad($0) : nil }
            // Per-(n, c) partials Σ dy·x̂ and Σ dy; each (n, group) item owns its channels.
            let partial = t.scratch(2 * n * ch)
            c.forEachChunk(n * groups, grain: grain) { range in
                for ng in range {
                    let base = ng * block, g = ng % groups, m = stats[2 * ng], rs = stats[2 * ng + 1]
                    let nIndex = ng / groups
                    for j in 0..<cg {
                        let off = base + j * spatial
                        let sg = Kernels.sum(gy + off, spatial), sgx = Kernels.dotCentered(gy + off, xp + off, spatial, mean: m)
                        let k = 2 * (nIndex * ch + g * cg + j)
                        partial[k] = Float(sgx * Double(rs))
                        partial[k + 1] = Float(sg)
                    }
                    if let gx {
                        Tape.normBackwardRun(x: xp + base, gy: gy + base, gx: gx + base, n: block, mean: m, rstd: rs,
                                             weightAt: wp.map { $0 + g * cg }, perElement: false, channelRun: spatial)
                    }
                }
            }
            for i in 0..<n {
                for ci in 0..<ch {
                    gw?[ci] += partial[2 * (i * ch + ci)]
                    gb?[ci] += partial[2 * (i * ch + ci) + 1]
                }
            }
        }
        return y
    }

    func checkAffine(_ op: String, _ weight: Var?, _ bias: Var?, _ ch: Int, _ s: [Int]) {
        if let w = weight { precondition(shape(w) == [ch], "\(op): weight \(shape(w)) must be [\(ch)] for input \(s)") }
        if let b = bias { precondition(shape(b) == [ch], "\(op): bias \(shape(b)) must be [\(ch)] for input \(s)") }
    }

    /// Mean and 1/√(var + eps) (biased variance) of n contiguous floats, two-pass in Double.
    @inline(__always)
    static func moments(_ p: UnsafePointer<Float>, _ n: Int, eps: Float) -> (Float, Float) {
        let m = Kernels.sum(p, n) / Double(max(n, 1))
        let v = Kernels.sumSquaredDeviation(p, n, mean: Float(m)) / Double(max(n, 1))
        return (Float(m), Float(1 / (v + Double(eps)).squareRoot()))
    }

    /// y = (x − mean)·rstd·w + b over a row whose channel is the element index.
    @inline(__always)
    static func normalizeRow(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int, mean: Float,
                             rstd: Float, weight: UnsafePointer<Float>?, bias: UnsafePointer<Float>?) {
        if let w = weight, let b = bias {
            for i in 0..<n { y[i] = (x[i] - mean) * rstd * w[i] + b[i] }
        } else {
            for i in 0..<n { y[i] = (x[i] - mean) * rstd * (weight?[i] ?? 1) + (bias?[i] ?? 0) }
        }
    }

    /// y = (x − mean)·rstd·w + b over a run of one channel (scalar w, b), as y = x·a + c.
    @inline(__always)
    static func normalizeRun(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int, mean: Float,
                             rstd: Float, w: Float, b: Float) {
        let a = rstd * w, c = b - mean * a
        for i in 0..<n { y[i] = x[i] * a + c }
    }

    /// dx += rstd·(g − mean(g) − x̂·mean(g·x̂)) over one normalised set of n floats, g = dy·w.
    /// Weights are per element (`perElement`, layerNorm rows) or per run of `channelRun` elements
    /// (one channel of a group-norm block).
    static func normBackwardRun(x: UnsafePointer<Float>, gy: UnsafePointer<Float>, gx: UnsafeMutablePointer<Float>,
                                n: Int, mean: Float, rstd: Float, weightAt w: UnsafePointer<Float>?, perElement: Bool,
                                channelRun: Int = 0) {
        let channelRun = perElement ? n : channelRun
        // Σ g and Σ g·x̂ in Double.
        var sg = 0.0, sgx = 0.0
        if let w, perElement {
            let (a, b) = Kernels.weightedSums(gy, w, x, n, mean: mean)
            sg = a; sgx = b * Double(rstd)
        } else {
            var start = 0, ci = 0
            while start < n {
                let len = min(channelRun, n - start), wv = Double(w?[ci] ?? 1)
                sg += wv * Kernels.sum(gy + start, len)
                sgx += wv * Kernels.dotCentered(gy + start, x + start, len, mean: mean) * Double(rstd)
                start += len; ci += 1
            }
        }
        let mg = Float(sg / Double(n)), mgx = Float(sgx / Double(n))
        if let w, perElement {
            for i in 0..<n { gx[i] += rstd * (gy[i] * w[i] - mg - (x[i] - mean) * rstd * mgx) }
        } else {
            var start = 0, ci = 0
            while start < n {
                let len = min(channelRun, n - start), wv = w?[ci] ?? 1
                let px = x + start, pg = gy + start, pd = gx + start
                for i in 0..<len { pd[i] += rstd * (pg[i] * wv - mg - (px[i] - mean) * rstd * mgx) }
                start += len; ci += 1
            }
        }
    }
}
