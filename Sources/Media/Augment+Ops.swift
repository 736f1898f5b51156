import Foundation

// Pixel operations behind the augmentations, with torchvision's uint8 semantics: blends compute in
// Float, clamp to [0, 255] and truncate; grey = trunc(0.2989·R + 0.587·G + 0.114·B).
//
// Shape legend: RGBFrame h×w×3 packed RGB24, row-major; every op keeps h×w. Ops that need a second
// buffer write into `scratch` and swap it with the frame's pixels (no allocation once warm).

/// Per-frame pixel operations used by the augmenter.
enum PixelOps {
    /// Mirror left–right in place.
    static func flipHorizontal(_ f: inout RGBFrame) {
        let w = f.width
        f.pixels.withUnsafeMutableBufferPointer { p in
            for y in 0..<f.height {
                var a = y * w * 3, b = (y * w + w - 1) * 3
                while a < b {
                    for c in 0..<3 { p.swapAt(a + c, b + c) }
                    a += 3; b -= 3
                }
            }
        }
    }

    /// Replaces the frame by `rect` bilinearly resized to the frame size (rounded to nearest).
    static func resizedCrop(_ f: inout RGBFrame, rect: PixelRect, scratch: inout [UInt8]) {
        let w = f.width, h = f.height
        prepare(&scratch, count: f.pixels.count)
        let sx = Double(rect.width) / Double(w), sy = Double(rect.height) / Double(h)
        f.pixels.withUnsafeBufferPointer { src in
            scratch.withUnsafeMutableBufferPointer { dst in
                for y in 0..<h {
                    let fy = max(0, (Double(y) + 0.5) * sy - 0.5)
                    let y0 = min(Int(fy), rect.height - 1), y1 = min(y0 + 1, rect.height - 1)
                    let ly = fy - Double(y0)
                    for x in 0..<w {
                        let fx = max(0, (Double(x) + 0.5) * sx - 0.5)
                        let x0 = min(Int(fx), rect.width - 1), x1 = min(x0 + 1, rect.width - 1)
                        let lx = fx - Double(x0)
                        let a = ((rect.y + y0) * w + rect.x + x0) * 3, b = ((rect.y + y0) * w + rect.x + x1) * 3
                        let c = ((rect.y + y1) * w + rect.x + x0) * 3, d = ((rect.y + y1) * w + rect.x + x1) * 3
                        for ch in 0..<3 {
                            let top = Double(src[a + ch]) * (1 - lx) + Double(src[b + ch]) * lx
                            let bottom = Double(src[c + ch]) * (1 - lx) + Double(src[d + ch]) * lx
                            dst[(y * w + x) * 3 + ch] = UInt8(min(255, max(0, (top * (1 - ly) + bottom * ly).rounded())))
                        }
                    }
                }
            }
        }
        swap(&f.pixels, &scratch)
    }

    /// One TrivialAugment-wide operation with its (signed) magnitude.
    static func trivial(_ op: TrivialOp, magnitude m: Double, frame f: inout RGBFrame, scratch: inout [UInt8]) {
        switch op {
        case .identity: return
        case .brightness: blend(&f, factor: 1 + m) { _, _ in 0 }
        case .saturation:
            blend(&f, factor: 1 + m) { p, i in Double(grey(p, i)) }
        case .contrast:
            var total = 0.0
            f.pixels.withUnsafeBufferPointer { p in
                for i in stride(from: 0, to: p.count, by: 3) { total += Double(grey(p, i)) }
            }
            let mean = total / Double(f.width * f.height)
            blend(&f, factor: 1 + m) { _, _ in mean }
        case .sharpness: sharpness(&f, factor: 1 + m, scratch: &scratch)
        case .posterize:
            let bits = max(0, min(8, Int(m)))
            let mask = UInt8(truncatingIfNeeded: 0xFF << (8 - bits))
            map(&f) { $0 & mask }
        case .solarize: map(&f) { Double($0) >= m ? 255 - $0 : $0 }
        case .autocontrast: perChannel(&f) { hist in
            guard let lo = hist.firstIndex(where: { $0 > 0 }), let hi = hist.lastIndex(where: { $0 > 0 }), hi > lo else { return nil }
            let scale = Float(255) / Float(hi - lo)   // float32 as torchvision computes it
            return (0..<256).map { v in UInt8(min(255, max(0, (Float(v - lo) * scale).rounded(.towardZero)))) }
        }
        case .equalize: perChannel(&f) { hist in
            let nonzero = hist.filter { $0 > 0 }
            let step = (nonzero.reduce(0, +) - (nonzero.last ?? 0)) / 255
            guard step > 0 else { return nil }
            var lut = [UInt8](repeating: 0, count: 256)
            var cum = 0
            for v in 0..<256 {
                lut[v] = UInt8(min(255, (cum + step / 2) / step))
                cum += hist[v]
            }
            return lut
        }
        case .rotate:
            let a = m * Double.pi / 180, c = cos(a), s = sin(a)
            let cx = Double(f.width) / 2, cy = Double(f.height) / 2
            warp(&f, scratch: &scratch) { x, y in
                let dx = x - cx, dy = y - cy
                return (cx + c * dx - s * dy, cy + s * dx + c * dy)
            }
        case .shearX: warp(&f, scratch: &scratch) { x, y in (x + m * y, y) }
        case .shearY: warp(&f, scratch: &scratch) { x, y in (x, y + m * x) }
        case .translateX:
            let t = Double(Int(m))
            warp(&f, scratch: &scratch) { x, y in (x - t, y) }
        case .translateY:
            let t = Double(Int(m))
            warp(&f, scratch: &scratch) { x, y in (x, y - t) }
        }
    }

