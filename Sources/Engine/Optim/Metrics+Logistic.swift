// VQEG 4-parameter logistic mapping from predictions to the label scale, fitted by
// Levenberg–Marquardt in Double.
//
// f(x) = (b1 − b2) / (1 + exp(−(x − b3)/|b4|)) + b2, fitted by least squares on (x = prediction,
// y = label). The fit runs on standardised x and y (the model family is closed under affine
// maps of both, so the optimum maps back exactly) from VQEG's start b1 = max y, b2 = min y,
// b3 = mean x, b4 = std x, which keeps the iteration well-conditioned for any score scale.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A fitted 4-parameter logistic (VQEG) mapping predictions onto the label scale.
public struct Logistic4: Sendable, Equatable, Codable {
    /// Upper asymptote.
    public var b1: Double
    /// Lower asymptote.
    public var b2: Double
    /// Midpoint.
    public var b3: Double
    /// Slope scale (its sign is irrelevant; |b4| is used).
    public var b4: Double
    /// Set when the calibration fell back to a straight line (Metrics+Calibration.swift); then
    /// `apply` uses it and b1…b4 are unused.
    public var linear: LinearCalibration?

    /// A logistic with explicit parameters.
    public init(b1: Double, b2: Double, b3: Double, b4: Double) {
        self.b1 = b1; self.b2 = b2; self.b3 = b3; self.b4 = b4
    }

    /// Maps a prediction onto the label scale.
    public func apply(_ x: Double) -> Double {
        if let linear { return linear.apply(x) }
        return (b1 - b2) / (1 + exp(-(x - b3) / abs(b4))) + b2
    }

    /// Maps a Float prediction onto the label scale.
    public func apply(_ x: Float) -> Float { Float(apply(Double(x))) }

    /// Least-squares fit of `labels` ≈ f(`predictions`); nil if N < 4 or either side is constant.
    public static func fit(_ predictions: [Double], _ labels: [Double], maxIterations: Int = 1000) -> Logistic4? {
        standardizedFit(predictions, labels, maxIterations: maxIterations, boundLimits: false)
    }

    /// The fit on z-scored predictions and labels (start: limits at the label extremes, centre 0,
    /// slope 1), mapped back. `boundLimits` keeps both limits inside [min label, max label].
    static func standardizedFit(_ predictions: [Double], _ labels: [Double], maxIterations: Int, boundLimits: Bool) -> Logistic4? {
        Metrics.checkCounts(predictions, labels)
        guard predictions.count >= 4 else { return nil }
        let (mx, sx) = Losses.meanStd(predictions), (my, sy) = Losses.meanStd(labels)
        guard sx > 0, sy > 0, sx.isFinite, sy.isFinite else { return nil }
        let x = predictions.map { ($0 - mx) / sx }, y = labels.map { ($0 - my) / sy }
        let lo = y.min()!, hi = y.max()!
        let t = boundLimits
            ? levenbergMarquardt(x, y, start: [hi, lo, 0, 1], maxIterations: maxIterations,
                                 lower: [lo, lo, -.infinity, -.infinity], upper: [hi, hi, .infinity, .infinity])
            : levenbergMarquardt(x, y, start: [hi, lo, 0, 1], maxIterations: maxIterations)
        // Bounded: clamp the mapped-back limits so rounding cannot put them a hair outside the labels.
        let low = labels.min()!, high = labels.max()!
        func limit(_ v: Double) -> Double { boundLimits ? min(high, max(low, v * sy + my)) : v * sy + my }
        return Logistic4(b1: limit(t[0]), b2: limit(t[1]), b3: t[2] * sx + mx, b4: t[3] * sx)
    }

    /// Residuals f(x)−y and the Jacobian rows (∂f/∂b1..b4) at θ.
    static func residuals(_ x: [Double], _ y: [Double], _ t: [Double], jacobian: inout [Double]) -> [Double] {
        let s = abs(t[3]), sg: Double = t[3] < 0 ? -1 : 1
        var r = [Double](repeating: 0, count: x.count)
        for i in 0..<x.count {
            let z = (x[i] - t[2]) / s
            let sig = 1 / (1 + exp(-z))
            r[i] = (t[0] - t[1]) * sig + t[1] - y[i]
            let ds = (t[0] - t[1]) * sig * (1 - sig)
            jacobian[i * 4] = sig
            jacobian[i * 4 + 1] = 1 - sig
            jacobian[i * 4 + 2] = -ds / s
            jacobian[i * 4 + 3] = -ds * z / s * sg
        }
        return r
    }

    static func cost(_ r: [Double]) -> Double { r.reduce(0) { $0 + $1 * $1 } }

