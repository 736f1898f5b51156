// Activations, softmax and dropout.
//
// Shapes: x [S...] → y [S...]. softmax normalises along one axis: x viewed as [O, L, I] with L
//         the softmax axis (I = 1 for the last axis, the attention case).

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Exact GELU as nn.GELU(): x·Φ(x) = 0.5·x·(1 + erf(x/√2)).
struct GeluKernel: UnaryKernel {
    static var expensive: Bool { true }
    @inline(__always) func f(_ x: Float) -> Float { x * Kernels.normalCDF(x) }
    /// Φ(x) + x·φ(x) with φ the standard normal density.
    @inline(__always) func df(_ x: Float, _ y: Float) -> Float {
        Kernels.normalCDF(x) + x * 0.398_942_280_401_432_7 * Kernels.exp(-0.5 * x * x)
    }
}

struct ReluKernel: UnaryKernel {
    static var expensive: Bool { false }
    @inline(__always) func f(_ x: Float) -> Float { x > 0 ? x : 0 }
    /// PyTorch's threshold_backward: gradient passes where the output is positive.
    @inline(__always) func df(_ x: Float, _ y: Float) -> Float { y > 0 ? 1 : 0 }
}

struct SigmoidKernel: UnaryKernel {
    static var expensive: Bool { true }
    @inline(__always) func f(_ x: Float) -> Float { 1 / (1 + Kernels.exp(-x)) }
    @inline(__always) func df(_ x: Float, _ y: Float) -> Float { y * (1 - y) }
}

struct TanhKernel: UnaryKernel {
    static var expensive: Bool { true }
    @inline(__always) func f(_ x: Float) -> Float { tanhf(x) }
    @inline(__always) func df(_ x: Float, _ y: Float) -> Float { 1 - y * y }
}

extension Tape {
    /// Exact (erf-based) GELU, as PyTorch's nn.GELU().
    func gelu(_ x: Var) -> Var { unary(x, GeluKernel()) }
    /// max(x, 0).
    func relu(_ x: Var) -> Var { unary(x, ReluKernel()) }
    /// 1 / (1 + e⁻ˣ).
    func sigmoid(_ x: Var) -> Var { unary(x, SigmoidKernel()) }
    /// Hyperbolic tangent.
    func tanh(_ x: Var) -> Var { unary(x, TanhKernel()) }

    /// Softmax along `axis` (default last), max-subtracted for numerical stability.
    func softmax(_ x: Var, axis: Int = -1) -> Var {
        let s = shape(x)
        let ax = normalizedAxis(axis, rank: s.count, "softmax")
        let len = s[ax], outer = s[..<ax].reduce(1, *), inner = s[(ax + 1)...].reduce(1, *)
        let (y, yp) = output(shape: s, needsGrad: anyNeedsGrad(x))
        let xp = value(x), c = compute
        if count(x) == 0 { return y }
        // One softmax per (o, i) over L elements at stride `inner`.
        let lines = outer * inner
        c.forEachChunk(lines, grain: max(1, 4096 / max(len, 1))) { range in
            for line in range {
                let base = (line / inner) * len * inner + line % inner
                let px = xp + base, py = yp + base
                if inner == 1 {
                    Kernels.softmaxRow(px, into: py, len)
                } else {
                    var m = -Float.infinity
                    for j in 0..<len { m = max(m, px[j * inner]) }
                    if m == -.infinity { m = 0 }
                    var total = 0.0
                    for j in 0..<len { let e = Kernels.exp(px[j * inner] - m); py[j * inner] = e; total += Double(e) }
                    let r = Float(1 / total)
                    for j in 0..<len { py[j * inner] *= r }
                }
            }
        }
        setBackward(y) { t in
            guard t.needsGrad(x) else { return }
            let gx = t.grad(x), gy = t.grad(y)
            // dx = y ∘ (dy − Σ dy·y) per softmax line.
            c.forEachChunk(lines, grain: max(1, 4096 / max(len, 1))) { range in
                for line in range {
                    let base = (line / inner) * len * inner + line % inner
                    let py = yp + base, pg = gy + base, pd = gx + base
                    if inner == 1 {
                        let d = Float(Kernels.dot(pg, py, len))
                        for j in 0..<len { pd[j] += py[j] * (pg[j] - d) }
                    } else {
                        var d = 0.0
                        for j in 0..<len { d += Double(pg[j * inner] * py[j * inner]) }
                        let df = Float(d)
                        for j in 0..<len { pd[j * inner] += py[j * inner] * (pg[j * inner] - df) }
                    }
                }
            }
        }
        return y
    }

    /// Inverted dropout (nn.Dropout): in training, zeroes each element with probability `p` and
    /// scales the rest by 1/(1−p); the identity in evaluation or for p = 0. The mask is a pure
    /// function of (tape.seed, tape.step, the op's position among random ops on this tape).
    public func dropout(_ x: Var, p: Float) -> Var {
        precondition(p >= 0 && p <= 1, "dropout: p = \(p) must be in [0, 1]")
        guard training, p > 0 else { return x }
        let n = count(x), xp = value(x), c = compute
        let mask = scratch(n)
        let op = nextRandomOp()
        let keep: Float = p < 1 ? 1 / (1 - p) : 0
        let rows = shape(x).first ?? 1
        if !sampleKeys.isEmpty && sampleKeys.count == rows {
            // One stream per sample (keyed by its global index): the mask of a sample is the same
            // whichever rank or batch position computes it.
            let per = n / rows, keys = sampleKeys
            c.forEach(rows) { r in
                var rng = CounterRNG(seed: seed, epoch: step, index: keys[r] &* 1024 &+ op, purpose: .dropout)
                let m = mask + r * per
                for i in 0..<per { m[i] = rng.nextFloat() < p ? 0 : keep }
            }
        } else {
            var rng = CounterRNG(seed: seed, epoch: step, index: op, purpose: .dropout)
            for i in 0..<n { mask[i] = rng.nextFloat() < p ? 0 : keep }
        }
        let (y, yp) = output(shape: shape(x), needsGrad: anyNeedsGrad(x))
        Kernels.binaryFlat(MulKernel(), n, out: yp, a: xp, b: mask, compute: c)
        setBackward(y) { t in
            guard t.needsGrad(x) else { return }
            let gx = t.grad(x), gy = t.grad(y)
            c.forEachChunk(n) { r in
                let d = gx + r.lowerBound, g = gy + r.lowerBound, m = mask + r.lowerBound
                for i in 0..<r.count { d[i] += g[i] * m[i] }
            }
        }
        return y
    }
}
