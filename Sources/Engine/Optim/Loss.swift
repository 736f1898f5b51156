// Batch-level training losses (FAST-VQA definitions), evaluated over the FULL (global) batch.
//
// Shapes: predictions ŷ [N], labels y [N]; the result carries dL/dŷ [N]. With data parallelism
// every rank all-gathers ŷ and y of the global batch, evaluates the loss here identically, and
// back-propagates its own slice of dL/dŷ, so N ranks take the same step as 1 rank.
//
// All arithmetic is in Double. Gradients reproduce what PyTorch autograd computes for the
// FAST-VQA code (VQAssessment/FAST-VQA-and-FasterVQA new_train.py, plcc_loss / rank_loss):
// - plcc_loss: σ from torch.std_mean(unbiased=False) with ε = 1e-8 added to σ (not to σ²);
//   ρ = mean(ŷz·yz) is NOT detached, so the gradient flows through ρ; σ's gradient is zero where
//   σ = 0 (autograd's std backward masks that case).
// - rank_loss: the scale 1 + max(r) is NOT detached; torch.max over the whole tensor sends its
//   gradient evenly to all elements equal to the maximum, and relu passes no gradient at 0.

/// A batch-level loss term.
public enum LossKind: String, Sendable, CaseIterable, Codable {
    /// FAST-VQA `plcc_loss` (z-scored MSE plus ρ-scaled MSE).
    case plcc
    /// FAST-VQA `rank_loss` (pairwise hinge scaled by 1 + max).
    case rank
    /// Mean squared error on raw scores.
    case mse
    /// Mean absolute error on raw scores.
    case l1
    /// SimpleVQA's rank term (L1RankLoss): pairwise hinge over label pairs 0 < |Δy| < 1, averaged over those pairs.
    case simpleRank = "simple_rank"
}

/// Weights of the loss terms; terms with weight 0 are not evaluated.
public struct LossConfig: Sendable, Equatable {
    /// Weight per term; FAST-VQA's training objective is plcc 1 + rank 0.3.
    public var weights: [LossKind: Double]

    /// A weighted sum of loss terms (default: FAST-VQA's plcc + 0.3·rank).
    public init(weights: [LossKind: Double] = [.plcc: 1, .rank: 0.3]) {
        self.weights = weights
    }

    /// The objective used by FAST-VQA and the seed paper: plcc + 0.3·rank.
    public static let fastVQA = LossConfig()

    /// Evaluates the weighted loss and dL/dŷ over the full batch.
    ///
    /// With N = 1 every term is 0 with a zero gradient (plcc and rank are undefined for a single
    /// sample; PyTorch would produce NaN for rank_loss). MSE and L1 use mean reduction.
    public func evaluate(predictions: UnsafeBufferPointer<Float>, labels: UnsafeBufferPointer<Float>) -> LossResult {
        precondition(predictions.count == labels.count,
                     "loss: \(predictions.count) predictions but \(labels.count) labels; pass the whole global batch of both")
        let p = predictions.map(Double.init), y = labels.map(Double.init)
        var total = 0.0
        var components: [LossKind: Double] = [:]
        var grad = [Double](repeating: 0, count: p.count)
        for kind in LossKind.allCases {
            guard let w = weights[kind], w != 0 else { continue }
            let (value, g) = Losses.evaluate(kind, predictions: p, labels: y)
            components[kind] = value
            total += w * value
            for i in 0..<g.count { grad[i] += w * g[i] }
        }
        return LossResult(loss: total, components: components, gradient: grad.map(Float.init))
    }

    /// Evaluates the weighted loss and dL/dŷ over the full batch (array convenience).
    public func evaluate(predictions: [Float], labels: [Float]) -> LossResult {
        predictions.withUnsafeBufferPointer { p in
            labels.withUnsafeBufferPointer { y in evaluate(predictions: p, labels: y) }
        }
    }
}

/// The value of a weighted loss, its unweighted terms and its gradient.
public struct LossResult: Sendable {
    /// Σ weight·term.
    public var loss: Double
    /// Unweighted value of every evaluated term.
    public var components: [LossKind: Double]
    /// dL/dŷ for every sample of the batch (each rank uses its own slice).
    public var gradient: [Float]
}

