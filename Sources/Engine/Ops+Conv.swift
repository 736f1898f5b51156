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
// 1×1×1 stride-1 unpadded convolutions use the input as the column matrix; depthwise
// convolutions (groups == Cin) run a direct kernel (Conv+Depthwise.swift).

extension Tape {
    /// 3-D convolution (PyTorch `nn.Conv3d`): x [N, Cin, T, H, W], weight [Cout, Cin/groups, kt, kh, kw].
    public func conv3d(_ x: Var, _ weight: Var, _ bias: Var?, stride: (Int, Int, Int) = (1, 1, 1),
                       padding: (Int, Int, Int) = (0, 0, 0), dilation: (Int, Int, Int) = (1, 1, 1),
                       groups: Int = 1) -> Var {
        conv3d(x, weight, bias, stride: stride, padding: padding, dilation: dilation, groups: groups,
               columnBudget: ConvGeometry.defaultColumnBudget)
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
    public func conv2d(_ x: Var, _ weight: Var, _ bias: Var?, stride: (Int, Int) = (1, 1),
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
            kept = convForward(xp, wp, bp, yp, g, keepColumns: keep)
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
                t.convBackward(xp, wp, gy, gx, gw, g, kept: kept)
            }
        }
        return y
    }

    /// Column matrix of group `grp`, samples from `n0`: (pointer, row stride). With `keep`, one
    /// buffer holds every sample and group so that backward reuses it; otherwise `buffer` holds a block.
    private func columns(_ buffer: UnsafeMutablePointer<Float>, keep: Bool, _ g: ConvGeometry, group grp: Int,
                         n0: Int, nb: Int) -> (UnsafeMutablePointer<Float>, Int) {
        let p = g.outPlane
        if keep { return (buffer + grp * g.kRows * g.n * p + n0 * p, g.n * p) }
        return (buffer, nb * p)
    }

    /// Forward pass; returns the column buffer when it holds every sample's columns (for dW).
    private func convForward(_ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>, _ bias: UnsafePointer<Float>?,
                             _ y: UnsafeMutablePointer<Float>, _ g: ConvGeometry, keepColumns: Bool) -> UnsafeMutablePointer<Float>? {
        let p = g.outPlane, kr = g.kRows, cg = g.coutG
        if g.isPointwise {
            ConvKernels.fillBias(y, bias, n: g.n, channels: g.cout, plane: p, compute: compute)
            for n in 0..<g.n {
                for grp in 0..<g.groups {
                    BLAS.gemm(m: cg, n: p, k: kr, a: w + grp * cg * kr, lda: kr,
                              b: x + (n * g.cin + grp * g.cinG) * p, ldb: p,
                              beta: 1, c: y + (n * g.cout + grp * cg) * p, ldc: p)
                }
            }
            return nil
        }
        if g.tiled {
            // Each tile's columns are consumed by the GEMM while still in cache; kept columns are
            // written in place (the full matrix, for dW), otherwise into one reused tile.
            ConvKernels.fillBias(y, bias, n: g.n, channels: g.cout, plane: p, compute: compute)
            let buffer = scratch(keepColumns ? g.allColumns : kr * g.tileRows * g.wo)
            forEachTile(g) { n, grp, rows, yOffset in
                let cols = rows.count * g.wo
                let (col, ld) = keepColumns ? (buffer + grp * kr * g.n * p + n * p + rows.lowerBound * g.wo, g.n * p)
                                            : (buffer, cols)
                ConvKernels.vol2col(x, g, group: grp, n0: n, nb: 1, rows: rows, col: col, ld: ld, compute: compute)
                BLAS.gemm(m: cg, n: cols, k: kr, a: w + grp * cg * kr, lda: kr, b: col, ldb: ld,
                          beta: 1, c: y + yOffset, ldc: p)
            }
            return keepColumns ? buffer : nil
        }
        let nbMax = g.sampleBlock
        let buffer = scratch(keepColumns ? g.allColumns : kr * nbMax * p)
        let block = nbMax > 1 ? scratch(cg * nbMax * p) : nil
        if nbMax == 1 { ConvKernels.fillBias(y, bias, n: g.n, channels: g.cout, plane: p, compute: compute) }
        for n0 in stride(from: 0, to: g.n, by: nbMax) {
            let nb = min(nbMax, g.n - n0)
            for grp in 0..<g.groups {
                let (col, ld) = columns(buffer, keep: keepColumns, g, group: grp, n0: n0, nb: nb)
                ConvKernels.vol2col(x, g, group: grp, n0: n0, nb: nb, rows: 0..<g.to * g.ho, col: col, ld: ld, compute: compute)
                let yg = y + (n0 * g.cout + grp * cg) * p
                if let block {
                    BLAS.gemm(m: cg, n: nb * p, k: kr, a: w + grp * cg * kr, lda: kr, b: col, ldb: ld,
                              c: block, ldc: nb * p)
                    ConvKernels.transposeBlock(sampleMajor: yg, block: block, nb: nb, channels: cg,
                                               channelStride: g.cout, plane: p, toBlock: false,
                                               bias: bias.map { $0 + grp * cg }, compute: compute)
                } else {
                    BLAS.gemm(m: cg, n: p, k: kr, a: w + grp * cg * kr, lda: kr, b: col, ldb: ld,
                              beta: 1, c: yg, ldc: p)
                }
            }
        }
        return keepColumns ? buffer : nil
    }

    /// Calls `body(sample, group, rows, offset)` for every tile of `g.tileRows` output rows, `offset`
    /// locating the tile's first column in y (or dY) [N, Cout, P] for that group's channels.
    private func forEachTile(_ g: ConvGeometry, _ body: (Int, Int, Range<Int>, Int) -> Void) {
        let planeRows = g.to * g.ho, step = g.tileRows
        for n in 0..<g.n {
            for grp in 0..<g.groups {
                for q0 in stride(from: 0, to: planeRows, by: step) {
                    body(n, grp, q0..<min(planeRows, q0 + step), (n * g.cout + grp * g.coutG) * g.outPlane + q0 * g.wo)
                }
            }
        }
    }

    /// dX += conv(dY, W′) for a stride-1 convolution, W′ the kernel flipped in (t, h, w) with input
    /// and output channels swapped; `tg` is `g.inputGradGeometry`. One GEMM per sample and group:
    /// dX_g[Cin/g, T·H·W] += W′_g[Cin/g, Cout/g·kvol] · col(dY)_g[Cout/g·kvol, T·H·W].
    private func inputGradByConvolution(_ gy: UnsafeMutablePointer<Float>, _ w: UnsafePointer<Float>,
                                        _ gx: UnsafeMutablePointer<Float>, _ g: ConvGeometry, _ tg: ConvGeometry) {
        let kv = g.kvol, cig = g.cinG, cog = g.coutG, kr = tg.kRows, pin = tg.outPlane
        let flipped = scratch(g.groups * cig * kr)
        for grp in 0..<g.groups {
            for o in 0..<cog {
                for ci in 0..<cig {
                    let src = w + ((grp * cog + o) * cig + ci) * kv, dst = flipped + (grp * cig + ci) * kr + o * kv
                    for k in 0..<kv { dst[k] = src[kv - 1 - k] }
                }
            }
        }
        // Columns of dY one cache-sized tile of rows at a time when a sample's matrix exceeds the budget.
        let planeRows = tg.to * tg.ho, step = tg.tiled ? tg.tileRows : planeRows
        let col = scratch(kr * step * tg.wo)
        for n in 0..<g.n {
            for grp in 0..<g.groups {
                for q0 in stride(from: 0, to: planeRows, by: step) {
                    let rows = q0..<min(planeRows, q0 + step), cols = rows.count * tg.wo
                    ConvKernels.vol2col(gy, tg, group: grp, n0: n, nb: 1, rows: rows, col: col, ld: cols, compute: compute)
                    BLAS.gemm(m: cig, n: cols, k: kr, a: flipped + grp * cig * kr, lda: kr, b: col, ldb: cols,
                              beta: 1, c: gx + (n * g.cin + grp * cig) * pin + q0 * tg.wo, ldc: pin)
                }
            }
        }
    }

    /// dX += col2vol(W_gᵀ · dY_g) for samples n0..<n0+nb of group `grp`, `dy` holding the
    /// block's [Cout/g, nb·P] gradient (row stride `ldy`): the dcol matrix is formed one tile of
    /// `g.tileRows` output rows at a time in `tile`, so it never leaves the cache.
    private func inputGradByTiles(_ dy: UnsafePointer<Float>, ldy: Int, _ w: UnsafePointer<Float>,
                                  _ gx: UnsafeMutablePointer<Float>, _ g: ConvGeometry, group grp: Int,
                                  n0: Int, nb: Int, tile: UnsafeMutablePointer<Float>) {
        let p = g.outPlane, kr = g.kRows, cg = g.coutG, wo = g.wo, planeRows = g.to * g.ho, step = g.tileRows
        for j in 0..<nb {
            for q0 in stride(from: 0, to: planeRows, by: step) {
                let q1 = min(planeRows, q0 + step), cols = (q1 - q0) * wo
                BLAS.gemm(transA: true, m: kr, n: cols, k: cg, a: w + grp * cg * kr, lda: kr,
                          b: dy + j * p + q0 * wo, ldb: ldy, c: tile, ldc: cols)
                ConvKernels.col2vol(tile, ld: cols, g, group: grp, n0: n0 + j, nb: 1, rows: q0..<q1, gx: gx,
                                    compute: compute)
            }
        }
    }

    /// Backward pass. `kept` is forward's column buffer for every sample (for dW).
    private func convBackward(_ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>, _ gy: UnsafeMutablePointer<Float>,
                              _ gx: UnsafeMutablePointer<Float>?, _ gw: UnsafeMutablePointer<Float>?, _ g: ConvGeometry,
                              kept: UnsafeMutablePointer<Float>?) {
        if gx == nil && gw == nil { return }
        let p = g.outPlane, kr = g.kRows, cg = g.coutG
        if g.isPointwise {
            for n in 0..<g.n {
                for grp in 0..<g.groups {
                    let dy = gy + (n * g.cout + grp * cg) * p, xin = x + (n * g.cin + grp * g.cinG) * p
                    if let gw {
                        BLAS.gemm(transB: true, m: cg, n: kr, k: p, a: dy, lda: p, b: xin, ldb: p,
                                  beta: 1, c: gw + grp * cg * kr, ldc: kr)
                    }
                    if let gx {
                        BLAS.gemm(transA: true, m: kr, n: p, k: cg, a: w + grp * cg * kr, lda: kr, b: dy, ldb: p,
                                  beta: 1, c: gx + (n * g.cin + grp * g.cinG) * p, ldc: p)
                    }
                }
            }
            return
        }
        // Stride 1: dX is itself a convolution of dY (no dcol matrix, no zero-fill, no scatter-add).
        var gx = gx
        if let dx = gx, let tg = g.inputGradGeometry {
            inputGradByConvolution(gy, w, dx, g, tg)
            if gw == nil { return }
            gx = nil
        }
        let nbMax = g.sampleBlock
        let buffer = gw == nil ? nil : kept ?? scratch(kr * nbMax * p)  // columns for dW
        let tile = gx == nil ? nil : scratch(kr * g.tileRows * g.wo)  // dcol, one tile of rows
        let block = nbMax > 1 ? scratch(cg * nbMax * p) : nil
        for n0 in stride(from: 0, to: g.n, by: nbMax) {
            let nb = min(nbMax, g.n - n0)
            for grp in 0..<g.groups {
                let yg = gy + (n0 * g.cout + grp * cg) * p
                let dy: UnsafeMutablePointer<Float>
                if let block {
                    ConvKernels.transposeBlock(sampleMajor: yg, block: block, nb: nb, channels: cg,
                                               channelStride: g.cout, plane: p, toBlock: true, bias: nil, compute: compute)
                    dy = block
                } else {
                    dy = yg
                }
                let ldy = nb * p
                if let gw, let buffer {
                    let (col, ld) = columns(buffer, keep: kept != nil, g, group: grp, n0: n0, nb: nb)
                    if kept == nil { ConvKernels.vol2col(x, g, group: grp, n0: n0, nb: nb, rows: 0..<g.to * g.ho, col: col, ld: ld, compute: compute) }
                    BLAS.gemm(transB: true, m: cg, n: kr, k: nb * p, a: dy, lda: ldy, b: col, ldb: ld,
                              beta: 1, c: gw + grp * cg * kr, ldc: kr)
                }
                if let gx, let tile {
                    inputGradByTiles(dy, ldy: ldy, w, gx, g, group: grp, n0: n0, nb: nb, tile: tile)
                }
            }
        }
    }
}
