// A small dependency-free SVG plotter: line charts (with legend) and heat maps (with colour bar),
// laid out as a grid of panels in one standalone SVG document.
//
// Layout: panels of `panelWidth`×`panelHeight` px in `columns` columns; inside each, a plot area
// inset by fixed margins; data → pixels by linear maps over "nice" rounded axis ranges.
// Non-finite values are skipped (lines break there; heat-map cells are drawn grey).

import Foundation

/// One line of a line chart.
public struct SVGSeries: Sendable {
    /// Legend text.
    public var name: String
    /// Coordinates; non-finite pairs break the line.
    public var xs: [Double], ys: [Double]
    /// CSS colour; nil picks from the palette by position.
    public var color: String?
    /// Dashed stroke (e.g. training curves).
    public var dashed: Bool
    /// A named line of points (xs[i], ys[i]).
    public init(name: String, xs: [Double], ys: [Double], color: String? = nil, dashed: Bool = false) {
        self.name = name; self.xs = xs; self.ys = ys; self.color = color; self.dashed = dashed
    }
}

/// A panel: a line chart or a heat map.
public enum SVGPanel: Sendable {
    /// Lines over shared axes, with a legend.
    case lines(title: String, xLabel: String, yLabel: String, series: [SVGSeries])
    /// values[j][i] at (xs[i], ys[j]), coloured on a viridis-like ramp with a colour bar.
    case heatMap(title: String, xLabel: String, yLabel: String, xs: [Double], ys: [Double], values: [[Double]])
}

/// Renders panels to an SVG document.
public enum SVGPlot {
    /// Distinct line colours (colour-blind friendly, Okabe–Ito order).
    public static let palette = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000"]

    /// A standalone SVG document with `panels` in a grid of `columns` columns and an optional title.
    public static func document(_ panels: [SVGPanel], columns: Int = 2, panelWidth: Double = 460, panelHeight: Double = 340,
                                title: String? = nil) -> String {
        let cols = max(1, min(columns, panels.count))
        let rows = max(1, (panels.count + cols - 1) / cols)
        let top = title == nil ? 0.0 : 30.0
        let w = Double(cols) * panelWidth, h = Double(rows) * panelHeight + top
        var s = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        s += "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(f(w))\" height=\"\(f(h))\" viewBox=\"0 0 \(f(w)) \(f(h))\" font-family=\"sans-serif\" font-size=\"11\">\n"
        s += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
        if let t = title { s += text(w / 2, 20, t, size: 15, anchor: "middle") }
        for (i, p) in panels.enumerated() {
            let x0 = Double(i % cols) * panelWidth, y0 = top + Double(i / cols) * panelHeight
            s += "<g transform=\"translate(\(f(x0)),\(f(y0)))\">\n"
            switch p {
            case let .lines(t, xl, yl, series): s += lines(t, xl, yl, series, panelWidth, panelHeight)
            case let .heatMap(t, xl, yl, xs, ys, v): s += heat(t, xl, yl, xs, ys, v, panelWidth, panelHeight)
            }
            s += "</g>\n"
        }
        return s + "</svg>\n"
    }

    // MARK: - Panels

    static let left = 58.0, right = 16.0, top = 28.0, bottom = 44.0

