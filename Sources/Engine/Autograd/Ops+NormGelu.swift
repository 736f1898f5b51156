// GroupNorm followed by exact GELU as one op (fragnet's Conv3d → GroupNorm → GELU pattern).
//
// Shapes: x [N, C, S...], weight/bias [C] → y [N, C, S...], groups dividing C; statistics per
//         (n, group) over C/G·S elements, as `groupNorm`.
// Forward: z = x·a + c with a = rstd·w, c = b − mean·a (the same expression as `groupNorm`),
//          y = gelu(z); z is never stored. Backward recomputes z from x, forms dz = dy·gelu′(z)
//          one (n, group) block at a time (cache-resident) and sums Σdz, Σdz·(x − mean) while each
//          1024-float piece of dz is still in L1 (`geluGradRun`), then the group-norm backward of
//          `Ops+Norm.swift` on dz. Every float operation matches `gelu(groupNorm(x))` in the same
//          order, so the fused op is bit-identical to the two separate ops, with one pass less over
//          memory in each direction and no intermediate [N, C, S...] tensor or gradient.

extension Tape {
    /// gelu(groupNorm(x)) in one op (nn.GELU() after nn.GroupNorm(groups, C)); bit-identical to the
    /// two ops, faster and without the intermediate tensor.
    func groupNormGelu(_ x: Var, groups: Int, _ weight: Var, _ bias: Var, eps: Float = 1e-5) -> Var {
        let s = shape(x)
        precondition(s.count >= 2, "groupNormGelu: expected [N, C, ...], got \(s)")
        let n = s[0], ch = s[1], spatial = s[2...].reduce(1, *)
        precondition(groups > 0 && ch % groups == 0, "groupNormGelu: groups \(groups) must divide C = \(ch)")
        checkAffine("groupNormGelu", weight, bias, ch, s)
        let cg = ch / groups, block = cg * spatial
        let stats = scratch(2 * n * groups)
        let (y, yp) = output(shape: s, needsGrad: anyNeedsGrad(x, weight, bias))
        let xp = value(x), wp = UnsafePointer(value(weight)), bp = UnsafePointer(value(bias))
        let c = compute, grain = max(1, 16_384 / max(block, 1))
        let gelu = GeluKernel()
        c.forEachChunk(n * groups, grain: grain) { range in
            for ng in range {
                let p = xp + ng * block, g = ng % groups
                let (m, rs) = Tape.moments(p, block, eps: eps)
                stats[2 * ng] = m; stats[2 * ng + 1] = rs
                for j in 0..<cg {
                    let ci = g * cg + j
                    let a = rs * wp[ci], cc = bp[ci] - m * a
                    let px = p + j * spatial, py = yp + ng * block + j * spatial
                    for i in 0..<spatial { py[i] = gelu.f(px[i] * a + cc) }
                }
            }
        }
        setBackward(y) { t in
            let gy = t.grad(y)
            let gx = t.needsGrad(x) ? t.grad(x) : nil
            let gw = t.needsGrad(weight) ? t.grad(weight) : nil
            let gb = t.needsGrad(bias) ? t.grad(bias) : nil
            let dz = t.scratch(n * ch * spatial)
            // Per-(n, c) partials Σ dz·x̂ and Σ dz; each (n, group) item owns its channels.
            let partial = t.scratch(2 * n * ch)
            c.forEachChunk(n * groups, grain: grain) { range in
                for ng in range {
                    let base = ng * block, g = ng % groups, m = stats[2 * ng], rs = stats[2 * ng + 1]
                    let nIndex = ng / groups
                    var sg = 0.0, sgx = 0.0
                    for j in 0..<cg {
                        let ci = g * cg + j, off = base + j * spatial
                        let a = rs * wp[ci], cc = bp[ci] - m * a
                        let (sumG, sumGX) = Tape.geluGradRun(x: xp + off, gy: gy + off, dz: dz + off, spatial,
                                                             a: a, c: cc, mean: m)
                        let k = 2 * (nIndex * ch + ci)
                        partial[k] = Float(sumGX * Double(rs))
                        partial[k + 1] = Float(sumG)
                        let wv = Double(wp[ci])
                        sg += wv * sumG
                        sgx += wv * sumGX * Double(rs)
                    }
                    guard let gx else { continue }
                    let mg = Float(sg / Double(block)), mgx = Float(sgx / Double(block))
                    for j in 0..<cg {
                        let off = base + j * spatial, wv = wp[g * cg + j]
                        let px = xp + off, pg = UnsafePointer(dz + off), pd = gx + off
                        for i in 0..<spatial { pd[i] += rs * (pg[i] * wv - mg - (px[i] - m) * rs * mgx) }
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
}

extension Tape {
    /// dz[i] = gy[i]·gelu′(x[i]·a + c) over one channel run of n floats; returns (Σ dz, Σ dz·(x − mean))
    /// exactly as `Kernels.sum(dz, n)` and `Kernels.dotCentered(dz, x, n, mean:)` would return them
    /// (both flush their SIMD lanes to Double every 1024 floats, so summing each 1024-float piece as
    /// it is formed and adding the pieces in order is the same arithmetic), in one pass instead of three.
    @inline(__always)
    static func geluGradRun(x: UnsafePointer<Float>, gy: UnsafePointer<Float>, dz: UnsafeMutablePointer<Float>, _ n: Int,
                            a: Float, c: Float, mean: Float) -> (Double, Double) {
        let gelu = GeluKernel(), vectorEnd = n & ~7
        var sumG = 0.0, sumGX = 0.0, start = 0
        while start < vectorEnd {
            let end = min(start + 1024, vectorEnd)
            for i in start..<end { dz[i] = gy[i] * gelu.df(x[i] * a + c, 0) }
            sumG += Kernels.sum(dz + start, end - start)
            sumGX += Kernels.dotCentered(dz + start, x + start, end - start, mean: mean)
            start = end
        }
        for i in vectorEnd..<n {
            dz[i] = gy[i] * gelu.df(x[i] * a + c, 0)
            sumG += Double(dz[i])
            sumGX += Double(dz[i] * (x[i] - mean))
        }
        return (sumG, sumGX)
    }
}
