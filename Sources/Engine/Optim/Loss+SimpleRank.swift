// SimpleVQA's rank term (sunwei925/SimpleVQA utils.py L1RankLoss, use_margin False, hard_thred 1),
// with PyTorch autograd's gradient.
//
// Shapes: ŷ [N], y [N]; pairs (i, j) over the full N×N matrix (both orders, as the reference).
// s_ij = sign(y_j − y_i), m_ij = [0 < |y_j − y_i| < 1], r_ij = m_ij · relu(−s_ij·(ŷ_j − ŷ_i)),
// L = Σ r / (Σ m + 1e-8). The denominator holds no prediction, so dL/dŷ_j = −s_ij·m_ij/(Σm + 1e-8)
// and dL/dŷ_i = +s_ij·m_ij/(Σm + 1e-8) for every pair with a positive hinge (relu: none at 0).
// The threshold is in label units: SimpleVQA trains on raw MOS (1–5 for KoNViD-1k, 0–100 for LSVQ).

extension Losses {
    /// Pairs whose label gap is at least this are ignored (SimpleVQA `hard_thred`).
    static let simpleRankThreshold = 1.0

    /// SimpleVQA's rank term and its gradient (0 with a zero gradient when no pair qualifies).
    static func simpleRank(_ p: [Double], _ y: [Double]) -> (Double, [Double]) {
        let n = p.count
        var grad = [Double](repeating: 0, count: n)
        var pairs = 0
        for i in 0..<n {
            for j in 0..<n {
                let d = abs(y[j] - y[i])
                if d > 0 && d < simpleRankThreshold { pairs += 1 }
            }
        }
        let denom = Double(pairs) + 1e-8
        var sum = 0.0
        for i in 0..<n {
            for j in 0..<n {
                let d = abs(y[j] - y[i])
                guard d > 0 && d < simpleRankThreshold else { continue }
                let s = sign(y[j] - y[i])
                let x = -s * (p[j] - p[i])
                guard x > 0 else { continue }
                sum += x
                grad[j] -= s / denom
                grad[i] += s / denom
            }
        }
        return (sum / denom, grad)
    }
}
