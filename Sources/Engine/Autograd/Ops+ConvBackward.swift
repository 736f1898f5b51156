// Backward pass of `convolve` (Ops+Conv.swift): weight and input gradients on vol2col + sgemm.
//
// Shapes: x [N, Cin, T, H, W], weight [Cout, Cin/g, kt, kh, kw], dY [N, Cout, To, Ho, Wo];
//         per group, col [K, N·P] (K = Cin/g·kt·kh·kw, P = To·Ho·Wo), dY_g [Cout/g, P] per sample.
// dW_g += dY_g · colᵀ: items are pieces of dW's K columns fixed by the geometry
//         (`weightGradPieces`; for 1×1×1 convolutions the columns are input channels and col is x
//         itself); each item adds the samples in order, so the sums run in the same order whatever
//         the thread count.
// dX, stride 1: dX += conv(dY, flipped W) (`inputGradByConvolution`), items are tiles of rows.
// dX, otherwise: dcol = W_gᵀ · dY_g one cache-sized tile of output rows at a time, scattered by
//         col2vol (`inputGradByTiles`); items are (sample, group): each owns its planes of dX.
// Runs inside `BLAS.singleThreaded`: every GEMM here is one item on one `Compute` worker.

extension Tape {
    /// Backward pass. `kept` is forward's column buffer for every sample (for dW).
    func convBackward(_ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>, _ gy: UnsafeMutablePointer<Float>,
                      _ gx: UnsafeMutablePointer<Float>?, _ gw: UnsafeMutablePointer<Float>?, _ g: ConvGeometry,
                      kept: UnsafeMutablePointer<Float>?) {
        if gx == nil && gw == nil { return }
        let p = g.outPlane, kr = g.kRows, cg = g.coutG, c = compute
        if g.isPointwise {
            if let gw {  // items: (group, piece of dW's columns = input channels), samples added in order
                let pieces = g.weightGradPieces
                c.forEachItem(g.groups * pieces.parts) { _, item in
                    let grp = item / pieces.parts, cols = pieces.bounds(item % pieces.parts)
                    for n in 0..<g.n {
                        BLAS.gemm(transB: true, m: cg, n: cols.count, k: p, a: gy + (n * g.cout + grp * cg) * p, lda: p,
                                  b: x + (n * g.cin + grp * g.cinG + cols.lowerBound) * p, ldb: p, beta: 1,
                                  c: gw + grp * cg * kr + cols.lowerBound, ldc: kr)
                    }
                }
            }
            if let gx {  // items: (sample, group)
                c.forEachItem(g.n * g.groups) { _, item in
                    let n = item / g.groups, grp = item % g.groups
                    BLAS.gemm(transA: true, m: kr, n: p, k: cg, a: w + grp * cg * kr, lda: kr, b: gy + (n * g.cout + grp * cg) * p,
                              ldb: p, beta: 1, c: gx + (n * g.cin + grp * g.cinG) * p, ldc: p)
                }
            }
            return
        }
        // Stride 1: dX is itself a convolution of dY (no dcol matrix, no zero-fill, no scatter-add).
        var gx = gx
        if let dx = gx, let tg = g.inputGradGeometry {
            inputGradByConvolution(gy, w, dx, g, tg)
            gx = nil
        }
        if let gw {
            // Items: (group, piece of dW's columns); each adds the samples in order, one GEMM per sample.
            let pieces = g.weightGradPieces
            func add(_ n: Int, _ grp: Int, _ cols: Range<Int>, _ col: UnsafePointer<Float>, _ ld: Int) {
                BLAS.gemm(transB: true, m: cg, n: cols.count, k: p, a: gy + (n * g.cout + grp * cg) * p, lda: p,
                          b: col + cols.lowerBound * ld, ldb: ld, beta: 1, c: gw + grp * cg * kr + cols.lowerBound, ldc: kr)
            }
            if let kept {
                c.forEachItem(g.groups * pieces.parts) { _, item in
                    let grp = item / pieces.parts, cols = pieces.bounds(item % pieces.parts)
                    for n in 0..<g.n { add(n, grp, cols, kept + grp * kr * g.n * p + n * p, g.n * p) }
                }
            } else {  // columns rebuilt one sample at a time
                let buffer = scratch(g.groups * kr * p)
                for n in 0..<g.n {
                    for grp in 0..<g.groups {
                        ConvKernels.vol2col(x, g, group: grp, n0: n, nb: 1, rows: 0..<g.to * g.ho, col: buffer + grp * kr * p,
                                            ld: p, compute: c)
                    }
                    c.forEachItem(g.groups * pieces.parts) { _, item in
                        let grp = item / pieces.parts
                        add(n, grp, pieces.bounds(item % pieces.parts), buffer + grp * kr * p, p)
                    }
                }
            }
        }
        if let gx {  // items: (sample, group), each with its own dcol tile
            let items = g.n * g.groups, tileFloats = kr * g.tileRows * g.wo
            let tiles = scratch(min(c.threads, items) * tileFloats)
            c.forEachItem(items) { worker, item in
                let n = item / g.groups, grp = item % g.groups
                inputGradByTiles(gy + (n * g.cout + grp * cg) * p, ldy: p, w, gx, g, group: grp, sample: n,
                                 tile: tiles + worker * tileFloats)
            }
        }
    }

