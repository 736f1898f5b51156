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
        func taps(_ n: Int, _ length: Int, _ origin: Int) -> ([Int], [Int], [Float]) {
            let scale = Double(length) / Double(n)
            var i0 = [Int](repeating: 0, count: n), i1 = i0, l = [Float](repeating: 0, count: n)
            for d in 0..<n {
                let s = max(0, (Double(d) + 0.5) * scale - 0.5)
                let a = min(Int(s), length - 1)
                i0[d] = origin + a; i1[d] = origin + min(a + 1, length - 1); l[d] = Float(s - Double(a))
            }
            return (i0, i1, l)
        }
        let (x0, x1, lx) = taps(w, rect.width, rect.x)
        let (y0, y1, ly) = taps(h, rect.height, rect.y)
        f.pixels.withUnsafeBufferPointer { src in
            scratch.withUnsafeMutableBufferPointer { dst in
                for y in 0..<h {
                    let rowA = y0[y] * w, rowB = y1[y] * w, fy = ly[y]
                    for x in 0..<w {
                        let a = (rowA + x0[x]) * 3, b = (rowA + x1[x]) * 3
                        let c = (rowB + x0[x]) * 3, d = (rowB + x1[x]) * 3
                        let fx = lx[x]
                        for ch in 0..<3 {
                            let top = Float(src[a + ch]) + (Float(src[b + ch]) - Float(src[a + ch])) * fx
                            let bottom = Float(src[c + ch]) + (Float(src[d + ch]) - Float(src[c + ch])) * fx
                            dst[(y * w + x) * 3 + ch] = UInt8(min(255, max(0, (top + (bottom - top) * fy).rounded())))
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
        case .brightness: blend(&f, factor: 1 + m, constant: 0)
        case .saturation: blendGrey(&f, factor: 1 + m)
        case .contrast:
            var total = 0.0
            f.pixels.withUnsafeBufferPointer { p in
                GreyTables.shared.withPointers { tr, tg, tb in
                    var q = p.baseAddress!
                    for _ in 0..<(p.count / 3) {
                        total += Double(UInt8(tr[Int(q[0])] + tg[Int(q[1])] + tb[Int(q[2])]))
                        q += 3
                    }
                }
            }
            blend(&f, factor: 1 + m, constant: Float(total / Double(f.width * f.height)))
        case .sharpness: sharpness(&f, factor: 1 + m, scratch: &scratch)
        case .posterize:
            let bits = max(0, min(8, Int(m)))
            let mask = UInt8(truncatingIfNeeded: 0xFF << (8 - bits))
            map(&f) { $0 & mask }
        case .solarize:
            // For a byte v, Double(v) ≥ m exactly when v ≥ ⌈m⌉; an integer compare vectorises.
            let t = m <= 0 ? 0 : Int(min(256, m.rounded(.up)))
            if t > 255 { return }
            let threshold = UInt8(t)
            map(&f) { $0 >= threshold ? 255 - $0 : $0 }
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
            rotate(&f, cos: c, sin: s, cx: cx, cy: cy, scratch: &scratch)
        case .shearX:
            // x_in = ⌊x + ½ + m(y + ½)⌋ = x + ⌊½ + m(y + ½)⌋: each row moves as a whole.
            shiftRows(&f, scratch: &scratch) { y in (y, Int((0.5 + m * (Double(y) + 0.5)).rounded(.down))) }
        case .shearY: shearY(&f, m: m, scratch: &scratch)
        case .translateX:
            let t = Int(m)
            shiftRows(&f, scratch: &scratch) { y in (y, -t) }
        case .translateY:
            let t = Int(m)
            shiftRows(&f, scratch: &scratch) { y in (y - t, 0) }
        }
    }

    /// trunc(clamp(factor·a + (1 − factor)·b)) in float32, as torchvision's _blend on uint8.
    @inline(__always)
    static func mix(_ a: Float, _ b: Float, _ factor: Float) -> UInt8 {
        UInt8(min(255, max(0, factor * a + (1 - factor) * b)))
    }

    /// Blend every channel with a constant (brightness: 0, contrast: the grey mean) via a table.
    static func blend(_ f: inout RGBFrame, factor: Double, constant: Float) {
        let k = Float(factor)
        map(&f, table: (0..<256).map { mix(Float($0), constant, k) })
    }

    /// mixTable(k)[b·256 + a] = mix(a, b, k): every blend of two bytes, so per-pixel blends become
    /// one lookup with the same result.
    static func mixTable(_ k: Float) -> [UInt8] {
        var t = [UInt8](repeating: 0, count: 65536)
        for b in 0..<256 { for a in 0..<256 { t[b * 256 + a] = mix(Float(a), Float(b), k) } }
        return t
    }

    /// Blend each pixel with its own grey value (saturation).
    static func blendGrey(_ f: inout RGBFrame, factor: Double) {
        let table = mixTable(Float(factor))
        f.pixels.withUnsafeMutableBufferPointer { mp in
            table.withUnsafeBufferPointer { tp in
                GreyTables.shared.withPointers { tr, tg, tb in
                    let t = tp.baseAddress!
                    var q = mp.baseAddress!
                    for _ in 0..<(mp.count / 3) {
                        let g = Int(UInt8(tr[Int(q[0])] + tg[Int(q[1])] + tb[Int(q[2])])) * 256
                        q[0] = t[g + Int(q[0])]; q[1] = t[g + Int(q[1])]; q[2] = t[g + Int(q[2])]
                        q += 3
                    }
                }
            }
        }
    }

    /// Replaces every byte v by g(v) (a simple g vectorises).
    @inline(__always)
    static func map(_ f: inout RGBFrame, _ g: (UInt8) -> UInt8) {
        f.pixels.withUnsafeMutableBufferPointer { p in
            for i in p.indices { p[i] = g(p[i]) }
        }
    }

    /// Replaces every byte v by table[v] (256 entries).
    static func map(_ f: inout RGBFrame, table: [UInt8]) {
        precondition(table.count == 256)
        f.pixels.withUnsafeMutableBufferPointer { p in
            table.withUnsafeBufferPointer { t in
                let tt = t.baseAddress!
                guard var q = p.baseAddress else { return }
                for _ in 0..<p.count { q.pointee = tt[Int(q.pointee)]; q += 1 }
            }
        }
    }

    /// Applies a per-channel lookup table built from that channel's histogram (nil: unchanged).
    static func perChannel(_ f: inout RGBFrame, lut: ([Int]) -> [UInt8]?) {
        var hist = [Int](repeating: 0, count: 768)
        f.pixels.withUnsafeBufferPointer { p in
            hist.withUnsafeMutableBufferPointer { hp in
                let h = hp.baseAddress!
                var q = p.baseAddress!
                for _ in 0..<(p.count / 3) {
                    h[Int(q[0])] += 1; h[256 + Int(q[1])] += 1; h[512 + Int(q[2])] += 1
                    q += 3
                }
            }
        }
        var tables = [UInt8](repeating: 0, count: 768)
        for c in 0..<3 {
            let table = lut(Array(hist[(c * 256)..<(c * 256 + 256)])) ?? (0..<256).map { UInt8($0) }
            for v in 0..<256 { tables[c * 256 + v] = table[v] }
        }
        f.pixels.withUnsafeMutableBufferPointer { p in
            tables.withUnsafeBufferPointer { tp in
                let t = tp.baseAddress!
                var q = p.baseAddress!
                for _ in 0..<(p.count / 3) {
                    q[0] = t[Int(q[0])]; q[1] = t[256 + Int(q[1])]; q[2] = t[512 + Int(q[2])]
                    q += 3
                }
            }
        }
    }

    /// torchvision adjust_sharpness: blend with the 3×3 smoothing ([1 1 1; 1 5 1; 1 1 1]/13,
    /// rounded; border pixels unchanged).
    static func sharpness(_ f: inout RGBFrame, factor: Double, scratch: inout [UInt8]) {
        let w = f.width, h = f.height
        guard w > 2 && h > 2 else { return }
        let table = mixTable(Float(factor))
        prepare(&scratch, count: f.pixels.count)
        f.pixels.withUnsafeBufferPointer { pb in
            scratch.withUnsafeMutableBufferPointer { ob in
                table.withUnsafeBufferPointer { tb in
                    let p = pb.baseAddress!, out = ob.baseAddress!, t = tb.baseAddress!
                    out.update(from: p, count: pb.count)
                    let row = w * 3
                    for y in 1..<(h - 1) {
                        let up = p + (y - 1) * row, mid = p + y * row, down = p + (y + 1) * row
                        let o = out + y * row
                        for i in 3..<(row - 3) {
                            var s = Int(up[i - 3]) + Int(up[i]) + Int(up[i + 3])
                            s += Int(mid[i - 3]) + 5 * Int(mid[i]) + Int(mid[i + 3])
                            s += Int(down[i - 3]) + Int(down[i]) + Int(down[i + 3])
                            // s/13 is never exactly x.5, so round-half-even equals ⌊(2s + 13)/26⌋.
                            o[i] = t[((2 * s + 13) / 26) * 256 + Int(mid[i])]
                        }
                    }
                }
            }
        }
        swap(&f.pixels, &scratch)
    }

    /// Row remap: output row y is input row src(y).0 shifted so output x reads input x + src(y).1;
    /// pixels from outside the frame are 0.
    static func shiftRows(_ f: inout RGBFrame, scratch: inout [UInt8], source: (Int) -> (Int, Int)) {
        let w = f.width, h = f.height
        prepare(&scratch, count: f.pixels.count)
        f.pixels.withUnsafeBufferPointer { p in
            scratch.withUnsafeMutableBufferPointer { out in
                for y in 0..<h {
                    let (sy, dx) = source(y)
                    let o = y * w * 3
                    guard sy >= 0 && sy < h else {
                        for i in 0..<(w * 3) { out[o + i] = 0 }
                        continue
                    }
                    let s = sy * w * 3
                    for x in 0..<w {
                        let sx = x + dx
                        if sx >= 0 && sx < w {
                            out[o + 3 * x] = p[s + 3 * sx]; out[o + 3 * x + 1] = p[s + 3 * sx + 1]; out[o + 3 * x + 2] = p[s + 3 * sx + 2]
                        } else {
                            out[o + 3 * x] = 0; out[o + 3 * x + 1] = 0; out[o + 3 * x + 2] = 0
                        }
                    }
                }
            }
        }
        swap(&f.pixels, &scratch)
    }

    /// y_in = y + ⌊½ + m(x + ½)⌋ (each column moves as a whole); outside reads 0.
    static func shearY(_ f: inout RGBFrame, m: Double, scratch: inout [UInt8]) {
        let w = f.width, h = f.height
        let shift = (0..<w).map { Int((0.5 + m * (Double($0) + 0.5)).rounded(.down)) }
        prepare(&scratch, count: f.pixels.count)
        f.pixels.withUnsafeBufferPointer { p in
            scratch.withUnsafeMutableBufferPointer { out in
                for y in 0..<h {
                    for x in 0..<w {
                        let sy = y + shift[x], o = (y * w + x) * 3
                        if sy >= 0 && sy < h {
                            let i = (sy * w + x) * 3
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

    /// Nearest-neighbour rotation about (cx, cy): output pixel centre (x + ½, y + ½) at offset
    /// (dx, dy) from the centre reads the input pixel containing (cx + c·dx − s·dy, cy + s·dx + c·dy);
    /// outside the frame reads 0.
    static func rotate(_ f: inout RGBFrame, cos c: Double, sin s: Double, cx: Double, cy: Double, scratch: inout [UInt8]) {
        let w = f.width, h = f.height
        prepare(&scratch, count: f.pixels.count)
        // Per-column terms cx + c·dx and cy + s·dx are tabulated: the same Doubles, added in the same order.
        let ax = (0..<w).map { cx + c * (Double($0) + 0.5 - cx) }
        let ay = (0..<w).map { cy + s * (Double($0) + 0.5 - cx) }
        f.pixels.withUnsafeBufferPointer { pb in
            scratch.withUnsafeMutableBufferPointer { ob in
                let p = pb.baseAddress!
                var o = ob.baseAddress!
                for y in 0..<h {
                    let dy = Double(y) + 0.5 - cy
                    let sdy = s * dy, cdy = c * dy
                    for x in 0..<w {
                        let ix = Int((ax[x] - sdy).rounded(.down)), iy = Int((ay[x] + cdy).rounded(.down))
                        if ix >= 0 && ix < w && iy >= 0 && iy < h {
                            let i = p + (iy * w + ix) * 3
                            o[0] = i[0]; o[1] = i[1]; o[2] = i[2]
                        } else {
                            o[0] = 0; o[1] = 0; o[2] = 0
                        }
                        o += 3
                    }
                }
            }
        }
        swap(&f.pixels, &scratch)
    }

    /// The three weighted channel terms of `grey`, tabulated (the same Doubles, summed in the same order).
    struct GreyTables: Sendable {
        static let shared = GreyTables()
        let r: [Double] = (0..<256).map { 0.2989 * Double($0) }
        let g: [Double] = (0..<256).map { 0.587 * Double($0) }
        let b: [Double] = (0..<256).map { 0.114 * Double($0) }

        func withPointers<T>(_ body: (UnsafePointer<Double>, UnsafePointer<Double>, UnsafePointer<Double>) -> T) -> T {
            r.withUnsafeBufferPointer { rp in g.withUnsafeBufferPointer { gp in b.withUnsafeBufferPointer { bp in
                body(rp.baseAddress!, gp.baseAddress!, bp.baseAddress!)
            } } }
        }
    }

    /// Makes `buffer` exactly `count` bytes, reusing its storage when it can.
    static func prepare(_ buffer: inout [UInt8], count: Int) {
        if buffer.count != count { buffer = [UInt8](repeating: 0, count: count) }
    }
}
