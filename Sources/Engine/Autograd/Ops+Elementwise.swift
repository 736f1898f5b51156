// Elementwise arithmetic with NumPy broadcasting, and unary math ops.
//
// Shapes: a [A...], b [B...] → y [broadcast(A, B)] (shapes aligned on the right; a dim of 1
//         stretches). Equal shapes (residual adds) take a flat, vectorised path; a per-channel
//         [C] against [N, C, ...] is a reshape to [C, 1, ...] by the caller.
//         Unary ops: x [S...] → y [S...].

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A binary elementwise function; generic kernels specialise on it (no closures per element).
protocol BinaryKernel {
    func callAsFunction(_ a: Float, _ b: Float) -> Float
}

struct AddKernel: BinaryKernel { @inline(__always) func callAsFunction(_ a: Float, _ b: Float) -> Float { a + b } }
struct SubKernel: BinaryKernel { @inline(__always) func callAsFunction(_ a: Float, _ b: Float) -> Float { a - b } }
struct MulKernel: BinaryKernel { @inline(__always) func callAsFunction(_ a: Float, _ b: Float) -> Float { a * b } }
struct DivKernel: BinaryKernel { @inline(__always) func callAsFunction(_ a: Float, _ b: Float) -> Float { a / b } }
/// a + s·b (gradient accumulation of broadcast operands).
struct AxpyKernel: BinaryKernel {
    let s: Float
    @inline(__always) func callAsFunction(_ a: Float, _ b: Float) -> Float { a + s * b }
}

enum BinaryOp { case add, sub, mul, div }

extension Kernels {
    /// out = k(a, b), or out += k(a, b) with `accumulate`, over a layout whose operands are
    /// (out, a, b); `out` may equal `a`.
    static func binary<K: BinaryKernel>(_ k: K, _ l: StridedLayout, out: UnsafeMutablePointer<Float>,
                                        a: UnsafePointer<Float>, b: UnsafePointer<Float>, accumulate: Bool = false,
                                        compute: Compute) {
        let so = l.is0, sa = l.is1, sb = l.is2
        compute.forEachRowSegment(rows: l.rows, inner: l.inner) { row, lo, hi in
            let (oo, ao, bo) = l.offsets(row: row)
            let o = out + oo + lo * so, pa = a + ao + lo * sa, pb = b + bo + lo * sb, n = hi - lo
            if so == 1 && sa == 1 && sb == 1 {
                if accumulate { for i in 0..<n { o[i] += k(pa[i], pb[i]) } } else { for i in 0..<n { o[i] = k(pa[i], pb[i]) } }
            } else if so == 1 && sa == 1 && sb == 0 {
                let v = pb[0]
                if accumulate { for i in 0..<n { o[i] += k(pa[i], v) } } else { for i in 0..<n { o[i] = k(pa[i], v) } }
            } else if so == 1 && sa == 0 && sb == 1 {
                let v = pa[0]
                if accumulate { for i in 0..<n { o[i] += k(v, pb[i]) } } else { for i in 0..<n { o[i] = k(v, pb[i]) } }
            } else if accumulate {
                for i in 0..<n { o[i * so] += k(pa[i * sa], pb[i * sb]) }
            } else {
                for i in 0..<n { o[i * so] = k(pa[i * sa], pb[i * sb]) }
            }
        }
    }

    /// out = k(a, b) for dense buffers of `count` floats.
    static func binaryFlat<K: BinaryKernel>(_ k: K, _ count: Int, out: UnsafeMutablePointer<Float>,
                                            a: UnsafePointer<Float>, b: UnsafePointer<Float>, compute: Compute) {
        compute.forEachChunk(count) { r in
            let o = out + r.lowerBound, pa = a + r.lowerBound, pb = b + r.lowerBound
            for i in 0..<r.count { o[i] = k(pa[i], pb[i]) }
        }
    }
}

/// NumPy broadcast of two shapes, or a precondition failure naming both.
func broadcastShape(_ a: [Int], _ b: [Int], _ op: String) -> [Int] {
    let r = max(a.count, b.count)
    var out = [Int](repeating: 1, count: r)
    for k in 0..<r {
        let da = k < r - a.count ? 1 : a[k - (r - a.count)]
        let db = k < r - b.count ? 1 : b[k - (r - b.count)]
        precondition(da == db || da == 1 || db == 1,
                     "\(op): shapes \(a) and \(b) do not broadcast (dim \(k): \(da) vs \(db)); reshape one operand")
        out[k] = da == 1 ? db : da
    }
    return out
}

/// Strides of a dense tensor of `shape` over the dims of `out` (0 where it is broadcast).
func broadcastStrides(_ shape: [Int], to out: [Int]) -> [Int] {
    let own = contiguousStrides(shape), pad = out.count - shape.count
    return (0..<out.count).map { k in k < pad || shape[k - pad] == 1 ? 0 : own[k - pad] }
}

