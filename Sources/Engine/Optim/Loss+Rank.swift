// FAST-VQA rank_loss over the full batch, with PyTorch autograd's gradient.
//
// Shapes: ŷ [N], y [N]; pair matrix r [N, N] (never materialised beyond one pass).
// r_ij = relu((ŷ_i − ŷ_j)·sign(y_j − y_i)), M = max r, L = Σr / N / (N−1) / (1 + M).
// dL/dr_ij = c/(1+M) − [r_ij = M]/k · c·Σr/(1+M)² with c = 1/(N(N−1)) and k the number of
// elements equal to M (torch.max's backward spreads the gradient evenly over ties); relu passes
// the gradient only where its input is > 0.

extension Losses {
    /// Sign as torch.sign: 0 for 0.
    @inline(__always) static func sign(_ v: Double) -> Double { v > 0 ? 1 : (v < 0 ? -1 : 0) }

    /// FAST-VQA rank_loss and its autograd gradient (0 and a zero gradient for N < 2).
    static func rank(_ p: [Double], _ y: [Double]) -> (Double, [Double]) {
        let n = p.count
        var grad = [Double](repeating: 0, count: n)
        guard n > 1 else { return (0, grad) }
        var sum = 0.0, maxR = 0.0, ties = 0
        // r_ii = 0 is part of the matrix, so the maximum is never below 0.
        for i in 0..<n {
            for j in 0..<n {
                let r = max(0, (p[i] - p[j]) * sign(y[j] - y[i]))
                sum += r
                if r > maxR { maxR = r; ties = 1 } else if r == maxR { ties += 1 }
            }
        }
        let c = 1 / Double(n) / Double(n - 1)
        let scale = 1 + maxR
        let loss = sum * c / scale
        let direct = c / scale
        let throughMax = c * sum / (scale * scale) / Double(ties)
        for i in 0..<n {
            for j in 0..<n {
                let s = sign(y[j] - y[i])
                let x = (p[i] - p[j]) * s
                guard x > 0 else { continue }  // relu: no gradient at or below 0
                var g = direct
                if x == maxR { g -= throughMax }
                grad[i] += g * s
                grad[j] -= g * s
            }
        }
        return (loss, grad)
    }
}
