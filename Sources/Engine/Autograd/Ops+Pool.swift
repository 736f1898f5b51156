// Pooling with PyTorch semantics (floor output sizes, implicit padding that never wins a max).
//
// Shapes: x [N, C, T, H, W] (2-D: [N, C, H, W]) → y [N, C, To, Ho, Wo], To = ⌊(T + 2·pt − kt)/st⌋ + 1.
//         adaptive: bin i of n_out over n_in covers [⌊i·n_in/n_out⌋, ⌈(i+1)·n_in/n_out⌉).
//         globalMeanPool: [N, C, ...] → [N, C] (mean over every trailing dimension).
// Max pooling keeps the argmax of each window (Int32, per plane) in tape scratch; backward routes
// the gradient there. Ties go to the first element in (t, h, w) scan order, NaN propagates, as in PyTorch.

extension Tape {
    /// Average pooling over (T, H, W); `stride` defaults to `kernel`. `countIncludePad` divides by
    /// the full window (PyTorch default) instead of the number of unpadded elements.
    func avgPool3d(_ x: Var, kernel: (Int, Int, Int), stride: (Int, Int, Int)? = nil,
                          padding: (Int, Int, Int) = (0, 0, 0), countIncludePad: Bool = true) -> Var {
        let g = poolGeometry(x, kernel: kernel, stride: stride ?? kernel, padding: padding, rank: 5, op: "avgPool3d")
        return windowPool(x, g, max: false, includePad: countIncludePad, outShape: [g.n, g.cin, g.to, g.ho, g.wo])
    }

    /// Max pooling over (T, H, W); `stride` defaults to `kernel`.
    func maxPool3d(_ x: Var, kernel: (Int, Int, Int), stride: (Int, Int, Int)? = nil,
                          padding: (Int, Int, Int) = (0, 0, 0)) -> Var {
        let g = poolGeometry(x, kernel: kernel, stride: stride ?? kernel, padding: padding, rank: 5, op: "maxPool3d")
        return windowPool(x, g, max: true, includePad: true, outShape: [g.n, g.cin, g.to, g.ho, g.wo])
    }

    /// Average pooling over (H, W) of [N, C, H, W]; `stride` defaults to `kernel`.
    func avgPool2d(_ x: Var, kernel: (Int, Int), stride: (Int, Int)? = nil, padding: (Int, Int) = (0, 0),
                          countIncludePad: Bool = true) -> Var {
        let s = stride ?? kernel
        let g = poolGeometry(x, kernel: (1, kernel.0, kernel.1), stride: (1, s.0, s.1), padding: (0, padding.0, padding.1),
                             rank: 4, op: "avgPool2d")
        return windowPool(x, g, max: false, includePad: countIncludePad, outShape: [g.n, g.cin, g.ho, g.wo])
    }

    /// Max pooling over (H, W) of [N, C, H, W]; `stride` defaults to `kernel`.
    func maxPool2d(_ x: Var, kernel: (Int, Int), stride: (Int, Int)? = nil, padding: (Int, Int) = (0, 0)) -> Var {
        let s = stride ?? kernel
        let g = poolGeometry(x, kernel: (1, kernel.0, kernel.1), stride: (1, s.0, s.1), padding: (0, padding.0, padding.1),
                             rank: 4, op: "maxPool2d")
        return windowPool(x, g, max: true, includePad: true, outShape: [g.n, g.cin, g.ho, g.wo])
    }

    /// Adaptive average pooling of [N, C, T, H, W] to [N, C, outputSize.0, outputSize.1, outputSize.2].
    func adaptiveAvgPool3d(_ x: Var, outputSize: (Int, Int, Int)) -> Var {
        let xs = shape(x)
        precondition(xs.count == 5, "adaptiveAvgPool3d: input must be [N, C, T, H, W], got \(xs)")
        return adaptivePool(x, inSize: (xs[2], xs[3], xs[4]), outSize: outputSize,
                            outShape: [xs[0], xs[1], outputSize.0, outputSize.1, outputSize.2])
    }

    /// Adaptive average pooling of [N, C, H, W] to [N, C, outputSize.0, outputSize.1].
    func adaptiveAvgPool2d(_ x: Var, outputSize: (Int, Int)) -> Var {
        let xs = shape(x)
        precondition(xs.count == 4, "adaptiveAvgPool2d: input must be [N, C, H, W], got \(xs)")
        return adaptivePool(x, inSize: (1, xs[2], xs[3]), outSize: (1, outputSize.0, outputSize.1),
                            outShape: [xs[0], xs[1], outputSize.0, outputSize.1])
    }

