// Shape ops: views, permutes, concatenation, slicing, roll and Video Swin window partitioning.
//
// Shapes: reshape x [S...] → [T...] (same count; one -1 inferred), permute x [S₀..Sₖ] → [S_p₀..S_pₖ],
//         concat [A.., nᵢ, B..] along an axis → [A.., Σnᵢ, B..], slice → [A.., end−start, B..],
//         roll keeps the shape, windowPartition3d [B, D, H, W, C] → [B·nW, wd·wh·ww, C] and
//         windowReverse3d back (nW = D/wd · H/wh · W/ww).

extension Tape {
    /// A view of `x` with a new shape (torch.reshape / view); one entry may be -1.
    func reshape(_ x: Var, _ newShape: [Int]) -> Var {
        var ns = newShape
        if let k = ns.firstIndex(of: -1) {
            let known = ns.enumerated().filter { $0.offset != k }.map(\.element).reduce(1, *)
            precondition(known > 0 && count(x) % known == 0, "reshape: cannot infer -1 in \(newShape) for \(shape(x))")
            ns[k] = count(x) / known
        }
        precondition(ns.allSatisfy { $0 >= 0 } && ns.reduce(1, *) == count(x),
                     "reshape: shape \(newShape) does not hold the \(count(x)) elements of \(shape(x))")
        let y = alias(x, shape: ns)
        let n = count(x), c = compute
        setBackward(y) { t in
            guard t.needsGrad(x) else { return }
            Kernels.axpy(n, t.grad(y), t.grad(x), compute: c)
        }
        return y
    }

    /// Reorders dimensions (torch.permute): output dim i is input dim `dims[i]`.
    func permute(_ x: Var, _ dims: [Int]) -> Var {
        let s = shape(x)
        return permuteView(x, view: s, dims.map { normalizedAxis($0, rank: s.count, "permute") }, "permute")
    }

    /// Permutes `x` seen as `view` (same element count) and returns the dense result, shaped as
    /// the permuted view or `resultShape`: one copy forward, one strided add backward.
    func permuteView(_ x: Var, view s: [Int], _ p: [Int], resultShape: [Int]? = nil, _ op: String) -> Var {
        precondition(s.reduce(1, *) == count(x), "\(op): view \(s) does not fit \(shape(x))")
        precondition(p.count == s.count && Set(p).count == p.count && p.allSatisfy { $0 >= 0 && $0 < s.count },
                     "\(op): \(p) is not a permutation of the \(s.count) dims of \(s)")
        let os = p.map { s[$0] }
        let xs = contiguousStrides(s), ds = contiguousStrides(os)
        let srcStrides = p.map { xs[$0] }
        let (y, yp) = output(shape: resultShape ?? os, needsGrad: anyNeedsGrad(x))
        let xp = value(x), c = compute
        Kernels.copy(dims: os, dst: yp, dstStrides: ds, src: xp, srcStrides: srcStrides, accumulate: false, compute: c)
        // Backward walks dx in its own (dense) order and gathers dy: input dim p[i] has dy stride ds[i].
        var gatherStrides = [Int](repeating: 0, count: s.count)
        for i in 0..<p.count { gatherStrides[p[i]] = ds[i] }
        setBackward(y) { t in
            guard t.needsGrad(x) else { return }
            Kernels.copy(dims: s, dst: t.grad(x), dstStrides: xs, src: t.grad(y), srcStrides: gatherStrides,
                         accumulate: true, compute: c)
        }
        return y
    }

    /// Swaps two dimensions (torch.transpose).
    func transpose(_ x: Var, _ a: Int, _ b: Int) -> Var {
        let r = shape(x).count
        var p = Array(0..<r)
        p.swapAt(normalizedAxis(a, rank: r, "transpose"), normalizedAxis(b, rank: r, "transpose"))
        return permute(x, p)
    }

    /// Joins tensors along `axis` (torch.cat); all other dims must agree.
    func concat(_ xs: [Var], axis: Int) -> Var {
        precondition(!xs.isEmpty, "concat: needs at least one tensor")
        let s0 = shape(xs[0])
        let ax = normalizedAxis(axis, rank: s0.count, "concat")
        var os = s0
        os[ax] = 0
        for v in xs {
            var s = shape(v)
            precondition(s.count == s0.count, "concat: ranks differ: \(s0) vs \(s)")
            os[ax] += s[ax]; s[ax] = s0[ax]
            precondition(s == s0, "concat: shapes \(s0) and \(shape(v)) differ outside axis \(ax)")
        }
        let (y, yp) = output(shape: os, needsGrad: anyNeedsGrad(xs))
        let ys = contiguousStrides(os), c = compute
        var offsets: [Int] = []
        var at = 0
        for v in xs {
            let s = shape(v)
            offsets.append(at * ys[ax])
            Kernels.copy(dims: s, dst: yp + at * ys[ax], dstStrides: ys, src: value(v), srcStrides: contiguousStrides(s),
                         accumulate: false, compute: c)
            at += s[ax]
        }
        setBackward(y) { t in
            let gy = t.grad(y)
            for (v, off) in zip(xs, offsets) where t.needsGrad(v) {
                let s = t.shape(v)
                Kernels.copy(dims: s, dst: t.grad(v), dstStrides: contiguousStrides(s), src: gy + off, srcStrides: ys,
                             accumulate: true, compute: c)
            }
        }
        return y
    }

