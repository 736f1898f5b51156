// Learning curves as a dependency-free SVG: train and test SRCC and PLCC per epoch, with the
// generalization gap (train − test SRCC) shaded between the two SRCC curves.

import Foundation

/// One epoch's points of the curves (nil where not measured).
public struct CurvePoint: Sendable, Equatable {
    public var epoch: Int
    public var trainSRCC: Double?, trainPLCC: Double?, testSRCC: Double?, testPLCC: Double?
    public init(epoch: Int, trainSRCC: Double?, trainPLCC: Double?, testSRCC: Double?, testPLCC: Double?) {
        self.epoch = epoch; self.trainSRCC = trainSRCC; self.trainPLCC = trainPLCC; self.testSRCC = testSRCC; self.testPLCC = testPLCC
    }
}

/// Renders learning curves.
public enum CurvesSVG {
    /// The SVG document for `points` (epochs on x, correlation on y in [min(0, lowest), 1]).
    public static func render(_ points: [CurvePoint], title: String) -> String {
        let w = 640.0, h = 400.0, left = 56.0, right = 150.0, top = 40.0, bottom = 48.0
        let pw = w - left - right, ph = h - top - bottom
        let values = points.flatMap { [$0.trainSRCC, $0.trainPLCC, $0.testSRCC, $0.testPLCC].compactMap { $0 }.filter(\.isFinite) }
        let yMin = min(0, (values.min() ?? 0).rounded(.down)), yMax = 1.0
        let e0 = Double(points.map(\.epoch).min() ?? 1), e1 = Double(max(points.map(\.epoch).max() ?? 1, Int(e0) + 1))
        func x(_ e: Int) -> Double { left + (Double(e) - e0) / (e1 - e0) * pw }
        func y(_ v: Double) -> Double { top + (yMax - v) / (yMax - yMin) * ph }
        func f(_ v: Double) -> String { String(format: "%.1f", v) }
        var s = """
        <?xml version="1.0" encoding="UTF-8"?>
        <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(w))" height="\(Int(h))" viewBox="0 0 \(Int(w)) \(Int(h))" font-family="sans-serif" font-size="12">
        <rect width="100%" height="100%" fill="white"/>
        <text x="\(f(left))" y="22" font-size="14">\(escape(title))</text>

        """
        // Grid and axes.
        for i in 0...4 {
            let v = yMin + (yMax - yMin) * Double(i) / 4
            s += "<line x1=\"\(f(left))\" y1=\"\(f(y(v)))\" x2=\"\(f(left + pw))\" y2=\"\(f(y(v)))\" stroke=\"#ddd\"/>\n"
            s += "<text x=\"\(f(left - 6))\" y=\"\(f(y(v) + 4))\" text-anchor=\"end\">\(String(format: "%.2f", v))</text>\n"
        }
        let epochs = points.map(\.epoch)
        let stride = max(1, epochs.count / 10)
        for (i, e) in epochs.enumerated() where i % stride == 0 || i == epochs.count - 1 {
            s += "<text x=\"\(f(x(e)))\" y=\"\(f(top + ph + 18))\" text-anchor=\"middle\">\(e)</text>\n"
        }
        s += "<text x=\"\(f(left + pw / 2))\" y=\"\(f(h - 10))\" text-anchor=\"middle\">epoch</text>\n"
        s += "<rect x=\"\(f(left))\" y=\"\(f(top))\" width=\"\(f(pw))\" height=\"\(f(ph))\" fill=\"none\" stroke=\"#333\"/>\n"
        // Gap: polygon between train SRCC and test SRCC where both exist.
        let both = points.filter { $0.trainSRCC?.isFinite == true && $0.testSRCC?.isFinite == true }
        if both.count >= 2 {
            let upper = both.map { "\(f(x($0.epoch))),\(f(y($0.trainSRCC!)))" }
            let lower = both.reversed().map { "\(f(x($0.epoch))),\(f(y($0.testSRCC!)))" }
            s += "<polygon points=\"\((upper + lower).joined(separator: " "))\" fill=\"#f4a261\" fill-opacity=\"0.3\" stroke=\"none\"/>\n"
        }
        let series: [(String, String, String, KeyPath<CurvePoint, Double?>)] = [
            ("train SRCC", "#1d3557", "", \.trainSRCC), ("train PLCC", "#457b9d", "6 3", \.trainPLCC),
            ("test SRCC", "#e63946", "", \.testSRCC), ("test PLCC", "#f08080", "6 3", \.testPLCC),
        ]
        for (k, (name, color, dash, key)) in series.enumerated() {
            let pts = points.compactMap { p in p[keyPath: key].flatMap { $0.isFinite ? "\(f(x(p.epoch))),\(f(y($0)))" : nil } }
            let dashAttr = dash.isEmpty ? "" : " stroke-dasharray=\"\(dash)\""
            if pts.count >= 2 {
                s += "<polyline points=\"\(pts.joined(separator: " "))\" fill=\"none\" stroke=\"\(color)\" stroke-width=\"2\"\(dashAttr)/>\n"
            }
            for p in pts {
                let c = p.split(separator: ",")
                s += "<circle cx=\"\(c[0])\" cy=\"\(c[1])\" r=\"2.5\" fill=\"\(color)\"/>\n"
            }
            let ly = top + 16 + Double(k) * 18
            s += "<line x1=\"\(f(left + pw + 12))\" y1=\"\(f(ly))\" x2=\"\(f(left + pw + 36))\" y2=\"\(f(ly))\" stroke=\"\(color)\" stroke-width=\"2\"\(dashAttr)/>\n"
            s += "<text x=\"\(f(left + pw + 42))\" y=\"\(f(ly + 4))\">\(name)</text>\n"
        }
        let gy = top + 16 + 4 * 18
        s += "<rect x=\"\(f(left + pw + 12))\" y=\"\(f(gy - 6))\" width=\"24\" height=\"12\" fill=\"#f4a261\" fill-opacity=\"0.3\"/>\n"
        s += "<text x=\"\(f(left + pw + 42))\" y=\"\(f(gy + 4))\">gap (SRCC)</text>\n"
        s += "</svg>\n"
        return s
    }

    static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
    }
}