    /// Mean over every dimension after the first two: [N, C, ...] → [N, C].
    func globalMeanPool(_ x: Var) -> Var {
        let xs = shape(x)
        precondition(xs.count >= 3, "globalMeanPool: input must be [N, C, ...] with at least one pooled dimension, got \(xs)")
        let planes = xs[0] * xs[1], plane = xs.dropFirst(2).reduce(1, *)
        let (y, yp) = output(shape: [xs[0], xs[1]], needsGrad: anyNeedsGrad(x))
        let xp = value(x), inv = 1 / Float(max(plane, 1))
        let xb = UncheckedBox(UnsafePointer(xp)), yb = UncheckedBox(yp)
        compute.forEachChunk(planes, grain: max(1, 65_536 / max(plane, 1))) { range in
            for i in range {
                let s = xb.value + i * plane
                var acc: Float = 0
                for q in 0..<plane { acc += s[q] }
                yb.value[i] = acc * inv
            }
        }
        setBackward(y) { t in
            guard t.needsGrad(x) else { return }
            let gy = UncheckedBox(UnsafePointer(t.grad(y))), gx = UncheckedBox(t.grad(x))
            t.compute.forEachChunk(planes, grain: max(1, 65_536 / max(plane, 1))) { range in
                for i in range {
                    let v = gy.value[i] * inv, d = gx.value + i * plane
                    for q in 0..<plane { d[q] += v }
                }
            }
        }
        return y
    }

    // MARK: - Cores

    private func poolGeometry(_ x: Var, kernel: (Int, Int, Int), stride: (Int, Int, Int), padding: (Int, Int, Int),
                              rank: Int, op: String) -> ConvGeometry {
        let xs = shape(x)
        precondition(xs.count == rank, "\(op): input must be \(rank == 5 ? "[N, C, T, H, W]" : "[N, C, H, W]"), got \(xs)")
        var g = ConvGeometry()
        if rank == 5 { (g.n, g.cin, g.t, g.h, g.w) = (xs[0], xs[1], xs[2], xs[3], xs[4]) }
        else { (g.n, g.cin, g.t, g.h, g.w) = (xs[0], xs[1], 1, xs[2], xs[3]) }
        g.cout = g.cin
        (g.kt, g.kh, g.kw) = kernel
        (g.st, g.sh, g.sw) = stride
        (g.pt, g.ph, g.pw) = padding
        precondition([g.kt, g.kh, g.kw, g.st, g.sh, g.sw].allSatisfy { $0 >= 1 }, "\(op): kernel and stride must be ≥ 1")
        precondition(2 * g.pt <= g.kt && 2 * g.ph <= g.kh && 2 * g.pw <= g.kw && min(g.pt, g.ph, g.pw) >= 0,
                     "\(op): padding \(padding) must be between 0 and half the kernel \(kernel)")
        precondition(g.to >= 1 && g.ho >= 1 && g.wo >= 1,
                     "\(op): kernel \(kernel) larger than the padded input [\(g.t), \(g.h), \(g.w)]")
        return g
    }

    private func windowPool(_ x: Var, _ g: ConvGeometry, max isMax: Bool, includePad: Bool, outShape: [Int]) -> Var {
        let (y, yp) = output(shape: outShape, needsGrad: anyNeedsGrad(x))
        let planes = g.n * g.cin, inP = g.inPlane, outP = g.outPlane
        let argmax = isMax ? UnsafeMutableRawPointer(scratch(planes * outP)) : nil
        let xb = UncheckedBox(UnsafePointer(value(x))), yb = UncheckedBox(yp), ab = UncheckedBox(argmax)
        compute.forEachChunk(planes, grain: max(1, 16_384 / max(outP * g.kvol, 1))) { range in
            for pl in range {
                let src = xb.value + pl * inP, dst = yb.value + pl * outP
                forEachWindow(g) { o, z0, z1, y0, y1, x0, x1, full in
                    if isMax {
                        var best = -Float.infinity, at = (z0 * g.h + y0) * g.w + x0
                        for z in z0..<z1 { for yy in y0..<y1 { for xx in x0..<x1 {
                            let i = (z * g.h + yy) * g.w + xx, v = src[i]
                            if v > best || v.isNaN { best = v; at = i }
                        } } }
                        dst[o] = best
                        ab.value!.storeBytes(of: Int32(at), toByteOffset: 4 * (pl * outP + o), as: Int32.self)
                    } else {
                        var acc: Float = 0
                        for z in z0..<z1 { for yy in y0..<y1 { for xx in x0..<x1 { acc += src[(z * g.h + yy) * g.w + xx] } } }
                        dst[o] = acc / Float(includePad ? full : (z1 - z0) * (y1 - y0) * (x1 - x0))
                    }
                }
            }
        }
        setBackward(y) { t in
            guard t.needsGrad(x) else { return }
            let gy = UncheckedBox(UnsafePointer(t.grad(y))), gx = UncheckedBox(t.grad(x))
            t.compute.forEachChunk(planes, grain: max(1, 16_384 / max(outP * g.kvol, 1))) { range in
                for pl in range {
                    let dy = gy.value + pl * outP, dx = gx.value + pl * inP
                    if isMax {
                        for o in 0..<outP {
                            let at = Int(ab.value!.load(fromByteOffset: 4 * (pl * outP + o), as: Int32.self))
                            dx[at] += dy[o]
                        }
                        continue
                    }
                    forEachWindow(g) { o, z0, z1, y0, y1, x0, x1, full in
                        let v = dy[o] / Float(includePad ? full : (z1 - z0) * (y1 - y0) * (x1 - x0))
                        for z in z0..<z1 { for yy in y0..<y1 { for xx in x0..<x1 { dx[(z * g.h + yy) * g.w + xx] += v } } }
                    }
                }
            }
        }
        return y
    }

