// Correlation metrics for quality prediction (in Double).
//
// Shapes: predictions [N], labels [N]. SRCC uses average ranks for ties (scipy.stats.spearmanr),
// KRCC is Kendall's tau-b (scipy.stats.kendalltau default), PLCC is Pearson's r. Degenerate
// inputs (N < 2 or a constant vector) give NaN, as scipy does, and so does any NaN in either
// vector (scipy's default nan_policy='propagate'): a NaN must never rank as a plausible value.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Correlation and error metrics between predicted and ground-truth quality scores.
public enum Metrics {
    /// Spearman rank correlation (Pearson on average ranks).
    public static func srcc(_ x: [Double], _ y: [Double]) -> Double {
        checkCounts(x, y)
        if hasNaN(x, y) { return .nan }
        return plcc(ranks(x), ranks(y))
    }

    /// Pearson linear correlation; NaN if either vector is constant, holds a NaN, or N < 2.
    public static func plcc(_ x: [Double], _ y: [Double]) -> Double {
        checkCounts(x, y)
        let n = x.count
        guard n >= 2, !hasNaN(x, y) else { return .nan }
        let mx = x.reduce(0, +) / Double(n), my = y.reduce(0, +) / Double(n)
        var sxy = 0.0, sxx = 0.0, syy = 0.0
        for i in 0..<n {
            let dx = x[i] - mx, dy = y[i] - my
            sxy += dx * dy; sxx += dx * dx; syy += dy * dy
        }
        guard sxx > 0, syy > 0 else { return .nan }
        return max(-1, min(1, sxy / (sxx.squareRoot() * syy.squareRoot())))
    }

    /// Kendall's tau-b in O(N log N) (Knight's algorithm); NaN if either vector is constant or holds a NaN.
    public static func krcc(_ x: [Double], _ y: [Double]) -> Double {
        checkCounts(x, y)
        let n = x.count
        guard n >= 2, !hasNaN(x, y) else { return .nan }
        // Sort by (x, y); count pairs tied in x and tied in both.
        var order = Array(0..<n)
        order.sort { x[$0] != x[$1] ? x[$0] < x[$1] : y[$0] < y[$1] }
        var tiedX = 0, tiedXY = 0
        var i = 0
        while i < n {
            var j = i + 1
            while j < n && x[order[j]] == x[order[i]] { j += 1 }
            tiedX += (j - i) * (j - i - 1) / 2
            var k = i
            while k < j {
                var l = k + 1
                while l < j && y[order[l]] == y[order[k]] { l += 1 }
                tiedXY += (l - k) * (l - k - 1) / 2
                k = l
            }
            i = j
        }
        // Merge sort the y sequence counting exchanges (discordant pairs not tied in x).
        var seq = order.map { y[$0] }
        var tmp = seq
        let swaps = mergeCount(&seq, &tmp, 0, n)
        var tiedY = 0
        i = 0
        while i < n {
            var j = i + 1
            while j < n && seq[j] == seq[i] { j += 1 }
            tiedY += (j - i) * (j - i - 1) / 2
            i = j
        }
        let total = n * (n - 1) / 2
        let denom = (Double(total - tiedX) * Double(total - tiedY)).squareRoot()
        guard denom > 0 else { return .nan }
        let numer = Double(total - tiedX - tiedY + tiedXY) - 2 * Double(swaps)
        return max(-1, min(1, numer / denom))
    }

    /// Root mean squared error.
    public static func rmse(_ x: [Double], _ y: [Double]) -> Double {
        checkCounts(x, y)
        guard !x.isEmpty else { return .nan }
        var s = 0.0
        for i in 0..<x.count { s += (x[i] - y[i]) * (x[i] - y[i]) }
        return (s / Double(x.count)).squareRoot()
    }

