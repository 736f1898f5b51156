// Row copies of vol2col: one output row of the column matrix from one input row.
//
// Shapes: d [Wo] (one row of col: output columns ox = 0..<Wo), s the input row shifted to kernel
//         column kk (s[ox·sw] is the input element of output column ox); only ox in lo..<hi read
//         the input (the rest is padding and gets 0). Every helper reads exactly the input
//         elements it copies (never past s[(hi−1)·sw]), so rows at the end of a tensor are safe.
// Contiguous (sw = 1), stride-2 and stride-4 rows move eight floats per SIMD8 store; a row whose
// length is not a multiple of eight ends with one overlapping block (rewriting a few floats with the
// same values) instead of a scalar tail.

extension ConvKernels {
    /// d[0..<wo] = (lo ≤ ox < hi ? s[ox·sw] : 0).
    @inline(__always)
    static func fillRow(_ d: UnsafeMutablePointer<Float>, _ s: UnsafePointer<Float>, lo: Int, hi: Int, wo: Int, sw: Int) {
        var i = 0
        while i < lo { d[i] = 0; i &+= 1 }
        i = hi
        while i < wo { d[i] = 0; i &+= 1 }
        if hi <= lo { return }
        switch sw {
        case 1: copyRun(d + lo, s + lo, hi &- lo)
        case 2: gatherStride2(d, s, lo, hi)
        case 4: gatherStride4(d, s, lo, hi)
        default: for ox in lo..<hi { d[ox] = s[ox &* sw] }
        }
    }

    /// d[0..<n] = s[0..<n] (n ≥ 1).
    @inline(__always)
    static func copyRun(_ d: UnsafeMutablePointer<Float>, _ s: UnsafePointer<Float>, _ n: Int) {
        let src = UnsafeRawPointer(s), dst = UnsafeMutableRawPointer(d)
        if n >= 8 {
            var i = 0
            while i &+ 8 <= n {
                dst.storeBytes(of: src.loadUnaligned(fromByteOffset: 4 &* i, as: SIMD8<Float>.self), toByteOffset: 4 &* i,
                               as: SIMD8<Float>.self)
                i &+= 8
            }
            if i < n {
                let last = 4 &* (n &- 8)
                dst.storeBytes(of: src.loadUnaligned(fromByteOffset: last, as: SIMD8<Float>.self), toByteOffset: last,
                               as: SIMD8<Float>.self)
            }
        } else if n >= 4 {
            let last = 4 &* (n &- 4)
            let a = src.loadUnaligned(as: SIMD4<Float>.self), b = src.loadUnaligned(fromByteOffset: last, as: SIMD4<Float>.self)
            dst.storeBytes(of: a, as: SIMD4<Float>.self)
            dst.storeBytes(of: b, toByteOffset: last, as: SIMD4<Float>.self)
        } else {
            var i = 0
            while i < n { d[i] = s[i]; i &+= 1 }
        }
    }

    /// s[2·i] for i in 0..<8, reading exactly s[0 ... 14] (`byte` is the byte offset of s[0]).
    @inline(__always)
    static func even8(_ s: UnsafeRawPointer, _ byte: Int) -> SIMD8<Float> {
        let a = s.loadUnaligned(fromByteOffset: byte, as: SIMD8<Float>.self)        // s[0 ..< 8]
        let b = s.loadUnaligned(fromByteOffset: byte &+ 28, as: SIMD8<Float>.self)  // s[7 ..< 15]
        return SIMD8(lowHalf: a.evenHalf, highHalf: b.oddHalf)
    }

    /// s[4·i] for i in 0..<8, reading exactly s[0 ... 28] (`byte` is the byte offset of s[0]).
    @inline(__always)
    static func fourth8(_ s: UnsafeRawPointer, _ byte: Int) -> SIMD8<Float> {
        let a = s.loadUnaligned(fromByteOffset: byte, as: SIMD8<Float>.self)        // s[0 ..< 8]: lanes 0, 4
        let b = s.loadUnaligned(fromByteOffset: byte &+ 32, as: SIMD8<Float>.self)  // s[8 ..< 16]
        let c = s.loadUnaligned(fromByteOffset: byte &+ 64, as: SIMD8<Float>.self)  // s[16 ..< 24]
        let e = s.loadUnaligned(fromByteOffset: byte &+ 84, as: SIMD8<Float>.self)  // s[21 ..< 29]: lanes 3, 7
        return SIMD8(lowHalf: SIMD4(lowHalf: a.evenHalf.evenHalf, highHalf: b.evenHalf.evenHalf),
                     highHalf: SIMD4(lowHalf: c.evenHalf.evenHalf, highHalf: e.oddHalf.oddHalf))
    }

    /// d[ox] = s[2·ox] for ox in lo..<hi (hi > lo).
    @inline(__always)
    static func gatherStride2(_ d: UnsafeMutablePointer<Float>, _ s: UnsafePointer<Float>, _ lo: Int, _ hi: Int) {
        let src = UnsafeRawPointer(s), dst = UnsafeMutableRawPointer(d)
        if hi &- lo < 8 {
            var ox = lo
            while ox < hi { d[ox] = s[2 &* ox]; ox &+= 1 }
            return
        }
        var ox = lo
        while ox &+ 8 <= hi {
            dst.storeBytes(of: even8(src, 8 &* ox), toByteOffset: 4 &* ox, as: SIMD8<Float>.self)
            ox &+= 8
        }
        if ox < hi { dst.storeBytes(of: even8(src, 8 &* (hi &- 8)), toByteOffset: 4 &* (hi &- 8), as: SIMD8<Float>.self) }
    }

    /// d[ox] = s[4·ox] for ox in lo..<hi (hi > lo): the gather of patchify convolutions such as
    /// fragnet's stem.
    @inline(__always)
    static func gatherStride4(_ d: UnsafeMutablePointer<Float>, _ s: UnsafePointer<Float>, _ lo: Int, _ hi: Int) {
        let src = UnsafeRawPointer(s), dst = UnsafeMutableRawPointer(d)
        if hi &- lo < 8 {
            var ox = lo
            while ox < hi { d[ox] = s[4 &* ox]; ox &+= 1 }
            return
        }
        var ox = lo
        while ox &+ 8 <= hi {
            dst.storeBytes(of: fourth8(src, 16 &* ox), toByteOffset: 4 &* ox, as: SIMD8<Float>.self)
            ox &+= 8
        }
        if ox < hi { dst.storeBytes(of: fourth8(src, 16 &* (hi &- 8)), toByteOffset: 4 &* (hi &- 8), as: SIMD8<Float>.self) }
    }
}
