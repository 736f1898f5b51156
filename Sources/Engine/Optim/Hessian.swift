// The Hessian's top eigenvalue by power iteration on finite-difference Hessian-vector products.
//
// Shapes: w, v, g are flat vectors of n floats (a parameter store's layout, or any vector).
//   H·v ≈ (∇L(w + ε·v) − ∇L(w − ε·v)) / (2ε),  ‖v‖ = 1,  ε = relativeStep · max(‖w‖, 1)
// (central differences: exact for a quadratic, O(ε²) error otherwise; ε scales with the weights so
// the probe moves them by a fixed fraction, 1e-3 by default, well above Float32 gradient noise).
// Iteration: v₀ = a unit Gaussian vector; λ_k = v_kᵀ H v_k (the Rayleigh quotient);
// v_{k+1} = H v_k / ‖H v_k‖; stop when |λ_k − λ_{k−1}| ≤ tolerance · |λ_k| or after maxIterations.
// Power iteration converges to the eigenvalue of largest MAGNITUDE, which is negative when the loss
// curves down more steeply along some direction than it curves up along any (away from a minimum,
// or after a short training). `extremes` therefore reports two numbers, named as what they are:
//   largest magnitude λ_|max| (signed): power iteration on H;
//   top λ_max (the largest algebraic eigenvalue, the sharpest upward curvature): λ_|max| itself when
//   it is positive, else σ + μ with μ the dominant eigenvalue of H − σI, σ = λ_|max| (shifted power
//   iteration: every eigenvalue of H − σI is ≥ 0, the largest is λ_max − σ).
// The gradient is injected as a closure, so the same code runs on a network (tape backward,
// all-reduced) and on a known quadratic in tests.

/// The outcome of power iteration.
public struct PowerIterationResult: Sendable, Equatable, Codable {
    /// The dominant eigenvalue estimate: ±‖H v‖ of the last iterate, with the Rayleigh quotient's sign.
    public var eigenvalue: Double
    /// vᵀ H v of the last unit iterate.
    var rayleigh: Double
    /// H·v products computed (each costs two gradients).
    public var iterations: Int
    /// Whether the relative change of the Rayleigh quotient fell below the tolerance.
    var converged: Bool
    /// The finite-difference step ε used.
    public var epsilon: Double
}

/// The Hessian's top and largest-magnitude eigenvalues (`HessianPowerIteration.extremes`).
public struct HessianExtremes: Sendable, Equatable, Codable {
    /// λ_max: the largest algebraic eigenvalue (the sharpest upward curvature).
    public var top: Double
    /// The eigenvalue of largest magnitude, signed (what plain power iteration converges to).
    public var largestMagnitude: Double
    /// Power iteration on H (gives `largestMagnitude`).
    public var magnitudeRun: PowerIterationResult
    /// Power iteration on H − largestMagnitude·I (gives `top` when largestMagnitude < 0), else nil.
    public var shiftedRun: PowerIterationResult?
}

/// Power iteration for the Hessian's extreme eigenvalues with an injectable gradient function.
public struct HessianPowerIteration: Sendable {
    /// Most H·v products.
    public var maxIterations: Int
    /// Relative change of the Rayleigh quotient that counts as converged.
    public var tolerance: Double
    /// ε as a fraction of max(‖w‖, 1).
    var relativeStep: Double

    /// Settings; defaults 20 iterations, tolerance 1e-3, relative step 1e-3.
    public init(maxIterations: Int = 20, tolerance: Double = 1e-3, relativeStep: Double = 1e-3) {
        self.maxIterations = maxIterations
        self.tolerance = tolerance
        self.relativeStep = relativeStep
    }