    /// Elements `start..<end` along `axis` (x[..., start:end, ...]), copied.
    public func slice(_ x: Var, axis: Int, start: Int, end: Int) -> Var {
        let s = shape(x)
        let ax = normalizedAxis(axis, rank: s.count, "slice")
        precondition(start >= 0 && start <= end && end <= s[ax],
                     "slice: range \(start)..<\(end) outside 0...\(s[ax]) on axis \(ax) of \(s)")
        var os = s
        os[ax] = end - start
        let xs = contiguousStrides(s), ds = contiguousStrides(os), base = start * xs[ax]
        let (y, yp) = output(shape: os, needsGrad: anyNeedsGrad(x))
        let c = compute
        Kernels.copy(dims: os, dst: yp, dstStrides: ds, src: value(x) + base, srcStrides: xs, accumulate: false, compute: c)
        setBackward(y) { t in
            guard t.needsGrad(x) else { return }
            Kernels.copy(dims: os, dst: t.grad(x) + base, dstStrides: xs, src: t.grad(y), srcStrides: ds,
                         accumulate: true, compute: c)
        }
        return y
    }

    /// Cyclic shift (torch.roll): y[..., (i + shift) mod n, ...] = x[..., i, ...] on each axis.
    func roll(_ x: Var, shifts: [Int], axes: [Int]) -> Var {
        let s = shape(x)
        precondition(shifts.count == axes.count, "roll: \(shifts.count) shifts for \(axes.count) axes")
        var shiftBy = [Int](repeating: 0, count: s.count)
        for (sh, a) in zip(shifts, axes) {
            let ax = normalizedAxis(a, rank: s.count, "roll")
            shiftBy[ax] += sh  // repeated axes add up, as successive torch.roll calls would
        }
        let (y, yp) = output(shape: s, needsGrad: anyNeedsGrad(x))
        let c = compute, xp = value(x)
        Tape.rollBlocks(s, shiftBy, reverse: false) { dims, dOff, sOff, st in
            Kernels.copy(dims: dims, dst: yp + dOff, dstStrides: st, src: xp + sOff, srcStrides: st, accumulate: false, compute: c)
        }
        setBackward(y) { t in
            guard t.needsGrad(x) else { return }
            let gx = t.grad(x), gy = t.grad(y)
            Tape.rollBlocks(s, shiftBy, reverse: true) { dims, dOff, sOff, st in
                Kernels.copy(dims: dims, dst: gx + dOff, dstStrides: st, src: gy + sOff, srcStrides: st, accumulate: true, compute: c)
            }
        }
        return y
    }

    /// Splits a roll into at most 2^k block copies (k rolled axes): body(dims, dstOffset, srcOffset,
    /// strides). `reverse` maps output blocks back to input blocks (the backward pass).
    private static func rollBlocks(_ s: [Int], _ shiftBy: [Int],
                                   reverse: Bool, _ body: ([Int], Int, Int, [Int]) -> Void) {
        if s.contains(0) { return }
        let st = contiguousStrides(s)
        let rolled = (0..<s.count).filter { ((shiftBy[$0] % s[$0]) + s[$0]) % s[$0] != 0 }
        for combo in 0..<(1 << rolled.count) {
            var dims = s, dOff = 0, sOff = 0
            for (bit, ax) in rolled.enumerated() {
                let n = s[ax], k = ((shiftBy[ax] % n) + n) % n
                // Output [k, n) comes from input [0, n−k); output [0, k) from input [n−k, n).
                let (outStart, inStart, len) = combo & (1 << bit) == 0 ? (k, 0, n - k) : (0, n - k, k)
                dims[ax] = len
                dOff += (reverse ? inStart : outStart) * st[ax]
                sOff += (reverse ? outStart : inStart) * st[ax]
            }
            body(dims, dOff, sOff, st)
        }
    }

    /// Video Swin `window_partition`: [B, D, H, W, C] → [B·nW, wd·wh·ww, C], windows ordered
    /// (b, d/wd, h/wh, w/ww) and tokens (wd, wh, ww) inside a window.
    func windowPartition3d(_ x: Var, window: (Int, Int, Int)) -> Var {
        let s = shape(x)
        precondition(s.count == 5, "windowPartition3d: expected [B, D, H, W, C], got \(s)")
        let (b, d, h, w, ch) = (s[0], s[1], s[2], s[3], s[4])
        let (wd, wh, ww) = window
        precondition(wd > 0 && wh > 0 && ww > 0 && d % wd == 0 && h % wh == 0 && w % ww == 0,
                     "windowPartition3d: window \(window) must divide D, H, W of \(s); pad the input first")
        return permuteView(x, view: [b, d / wd, wd, h / wh, wh, w / ww, ww, ch], [0, 1, 3, 5, 2, 4, 6, 7],
                           resultShape: [b * (d / wd) * (h / wh) * (w / ww), wd * wh * ww, ch], "windowPartition3d")
    }

    /// Video Swin `window_reverse`: [B·nW, wd·wh·ww, C] → [B, D, H, W, C], the inverse of
    /// `windowPartition3d`.
    func windowReverse3d(_ windows: Var, window: (Int, Int, Int), batch b: Int, depth d: Int,
                                height h: Int, width w: Int) -> Var {
        let s = shape(windows)
        let (wd, wh, ww) = window
        precondition(wd > 0 && wh > 0 && ww > 0 && d % wd == 0 && h % wh == 0 && w % ww == 0,
                     "windowReverse3d: window \(window) must divide D=\(d), H=\(h), W=\(w)")
        precondition(s.count == 3 && s[0] == b * (d / wd) * (h / wh) * (w / ww) && s[1] == wd * wh * ww,
                     "windowReverse3d: windows \(s) do not tile [\(b), \(d), \(h), \(w), C] with window \(window)")
        let ch = s[2]
        return permuteView(windows, view: [b, d / wd, h / wh, w / ww, wd, wh, ww, ch], [0, 1, 4, 2, 5, 3, 6, 7],
                           resultShape: [b, d, h, w, ch], "windowReverse3d")
    }
}
