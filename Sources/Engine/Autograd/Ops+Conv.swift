// Convolutions with PyTorch Conv3d / Conv2d semantics on vol2col + sgemm.
//
// Shapes: x [N, Cin, T, H, W] (2-D: [N, Cin, H, W]), weight [Cout, Cin/groups, kt, kh, kw]
//         (2-D: [Cout, Cin/groups, kh, kw]), bias [Cout] → y [N, Cout, To, Ho, Wo] with
//         To = ⌊(T + 2·pt − dt·(kt−1) − 1) / st⌋ + 1, likewise Ho and Wo.
// Forward per group: Y_g[Cout/g, nb·P] = W_g[Cout/g, K] · col[K, nb·P], K = Cin/g·kt·kh·kw.
// Backward: dW_g += dY_g · colᵀ, db = Σ dY, dcol = W_gᵀ · dY_g then col2vol into dX, one
// cache-sized tile of output rows at a time (`inputGradByTiles`); stride-1 convolutions instead
// compute dX as the convolution of dY with the flipped kernel (see `inputGradByConvolution`).
// Per-sample GEMMs whose column matrix exceeds `tileBudget` (fragnet's stem and stage 0) run the
// forward and dX-by-convolution GEMMs one cache-sized tile of output rows at a time, each tile
// consumed right after vol2col fills it (kept columns for dW are filled in place).
// Threads: one pool. OpenBLAS runs single-threaded inside convolutions (`BLAS.singleThreaded`) and
// the `Compute` workers take whole work items (a tile: vol2col + its GEMM; a sample's dX; a piece
// of dW's columns), so no OpenBLAS worker spins while ours fill columns. Every GEMM covers one
// sample and a split fixed by the geometry alone (OpenBLAS's result for an element depends on the
// GEMM's shape, not only on its inputs), so results are bit-identical for any thread count, and a
// sample's forward output does not depend on the other samples in the batch.
// 1×1×1 stride-1 unpadded convolutions use the input as the column matrix; depthwise
// convolutions (groups == Cin) run a direct kernel (Conv+Depthwise.swift), and so does the forward
// pass of patchify convolutions with K ≤ 128 (`isPatchify`, Conv+Patchify.swift).

extension Tape {
    /// 3-D convolution (PyTorch `nn.Conv3d`): x [N, Cin, T, H, W], weight [Cout, Cin/groups, kt, kh, kw].
    public func conv3d(_ x: Var, _ weight: Var, _ bias: Var?, stride: (Int, Int, Int) = (1, 1, 1),
                       padding: (Int, Int, Int) = (0, 0, 0), dilation: (Int, Int, Int) = (1, 1, 1),
                       groups: Int = 1) -> Var {
        conv3d(x, weight, bias, stride: stride, padding: padding, dilation: dilation, groups: groups,
               columnBudget: ConvGeometry.conv3dColumnBudget)
    }

    /// `conv3d` with an explicit limit (floats) on the column matrices kept from forward for dW.
    func conv3d(_ x: Var, _ weight: Var, _ bias: Var?, stride: (Int, Int, Int), padding: (Int, Int, Int),
                dilation: (Int, Int, Int), groups: Int, columnBudget: Int,
                tileBudget: Int = ConvGeometry.defaultTileBudget) -> Var {
        let xs = shape(x), ws = shape(weight)
        precondition(xs.count == 5, "conv3d: input must be [N, C, T, H, W], got \(xs)")
        precondition(ws.count == 5, "conv3d: weight must be [Cout, Cin/groups, kt, kh, kw], got \(ws)")
        var g = ConvGeometry()
        (g.n, g.cin, g.t, g.h, g.w) = (xs[0], xs[1], xs[2], xs[3], xs[4])
        (g.cout, g.kt, g.kh, g.kw) = (ws[0], ws[2], ws[3], ws[4])
        (g.st, g.sh, g.sw) = stride
        (g.pt, g.ph, g.pw) = padding
        (g.dt, g.dh, g.dw) = dilation
        g.groups = groups
        g.columnBudget = columnBudget
        g.tileBudget = tileBudget
        validate(g, weightInner: ws[1], bias: bias, op: "conv3d")
        return convolve(x, weight, bias, g, outShape: [g.n, g.cout, g.to, g.ho, g.wo])
    }

    /// 2-D convolution (PyTorch `nn.Conv2d`): x [N, Cin, H, W], weight [Cout, Cin/groups, kh, kw].
    func conv2d(_ x: Var, _ weight: Var, _ bias: Var?, stride: (Int, Int) = (1, 1),
                       padding: (Int, Int) = (0, 0), dilation: (Int, Int) = (1, 1), groups: Int = 1) -> Var {
        let xs = shape(x), ws = shape(weight)
        precondition(xs.count == 4, "conv2d: input must be [N, C, H, W], got \(xs)")
        precondition(ws.count == 4, "conv2d: weight must be [Cout, Cin/groups, kh, kw], got \(ws)")
        var g = ConvGeometry()
        (g.n, g.cin, g.t, g.h, g.w) = (xs[0], xs[1], 1, xs[2], xs[3])
        (g.cout, g.kt, g.kh, g.kw) = (ws[0], 1, ws[2], ws[3])
        (g.sh, g.sw) = stride
        (g.ph, g.pw) = padding
        (g.dh, g.dw) = dilation
        g.groups = groups
        validate(g, weightInner: ws[1], bias: bias, op: "conv2d")
        return convolve(x, weight, bias, g, outShape: [g.n, g.cout, g.ho, g.wo])
    }

