// vol2col / col2vol and the geometry of a convolution, shared by conv3d and conv2d (T = 1).
//
// Shapes: x [N, Cin, T, H, W], weight [Cout, Cin/groups, kt, kh, kw] → y [N, Cout, To, Ho, Wo].
//         col for group g and samples n0..<n0+nb: [Cin/groups · kt·kh·kw, nb · To·Ho·Wo] with row
//         stride ld ≥ nb·P; row r = c·(kt·kh·kw) + (i·kh + j)·kw + k matches the weight's row-major
//         inner layout, column j·P + p is output position p of sample n0 + j (P = To·Ho·Wo).
//         A dX tile covers output rows q0..<q1 (q = oz·Ho + oy) of one sample: [K, (q1−q0)·Wo].

/// Sizes, strides, paddings and dilations of one convolution, with derived output sizes.
struct ConvGeometry {
    var n = 0, cin = 0, t = 0, h = 0, w = 0
    var cout = 0, kt = 1, kh = 1, kw = 1
    var st = 1, sh = 1, sw = 1
    var pt = 0, ph = 0, pw = 0
    var dt = 1, dh = 1, dw = 1
    var groups = 1
    /// Largest column matrix (floats, all samples and groups) kept from forward for the weight
    /// gradient instead of being rebuilt in backward.
    var columnBudget = ConvGeometry.defaultColumnBudget
    static let defaultColumnBudget = 1 << 24
    /// The budget of `Tape.conv3d` (8 MiB): larger column matrices are rebuilt in backward. Writing
    /// them to memory in forward and reading them back cost fragnet's 24→48, 48→96 and 1×3×3 layers
    /// and its stem more than the rebuild (forward convolutions 82.9 → 57.7 ms, backward
    /// 97.8 → 110.2 ms with no columns kept; the two smallest layers, 96→192 and 192→192, kept).
    static let conv3dColumnBudget = 1 << 21
    /// Floats of the column tile through which backward passes dcol to col2vol: small enough
    /// to stay in cache between the GEMM that writes it and the scatter that reads it.
    var tileBudget = ConvGeometry.defaultTileBudget
    static let defaultTileBudget = 1 << 19

    var to: Int { ConvGeometry.outSize(t, kt, st, pt, dt) }
    var ho: Int { ConvGeometry.outSize(h, kh, sh, ph, dh) }
    var wo: Int { ConvGeometry.outSize(w, kw, sw, pw, dw) }

    /// ⌊(n + 2p − d·(k−1) − 1)/s⌋ + 1, or 0 when the dilated kernel does not fit the padded input.
    static func outSize(_ n: Int, _ k: Int, _ s: Int, _ p: Int, _ d: Int) -> Int {
        let span = n + 2 * p - d * (k - 1) - 1
        return span < 0 ? 0 : span / max(s, 1) + 1
    }
    var cinG: Int { cin / groups }
    var coutG: Int { cout / groups }
    var kvol: Int { kt * kh * kw }
    /// GEMM inner dimension: rows of the column matrix.
    var kRows: Int { cinG * kvol }
    var inPlane: Int { t * h * w }
    var outPlane: Int { to * ho * wo }
    /// 1×1×1, stride 1, no padding: the input already is the column matrix.
    var isPointwise: Bool { kvol == 1 && st == 1 && sh == 1 && sw == 1 && pt == 0 && ph == 0 && pw == 0 }
    /// One weight per output channel over a single input channel.
    var isDepthwise: Bool { groups == cin && groups > 1 && cinG == 1 }
    /// The layer's shape for profiles, e.g. "conv 24->48 k3x3x3 s1x2x2 out 4x4x28x28" (N×To×Ho×Wo).
    var profileLabel: String {
        "conv \(cin)->\(cout) k\(kt)x\(kh)x\(kw) s\(st)x\(sh)x\(sw)\(groups > 1 ? " g\(groups)" : "") out \(n)x\(to)x\(ho)x\(wo)"
    }
    /// Multiply-adds of the forward pass.
    var macs: Int { n * cout * outPlane * kRows }

    /// For a stride-1 convolution whose padding is at most d·(k−1) per axis: the geometry whose
    /// forward pass maps dY [N, Cout, To, Ho, Wo] to dX [N, Cin, T, H, W] (same kernel size and
    /// dilation, padding d·(k−1) − p, channels swapped); nil otherwise.
    var inputGradGeometry: ConvGeometry? {
        guard st == 1, sh == 1, sw == 1, !isDepthwise, !isPointwise else { return nil }
        let pads = (dt * (kt - 1) - pt, dh * (kh - 1) - ph, dw * (kw - 1) - pw)
        guard pads.0 >= 0, pads.1 >= 0, pads.2 >= 0 else { return nil }
        var r = self
        (r.cin, r.t, r.h, r.w, r.cout) = (cout, to, ho, wo, cin)
        (r.pt, r.ph, r.pw) = pads
        return r
    }

