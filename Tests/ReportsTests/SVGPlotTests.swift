// The SVG writer of the reports: escaping, NaN gaps and infinite cells, a document that parses as
// XML, nice axis ranges, and contour lines against the exact level lines of a plane.

import XCTest
import Foundation
@testable import Reports
import TestSupport

final class SVGPlotTests: XCTestCase {
    func testSVGPlotEscapesAndParses() throws {
        let svg = SVGPlot.document([
            .lines(title: "a < b & \"c\"", xLabel: "x", yLabel: "y",
                   series: [SVGSeries(name: "r&d", xs: [0, 1, 2, 3], ys: [1, .nan, 2, 3]), SVGSeries(name: "flat", xs: [0, 1], ys: [2, 2], dashed: true)]),
            .heatMap(title: "h", xLabel: "α", yLabel: "β", xs: [0, 1], ys: [0, 1, 2], values: [[1, 2], [3, .infinity], [5, 6]]),
        ])
        let url = try TempDir.make("svg-plot", for: self).appendingPathComponent("plot.svg")
        try Data(svg.utf8).write(to: url)
        try assertParsesAsXML(url)
        XCTAssertTrue(svg.contains("a &lt; b &amp; &quot;c&quot;"))
        // The NaN splits the first line into a dot and a 2-point polyline; the flat line is one polyline.
        XCTAssertEqual(svg.components(separatedBy: "<polyline").count - 1, 2)
        XCTAssertEqual(svg.components(separatedBy: "<circle").count - 1, 1)
        XCTAssertEqual(SVGPlot.niceRange([0.13, 0.87]).lo, 0)
        XCTAssertEqual(SVGPlot.niceRange([0.13, 0.87]).hi, 1, accuracy: 1e-12)
    }
}

final class SVGContourTests: XCTestCase {
    /// Contours of f(i, j) = i + j at level 1.5 on a 3×3 grid lie on the line i + j = 1.5.
    func testContourOfAPlaneLiesOnItsLevelLine() {
        let v = (0..<3).map { j in (0..<3).map { i in Double(i + j) } }
        let segs = SVGPlot.contourSegments(v, level: 1.5)
        XCTAssertEqual(segs.count, 3)  // cells (0,0), (1,0) and (0,1); not (1,1), whose corners are all ≥ 2
        for s in segs {
            XCTAssertEqual(s.0 + s.1, 1.5, accuracy: 1e-12)
            XCTAssertEqual(s.2 + s.3, 1.5, accuracy: 1e-12)
        }
        XCTAssertTrue(SVGPlot.contourSegments(v, level: 10).isEmpty)
        XCTAssertTrue(SVGPlot.contourSegments([[1, .nan], [2, 3]], level: 1.5).isEmpty)
        // A saddle gives two segments.
        XCTAssertEqual(SVGPlot.contourSegments([[0, 1], [1, 0]], level: 0.5).count, 2)
    }
}
