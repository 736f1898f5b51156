// Strided iteration shared by broadcasting, permutes, slices, concatenation and reductions.
//
// Shapes: an iteration space is a list of dims (outermost first) plus, for each of up to three
// operands, its element strides over those dims (0 = broadcast or reduced). Dims of size 1 are
// dropped and adjacent dims that are contiguous in every operand are merged, so most iterations
// become `rows × inner` with one long contiguous (vectorisable) inner loop.

/// Internal namespace for the Engine's elementwise, strided and reduction kernels.
enum Kernels {}

/// Row-major strides of a dense tensor of `shape`.
func contiguousStrides(_ shape: [Int]) -> [Int] {
    var s = [Int](repeating: 1, count: shape.count)
    var acc = 1
    for k in stride(from: shape.count - 1, through: 0, by: -1) { s[k] = acc; acc *= shape[k] }
    return s
}

/// Normalises a possibly negative axis for a tensor of rank `rank`.
func normalizedAxis(_ axis: Int, rank: Int, _ op: String) -> Int {
    let a = axis < 0 ? axis + rank : axis
    precondition(a >= 0 && a < rank, "\(op): axis \(axis) out of range for rank \(rank) (valid -\(rank)..<\(rank))")
    return a
}

/// An iteration space over up to three operands after merging contiguous dims.
struct StridedLayout {
    /// Outer dims (all but the innermost), outermost first.
    private(set) var outer: [Int] = []
    private(set) var os0: [Int] = [], os1: [Int] = [], os2: [Int] = []
    /// Length of the innermost (merged) dim and each operand's stride along it.
    private(set) var inner = 1
    private(set) var is0 = 0, is1 = 0, is2 = 0
    /// Product of the outer dims.
    private(set) var rows = 1

    init(dims: [Int], _ s0: [Int], _ s1: [Int]? = nil, _ s2: [Int]? = nil) {
        let t1 = s1 ?? [Int](repeating: 0, count: dims.count), t2 = s2 ?? [Int](repeating: 0, count: dims.count)
        precondition(s0.count == dims.count && t1.count == dims.count && t2.count == dims.count,
                     "StridedLayout: stride ranks differ from dims \(dims)")
        var d: [Int] = [], a: [Int] = [], b: [Int] = [], c: [Int] = []
        for k in 0..<dims.count where dims[k] != 1 {
            if let last = d.last, a.last! == s0[k] * dims[k], b.last! == t1[k] * dims[k], c.last! == t2[k] * dims[k] {
                d[d.count - 1] = last * dims[k]
                a[a.count - 1] = s0[k]; b[b.count - 1] = t1[k]; c[c.count - 1] = t2[k]
            } else {
                d.append(dims[k]); a.append(s0[k]); b.append(t1[k]); c.append(t2[k])
            }
        }
        if d.isEmpty { d = [1]; a = [0]; b = [0]; c = [0] }
        inner = d.removeLast(); is0 = a.removeLast(); is1 = b.removeLast(); is2 = c.removeLast()
        outer = d; os0 = a; os1 = b; os2 = c
        rows = outer.reduce(1, *)
    }

    /// Element offsets of the three operands at the start of outer row `row`.
    @inline(__always)
    func offsets(row: Int) -> (Int, Int, Int) {
        var r = row, o0 = 0, o1 = 0, o2 = 0
        var k = outer.count - 1
        while k >= 0 {
            let d = outer[k], i = r % d
            r /= d
            o0 += i * os0[k]; o1 += i * os1[k]; o2 += i * os2[k]
            k -= 1
        }
        return (o0, o1, o2)
    }
}

extension Compute {
    /// Runs `body(row, lo, hi)` over `rows` rows of `inner` elements, splitting long rows into
    /// segments when there are too few rows to keep every thread busy.
    func forEachRowSegment(rows: Int, inner: Int, _ body: (_ row: Int, _ lo: Int, _ hi: Int) -> Void) {
        guard rows > 0, inner > 0 else { return }
        var segs = 1
        if threads > 1 && rows < 4 * threads && inner >= 8192 {
            segs = max(1, min(inner / 4096, (4 * threads + rows - 1) / rows))
        }
        let grain = max(1, 16_384 / max(inner / segs, 1))
        forEachChunk(rows * segs, grain: grain) { range in
            for item in range {
                let row = item / segs, s = item % segs
                body(row, inner * s / segs, inner * (s + 1) / segs)
            }
        }
    }
}