extension Tape {
    /// a + b with NumPy broadcasting (torch.add).
    public func add(_ a: Var, _ b: Var) -> Var { binaryOp(.add, a, b) }
    /// a − b with NumPy broadcasting (torch.sub).
    func sub(_ a: Var, _ b: Var) -> Var { binaryOp(.sub, a, b) }
    /// a · b elementwise with NumPy broadcasting (torch.mul).
    public func mul(_ a: Var, _ b: Var) -> Var { binaryOp(.mul, a, b) }
    /// a / b elementwise with NumPy broadcasting (torch.div).
    func div(_ a: Var, _ b: Var) -> Var { binaryOp(.div, a, b) }

    private func binaryOp(_ op: BinaryOp, _ a: Var, _ b: Var) -> Var {
        let sa = shape(a), sb = shape(b)
        let os = sa == sb ? sa : broadcastShape(sa, sb, "\(op)")
        let (y, yp) = output(shape: os, needsGrad: anyNeedsGrad(a, b))
        let n = count(y), ap = value(a), bp = value(b), c = compute
        if n == 0 { return y }
        let flat = sa == sb
        let layout = flat ? nil : StridedLayout(dims: os, contiguousStrides(os), broadcastStrides(sa, to: os),
                                                broadcastStrides(sb, to: os))
        func run<K: BinaryKernel>(_ k: K) {
            if let l = layout { Kernels.binary(k, l, out: yp, a: ap, b: bp, compute: c) }
            else { Kernels.binaryFlat(k, n, out: yp, a: ap, b: bp, compute: c) }
        }
        switch op {
        case .add: run(AddKernel())
        case .sub: run(SubKernel())
        case .mul: run(MulKernel())
        case .div: run(DivKernel())
        }
        setBackward(y) { t in
            let gy = t.grad(y)
            // Gradient of one operand: dL/dy (times a factor) reduced over its broadcast dims.
            func accumulate(_ v: Var, _ vs: [Int], sign: Float, factor: ((UnsafeMutablePointer<Float>) -> Void)?) {
                guard t.needsGrad(v) else { return }
                let gv = t.grad(v)
                var src = UnsafePointer(gy)
                if let f = factor { let tmp = t.scratch(n); f(tmp); src = UnsafePointer(tmp) }
                if vs == os { Kernels.axpy(n, alpha: sign, src, gv, compute: c) }
                else { Kernels.reduceSum(src, dims: os, dst: gv, dstStrides: broadcastStrides(vs, to: os), alpha: sign, compute: c) }
            }
            // dv += gy ∘ other (or gy / other) in one pass when v has the output's shape.
            func accumulateDirect<K: BinaryKernel>(_ v: Var, _ k: K, _ other: UnsafePointer<Float>, _ otherShape: [Int]) -> Bool {
                guard t.needsGrad(v), t.shape(v) == os else { return false }
                let l = StridedLayout(dims: os, contiguousStrides(os), contiguousStrides(os), broadcastStrides(otherShape, to: os))
                Kernels.binary(k, l, out: t.grad(v), a: gy, b: other, accumulate: true, compute: c)
                return true
            }
            // tmp = gy ∘ other, with `other` broadcast to the output shape.
            func times(_ other: UnsafePointer<Float>, _ otherShape: [Int]) -> (UnsafeMutablePointer<Float>) -> Void {
                { tmp in
                    if otherShape == os { Kernels.binaryFlat(MulKernel(), n, out: tmp, a: gy, b: other, compute: c) }
                    else {
                        let l = StridedLayout(dims: os, contiguousStrides(os), contiguousStrides(os), broadcastStrides(otherShape, to: os))
                        Kernels.binary(MulKernel(), l, out: tmp, a: gy, b: other, compute: c)
                    }
                }
            }
            switch op {
            case .add:
                accumulate(a, sa, sign: 1, factor: nil); accumulate(b, sb, sign: 1, factor: nil)
            case .sub:
                accumulate(a, sa, sign: 1, factor: nil); accumulate(b, sb, sign: -1, factor: nil)
            case .mul:
                if !accumulateDirect(a, MulKernel(), bp, sb) { accumulate(a, sa, sign: 1, factor: times(bp, sb)) }
                if !accumulateDirect(b, MulKernel(), ap, sa) { accumulate(b, sb, sign: 1, factor: times(ap, sa)) }
            case .div:
                // d/da = gy / b; d/db = −gy · a / b² = −(gy · y) / b.
                if !accumulateDirect(a, DivKernel(), bp, sb) {
                    accumulate(a, sa, sign: 1, factor: { tmp in
                        let l = StridedLayout(dims: os, contiguousStrides(os), contiguousStrides(os), broadcastStrides(sb, to: os))
                        Kernels.binary(DivKernel(), l, out: tmp, a: gy, b: bp, compute: c)
                    })
                }
                accumulate(b, sb, sign: -1, factor: { tmp in
                    Kernels.binaryFlat(MulKernel(), n, out: tmp, a: gy, b: yp, compute: c)
                    if sb == os { Kernels.binaryFlat(DivKernel(), n, out: tmp, a: tmp, b: bp, compute: c) }
                    else {
                        let l = StridedLayout(dims: os, contiguousStrides(os), contiguousStrides(os), broadcastStrides(sb, to: os))
                        Kernels.binary(DivKernel(), l, out: tmp, a: tmp, b: bp, compute: c)
                    }
                })
            }
        }
        return y
    }