    static func lines(_ title: String, _ xl: String, _ yl: String, _ series: [SVGSeries], _ w: Double, _ h: Double) -> String {
        let xsAll = series.flatMap(\.xs).filter(\.isFinite), ysAll = series.flatMap(\.ys).filter(\.isFinite)
        let xr = niceRange(xsAll), yr = niceRange(ysAll)
        let pw = w - left - right, ph = h - top - bottom
        func px(_ x: Double) -> Double { left + (x - xr.lo) / (xr.hi - xr.lo) * pw }
        func py(_ y: Double) -> Double { top + ph - (y - yr.lo) / (yr.hi - yr.lo) * ph }
        var s = frame(title, xl, yl, xr, yr, w, h), legend = ""
        for (k, sr) in series.enumerated() {
            let color = sr.color ?? palette[k % palette.count]
            var segments: [[String]] = [[]]
            for (x, y) in zip(sr.xs, sr.ys) {
                if x.isFinite && y.isFinite { segments[segments.count - 1].append("\(f(px(x))),\(f(py(y)))") } else { segments.append([]) }
            }
            let dash = sr.dashed ? " stroke-dasharray=\"5,3\"" : ""
            for seg in segments where !seg.isEmpty {
                if seg.count == 1 {
                    let c = seg[0].split(separator: ",")
                    s += "<circle cx=\"\(c[0])\" cy=\"\(c[1])\" r=\"2.5\" fill=\"\(color)\"/>\n"
                } else {
                    s += "<polyline fill=\"none\" stroke=\"\(color)\" stroke-width=\"1.6\"\(dash) points=\"\(seg.joined(separator: " "))\"/>\n"
                }
            }
            // Legend entry (drawn after every line, over a translucent box).
            let ly = top + 14 + Double(k) * 14, lx = w - right - 150
            legend += "<line x1=\"\(f(lx))\" y1=\"\(f(ly - 4))\" x2=\"\(f(lx + 18))\" y2=\"\(f(ly - 4))\" stroke=\"\(color)\" stroke-width=\"2\"\(dash)/>\n"
            legend += text(lx + 22, ly, sr.name, size: 10)
        }
        if !series.isEmpty {
            s += "<rect x=\"\(f(w - right - 156))\" y=\"\(f(top + 2))\" width=\"154\" height=\"\(f(Double(series.count) * 14 + 6))\" fill=\"white\" fill-opacity=\"0.8\" stroke=\"#ccc\"/>\n"
        }
        return s + legend
    }

    static func heat(_ title: String, _ xl: String, _ yl: String, _ xs: [Double], _ ys: [Double], _ v: [[Double]],
                     _ w: Double, _ h: Double) -> String {
        let xr = (lo: xs.min() ?? 0, hi: max(xs.max() ?? 1, (xs.min() ?? 0) + 1e-12))
        let yr = (lo: ys.min() ?? 0, hi: max(ys.max() ?? 1, (ys.min() ?? 0) + 1e-12))
        let finite = v.flatMap { $0 }.filter(\.isFinite)
        let vlo = finite.min() ?? 0, vhi = max(finite.max() ?? 1, vlo + 1e-12)
        let barW = 46.0
        let pw = w - left - right - barW, ph = h - top - bottom
        var s = frame(title, xl, yl, (xr.lo, xr.hi, 0), (yr.lo, yr.hi, 0), w - barW, h)
        let cw = pw / Double(max(xs.count, 1)), ch = ph / Double(max(ys.count, 1))
        for (j, row) in v.enumerated() {
            for (i, value) in row.enumerated() {
                let color = value.isFinite ? ramp((value - vlo) / (vhi - vlo)) : "#bbbbbb"
                s += "<rect x=\"\(f(left + Double(i) * cw))\" y=\"\(f(top + ph - Double(j + 1) * ch))\" width=\"\(f(cw + 0.3))\" height=\"\(f(ch + 0.3))\" fill=\"\(color)\"/>\n"
            }
        }
        // Contours at 8 evenly spaced levels through the cell centres.
        for k in 1...8 {
            let level = vlo + (vhi - vlo) * Double(k) / 9
            for seg in contourSegments(v, level: level) {
                let (x1, y1) = (left + (seg.0 + 0.5) * cw, top + ph - (seg.1 + 0.5) * ch)
                let (x2, y2) = (left + (seg.2 + 0.5) * cw, top + ph - (seg.3 + 0.5) * ch)
                s += "<line x1=\"\(f(x1))\" y1=\"\(f(y1))\" x2=\"\(f(x2))\" y2=\"\(f(y2))\" stroke=\"white\" stroke-opacity=\"0.8\" stroke-width=\"0.8\"/>\n"
            }
        }
        // Colour bar.
        let bx = w - right - barW + 10, steps = 32
        for k in 0..<steps {
            let y = top + ph - Double(k + 1) * ph / Double(steps)
            s += "<rect x=\"\(f(bx))\" y=\"\(f(y))\" width=\"10\" height=\"\(f(ph / Double(steps) + 0.3))\" fill=\"\(ramp((Double(k) + 0.5) / Double(steps)))\"/>\n"
        }
        s += text(bx + 12, top + 8, label(vhi), size: 9)
        s += text(bx + 12, top + ph, label(vlo), size: 9)
        return s
    }

