// Vectorised transcendental functions on SIMD8<Float> for activation and softmax kernels.
//
// exp: Cody–Waite reduction x = k·ln2 + r (|r| ≤ ln2/2), e^r by its degree-7 Taylor polynomial
//      (truncation < 6e-9 relative), 2^k assembled in the exponent bits. Inputs are clamped to
//      [−87, 88]; below −87 the result is 0 (softmax and GELU tails), above 88 callers that can
//      see such inputs use the scalar libm path.
// Φ (standard normal CDF, for exact GELU) from erf on z = |x|/√2:
//      z < 1:  erf(z) = z·P(z²), P of degree 6 (relative error 1.4e-9 in Double);
//      z ≥ 1:  erfc(z) = t·exp(−z² + Q(t)), t = 1/(1 + z/2), Q of degree 8 (relative 1.5e-8).
//      Both polynomials were least-squares fitted for this project (Chebyshev-spaced nodes,
//      relative weights) against scipy.special.erf / erfcx.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension Kernels {
    /// y[0..<n] = softmax(x[0..<n]) along one contiguous row (x and y may be the same memory); a row
    /// of −∞ gives 0/0 as torch does.
    @inline(__always)
    static func softmaxRow(_ x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>, _ n: Int) {
        var top = -Float.infinity
        for j in 0..<n { top = max(top, x[j]) }
        if top == -.infinity { top = 0 }
        for j in 0..<n { y[j] = exp(x[j] - top) }
        let scale = Float(1 / sum(y, n))
        for j in 0..<n { y[j] *= scale }
    }

    /// Largest input for which `exp` is exact to a few ulp.
    static let expMaxInput: Float = 88

    /// e^x (see the file header for range and accuracy). Branch-free scalar code, written so that
    /// loops calling it auto-vectorise.
    @inline(__always)
    static func exp(_ x: Float) -> Float {
        let magic: Float = 12_582_912  // 1.5·2²³: adding it rounds to an integer
        let xc = min(max(x, -87), expMaxInput)
        let kf = xc * 1.442_695_04 + magic
        let k = kf - magic
        let r = (xc - k * 0.693_145_751_953_125) - k * 1.428_606_765_330_187e-6
        let c7: Float = 1.0 / 5040, c6: Float = 1.0 / 720, c5: Float = 1.0 / 120, c4: Float = 1.0 / 24, c3: Float = 1.0 / 6
        var p = c7
        p = p * r + c6
        p = p * r + c5
        p = p * r + c4
        p = p * r + c3
        p = p * r + 0.5
        p = p * r + 1
        p = p * r + 1
        let kb = Int32(bitPattern: kf.bitPattern) &- Int32(bitPattern: magic.bitPattern)
        let scale = Float(bitPattern: UInt32(bitPattern: (kb &+ 127) &<< 23))
        return x < -87 ? 0 : p * scale
    }

    /// Standard normal CDF Φ(x) = ½·erfc(−x/√2), accurate in both tails; branch-free.
    @inline(__always)
    static func normalCDF(_ x: Float) -> Float {
        let a = (x < 0 ? -x : x) * 0.707_106_781_186_547_5
        // erf(a) for a < 1.
        let u = a * a
        var pe: Float = 7.898_139_209_682_094e-05
        pe = pe * u - 8.024_335_336_242_871e-04
        pe = pe * u + 5.190_051_766_650_792e-03
        pe = pe * u - 2.685_480_777_471_521e-02
        pe = pe * u + 1.128_361_241_547_697e-01
        pe = pe * u - 3.761_262_884_290_075e-01
        pe = pe * u + 1.128_379_166_510_292
        let erfSmall = a * pe
        // erfc(a) for a ≥ 1.
        let t = 1 / (1 + 0.5 * a)
        var q: Float = -0.261_736_478_597_551_06
        q = q * t + 0.713_836_662_729_391_1
        q = q * t - 0.546_456_822_479_672_6
        q = q * t + 0.008_314_389_994_952_2
        q = q * t - 0.107_491_988_270_831_63
        q = q * t + 0.081_666_943_105_100_17
        q = q * t + 0.376_074_832_802_138_2
        q = q * t + 0.999_852_558_612_814_4
        q = q * t - 1.265_505_066_478_098_2
        let erfcLarge = t * exp(q - u)
        // x ≥ 0: ½(1 + erf a) = 1 − ½erfc a;   x < 0: ½(1 − erf a) = ½erfc a.
        let pos = a < 1 ? 0.5 + 0.5 * erfSmall : 1 - 0.5 * erfcLarge
        let neg = a < 1 ? 0.5 - 0.5 * erfSmall : 0.5 * erfcLarge
        return x < 0 ? neg : pos
    }
}