    /// Output rows (over To·Ho, each Wo positions) per tile: at least one, at most all.
    var tileRows: Int { max(1, min(to * ho, tileBudget / max(1, kRows * wo))) }
    /// Tiles of `tileRows` output rows per sample and group.
    var tilesPerPlane: Int { (to * ho + tileRows - 1) / tileRows }
    /// Output rows (q = oz·Ho + oy) of tile `i`.
    func tileRange(_ i: Int) -> Range<Int> {
        let step = tileRows, q0 = i * step
        return q0..<min(to * ho, q0 + step)
    }
    /// Whether vol2col and the GEMM run one tile of rows at a time: a sample's column matrix
    /// exceeds the tile budget.
    var tiled: Bool { !isPointwise && !isDepthwise && kRows * outPlane > tileBudget }
    /// Output rows per work item: a tile, or the whole plane.
    var itemRows: Int { tiled ? tileRows : to * ho }
    /// Work items (row ranges) per sample and group.
    var itemsPerPlane: Int { (to * ho + itemRows - 1) / itemRows }
    /// The pieces of dW's K columns that backward computes as separate items: fixed by the
    /// geometry alone (never by the thread count), about 128 columns each, at least two.
    var weightGradPieces: Pieces { Pieces(kRows, parts: max(2, (kRows + 127) / 128), minimum: 16, align: 8) }

    /// Floats of the column matrices of every sample and group.
    var allColumns: Int { groups * kRows * n * outPlane }

    /// Valid output columns ox (0 ≤ ox·sw − pw + k·dw < w) for kernel column k, as a range.
    @inline(__always)
    func validX(_ k: Int) -> (Int, Int) {
        let off = k * dw - pw
        let lo = off >= 0 ? 0 : min(wo, (-off + sw - 1) / sw)
        let hi = w - 1 - off < 0 ? 0 : min(wo, (w - 1 - off) / sw + 1)
        return (lo, max(lo, hi))
    }
}

enum ConvKernels {
    /// Fills `col` (row stride `ld`) for group `g`, samples `n0..<n0+nb`, output rows `rows`
    /// (q = oz·Ho + oy): column j·|rows|·Wo + (q − rows.lowerBound)·Wo + ox (with all rows, the
    /// layout of the shape legend). Items are (column row r, sample); each walks its output rows
    /// with (oz, oy) counters (no division per row) and fills a row with `fillRow` (Conv+Rows.swift).
    static func vol2col(_ x: UnsafePointer<Float>, _ g: ConvGeometry, group: Int, n0: Int, nb: Int, rows: Range<Int>,
                        col: UnsafeMutablePointer<Float>, ld: Int, compute: Compute) {
        let ho = g.ho, wo = g.wo, span = rows.count * wo, count = rows.count  // hoisted: each is a division
        let ozFirst = rows.lowerBound / ho, oyFirst = rows.lowerBound - ozFirst * ho
        let (t, h, w, st, sh, sw) = (g.t, g.h, g.w, g.st, g.sh, g.sw)
        let xb = UncheckedBox(x), cb = UncheckedBox(col)
        compute.forEachChunk(g.kRows * nb, grain: max(1, 32_768 / max(span, 1))) { range in
            for item in range {
                let r = item / nb, j = item % nb
                let c = r / g.kvol, kidx = r % g.kvol
                let ki = kidx / (g.kh * g.kw), kj = (kidx / g.kw) % g.kh, kk = kidx % g.kw
                let (lo, hi) = g.validX(kk)
                let src = xb.value + ((n0 + j) * g.cin + group * g.cinG + c) * g.inPlane + (kk * g.dw - g.pw)
                let zOff = ki * g.dt - g.pt, yOff = kj * g.dh - g.ph
                var d = cb.value + r * ld + j * span
                var oz = ozFirst, oy = oyFirst
                for _ in 0..<count {
                    let iz = oz &* st &+ zOff, iy = oy &* sh &+ yOff
                    if UInt(bitPattern: iz) < UInt(t) && UInt(bitPattern: iy) < UInt(h) {
                        fillRow(d, src + ((iz &* h &+ iy) &* w), lo: lo, hi: hi, wo: wo, sw: sw)
                    } else {
                        d.update(repeating: 0, count: wo)
                    }
                    d += wo
                    oy &+= 1
                    if oy == ho { oy = 0; oz &+= 1 }
                }
            }
        }
    }

