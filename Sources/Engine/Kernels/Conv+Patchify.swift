// Forward of patchify convolutions (kernel = stride on every axis, no padding or dilation, one group,
// few weights per output: fragnet's stem 3→24 k2×4×4 s2×4×4, FAST-VQA's patch embedding) without
// OpenBLAS: at K ≤ 128 its packing and small-M kernel cost more than the multiply-adds.
//
// Shapes: x [N, Cin, T, H, W], weight [Cout, K] (K = Cin·kt·kh·kw) → y [N, Cout, P] (P = To·Ho·Wo).
//         Items are (sample, block of output rows q0..<q1, q = oz·Ho + oy): vol2col fills the block's
//         columns [K, (q1−q0)·Wo] (a few KiB, still in L1 when read), then
//         y[o, q0·Wo + j] = bias[o] + Σ_k W[o, k]·col[k, j] by `patchGemm`: four output channels ×
//         sixteen columns in eight SIMD8 accumulators, k in increasing order.
// Every output element is its own sum in a fixed order (a block's last sixteen columns may overlap
// the previous block and are recomputed to the same values), so the result does not depend on the
// thread count or the blocking.

extension ConvGeometry {
    /// Whether `ConvKernels.patchifyForward` runs this convolution's forward pass.
    var isPatchify: Bool {
        groups == 1 && kt == st && kh == sh && kw == sw && pt == 0 && ph == 0 && pw == 0
            && dt == 1 && dh == 1 && dw == 1 && kRows <= 128 && kvol > 1 && wo >= 16
    }
    /// Output rows per patchify item: about 4096 columns of K floats (≤ 2 MiB at K = 128).
    var patchRows: Int { max(1, min(to * ho, 4096 / max(1, wo))) }
}

extension ConvKernels {
    /// Forward pass of a patchify convolution (`g.isPatchify`). `keep`, when given, receives every
    /// sample's columns in the kept layout of `convolve` ([K, N·P]); otherwise `scratch` holds
    /// `compute.threads` blocks of K·patchRows·Wo floats.
    static func patchifyForward(_ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>, _ bias: UnsafePointer<Float>?,
                                _ y: UnsafeMutablePointer<Float>, _ g: ConvGeometry, keep: UnsafeMutablePointer<Float>?,
                                scratch: UnsafeMutablePointer<Float>, compute: Compute) {
        let p = g.outPlane, kr = g.kRows, step = g.patchRows, planeRows = g.to * g.ho
        let blocks = (planeRows + step - 1) / step, blockFloats = kr * step * g.wo
        let serial = Compute(threads: 1)
        let xb = UncheckedBox(x), wb = UncheckedBox(w), bb = UncheckedBox(bias), yb = UncheckedBox(y)
        let kb = UncheckedBox(keep), sb = UncheckedBox(scratch)
        compute.forEachItem(g.n * blocks) { worker, item in
            let n = item / blocks, q0 = item % blocks * step, rows = q0..<min(planeRows, q0 + step)
            let cols = rows.count * g.wo
            let (col, ld) = kb.value.map { ($0 + n * p + q0 * g.wo, g.n * p) } ?? (sb.value + worker * blockFloats, cols)
            vol2col(xb.value, g, group: 0, n0: n, nb: 1, rows: rows, col: col, ld: ld, compute: serial)
            patchGemm(m: g.cout, n: cols, k: kr, w: wb.value, b: col, ldb: ld, bias: bb.value,
                      y: yb.value + n * g.cout * p + q0 * g.wo, ldy: p)
        }
    }

    /// y[o, j] = bias[o] (or 0) + Σ_{i<k} w[o·k + i]·b[i·ldb + j] for o < m, j < n (n ≥ 16).
    static func patchGemm(m: Int, n: Int, k: Int, w: UnsafePointer<Float>, b: UnsafePointer<Float>, ldb: Int,
                          bias: UnsafePointer<Float>?, y: UnsafeMutablePointer<Float>, ldy: Int) {
        let braw = UnsafeRawPointer(b), yraw = UnsafeMutableRawPointer(y)
        var j0 = 0
        while j0 < n {
            let j = min(j0, n &- 16)  // the last block overlaps the previous one
            var o = 0
            while o < m {
                let rowsLeft = min(4, m &- o)
                var a0 = SIMD8<Float>(), a1 = SIMD8<Float>(), a2 = SIMD8<Float>(), a3 = SIMD8<Float>()
                var c0 = SIMD8<Float>(), c1 = SIMD8<Float>(), c2 = SIMD8<Float>(), c3 = SIMD8<Float>()
                // Rows past m repeat the last row (computed, never stored).
                let r0 = o, r1 = o &+ min(1, rowsLeft &- 1), r2 = o &+ min(2, rowsLeft &- 1), r3 = o &+ min(3, rowsLeft &- 1)
                let w0 = w + r0 &* k, w1 = w + r1 &* k, w2 = w + r2 &* k, w3 = w + r3 &* k
                var i = 0
                while i < k {
                    let off = 4 &* (i &* ldb &+ j)
                    let v = braw.loadUnaligned(fromByteOffset: off, as: SIMD8<Float>.self)
                    let u = braw.loadUnaligned(fromByteOffset: off &+ 32, as: SIMD8<Float>.self)
                    let s0 = SIMD8(repeating: w0[i]), s1 = SIMD8(repeating: w1[i])
                    let s2 = SIMD8(repeating: w2[i]), s3 = SIMD8(repeating: w3[i])
                    a0.addProduct(s0, v); c0.addProduct(s0, u)
                    a1.addProduct(s1, v); c1.addProduct(s1, u)
                    a2.addProduct(s2, v); c2.addProduct(s2, u)
                    a3.addProduct(s3, v); c3.addProduct(s3, u)
                    i &+= 1
                }
                @inline(__always) func store(_ r: Int, _ lo: SIMD8<Float>, _ hi: SIMD8<Float>) {
                    let add = SIMD8(repeating: bias?[r] ?? 0), off = 4 &* (r &* ldy &+ j)
                    yraw.storeBytes(of: lo + add, toByteOffset: off, as: SIMD8<Float>.self)
                    yraw.storeBytes(of: hi + add, toByteOffset: off &+ 32, as: SIMD8<Float>.self)
                }
                store(r0, a0, c0)
                if rowsLeft > 1 { store(r1, a1, c1) }
                if rowsLeft > 2 { store(r2, a2, c2) }
                if rowsLeft > 3 { store(r3, a3, c3) }
                o &+= 4
            }
            j0 &+= 16
        }
    }
}