    /// FAST-VQA's `rescale`: predictions mapped linearly to the labels' mean and population std.
    public static func rescaled(_ predictions: [Double], to labels: [Double]) -> [Double] {
        checkCounts(predictions, labels)
        guard !predictions.isEmpty else { return [] }
        let (mp, sp) = Losses.meanStd(predictions), (my, sy) = Losses.meanStd(labels)
        return predictions.map { ($0 - mp) / sp * sy + my }
    }

    /// Average ranks (1-based), ties sharing the mean of their positions.
    static func ranks(_ v: [Double]) -> [Double] {
        let order = v.indices.sorted { v[$0] < v[$1] }
        var r = [Double](repeating: 0, count: v.count)
        var i = 0
        while i < order.count {
            var j = i + 1
            while j < order.count && v[order[j]] == v[order[i]] { j += 1 }
            let avg = Double(i + j + 1) / 2  // mean of positions i+1 ... j
            for k in i..<j { r[order[k]] = avg }
            i = j
        }
        return r
    }

    /// Sorts `a[lo..<hi]` ascending and returns the number of inversions (strictly greater before).
    static func mergeCount(_ a: inout [Double], _ tmp: inout [Double], _ lo: Int, _ hi: Int) -> Int {
        if hi - lo < 2 { return 0 }
        let mid = (lo + hi) / 2
        var count = mergeCount(&a, &tmp, lo, mid) + mergeCount(&a, &tmp, mid, hi)
        var i = lo, j = mid, k = lo
        while i < mid && j < hi {
            if a[j] < a[i] { tmp[k] = a[j]; j += 1; count += mid - i } else { tmp[k] = a[i]; i += 1 }
            k += 1
        }
        while i < mid { tmp[k] = a[i]; i += 1; k += 1 }
        while j < hi { tmp[k] = a[j]; j += 1; k += 1 }
        for t in lo..<hi { a[t] = tmp[t] }
        return count
    }

    /// True if either vector holds a NaN (sorting and tie detection are meaningless then).
    static func hasNaN(_ x: [Double], _ y: [Double]) -> Bool {
        x.contains(where: \.isNaN) || y.contains(where: \.isNaN)
    }

    static func checkCounts(_ x: [Double], _ y: [Double]) {
        precondition(x.count == y.count, "metrics: \(x.count) predictions but \(y.count) labels")
    }
}

/// Every reported metric for one evaluation set.
public struct QualityReport: Sendable, Equatable, Codable {
    /// Number of samples.
    public var count: Int
    /// Spearman rank correlation.
    public var srcc: Double
    /// Kendall tau-b.
    public var krcc: Double
    /// Pearson correlation (unchanged by the linear rescale).
    public var plcc: Double
    /// RMSE after FAST-VQA's linear rescale to the label mean/std.
    public var rmse: Double
    /// Pearson correlation after the VQEG 4-parameter logistic fit.
    public var plccLogistic: Double
    /// RMSE after the logistic fit.
    public var rmseLogistic: Double
    /// The fitted logistic mapping (nil when the fit is impossible: N < 4 or constant input).
    public var logistic: Logistic4?

    /// Computes every metric of `predictions` against `labels`.
    public init(predictions: [Double], labels: [Double]) {
        Metrics.checkCounts(predictions, labels)
        count = predictions.count
        srcc = Metrics.srcc(predictions, labels)
        krcc = Metrics.krcc(predictions, labels)
        plcc = Metrics.plcc(predictions, labels)
        rmse = Metrics.rmse(Metrics.rescaled(predictions, to: labels), labels)
        logistic = Logistic4.fit(predictions, labels)
        if let f = logistic {
            let fitted = predictions.map(f.apply)
            plccLogistic = Metrics.plcc(fitted, labels)
            rmseLogistic = Metrics.rmse(fitted, labels)
        } else {
            plccLogistic = .nan
            rmseLogistic = .nan
        }
    }

    /// Computes every metric from Float scores.
    public init(predictions: [Float], labels: [Float]) {
        self.init(predictions: predictions.map(Double.init), labels: labels.map(Double.init))
    }
}