    /// Title, axes, ticks and grid lines of a plot area.
    static func frame(_ title: String, _ xl: String, _ yl: String, _ xr: (lo: Double, hi: Double, step: Double),
                      _ yr: (lo: Double, hi: Double, step: Double), _ w: Double, _ h: Double) -> String {
        let pw = w - left - right, ph = h - top - bottom
        var s = text(left + pw / 2, 18, title, size: 13, anchor: "middle")
        s += "<rect x=\"\(f(left))\" y=\"\(f(top))\" width=\"\(f(pw))\" height=\"\(f(ph))\" fill=\"none\" stroke=\"#444\"/>\n"
        for t in ticks(xr) {
            let x = left + (t - xr.lo) / (xr.hi - xr.lo) * pw
            s += "<line x1=\"\(f(x))\" y1=\"\(f(top + ph))\" x2=\"\(f(x))\" y2=\"\(f(top + ph + 4))\" stroke=\"#444\"/>\n"
            s += text(x, top + ph + 16, label(t), size: 10, anchor: "middle")
        }
        for t in ticks(yr) {
            let y = top + ph - (t - yr.lo) / (yr.hi - yr.lo) * ph
            s += "<line x1=\"\(f(left - 4))\" y1=\"\(f(y))\" x2=\"\(f(left + pw))\" y2=\"\(f(y))\" stroke=\"#ddd\"/>\n"
            s += text(left - 6, y + 3, label(t), size: 10, anchor: "end")
        }
        s += text(left + pw / 2, h - 8, xl, size: 11, anchor: "middle")
        s += "<text x=\"14\" y=\"\(f(top + ph / 2))\" font-size=\"11\" text-anchor=\"middle\" transform=\"rotate(-90 14 \(f(top + ph / 2)))\">\(escape(yl))</text>\n"
        return s
    }

    // MARK: - Helpers

    /// Marching squares: segments (i1, j1, i2, j2) in grid-index coordinates where the bilinear
    /// surface through values[j][i] crosses `level`; cells with a non-finite corner are skipped and
    /// saddles are split by the cell mean.
    static func contourSegments(_ v: [[Double]], level: Double) -> [(Double, Double, Double, Double)] {
        var out: [(Double, Double, Double, Double)] = []
        guard v.count >= 2, let width = v.first?.count, width >= 2 else { return out }
        for j in 0..<(v.count - 1) {
            for i in 0..<(width - 1) where v[j].count == width && v[j + 1].count == width {
                // Corners counter-clockwise from (i, j).
                let c = [(Double(i), Double(j), v[j][i]), (Double(i + 1), Double(j), v[j][i + 1]),
                         (Double(i + 1), Double(j + 1), v[j + 1][i + 1]), (Double(i), Double(j + 1), v[j + 1][i])]
                if c.contains(where: { !$0.2.isFinite }) { continue }
                var crossings: [(Double, Double)] = []
                for e in 0..<4 {
                    let a = c[e], b = c[(e + 1) % 4]
                    if (a.2 < level) != (b.2 < level) {
                        let t = (level - a.2) / (b.2 - a.2)
                        crossings.append((a.0 + t * (b.0 - a.0), a.1 + t * (b.1 - a.1)))
                    }
                }
                if crossings.count == 2 {
                    out.append((crossings[0].0, crossings[0].1, crossings[1].0, crossings[1].1))
                } else if crossings.count == 4 {
                    // Saddle: pair edges so the centre's side (by the cell mean) stays connected.
                    let centreAbove = c.map(\.2).reduce(0, +) / 4 >= level, firstAbove = c[0].2 >= level
                    let pairs = centreAbove == firstAbove ? [(0, 1), (2, 3)] : [(0, 3), (1, 2)]
                    for (p, q) in pairs { out.append((crossings[p].0, crossings[p].1, crossings[q].0, crossings[q].1)) }
                }
            }
        }
        return out
    }