    private func validate(_ g: ConvGeometry, weightInner: Int, bias: Var?, op: String) {
        precondition(g.groups >= 1 && g.cin % g.groups == 0 && g.cout % g.groups == 0,
                     "\(op): groups \(g.groups) must divide input channels \(g.cin) and output channels \(g.cout)")
        precondition(weightInner == g.cin / g.groups,
                     "\(op): weight has \(weightInner) input channels per group, input has \(g.cin) channels / \(g.groups) groups")
        precondition([g.st, g.sh, g.sw, g.dt, g.dh, g.dw].allSatisfy { $0 >= 1 } && [g.pt, g.ph, g.pw].allSatisfy { $0 >= 0 },
                     "\(op): strides and dilations must be ≥ 1 and paddings ≥ 0")
        precondition(g.to >= 1 && g.ho >= 1 && g.wo >= 1,
                     "\(op): kernel larger than the padded input (input [\(g.t), \(g.h), \(g.w)], kernel [\(g.kt), \(g.kh), \(g.kw)])")
        if let b = bias {
            precondition(count(b) == g.cout, "\(op): bias has \(count(b)) values for \(g.cout) output channels")
        }
    }

    private func convolve(_ x: Var, _ weight: Var, _ bias: Var?, _ g: ConvGeometry, outShape: [Int]) -> Var {
        let needs = anyNeedsGrad(x, weight) || (bias.map { needsGrad($0) } ?? false)
        let (y, yp) = output(shape: outShape, needsGrad: needs)
        let xp = value(x), wp = value(weight), bp = bias.map { UnsafePointer(value($0)) }
        // Keep forward's columns for dW when they fit the budget (the arena holds them until reset anyway).
        let keep = needsGrad(weight) && g.allColumns <= g.columnBudget
        var kept: UnsafeMutablePointer<Float>? = nil
        if g.isDepthwise {
            ConvKernels.depthwiseForward(xp, wp, bp, yp, g, compute: compute)
        } else {
            kept = BLAS.singleThreaded { convForward(xp, wp, bp, yp, g, keepColumns: keep) }
        }
        if let profiler {
            let flops = 2 * Double(g.macs), grads = (needsGrad(x) ? 1.0 : 0) + (needsGrad(weight) ? 1.0 : 0)
            profiler.label(g.profileLabel, forwardFlops: flops, backwardFlops: grads * flops)
        }
        setBackward(y) { t in
            let gy = t.grad(y)
            let gx = t.needsGrad(x) ? t.grad(x) : nil
            let gw = t.needsGrad(weight) ? t.grad(weight) : nil
            if let b = bias, t.needsGrad(b) {
                ConvKernels.biasGrad(gy, t.grad(b), n: g.n, channels: g.cout, plane: g.outPlane, compute: t.compute)
            }
            if g.isDepthwise {
                ConvKernels.depthwiseBackward(xp, wp, gy, gx, gw, g, compute: t.compute)
            } else {
                BLAS.singleThreaded { t.convBackward(xp, wp, gy, gx, gw, g, kept: kept) }
            }
        }
        return y
    }

    /// Forward pass; returns the column buffer when it holds every sample's columns (for dW).
    /// Items: (sample, group, tile of output rows; one tile when the sample's columns fit the
    /// budget), each vol2col'd into its worker's own buffer (or in place into the kept matrix) and
    /// consumed by its GEMM while in that worker's cache.
    private func convForward(_ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>, _ bias: UnsafePointer<Float>?,
                             _ y: UnsafeMutablePointer<Float>, _ g: ConvGeometry, keepColumns: Bool) -> UnsafeMutablePointer<Float>? {
        let p = g.outPlane, kr = g.kRows, cg = g.coutG, c = compute
        if g.isPatchify {  // direct kernel (Conv+Patchify.swift): writes every output, bias included
            let buffer = scratch(keepColumns ? g.allColumns : c.threads * kr * g.patchRows * g.wo)
            ConvKernels.patchifyForward(x, w, bias, y, g, keep: keepColumns ? buffer : nil, scratch: buffer, compute: c)
            return keepColumns ? buffer : nil
        }
        ConvKernels.fillBias(y, bias, n: g.n, channels: g.cout, plane: p, compute: c)
        if g.isPointwise {
            c.forEachItem(g.n * g.groups) { _, item in
                let n = item / g.groups, grp = item % g.groups
                BLAS.gemm(m: cg, n: p, k: kr, a: w + grp * cg * kr, lda: kr, b: x + (n * g.cin + grp * g.cinG) * p, ldb: p,
                          beta: 1, c: y + (n * g.cout + grp * cg) * p, ldc: p)
            }
            return nil
        }
        let tiles = g.itemsPerPlane, step = g.itemRows, items = g.n * g.groups * tiles, tileFloats = kr * step * g.wo
        let buffer = scratch(keepColumns ? g.allColumns : min(c.threads, items) * tileFloats)
        let serial = Compute(threads: 1)
        c.forEachItem(items) { worker, item in
            let ng = item / tiles, n = ng / g.groups, grp = ng % g.groups, q0 = item % tiles * step
            let rows = q0..<min(g.to * g.ho, q0 + step), cols = rows.count * g.wo
            let (col, ld) = keepColumns ? (buffer + grp * kr * g.n * p + n * p + q0 * g.wo, g.n * p)
                                        : (buffer + worker * tileFloats, cols)
            ConvKernels.vol2col(x, g, group: grp, n0: n, nb: 1, rows: rows, col: col, ld: ld, compute: serial)
            BLAS.gemm(m: cg, n: cols, k: kr, a: w + grp * cg * kr, lda: kr, b: col, ldb: ld,
                      beta: 1, c: y + (n * g.cout + grp * cg) * p + q0 * g.wo, ldc: p)
        }
        return keepColumns ? buffer : nil
    }

}
