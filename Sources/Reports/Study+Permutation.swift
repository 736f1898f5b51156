// Exact permutation test for the study's difference-to-baseline table: is a regulariser's mean over
// seeds different from the baseline's by more than re-labelling the same seeds would give?
//
// Two-sided p of the difference of means, every split of the pooled values enumerated, with the
// conventions of scipy.stats.permutation_test(permutation_type="independent", n_resamples=inf):
// p = min(1, 2·min(P(T ≤ t), P(T ≥ t))), comparisons with a tolerance of 100 ulp of |t|
// (reference values: scripts/reference/study_pvalues.py). With k seeds in each group the smallest
// possible p is 2 / C(2k, k): 0.1 for 3 seeds, 0.0022 for 6.

import Foundation

extension StudyTable {
    /// Most splits enumerated; larger groups get NaN (shown as "–").
    static let maxPermutations = 2_000_000

    /// Two-sided exact permutation p-value of mean(a) − mean(b); NaN when either group has no finite
    /// value or the split count exceeds `maxPermutations`.
    static func permutationP(_ a: [Double], _ b: [Double]) -> Double {
        let x = a.filter(\.isFinite), y = b.filter(\.isFinite)
        guard !x.isEmpty, !y.isEmpty else { return .nan }
        let pooled = x + y, n = x.count, total = pooled.count
        guard let count = binomial(total, n), count <= maxPermutations else { return .nan }
        let sum = pooled.reduce(0, +)
        func statistic(_ first: Double) -> Double { first / Double(n) - (sum - first) / Double(total - n) }
        let observed = statistic(x.reduce(0, +))
        let gamma = abs(observed) * 100 * Double.ulpOfOne
        var less = 0, greater = 0
        // Every n-subset of the pooled indices, in lexicographic order.
        var pick = Array(0..<n)
        while true {
            let t = statistic(pick.reduce(0) { $0 + pooled[$1] })
            if t <= observed + gamma { less += 1 }
            if t >= observed - gamma { greater += 1 }
            var i = n - 1
            while i >= 0 && pick[i] == total - n + i { i -= 1 }
            if i < 0 { break }
            pick[i] += 1
            for j in (i + 1)..<n { pick[j] = pick[j - 1] + 1 }
        }
        return min(1, 2 * Double(min(less, greater)) / Double(count))
    }

    /// C(n, k), or nil above Int range.
    static func binomial(_ n: Int, _ k: Int) -> Int? {
        var r = 1
        for i in 0..<min(k, n - k) {
            let (m, o) = r.multipliedReportingOverflow(by: n - i)
            if o { return nil }
            r = m / (i + 1)
        }
        return r
    }
}