    @inline(__always)
    static func grey(_ p: UnsafeBufferPointer<UInt8>, _ i: Int) -> UInt8 {
        let r: Double = 0.2989 * Double(p[i])
        let g: Double = 0.587 * Double(p[i + 1])
        let b: Double = 0.114 * Double(p[i + 2])
        return UInt8(r + g + b)
    }

    @inline(__always)
    static func mix(_ a: Double, _ b: Double, _ factor: Double) -> UInt8 {
        UInt8(min(255, max(0, factor * a + (1 - factor) * b)))
    }

    /// pixel ← trunc(clamp(factor·pixel + (1 − factor)·other)), `other` given per pixel offset.
    static func blend(_ f: inout RGBFrame, factor: Double, other: (UnsafeBufferPointer<UInt8>, Int) -> Double) {
        f.pixels.withUnsafeMutableBufferPointer { mp in
            let p = UnsafeBufferPointer(mp)
            for i in stride(from: 0, to: p.count, by: 3) {
                let o = other(p, i)
                for c in 0..<3 { mp[i + c] = mix(Double(p[i + c]), o, factor) }
            }
        }
    }

    static func map(_ f: inout RGBFrame, _ g: (UInt8) -> UInt8) {
        f.pixels.withUnsafeMutableBufferPointer { p in
            for i in p.indices { p[i] = g(p[i]) }
        }
    }

    /// Applies a per-channel lookup table built from that channel's histogram (nil: unchanged).
    static func perChannel(_ f: inout RGBFrame, lut: ([Int]) -> [UInt8]?) {
        for c in 0..<3 {
            var hist = [Int](repeating: 0, count: 256)
            f.pixels.withUnsafeBufferPointer { p in
                for i in stride(from: c, to: p.count, by: 3) { hist[Int(p[i])] += 1 }
            }
            guard let table = lut(hist) else { continue }
            f.pixels.withUnsafeMutableBufferPointer { p in
                for i in stride(from: c, to: p.count, by: 3) { p[i] = table[Int(p[i])] }
            }
        }
    }

    /// torchvision adjust_sharpness: blend with the 3×3 smoothing ([1 1 1; 1 5 1; 1 1 1]/13,
    /// rounded; border pixels unchanged).
    static func sharpness(_ f: inout RGBFrame, factor: Double, scratch: inout [UInt8]) {
        let w = f.width, h = f.height
        guard w > 2 && h > 2 else { return }
        prepare(&scratch, count: f.pixels.count)
        f.pixels.withUnsafeBufferPointer { p in
            scratch.withUnsafeMutableBufferPointer { out in
                for i in p.indices { out[i] = p[i] }
                for y in 1..<(h - 1) {
                    for x in 1..<(w - 1) {
                        for c in 0..<3 {
                            var s = 0
                            for dy in -1...1 { for dx in -1...1 { s += Int(p[((y + dy) * w + x + dx) * 3 + c]) } }
                            s += 4 * Int(p[(y * w + x) * 3 + c])
                            let degenerate = (Double(s) / 13).rounded()
                            out[(y * w + x) * 3 + c] = mix(Double(p[(y * w + x) * 3 + c]), degenerate, factor)
                        }
                    }
                }
            }
        }
        swap(&f.pixels, &scratch)
    }

    /// Nearest-neighbour inverse warp: output pixel centre (x + ½, y + ½) reads the input pixel
    /// containing `source(x + ½, y + ½)`; outside the frame reads 0.
    static func warp(_ f: inout RGBFrame, scratch: inout [UInt8], source: (Double, Double) -> (Double, Double)) {
        let w = f.width, h = f.height
        prepare(&scratch, count: f.pixels.count)
        f.pixels.withUnsafeBufferPointer { p in
            scratch.withUnsafeMutableBufferPointer { out in
                for y in 0..<h {
                    for x in 0..<w {
                        let (sx, sy) = source(Double(x) + 0.5, Double(y) + 0.5)
                        let ix = Int(sx.rounded(.down)), iy = Int(sy.rounded(.down))
                        let o = (y * w + x) * 3
                        if ix >= 0 && ix < w && iy >= 0 && iy < h {
                            let i = (iy * w + ix) * 3
                            out[o] = p[i]; out[o + 1] = p[i + 1]; out[o + 2] = p[i + 2]
                        } else {
                            out[o] = 0; out[o + 1] = 0; out[o + 2] = 0
                        }
                    }
                }
            }
        }
        swap(&f.pixels, &scratch)
    }

    /// Makes `buffer` exactly `count` bytes, reusing its storage when it can.
    static func prepare(_ buffer: inout [UInt8], count: Int) {
        if buffer.count != count { buffer = [UInt8](repeating: 0, count: count) }
    }
}
