// Sum and mean reductions.
//
// Shapes: x [S...] → y with the reduced axes removed (or kept as 1 with keepDims);
//         sumAll / meanAll → [1]. Sums accumulate in Double per output element (SIMD float
//         partials over ≤ 1024 elements), independent of the thread count.

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