    /// x + s.
    func addScalar(_ x: Var, _ s: Float) -> Var { unary(x, AddScalarKernel(s: s)) }
    /// x · s.
    func mulScalar(_ x: Var, _ s: Float) -> Var { unary(x, MulScalarKernel(s: s)) }
    /// −x.
    func neg(_ x: Var) -> Var { unary(x, MulScalarKernel(s: -1)) }
    /// x².
    func square(_ x: Var) -> Var { unary(x, SquareKernel()) }
    /// √x (gradient 1/(2√x); infinite at 0 as in PyTorch).
    func sqrt(_ x: Var) -> Var { unary(x, SqrtKernel()) }
    /// eˣ.
    public func exp(_ x: Var) -> Var { unary(x, ExpKernel()) }
    /// Natural logarithm.
    public func log(_ x: Var) -> Var { unary(x, LogKernel()) }

    /// Applies a unary kernel: y = f(x), dx += dy · f′(x, y).
    func unary<K: UnaryKernel>(_ x: Var, _ k: K) -> Var {
        let (y, yp) = output(shape: shape(x), needsGrad: anyNeedsGrad(x))
        let n = count(x), xp = value(x), c = compute
        let grain = K.expensive ? 4096 : 16_384
        c.forEachChunk(n, grain: grain) { r in
            let px = xp + r.lowerBound, py = yp + r.lowerBound
            for i in 0..<r.count { py[i] = k.f(px[i]) }
        }
        setBackward(y) { t in
            guard t.needsGrad(x) else { return }
            let gx = t.grad(x), gy = t.grad(y)
            c.forEachChunk(n, grain: grain) { r in
                let o = r.lowerBound
                let px = xp + o, py = yp + o, pg = gy + o, pd = gx + o
                for i in 0..<r.count { pd[i] += pg[i] * k.df(px[i], py[i]) }
            }
        }
        return y
    }
}

/// A unary elementwise function and its derivative given input and output. Implementations
/// are branch-free scalar code so that the loops in `unary` auto-vectorise.
protocol UnaryKernel {
    /// Whether f is transcendental (smaller parallel grain).
    static var expensive: Bool { get }
    func f(_ x: Float) -> Float
    func df(_ x: Float, _ y: Float) -> Float
}

struct AddScalarKernel: UnaryKernel {
    let s: Float
    static var expensive: Bool { false }
    @inline(__always) func f(_ x: Float) -> Float { x + s }
    @inline(__always) func df(_ x: Float, _ y: Float) -> Float { 1 }
}

struct MulScalarKernel: UnaryKernel {
    let s: Float
    static var expensive: Bool { false }
    @inline(__always) func f(_ x: Float) -> Float { x * s }
    @inline(__always) func df(_ x: Float, _ y: Float) -> Float { s }
}

struct SquareKernel: UnaryKernel {
    static var expensive: Bool { false }
    @inline(__always) func f(_ x: Float) -> Float { x * x }
    @inline(__always) func df(_ x: Float, _ y: Float) -> Float { 2 * x }
}

struct SqrtKernel: UnaryKernel {
    static var expensive: Bool { false }
    @inline(__always) func f(_ x: Float) -> Float { x.squareRoot() }
    @inline(__always) func df(_ x: Float, _ y: Float) -> Float { 0.5 / y }
}

struct ExpKernel: UnaryKernel {
    static var expensive: Bool { true }
    /// The vector-friendly exp below 88, libm above (up to overflow at 88.72).
    @inline(__always) func f(_ x: Float) -> Float { x > Kernels.expMaxInput ? expf(x) : Kernels.exp(x) }
    @inline(__always) func df(_ x: Float, _ y: Float) -> Float { y }
}

struct LogKernel: UnaryKernel {
    static var expensive: Bool { true }
    @inline(__always) func f(_ x: Float) -> Float { logf(x) }
    @inline(__always) func df(_ x: Float, _ y: Float) -> Float { 1 / x }
}