extension Kernels {
    /// dst[i] (+)= src[i] over a strided iteration space: permutes, slices, concat, roll.
    static func copy(dims: [Int], dst: UnsafeMutablePointer<Float>, dstStrides: [Int],
                     src: UnsafePointer<Float>, srcStrides: [Int], accumulate: Bool, compute: Compute) {
        if dims.contains(0) { return }
        let l = StridedLayout(dims: dims, dstStrides, srcStrides)
        let sd = l.is0, ss = l.is1
        compute.forEachRowSegment(rows: l.rows, inner: l.inner) { row, lo, hi in
            let (od, os, _) = l.offsets(row: row)
            let d = dst + od + lo * sd, s = src + os + lo * ss, n = hi - lo
            if sd == 1 && ss == 1 {
                if accumulate { for i in 0..<n { d[i] += s[i] } } else { d.update(from: s, count: n) }
            } else if accumulate {
                for i in 0..<n { d[i * sd] += s[i * ss] }
            } else {
                for i in 0..<n { d[i * sd] = s[i * ss] }
            }
        }
    }

    /// dst[i] += alpha · src[i] over dense buffers of `count` floats.
    static func axpy(_ count: Int, alpha: Float = 1, _ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>,
                     compute: Compute) {
        compute.forEachChunk(count) { r in
            let s = src + r.lowerBound, d = dst + r.lowerBound
            if alpha == 1 { for i in 0..<r.count { d[i] += s[i] } } else { for i in 0..<r.count { d[i] += alpha * s[i] } }
        }
    }

    /// Σ p[0..<n] with SIMD float partials folded into a Double every 1024 elements.
    @inline(__always)
    static func sum(_ p: UnsafePointer<Float>, _ n: Int) -> Double {
        var total = 0.0, acc = SIMD8<Float>(), i = 0
        let raw = UnsafeRawPointer(p)
        while i + 8 <= n {
            acc += raw.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
            i += 8
            if i & 1023 == 0 { total += Double(acc.sum()); acc = .zero }
        }
        total += Double(acc.sum())
        while i < n { total += Double(p[i]); i += 1 }
        return total
    }

