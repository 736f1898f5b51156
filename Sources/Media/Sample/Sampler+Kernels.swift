// The one pixel kernel every spatial sampler uses: copy a window of a (virtually) resized frame
// into a clip, converting RGB24 to normalised planar floats.
//
// Shape legend: source RGBFrame h×w×3 (packed, row-major); a source rectangle (rx, ry, rw, rh)
// is virtually resized to vw×vh with bilinear interpolation (PyTorch `interpolate(mode="bilinear",
// align_corners=False)` sampling: src = max(0, (dst + 0.5)·rw/vw − 0.5), no antialiasing); the
// window [wy, wy+oh) × [wx, wx+ow) of that virtual image is written at rows oy.., columns ox.. of
// frame t of a clip Float [3, T, H, W]. Nothing of the resized image is materialised.

/// A rectangle of source pixels.
struct PixelRect: Equatable {
    var x: Int, y: Int, width: Int, height: Int
}

/// Where a window lands in the output clip [3, T, H, W].
struct ClipTarget {
    var base: UnsafeMutablePointer<Float>
    var frames: Int, height: Int, width: Int
}

/// Reusable coordinate tables for window resampling (one per sampler, not thread-safe).
struct Resampler {
    private var x0: [Int] = [], x1: [Int] = [], fx: [Float] = []
    private var y0: [Int] = [], y1: [Int] = [], fy: [Float] = []
    /// normalised[ch·256 + v] = (Float(v) − mean[ch]) / std[ch]: the same floats as computing it
    /// per pixel, without the division.
    private let normalised: [Float] = (0..<768).map { i in
        (Float(i % 256) - ClipLayout.mean[i / 256]) / ClipLayout.std[i / 256]
    }

    /// Bilinear source taps for `count` destination pixels starting at `start` of a virtual axis of
    /// length `virtual` mapped onto source pixels [origin, origin+length).
    private static func taps(start: Int, count: Int, virtual: Int, origin: Int, length: Int,
                             i0: inout [Int], i1: inout [Int], f: inout [Float]) {
        i0.removeAll(keepingCapacity: true); i1.removeAll(keepingCapacity: true); f.removeAll(keepingCapacity: true)
        let scale = Double(length) / Double(virtual)
        for d in start..<(start + count) {
            let s = max(0, (Double(d) + 0.5) * scale - 0.5)
            let a = min(Int(s), length - 1)
            let b = min(a + 1, length - 1)
            i0.append(origin + a); i1.append(origin + b); f.append(Float(s - Double(a)))
        }
    }

    /// Writes window (wx, wy, ow, oh) of `rect` virtually resized to vw×vh into frame t of `target`
    /// at (ox, oy), normalised with ClipLayout.
    mutating func write(_ frame: RGBFrame, rect: PixelRect, virtualWidth vw: Int, virtualHeight vh: Int,
                        windowX wx: Int, windowY wy: Int, width ow: Int, height oh: Int,
                        to target: ClipTarget, t: Int, x ox: Int, y oy: Int) {
        frame.pixels.withUnsafeBufferPointer { px in
            write(px, frameWidth: frame.width, rect: rect, virtualWidth: vw, virtualHeight: vh, windowX: wx, windowY: wy,
                  width: ow, height: oh, to: target, t: t, x: ox, y: oy)
        }
    }

    /// `write` on borrowed packed RGB24 pixels (rows of frameWidth·3 bytes), e.g. an RGBView.
    mutating func write(_ px: UnsafeBufferPointer<UInt8>, frameWidth fw: Int, rect: PixelRect,
                        virtualWidth vw: Int, virtualHeight vh: Int,
                        windowX wx: Int, windowY wy: Int, width ow: Int, height oh: Int,
                        to target: ClipTarget, t: Int, x ox: Int, y oy: Int) {
        precondition(wx >= 0 && wy >= 0 && wx + ow <= vw && wy + oh <= vh, "window outside the virtual frame")
        precondition(ox + ow <= target.width && oy + oh <= target.height, "window outside the clip")
        let plane = target.height * target.width
        let m0 = ClipLayout.mean[0], m1 = ClipLayout.mean[1], m2 = ClipLayout.mean[2]
        let s0 = ClipLayout.std[0], s1 = ClipLayout.std[1], s2 = ClipLayout.std[2]
        let r = target.base + (0 * target.frames + t) * plane
        let g = target.base + (1 * target.frames + t) * plane
        let b = target.base + (2 * target.frames + t) * plane
        do {
            if vw == rect.width && vh == rect.height {
                // Native resolution: an exact copy through the normalisation table.
                normalised.withUnsafeBufferPointer { lut in
                    let lr = lut.baseAddress!, lg = lr + 256, lb = lr + 512
                    let p = px.baseAddress!
                    for yy in 0..<oh {
                        var src = p + ((rect.y + wy + yy) * fw + rect.x + wx) * 3
                        let dst = (oy + yy) * target.width + ox
                        let rr = r + dst, gg = g + dst, bb = b + dst
                        for xx in 0..<ow {
                            rr[xx] = lr[Int(src[0])]
                            gg[xx] = lg[Int(src[1])]
                            bb[xx] = lb[Int(src[2])]
                            src += 3
                        }
                    }
                }
                return
            }
            Resampler.taps(start: wx, count: ow, virtual: vw, origin: rect.x, length: rect.width, i0: &x0, i1: &x1, f: &fx)
            Resampler.taps(start: wy, count: oh, virtual: vh, origin: rect.y, length: rect.height, i0: &y0, i1: &y1, f: &fy)
            for yy in 0..<oh {
                let rowA = y0[yy] * fw, rowB = y1[yy] * fw, ly = fy[yy]
                let dst = (oy + yy) * target.width + ox
                for xx in 0..<ow {
                    let a = (rowA + x0[xx]) * 3, bb = (rowA + x1[xx]) * 3
                    let c = (rowB + x0[xx]) * 3, d = (rowB + x1[xx]) * 3
                    let lx = fx[xx]
                    for ch in 0..<3 {
                        let top = Float(px[a + ch]) + (Float(px[bb + ch]) - Float(px[a + ch])) * lx
                        let bottom = Float(px[c + ch]) + (Float(px[d + ch]) - Float(px[c + ch])) * lx
                        let v = top + (bottom - top) * ly
                        switch ch {
                        case 0: r[dst + xx] = (v - m0) / s0
                        case 1: g[dst + xx] = (v - m1) / s1
                        default: b[dst + xx] = (v - m2) / s2
                        }
                    }
                }
            }
        }
    }
}