/// Loss terms in Double with their analytic gradients.
enum Losses {
    /// ε added to the population standard deviation, as FAST-VQA.
    static let stdEpsilon = 1e-8

    static func evaluate(_ kind: LossKind, predictions p: [Double], labels y: [Double]) -> (Double, [Double]) {
        switch kind {
        case .plcc: return plcc(p, y)
        case .rank: return rank(p, y)
        case .mse: return mse(p, y)
        case .l1: return l1(p, y)
        case .simpleRank: return simpleRank(p, y)
        }
    }

    /// Population mean and standard deviation.
    static func meanStd(_ x: [Double]) -> (mean: Double, std: Double) {
        let n = Double(x.count)
        let m = x.reduce(0, +) / n
        var ss = 0.0
        for v in x { ss += (v - m) * (v - m) }
        return (m, (ss / n).squareRoot())
    }

    /// FAST-VQA plcc_loss and its autograd gradient.
    ///
    /// a = (ŷ−m̂)/(σ̂+ε), b = (y−m)/(σ+ε), ρ = mean(a·b),
    /// L = (mean((a−b)²)/4 + mean((ρa−b)²)/4) / 2.
    static func plcc(_ p: [Double], _ y: [Double]) -> (Double, [Double]) {
        let n = p.count
        guard n > 1 else { return (0, [Double](repeating: 0, count: n)) }
        let nd = Double(n)
        let (mp, sp) = meanStd(p), (my, sy) = meanStd(y)
        let s = sp + stdEpsilon
        let a = p.map { ($0 - mp) / s }
        let b = y.map { ($0 - my) / (sy + stdEpsilon) }
        var rho = 0.0
        for i in 0..<n { rho += a[i] * b[i] }
        rho /= nd
        var l0 = 0.0, l1 = 0.0, cross = 0.0
        for i in 0..<n {
            l0 += (a[i] - b[i]) * (a[i] - b[i])
            let e = rho * a[i] - b[i]
            l1 += e * e
            cross += e * a[i]
        }
        let loss = (l0 / nd / 4 + l1 / nd / 4) / 2
        // dL/da_i, including the path through ρ (dρ/da_i = b_i/N).
        var ga = [Double](repeating: 0, count: n)
        for i in 0..<n {
            ga[i] = 0.5 * ((a[i] - b[i]) / (2 * nd) + rho * (rho * a[i] - b[i]) / (2 * nd) + cross / (2 * nd) * b[i] / nd)
        }
        // Through a_i = (ŷ_i − m̂)/s with s = σ̂ + ε, dσ̂/dŷ_j = (ŷ_j − m̂)/(N σ̂) (0 when σ̂ = 0).
        let gMean = ga.reduce(0, +) / nd
        var gDev = 0.0
        for i in 0..<n { gDev += ga[i] * (p[i] - mp) }
        var grad = [Double](repeating: 0, count: n)
        for j in 0..<n {
            var g = (ga[j] - gMean) / s
            if sp > 0 { g -= gDev / (s * s) * (p[j] - mp) / (nd * sp) }
            grad[j] = g
        }
        return (loss, grad)
    }

    /// Mean squared error and its gradient.
    static func mse(_ p: [Double], _ y: [Double]) -> (Double, [Double]) {
        let n = p.count
        guard n > 0 else { return (0, []) }
        var loss = 0.0
        var grad = [Double](repeating: 0, count: n)
        for i in 0..<n {
            let d = p[i] - y[i]
            loss += d * d
            grad[i] = 2 * d / Double(n)
        }
        return (loss / Double(n), grad)
    }

    /// Mean absolute error and its gradient (0 where ŷ = y, as PyTorch's sign).
    static func l1(_ p: [Double], _ y: [Double]) -> (Double, [Double]) {
        let n = p.count
        guard n > 0 else { return (0, []) }
        var loss = 0.0
        var grad = [Double](repeating: 0, count: n)
        for i in 0..<n {
            let d = p[i] - y[i]
            loss += abs(d)
            grad[i] = (d > 0 ? 1 : (d < 0 ? -1 : 0)) / Double(n)
        }
        return (loss / Double(n), grad)
    }
}