    /// Σ (p[i] − mean)² over n elements (second pass of a two-pass variance).
    @inline(__always)
    static func sumSquaredDeviation(_ p: UnsafePointer<Float>, _ n: Int, mean: Float) -> Double {
        var total = 0.0, acc = SIMD8<Float>(), i = 0
        let raw = UnsafeRawPointer(p), m = SIMD8<Float>(repeating: mean)
        while i + 8 <= n {
            let d = raw.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self) - m
            acc += d * d
            i += 8
            if i & 1023 == 0 { total += Double(acc.sum()); acc = .zero }
        }
        total += Double(acc.sum())
        while i < n { let d = Double(p[i] - mean); total += d * d; i += 1 }
        return total
    }

    /// Σ a[i]·b[i] over n elements.
    @inline(__always)
    static func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Double {
        var total = 0.0, acc = SIMD8<Float>(), i = 0
        let ra = UnsafeRawPointer(a), rb = UnsafeRawPointer(b)
        while i + 8 <= n {
            acc += ra.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
                * rb.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
            i += 8
            if i & 1023 == 0 { total += Double(acc.sum()); acc = .zero }
        }
        total += Double(acc.sum())
        while i < n { total += Double(a[i] * b[i]); i += 1 }
        return total
    }

    /// Σ g[i]·(x[i] − mean) over n elements, centred before multiplying (no cancellation).
    @inline(__always)
    static func dotCentered(_ g: UnsafePointer<Float>, _ x: UnsafePointer<Float>, _ n: Int, mean: Float) -> Double {
        var total = 0.0, acc = SIMD8<Float>(), i = 0
        let rg = UnsafeRawPointer(g), rx = UnsafeRawPointer(x), m = SIMD8<Float>(repeating: mean)
        while i + 8 <= n {
            acc += rg.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
                * (rx.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self) - m)
            i += 8
            if i & 1023 == 0 { total += Double(acc.sum()); acc = .zero }
        }
        total += Double(acc.sum())
        while i < n { total += Double(g[i] * (x[i] - mean)); i += 1 }
        return total
    }

    /// (Σ g[i]·w[i], Σ g[i]·w[i]·(x[i] − mean)) over n elements (layer-norm backward).
    @inline(__always)
    static func weightedSums(_ g: UnsafePointer<Float>, _ w: UnsafePointer<Float>, _ x: UnsafePointer<Float>, _ n: Int,
                             mean: Float) -> (Double, Double) {
        var t1 = 0.0, t2 = 0.0, a1 = SIMD8<Float>(), a2 = SIMD8<Float>(), i = 0
        let rg = UnsafeRawPointer(g), rw = UnsafeRawPointer(w), rx = UnsafeRawPointer(x), m = SIMD8<Float>(repeating: mean)
        while i + 8 <= n {
            let gw = rg.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
                * rw.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
            a1 += gw
            a2 += gw * (rx.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self) - m)
            i += 8
            if i & 1023 == 0 { t1 += Double(a1.sum()); t2 += Double(a2.sum()); a1 = .zero; a2 = .zero }
        }
        t1 += Double(a1.sum()); t2 += Double(a2.sum())
        while i < n { let gw = g[i] * w[i]; t1 += Double(gw); t2 += Double(gw * (x[i] - mean)); i += 1 }
        return (t1, t2)
    }

    /// dst (+)= alpha · Σ src over the dims where `dstStrides` is 0. `src` is dense over `dims`;
    /// `dstStrides` are the destination's strides over the same dims (0 on reduced dims).
    /// The result does not depend on the thread count.
    static func reduceSum(_ src: UnsafePointer<Float>, dims: [Int], dst: UnsafeMutablePointer<Float>,
                          dstStrides: [Int], alpha: Float, compute: Compute) {
        if dims.contains(0) { return }
        let l = StridedLayout(dims: dims, contiguousStrides(dims), dstStrides)
        var kd: [Int] = [], ks: [Int] = [], kt: [Int] = [], rd: [Int] = [], rs: [Int] = []
        for k in 0..<l.outer.count {
            if l.os1[k] != 0 { kd.append(l.outer[k]); ks.append(l.os0[k]); kt.append(l.os1[k]) }
            else { rd.append(l.outer[k]); rs.append(l.os0[k]) }
        }
        let keptRows = kd.reduce(1, *), reducedRows = rd.reduce(1, *), inner = l.inner
        @inline(__always) func keptOffsets(_ row: Int) -> (Int, Int) {
            var r = row, s = 0, t = 0, k = kd.count - 1
            while k >= 0 { let i = r % kd[k]; r /= kd[k]; s += i * ks[k]; t += i * kt[k]; k -= 1 }
            return (s, t)
        }
        @inline(__always) func reducedOffset(_ row: Int) -> Int {
            var r = row, s = 0, k = rd.count - 1
            while k >= 0 { let i = r % rd[k]; r /= rd[k]; s += i * rs[k]; k -= 1 }
            return s
        }
        if l.is1 != 0 {  // innermost dim kept: add whole rows into the destination row
            let dstride = l.is1
            compute.forEachRowSegment(rows: keptRows, inner: inner) { row, lo, hi in
                let (so, dO) = keptOffsets(row)
                let d = dst + dO + lo * dstride, n = hi - lo
                for r in 0..<reducedRows {
                    let s = src + so + reducedOffset(r) + lo
                    if dstride == 1 { for i in 0..<n { d[i] += alpha * s[i] } }
                    else { for i in 0..<n { d[i * dstride] += alpha * s[i] } }
                }
            }
        } else if keptRows == 1 {  // everything reduced: src is one contiguous run
            let n = reducedRows * inner
            let part = max(65_536, (n + 4095) / 4096)
            let parts = (n + part - 1) / part
            let total = withUnsafeTemporaryAllocation(of: Double.self, capacity: parts) { partial -> Double in
                compute.forEach(parts) { p in
                    let lo = p * part
                    partial[p] = sum(src + lo, min(n, lo + part) - lo)
                }
                var t = 0.0
                for p in 0..<parts { t += partial[p] }
                return t
            }
            dst[0] += alpha * Float(total)
        } else {  // innermost dim reduced: one Double sum per destination element
            compute.forEachChunk(keptRows, grain: max(1, 16_384 / max(1, reducedRows * inner))) { range in
                for row in range {
                    let (so, dO) = keptOffsets(row)
                    var t = 0.0
                    for r in 0..<reducedRows { t += sum(src + so + reducedOffset(r), inner) }
                    dst[dO] += alpha * Float(t)
                }
            }
        }
    }
}
