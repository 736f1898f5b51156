// The raw score → MOS calibration stored in checkpoints and applied by `score`.
//
// Unlike the VQEG logistic used as a metric (QualityReport.plccLogistic, fitted without bounds as in
// the literature), the calibration maps new videos onto the training label scale, so it must stay
// sane outside the fitted points: a free fit can put its asymptotes far outside the labels (seen:
// b1 = −2.2e6, b2 = 4e4 for labels in 1.2–5.9, a step that scored one video −3.51). Rules:
// - fewer than `minLogisticSamples` points: a least-squares straight line, clamped to the label range;
// - otherwise the logistic with both limits bounded to [min label, max label] (always monotone,
//   never leaves the label range), unless a straight line fits the points better: then the line.
// Each fallback comes with a one-line note saying why, for the caller to print as a warning.

/// A straight-line calibration y = slope·x + intercept, clamped to [low, high] (the label range).
public struct LinearCalibration: Sendable, Equatable, Codable {
    /// dy/dx.
    var slope: Double
    /// y at x = 0.
    var intercept: Double
    /// Smallest label seen in the fit (outputs never go below it).
    public var low: Double
    /// Largest label seen in the fit (outputs never go above it).
    public var high: Double

    /// Maps a prediction onto the label scale.
    public func apply(_ x: Double) -> Double { min(high, max(low, slope * x + intercept)) }

    /// The least-squares line through (x, y), clamped to y's range; nil if x is constant or N < 2.
    public static func fit(_ x: [Double], _ y: [Double]) -> LinearCalibration? {
        Metrics.checkCounts(x, y)
        guard x.count >= 2, let low = y.min(), let high = y.max() else { return nil }
        let (mx, sx) = Losses.meanStd(x), (my, _) = Losses.meanStd(y)
        guard sx > 0, sx.isFinite else { return nil }
        var sxy = 0.0
        for i in 0..<x.count { sxy += (x[i] - mx) * (y[i] - my) }
        let slope = sxy / (Double(x.count) * sx * sx)
        return LinearCalibration(slope: slope, intercept: my - slope * mx, low: low, high: high)
    }
}

extension Logistic4 {
    /// Below this many points the calibration is a straight line (four parameters need more data).
    static let minLogisticSamples = 20

    /// A calibration that is a straight line (`apply` uses `line`).
    public init(line: LinearCalibration) {
        self.init(b1: line.high, b2: line.low, b3: 0, b4: 1)
        linear = line
    }

    /// The logistic fit with both limits bounded to the label range [min y, max y]; nil if N < 4
    /// or either side is constant.
    static func fitBounded(_ predictions: [Double], _ labels: [Double], maxIterations: Int = 1000) -> Logistic4? {
        standardizedFit(predictions, labels, maxIterations: maxIterations, boundLimits: true)
    }

    /// The raw → label calibration of (predictions, labels) by the rules in the file comment, and a
    /// note when it fell back to a straight line; nil when no calibration is possible (N < 2 or a
    /// constant side, or a NaN).
    public static func calibration(_ predictions: [Double], _ labels: [Double]) -> (Logistic4?, note: String?) {
        Metrics.checkCounts(predictions, labels)
        if Metrics.hasNaN(predictions, labels) || predictions.contains(where: { !$0.isFinite }) {
            return (nil, "calibration skipped: non-finite predictions or labels")
        }
        guard let line = LinearCalibration.fit(predictions, labels) else {
            return (nil, predictions.count < 2 ? "calibration skipped: fewer than 2 scored videos" : "calibration skipped: the predictions are constant")
        }
        let n = predictions.count
        if n < minLogisticSamples {
            return (Logistic4(line: line), "calibration is linear: \(n) scored videos are fewer than the \(minLogisticSamples) a 4-parameter logistic needs")
        }
        guard let logistic = fitBounded(predictions, labels) else { return (Logistic4(line: line), "calibration is linear: the logistic fit failed") }
        func cost(_ f: (Double) -> Double) -> Double {
            var s = 0.0
            for i in 0..<n { s += (f(predictions[i]) - labels[i]) * (f(predictions[i]) - labels[i]) }
            return s
        }
        let lc = cost(line.apply), gc = cost(logistic.apply)
        if !(gc <= lc) {
            return (Logistic4(line: line), String(format: "calibration is linear: the bounded logistic fits worse than a straight line (squared error %.4g vs %.4g)", gc, lc))
        }
        return (logistic, nil)
    }

    /// One line describing the mapping, for logs.
    public var summary: String {
        if let l = linear {
            return String(format: "linear: score = %.4g·raw %+.4g, clamped to [%.4g, %.4g]", l.slope, l.intercept, l.low, l.high)
        }
        return String(format: "logistic: b1 %.4g b2 %.4g b3 %.4g b4 %.4g", b1, b2, b3, b4)
    }
}