    /// A range covering `values` rounded out to a 1/2/5×10^k step (about 5 ticks).
    static func niceRange(_ values: [Double]) -> (lo: Double, hi: Double, step: Double) {
        var lo = values.min() ?? 0, hi = values.max() ?? 1
        if hi - lo < 1e-12 { let pad = max(abs(lo) * 0.1, 0.5); lo -= pad; hi += pad }
        let raw = (hi - lo) / 5, mag = pow(10, floor(log10(raw)))
        let step = [1.0, 2, 5, 10].map { $0 * mag }.first { $0 >= raw } ?? 10 * mag
        return (floor(lo / step) * step, ceil(hi / step) * step, step)
    }

    /// Tick positions of a range (its own step, or 5 intervals when step is 0).
    static func ticks(_ r: (lo: Double, hi: Double, step: Double)) -> [Double] {
        let step = r.step > 0 ? r.step : (r.hi - r.lo) / 4
        let n = Int(((r.hi - r.lo) / step).rounded())
        return (0...max(n, 0)).map { r.lo + Double($0) * step }
    }

    /// Viridis-like colour for t in [0, 1].
    static func ramp(_ t: Double) -> String {
        let stops: [(Double, Double, Double)] = [(68, 1, 84), (59, 82, 139), (33, 145, 140), (94, 201, 98), (253, 231, 37)]
        let u = min(max(t.isFinite ? t : 0, 0), 1) * Double(stops.count - 1)
        let i = min(Int(u), stops.count - 2), a = u - Double(i)
        let c = (0..<3).map { k -> Int in
            let p = [stops[i].0, stops[i].1, stops[i].2][k], q = [stops[i + 1].0, stops[i + 1].1, stops[i + 1].2][k]
            return Int((p + (q - p) * a).rounded())
        }
        return String(format: "#%02x%02x%02x", c[0], c[1], c[2])
    }

    static func text(_ x: Double, _ y: Double, _ s: String, size: Double, anchor: String = "start") -> String {
        "<text x=\"\(f(x))\" y=\"\(f(y))\" font-size=\"\(f(size))\" text-anchor=\"\(anchor)\">\(escape(s))</text>\n"
    }

    /// XML-escapes text content and attribute values.
    static func escape(_ s: String) -> String {
        var o = ""
        for ch in s {
            switch ch {
            case "&": o += "&amp;"
            case "<": o += "&lt;"
            case ">": o += "&gt;"
            case "\"": o += "&quot;"
            case "'": o += "&apos;"
            default: o.append(ch)
            }
        }
        return o
    }

    /// A compact tick label.
    static func label(_ v: Double) -> String {
        if v == 0 { return "0" }
        if abs(v) >= 1e4 || abs(v) < 1e-3 { return String(format: "%.2g", v) }
        var s = String(format: "%.4f", v)
        while s.hasSuffix("0") { s.removeLast() }
        if s.hasSuffix(".") { s.removeLast() }
        return s
    }

    /// A coordinate with two decimals.
    static func f(_ v: Double) -> String { String(format: "%.2f", v.isFinite ? v : 0) }
}
