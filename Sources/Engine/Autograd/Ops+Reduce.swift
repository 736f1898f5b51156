// Sum and mean reductions.
//
// Shapes: x [S...] → y with the reduced axes removed (or kept as 1 with keepDims);
//         sumAll / meanAll → [1]. Sums accumulate in Double per output element (SIMD float
//         partials over ≤ 1024 elements), independent of the thread count.
//         meanStdPool: x [N, C, S...] → [N, 2C], the means then the unbiased stds over S, in one
//         op that keeps no centred or squared copy of x (SimpleVQA's global mean and std pooling).

extension Tape {
    /// Σ over `axes` (torch.sum(dim=axes, keepdim=keepDims)); negative axes count from the end.
    public func sum(_ x: Var, axes: [Int], keepDims: Bool = false) -> Var {
        reduce(x, axes: axes, keepDims: keepDims, mean: false)
    }

    /// Mean over `axes` (torch.mean(dim=axes, keepdim=keepDims)).
    public func mean(_ x: Var, axes: [Int], keepDims: Bool = false) -> Var {
        reduce(x, axes: axes, keepDims: keepDims, mean: true)
    }

    /// Σ of all elements, shape [1].
    func sumAll(_ x: Var) -> Var { reduce(x, axes: Array(0..<shape(x).count), keepDims: false, mean: false) }

    /// Mean of all elements, shape [1].
    func meanAll(_ x: Var) -> Var { reduce(x, axes: Array(0..<shape(x).count), keepDims: false, mean: true) }

    /// Per sample, the mean of every channel over the dimensions after the first two, then its
    /// standard deviation as torch.std (unbiased: Σ(x − mean)² / (count − 1)) with `eps` added under
    /// the square root: [N, C, S...] → [N, 2C]. Backward: dx += dmean/count + dstd·(x − mean)/((count − 1)·std).
    func meanStdPool(_ x: Var, eps: Float) -> Var {
        let s = shape(x)
        precondition(s.count >= 3, "meanStdPool: input must be [N, C, ...] with at least one pooled dimension, got \(s)")
        let ch = s[1], plane = s.dropFirst(2).reduce(1, *)
        precondition(plane > 1, "meanStdPool: the standard deviation of \(plane) value(s) per plane is undefined (input \(s))")
        let (y, yp) = output(shape: [s[0], 2 * ch], needsGrad: anyNeedsGrad(x))
        let xp = UnsafePointer(value(x)), c = compute, grain = max(1, 65_536 / plane)
        // Plane i = (n, ch) of x: its mean goes to y[n, ch], its std to y[n, C + ch].
        func slots(_ i: Int) -> (Int, Int) { let n = i / ch, k = i % ch; return (n * 2 * ch + k, n * 2 * ch + ch + k) }
        c.forEachChunk(s[0] * ch, grain: grain) { r in
            for i in r {
                let p = xp + i * plane, (a, b) = slots(i)
                let mean = Float(Kernels.sum(p, plane) / Double(plane))
                yp[a] = mean
                yp[b] = (Float(Kernels.sumSquaredDeviation(p, plane, mean: mean) / Double(plane - 1)) + eps).squareRoot()
            }
        }
        setBackward(y) { t in
            guard t.needsGrad(x) else { return }
            let gx = t.grad(x), gy = t.grad(y)
            c.forEachChunk(s[0] * ch, grain: grain) { r in
                for i in r {
                    let (a, b) = slots(i)
                    let gm = gy[a] / Float(plane), gs = gy[b] / (Float(plane - 1) * yp[b]), mean = yp[a]
                    let p = xp + i * plane, g = gx + i * plane
                    for j in 0..<plane { g[j] += gm + gs * (p[j] - mean) }
                }
            }
        }
        return y
    }

    private func reduce(_ x: Var, axes: [Int], keepDims: Bool, mean: Bool) -> Var {
        let s = shape(x)
        let op = mean ? "mean" : "sum"
        let ax = Set(axes.map { normalizedAxis($0, rank: s.count, op) })
        precondition(ax.count == axes.count, "\(op): repeated axis in \(axes)")
        let kept = (0..<s.count).map { ax.contains($0) ? 1 : s[$0] }
        var os = keepDims ? kept : (0..<s.count).filter { !ax.contains($0) }.map { s[$0] }
        if os.isEmpty { os = [1] }
        let reduced = ax.reduce(1) { $0 * s[$1] }
        let alpha: Float = mean ? 1 / Float(max(reduced, 1)) : 1
        let dstStrides = broadcastStrides(kept, to: s)
        let (y, yp) = output(shape: os, needsGrad: anyNeedsGrad(x))
        let xp = value(x), c = compute
        yp.update(repeating: 0, count: count(y))
        Kernels.reduceSum(xp, dims: s, dst: yp, dstStrides: dstStrides, alpha: alpha, compute: c)
        setBackward(y) { t in
            guard t.needsGrad(x) else { return }
            let gx = t.grad(x), gy = t.grad(y)
            if s.isEmpty { gx[0] += alpha * gy[0]; return }
            let dense = contiguousStrides(s)
            let l = StridedLayout(dims: s, dense, dense, dstStrides)
            Kernels.binary(AxpyKernel(s: alpha), l, out: gx, a: gx, b: gy, compute: c)
        }
        return y
    }
}