    private func adaptivePool(_ x: Var, inSize: (Int, Int, Int), outSize: (Int, Int, Int), outShape: [Int]) -> Var {
        precondition(outSize.0 >= 1 && outSize.1 >= 1 && outSize.2 >= 1,
                     "adaptive pooling: output size \(outSize) must be ≥ 1 in every dimension")
        let xs = shape(x)
        let planes = xs[0] * xs[1], (t, h, w) = inSize, (ot, oh, ow) = outSize
        let inP = t * h * w, outP = ot * oh * ow
        func bin(_ i: Int, _ n: Int, _ m: Int) -> (Int, Int) { (i * n / m, ((i + 1) * n + m - 1) / m) }
        // Visits every output cell with its input box [z0, z1) × [y0, y1) × [x0, x1).
        func cells(_ body: (Int, Int, Int, Int, Int, Int, Int) -> Void) {
            for i in 0..<ot {
                let (z0, z1) = bin(i, t, ot)
                for j in 0..<oh {
                    let (y0, y1) = bin(j, h, oh)
                    for k in 0..<ow {
                        let (x0, x1) = bin(k, w, ow)
                        body((i * oh + j) * ow + k, z0, z1, y0, y1, x0, x1)
                    }
                }
            }
        }
        let (y, yp) = output(shape: outShape, needsGrad: anyNeedsGrad(x))
        let xb = UncheckedBox(UnsafePointer(value(x))), yb = UncheckedBox(yp)
        compute.forEachChunk(planes, grain: max(1, 65_536 / max(inP, 1))) { range in
            for pl in range {
                let src = xb.value + pl * inP, dst = yb.value + pl * outP
                cells { o, z0, z1, y0, y1, x0, x1 in
                    var acc: Float = 0
                    for z in z0..<z1 { for yy in y0..<y1 { for xx in x0..<x1 { acc += src[(z * h + yy) * w + xx] } } }
                    dst[o] = acc / Float((z1 - z0) * (y1 - y0) * (x1 - x0))
                }
            }
        }
        setBackward(y) { t in
            guard t.needsGrad(x) else { return }
            let gy = UncheckedBox(UnsafePointer(t.grad(y))), gx = UncheckedBox(t.grad(x))
            t.compute.forEachChunk(planes, grain: max(1, 65_536 / max(inP, 1))) { range in
                for pl in range {
                    let dy = gy.value + pl * outP, dx = gx.value + pl * inP
                    cells { o, z0, z1, y0, y1, x0, x1 in
                        let v = dy[o] / Float((z1 - z0) * (y1 - y0) * (x1 - x0))
                        for z in z0..<z1 { for yy in y0..<y1 { for xx in x0..<x1 { dx[(z * h + yy) * w + xx] += v } } }
                    }
                }
            }
        }
        return y
    }
}

/// Visits every output cell of a pooling window: body(output index, clipped box z0..<z1, y0..<y1,
/// x0..<x1, window size counted over the padded input).
@inline(__always)
private func forEachWindow(_ g: ConvGeometry, _ body: (Int, Int, Int, Int, Int, Int, Int, Int) -> Void) {
    let to = g.to, ho = g.ho, wo = g.wo  // hoisted: each is a division
    for oz in 0..<to {
        let zs = oz * g.st - g.pt, ze = min(zs + g.kt, g.t + g.pt)
        for oy in 0..<ho {
            let ys = oy * g.sh - g.ph, ye = min(ys + g.kh, g.h + g.ph)
            for ox in 0..<wo {
                let xs = ox * g.sw - g.pw, xe = min(xs + g.kw, g.w + g.pw)
                let full = (ze - zs) * (ye - ys) * (xe - xs)
                body((oz * ho + oy) * wo + ox, max(zs, 0), min(ze, g.t), max(ys, 0), min(ye, g.h),
                     max(xs, 0), min(xe, g.w), full)
            }
        }
    }
}