    /// Runs power iteration around the point currently in `weights[0..<count]`, which is moved to
    /// w ± εv while `gradient` runs and restored exactly before returning. `gradient(out)` must
    /// write ∇L at the CURRENT contents of `weights` into `out`. `start` is the initial vector
    /// (normalised here). With `shift` σ it iterates on H − σI and reports that matrix's dominant
    /// eigenvalue. Throws whatever `gradient` throws (the weights are restored first).
    public func run(weights: UnsafeMutablePointer<Float>, count: Int, start: UnsafePointer<Float>, shift: Double = 0,
                    gradient: (UnsafeMutablePointer<Float>) throws -> Void) throws -> PowerIterationResult {
        let saved = FloatBuffer(count: count), v = FloatBuffer(count: count)
        let gPlus = FloatBuffer(count: count), gMinus = FloatBuffer(count: count)
        saved.base.update(from: weights, count: count)
        defer { weights.update(from: saved.base, count: count) }
        v.base.update(from: start, count: count)
        let startNorm = Self.norm(v.base, count)
        guard startNorm > 0, count > 0 else { throw EngineError("power iteration: the start vector is zero; pass a random vector") }
        Self.scale(v.base, count, 1 / startNorm)
        let eps = relativeStep * max(Self.norm(saved.base, count), 1)
        var result = PowerIterationResult(eigenvalue: 0, rayleigh: 0, iterations: 0, converged: false, epsilon: eps)
        var previous: Double? = nil
        for _ in 0..<max(maxIterations, 1) {
            for (sign, out) in [(1.0, gPlus), (-1.0, gMinus)] {
                let step = Float(sign * eps)
                for i in 0..<count { weights[i] = saved.base[i] + step * v.base[i] }
                try gradient(out.base)
            }
            // H·v into gPlus.
            let inv = Float(1 / (2 * eps))
            let sigma = Float(shift)
            for i in 0..<count { gPlus.base[i] = (gPlus.base[i] - gMinus.base[i]) * inv - sigma * v.base[i] }
            var rq = 0.0
            for i in 0..<count { rq += Double(v.base[i]) * Double(gPlus.base[i]) }
            let hvNorm = Self.norm(gPlus.base, count)
            result.iterations += 1
            result.rayleigh = rq
            result.eigenvalue = rq < 0 ? -hvNorm : hvNorm
            if let p = previous, abs(rq - p) <= tolerance * abs(rq) { result.converged = true; break }
            previous = rq
            if hvNorm == 0 || !hvNorm.isFinite { break }
            v.base.update(from: gPlus.base, count: count)
            Self.scale(v.base, count, 1 / hvNorm)
        }
        return result
    }

    /// The largest-magnitude eigenvalue by power iteration, then (when it is negative) the top one
    /// by power iteration on the shifted Hessian from the same start; arguments as `run`.
    public func extremes(weights: UnsafeMutablePointer<Float>, count: Int, start: UnsafePointer<Float>,
                         gradient: (UnsafeMutablePointer<Float>) throws -> Void) throws -> HessianExtremes {
        let plain = try run(weights: weights, count: count, start: start, gradient: gradient)
        guard plain.eigenvalue < 0, plain.eigenvalue.isFinite else {
            return HessianExtremes(top: plain.eigenvalue, largestMagnitude: plain.eigenvalue, magnitudeRun: plain, shiftedRun: nil)
        }
        let shifted = try run(weights: weights, count: count, start: start, shift: plain.eigenvalue, gradient: gradient)
        return HessianExtremes(top: plain.eigenvalue + shifted.eigenvalue, largestMagnitude: plain.eigenvalue,
                               magnitudeRun: plain, shiftedRun: shifted)
    }

    static func norm(_ x: UnsafePointer<Float>, _ n: Int) -> Double {
        var s = 0.0
        for i in 0..<n { s += Double(x[i]) * Double(x[i]) }
        return s.squareRoot()
    }

    static func scale(_ x: UnsafeMutablePointer<Float>, _ n: Int, _ a: Double) {
        let f = Float(a)
        for i in 0..<n { x[i] *= f }
    }
}
