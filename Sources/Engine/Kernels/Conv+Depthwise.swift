// Direct depthwise convolution (groups == Cin): a GEMM per group would have one output row.
//
// Shapes: x [N, Cin, T, H, W], weight [Cout, 1, kt, kh, kw] with Cout = Cin·m,
//         output channel o reads input channel o / m → y [N, Cout, To, Ho, Wo].
// Each kernel tap is one pass of axpy-like row updates over an output plane (L1/L2 resident).

extension ConvKernels {
    /// Visits every (output row, input row) pair of one kernel tap:
    /// body(output row offset, input row offset incl. the tap's column shift, lo, hi).
    @inline(__always)
    static func forEachTapRow(_ g: ConvGeometry, ki: Int, kj: Int, kk: Int,
                              _ body: (_ outRow: Int, _ inRow: Int, _ lo: Int, _ hi: Int) -> Void) {
        let (lo, hi) = g.validX(kk)
        if hi <= lo { return }
        let off = kk * g.dw - g.pw, to = g.to, ho = g.ho, wo = g.wo
        for oz in 0..<to {
            let iz = oz * g.st - g.pt + ki * g.dt
            if iz < 0 || iz >= g.t { continue }
            for oy in 0..<ho {
                let iy = oy * g.sh - g.ph + kj * g.dh
                if iy < 0 || iy >= g.h { continue }
                body((oz * ho + oy) * wo, (iz * g.h + iy) * g.w + off, lo, hi)
            }
        }
    }

    /// y = depthwise(x, w) + bias.
    static func depthwiseForward(_ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>, _ bias: UnsafePointer<Float>?,
                                 _ y: UnsafeMutablePointer<Float>, _ g: ConvGeometry, compute: Compute) {
        let p = g.outPlane, mult = g.cout / g.cin, sw = g.sw
        let xb = UncheckedBox(x), wb = UncheckedBox(w), yb = UncheckedBox(y), bb = UncheckedBox(bias)
        compute.forEachChunk(g.n * g.cout, grain: max(1, 16_384 / max(p * g.kvol, 1))) { range in
            for item in range {
                let n = item / g.cout, o = item % g.cout
                let dst = yb.value + item * p
                dst.update(repeating: bb.value?[o] ?? 0, count: p)
                let src = xb.value + (n * g.cin + o / mult) * g.inPlane
                for kidx in 0..<g.kvol {
                    let wv = wb.value[o * g.kvol + kidx]
                    forEachTapRow(g, ki: kidx / (g.kh * g.kw), kj: (kidx / g.kw) % g.kh, kk: kidx % g.kw) { orow, irow, lo, hi in
                        let d = dst + orow, s = src + irow
                        if sw == 1 {
                            for ox in lo..<hi { d[ox] += wv * s[ox] }
                        } else {
                            for ox in lo..<hi { d[ox] += wv * s[ox * sw] }
                        }
                    }
                }
            }
        }
    }

    /// Accumulates dX and dW of a depthwise convolution (either may be nil).
    static func depthwiseBackward(_ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>, _ gy: UnsafePointer<Float>,
                                  _ gx: UnsafeMutablePointer<Float>?, _ gw: UnsafeMutablePointer<Float>?,
                                  _ g: ConvGeometry, compute: Compute) {
        let p = g.outPlane, mult = g.cout / g.cin, sw = g.sw
        let xb = UncheckedBox(x), wb = UncheckedBox(w), yb = UncheckedBox(gy)
        if let gw {
            // One item per output channel: it owns its kvol weights.
            let gwb = UncheckedBox(gw)
            compute.forEachChunk(g.cout, grain: max(1, 16_384 / max(g.n * p * g.kvol, 1))) { range in
                for o in range {
                    for n in 0..<g.n {
                        let dy = yb.value + (n * g.cout + o) * p
                        let src = xb.value + (n * g.cin + o / mult) * g.inPlane
                        for kidx in 0..<g.kvol {
                            var acc: Float = 0
                            forEachTapRow(g, ki: kidx / (g.kh * g.kw), kj: (kidx / g.kw) % g.kh, kk: kidx % g.kw) { orow, irow, lo, hi in
                                let d = dy + orow, s = src + irow
                                if sw == 1 {
                                    for ox in lo..<hi { acc += d[ox] * s[ox] }
                                } else {
                                    for ox in lo..<hi { acc += d[ox] * s[ox * sw] }
                                }
                            }
                            gwb.value[o * g.kvol + kidx] += acc
                        }
                    }
                }
            }
        }
        if let gx {
            // One item per (sample, input channel): it owns that plane of dX.
            let gxb = UncheckedBox(gx)
            compute.forEachChunk(g.n * g.cin, grain: max(1, 16_384 / max(mult * p * g.kvol, 1))) { range in
                for item in range {
                    let n = item / g.cin, c = item % g.cin
                    let dst = gxb.value + item * g.inPlane
                    for m in 0..<mult {
                        let o = c * mult + m
                        let dy = yb.value + (n * g.cout + o) * p
                        for kidx in 0..<g.kvol {
                            let wv = wb.value[o * g.kvol + kidx]
                            forEachTapRow(g, ki: kidx / (g.kh * g.kw), kj: (kidx / g.kw) % g.kh, kk: kidx % g.kw) { orow, irow, lo, hi in
                                let d = dy + orow, s = dst + irow
                                if sw == 1 {
                                    for ox in lo..<hi { s[ox] += wv * d[ox] }
                                } else {
                                    for ox in lo..<hi { s[ox * sw] += wv * d[ox] }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}