    /// dX += conv(dY, W′) for a stride-1 convolution, W′ the kernel flipped in (t, h, w) with input
    /// and output channels swapped; `tg` is `g.inputGradGeometry`. One GEMM per tile of rows:
    /// dX_g[Cin/g, rows] += W′_g[Cin/g, Cout/g·kvol] · col(dY)_g[Cout/g·kvol, rows]; items are
    /// (sample, group, tile), each tile built in its worker's own column buffer.
    private func inputGradByConvolution(_ gy: UnsafeMutablePointer<Float>, _ w: UnsafePointer<Float>,
                                        _ gx: UnsafeMutablePointer<Float>, _ g: ConvGeometry, _ tg: ConvGeometry) {
        let kv = g.kvol, cig = g.cinG, cog = g.coutG, kr = tg.kRows, pin = tg.outPlane, c = compute
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
        let tiles = (planeRows + step - 1) / step, items = g.n * g.groups * tiles, colFloats = kr * step * tg.wo
        let cols = scratch(min(c.threads, items) * colFloats)
        let serial = Compute(threads: 1)
        c.forEachItem(items) { worker, item in
            let ng = item / tiles, n = ng / g.groups, grp = ng % g.groups, q0 = item % tiles * step
            let rows = q0..<min(planeRows, q0 + step), count = rows.count * tg.wo, col = cols + worker * colFloats
            ConvKernels.vol2col(gy, tg, group: grp, n0: n, nb: 1, rows: rows, col: col, ld: count, compute: serial)
            BLAS.gemm(m: cig, n: count, k: kr, a: flipped + grp * cig * kr, lda: kr, b: col, ldb: count,
                      beta: 1, c: gx + (n * g.cin + grp * cig) * pin + q0 * tg.wo, ldc: pin)
        }
    }

    /// dX += col2vol(W_gᵀ · dY_g) for one sample and group, `dy` holding that sample's
    /// [Cout/g, P] gradient (row stride `ldy`): the dcol matrix is formed one tile of
    /// `g.tileRows` output rows at a time in `tile`, so it never leaves the cache. Runs on the
    /// calling thread.
    private func inputGradByTiles(_ dy: UnsafePointer<Float>, ldy: Int, _ w: UnsafePointer<Float>,
                                  _ gx: UnsafeMutablePointer<Float>, _ g: ConvGeometry, group grp: Int,
                                  sample n: Int, tile: UnsafeMutablePointer<Float>) {
        let kr = g.kRows, cg = g.coutG, wo = g.wo, serial = Compute(threads: 1)
        for i in 0..<g.tilesPerPlane {
            let rows = g.tileRange(i), cols = rows.count * wo
            BLAS.gemm(transA: true, m: kr, n: cols, k: cg, a: w + grp * cg * kr, lda: kr,
                      b: dy + rows.lowerBound * wo, ldb: ldy, c: tile, ldc: cols)
            ConvKernels.col2vol(tile, ld: cols, g, group: grp, n0: n, nb: 1, rows: rows, gx: gx, compute: serial)
        }
    }
}
