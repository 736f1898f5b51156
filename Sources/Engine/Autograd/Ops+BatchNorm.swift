// Fused batch normalisation (nn.BatchNorm1d/2d/3d).
//
// Shapes: x [N, C, S...], weight/bias [C], running mean/var [C] (caller-owned buffers).
// Channel c covers the N runs x[(n·C + c)·S ..< +S]. With batch statistics the normalisation
// uses the biased variance and the running update the unbiased one (count/(count−1)), exactly as
// PyTorch: r ← (1 − momentum)·r + momentum·batch. With fixed statistics the running estimates
// normalise and nothing is updated.

extension Tape {
    /// nn.BatchNorm for x [N, C, S...]. Batch statistics are used (and the running estimates
    /// updated) when `useBatchStatistics` is true, by default when `tape.training` is true.
    func batchNorm(_ x: Var, _ weight: Var?, _ bias: Var?, runningMean: UnsafeMutablePointer<Float>,
                          runningVar: UnsafeMutablePointer<Float>, momentum: Float = 0.1, eps: Float = 1e-5,
                          useBatchStatistics: Bool? = nil) -> Var {
        let s = shape(x)
        precondition(s.count >= 2, "batchNorm: expected [N, C, ...], got \(s)")
        let n = s[0], ch = s[1], spatial = s[2...].reduce(1, *), per = n * spatial
        checkAffine("batchNorm", weight, bias, ch, s)
        let batchStats = useBatchStatistics ?? training
        precondition(!batchStats || per > 1,
                     "batchNorm: expected more than 1 value per channel in training (input \(s)); use eval mode")
        let stats = scratch(2 * ch)
        let (y, yp) = output(shape: s, needsGrad: anyNeedsGrad([x] + [weight, bias].compactMap { $0 }))
        let xp = value(x), wp = weight.map { UnsafePointer(value($0)) }, bp = bias.map { UnsafePointer(value($0)) }
        let c = compute, grain = max(1, 16_384 / max(per, 1))
        c.forEachChunk(ch, grain: grain) { range in
            for ci in range {
                var m: Float, rs: Float
                if batchStats {
                    var total = 0.0
                    for i in 0..<n { total += Kernels.sum(xp + (i * ch + ci) * spatial, spatial) }
                    let mean = total / Double(per)
                    var dev = 0.0
                    for i in 0..<n { dev += Kernels.sumSquaredDeviation(xp + (i * ch + ci) * spatial, spatial, mean: Float(mean)) }
                    let variance = dev / Double(per)
                    m = Float(mean); rs = Float(1 / (variance + Double(eps)).squareRoot())
                    runningMean[ci] = (1 - momentum) * runningMean[ci] + momentum * m
                    runningVar[ci] = (1 - momentum) * runningVar[ci] + momentum * Float(variance * Double(per) / Double(per - 1))
                } else {
                    m = runningMean[ci]; rs = 1 / (runningVar[ci] + eps).squareRoot()
                }
                stats[2 * ci] = m; stats[2 * ci + 1] = rs
                let w = wp?[ci] ?? 1, b = bp?[ci] ?? 0
                for i in 0..<n {
                    let off = (i * ch + ci) * spatial
                    Tape.normalizeRun(xp + off, yp + off, spatial, mean: m, rstd: rs, w: w, b: b)
                }
            }
        }
        setBackward(y) { t in
            let gy = t.grad(y)
            let gx = t.needsGrad(x) ? t.grad(x) : nil
            let gw = weight.flatMap { t.needsGrad($0) ? t.grad($0) : nil }
            let gb = bias.flatMap { t.needsGrad($0) ? t.grad($0) : nil }
            c.forEachChunk(ch, grain: grain) { range in
                for ci in range {
                    let m = stats[2 * ci], rs = stats[2 * ci + 1], w = wp?[ci] ?? 1
                    var sg = 0.0, sgx = 0.0  // Σ dy, Σ dy·(x − m)
                    for i in 0..<n {
                        let off = (i * ch + ci) * spatial
                        sg += Kernels.sum(gy + off, spatial)
                        sgx += Kernels.dotCentered(gy + off, xp + off, spatial, mean: m)
                    }
                    gw?[ci] += Float(sgx * Double(rs))
                    gb?[ci] += Float(sg)
                    guard let gx else { continue }
                    // g = w·dy: mean(g) = w·Σdy/P, mean(g·x̂) = w·rstd·Σdy(x−m)/P.
                    let mg = batchStats ? w * Float(sg / Double(per)) : 0
                    let mgx = batchStats ? w * rs * Float(sgx / Double(per)) : 0
                    let k = rs * w, q = rs * rs * mgx
                    for i in 0..<n {
                        let off = (i * ch + ci) * spatial
                        let px = xp + off, pg = gy + off, pd = gx + off
                        for j in 0..<spatial { pd[j] += k * pg[j] - rs * mg - (px[j] - m) * q }
                    }
                }
            }
        }
        return y
    }
}