    /// Accumulates `col` into the input gradient `gx`: output rows `rows` (q = oz·Ho + oy) of
    /// samples n0..<n0+nb, column j·|rows|·Wo + (q − rows.lowerBound)·Wo + ox (with all rows,
    /// the layout of `vol2col`).
    static func col2vol(_ col: UnsafePointer<Float>, ld: Int, _ g: ConvGeometry, group: Int, n0: Int, nb: Int,
                        rows: Range<Int>, gx: UnsafeMutablePointer<Float>, compute: Compute) {
        let ho = g.ho, wo = g.wo, span = rows.count * wo  // hoisted: each is a division
        let ozFirst = rows.lowerBound / ho, oyFirst = rows.lowerBound - ozFirst * ho
        let (t, h, w, st, sh, sw) = (g.t, g.h, g.w, g.st, g.sh, g.sw)
        let gb = UncheckedBox(gx), cb = UncheckedBox(col)
        // One item per (input channel, sample): each owns one plane of gx, so no two threads collide.
        compute.forEachChunk(g.cinG * nb, grain: max(1, 32_768 / max(span * g.kvol, 1))) { range in
            for item in range {
                let c = item / nb, j = item % nb
                let dstPlane = gb.value + ((n0 + j) * g.cin + group * g.cinG + c) * g.inPlane
                for kidx in 0..<g.kvol {
                    let ki = kidx / (g.kh * g.kw), kj = (kidx / g.kw) % g.kh, kk = kidx % g.kw
                    let (lo, hi) = g.validX(kk)
                    if hi <= lo { continue }
                    let off = kk * g.dw - g.pw, zOff = ki * g.dt - g.pt, yOff = kj * g.dh - g.ph
                    var oz = ozFirst, oy = oyFirst, s = cb.value + (c * g.kvol + kidx) * ld + j * span
                    for _ in 0..<rows.count {
                        let iz = oz &* st &+ zOff, iy = oy &* sh &+ yOff
                        if UInt(bitPattern: iz) < UInt(t) && UInt(bitPattern: iy) < UInt(h) {
                            let d = dstPlane + ((iz &* h &+ iy) &* w &+ off)
                            if sw == 1 {
                                for ox in lo..<hi { d[ox] += s[ox] }
                            } else if sw == 2 {
                                scatterAddEven(d, s, lo, hi)
                            } else {
                                for ox in lo..<hi { d[ox &* sw] += s[ox] }
                            }
                        }
                        s += wo
                        oy &+= 1
                        if oy == ho { oy = 0; oz &+= 1 }
                    }
                }
            }
        }
    }

    /// d[2·ox] += s[ox] for ox in lo..<hi, eight at a time (touches only d[2·lo ... 2·(hi−1)] + odd neighbours
    /// inside that span, which are written back unchanged).
    @inline(__always)
    static func scatterAddEven(_ d: UnsafeMutablePointer<Float>, _ s: UnsafePointer<Float>, _ lo: Int, _ hi: Int) {
        var ox = lo
        let raw = UnsafeMutableRawPointer(d), src = UnsafeRawPointer(s)
        while ox + 9 <= hi {
            var v = raw.loadUnaligned(fromByteOffset: 8 * ox, as: SIMD16<Float>.self)
            v.evenHalf += src.loadUnaligned(fromByteOffset: 4 * ox, as: SIMD8<Float>.self)
            raw.storeBytes(of: v, toByteOffset: 8 * ox, as: SIMD16<Float>.self)
            ox += 8
        }
        while ox < hi { d[2 * ox] += s[ox]; ox += 1 }
    }

    /// y[n, o, :] = bias[o] (or 0) for every sample and channel.
    static func fillBias(_ y: UnsafeMutablePointer<Float>, _ bias: UnsafePointer<Float>?, n: Int, channels: Int,
                         plane: Int, compute: Compute) {
        let yb = UncheckedBox(y), bb = UncheckedBox(bias)
        compute.forEachChunk(n * channels, grain: max(1, 65_536 / max(plane, 1))) { range in
            for item in range {
                (yb.value + item * plane).update(repeating: bb.value?[item % channels] ?? 0, count: plane)
            }
        }
    }

    /// gb[o] += Σ_{n,p} gy[n, o, p].
    static func biasGrad(_ gy: UnsafePointer<Float>, _ gb: UnsafeMutablePointer<Float>, n: Int, channels: Int,
                         plane: Int, compute: Compute) {
        let yb = UncheckedBox(gy), bb = UncheckedBox(gb)
        compute.forEachChunk(channels, grain: max(1, 65_536 / max(n * plane, 1))) { range in
            for o in range {
                var s: Float = 0
                for i in 0..<n {
                    let row = yb.value + (i * channels + o) * plane
                    for q in 0..<plane { s += row[q] }
                }
                bb.value[o] += s
            }
        }
    }
}