    /// Levenberg–Marquardt with Marquardt's diagonal scaling and Nielsen's damping update, kept
    /// inside the box [lower, upper] (projected steps; a parameter on a bound whose descent
    /// direction points outward is held fixed for that iteration).
    static func levenbergMarquardt(_ x: [Double], _ y: [Double], start: [Double], maxIterations: Int,
                                   lower: [Double] = [-.infinity, -.infinity, -.infinity, -.infinity],
                                   upper: [Double] = [.infinity, .infinity, .infinity, .infinity]) -> [Double] {
        func clamp(_ v: [Double]) -> [Double] { (0..<4).map { min(max(v[$0], lower[$0]), upper[$0]) } }
        var t = clamp(start)
        var jac = [Double](repeating: 0, count: x.count * 4)
        var r = residuals(x, y, t, jacobian: &jac)
        var c = cost(r)
        var lambda = -1.0, nu = 2.0
        var trialJac = jac
        for _ in 0..<maxIterations {
            // Normal equations A = JᵀJ, g = Jᵀr.
            var a = [Double](repeating: 0, count: 16), g = [Double](repeating: 0, count: 4)
            for i in 0..<x.count {
                for p in 0..<4 {
                    g[p] += jac[i * 4 + p] * r[i]
                    for q in 0..<4 { a[p * 4 + q] += jac[i * 4 + p] * jac[i * 4 + q] }
                }
            }
            let maxDiag = max(a[0], a[5], a[10], a[15])
            let fixed = (0..<4).map { p in (t[p] <= lower[p] && g[p] > 0) || (t[p] >= upper[p] && g[p] < 0) }
            for p in 0..<4 where fixed[p] { g[p] = 0 }
            if g.map(abs).max()! <= 1e-15 * max(1, c) { break }
            if lambda < 0 { lambda = 1e-3 * maxDiag }
            var accepted = false
            while !accepted && lambda < 1e30 {
                var m = a
                for p in 0..<4 { m[p * 4 + p] += lambda * max(a[p * 4 + p], 1e-12 * maxDiag) }
                for p in 0..<4 where fixed[p] {
                    for q in 0..<4 { m[p * 4 + q] = 0; m[q * 4 + p] = 0 }
                    m[p * 4 + p] = 1
                }
                guard let full = solve4(m, g.map { -$0 }) else { lambda *= nu; nu *= 2; continue }
                let trial = clamp((0..<4).map { t[$0] + full[$0] })
                let d = (0..<4).map { trial[$0] - t[$0] }
                let rt = residuals(x, y, trial, jacobian: &trialJac)
                let ct = cost(rt)
                // Gain ratio: actual over predicted reduction.
                var predicted = 0.0
                for p in 0..<4 { predicted += d[p] * (lambda * max(a[p * 4 + p], 1e-12 * maxDiag) * d[p] - g[p]) }
                if ct.isFinite && ct < c {
                    let rho = (c - ct) / max(predicted, 1e-300)
                    lambda *= max(1.0 / 3, 1 - pow(2 * rho - 1, 3))
                    nu = 2
                    let stepSmall = (0..<4).allSatisfy { abs(d[$0]) <= 1e-12 * (abs(t[$0]) + 1e-12) }
                    let gainSmall = (c - ct) <= 1e-16 * c
                    t = trial; r = rt; c = ct; swap(&jac, &trialJac)
                    accepted = true
                    if stepSmall || gainSmall { return t }
                } else {
                    lambda *= nu; nu *= 2
                }
            }
            if !accepted { break }
        }
        return t
    }

    /// Solves the 4×4 system m·d = b by Gaussian elimination with partial pivoting.
    static func solve4(_ m0: [Double], _ b0: [Double]) -> [Double]? {
        var m = m0, b = b0
        for col in 0..<4 {
            var piv = col
            for row in col + 1..<4 where abs(m[row * 4 + col]) > abs(m[piv * 4 + col]) { piv = row }
            guard m[piv * 4 + col] != 0, m[piv * 4 + col].isFinite else { return nil }
            if piv != col {
                for k in 0..<4 { m.swapAt(col * 4 + k, piv * 4 + k) }
                b.swapAt(col, piv)
            }
            for row in col + 1..<4 {
                let f = m[row * 4 + col] / m[col * 4 + col]
                for k in col..<4 { m[row * 4 + k] -= f * m[col * 4 + k] }
                b[row] -= f * b[col]
            }
        }
        var d = [Double](repeating: 0, count: 4)
        for row in stride(from: 3, through: 0, by: -1) {
            var s = b[row]
            for k in row + 1..<4 { s -= m[row * 4 + k] * d[k] }
            d[row] = s / m[row * 4 + row]
        }
        return d
    }
}
