import Foundation
import XCTest
@testable import Engine

/// NaN inputs and the bounded calibration against scipy (Fixtures/metrics_fixture.json: nan_cases,
/// bounded_cases from scripts/reference/metrics_fixture.py).
final class MetricsCalibrationTests: XCTestCase {
    func fixture(_ key: String) throws -> [[String: Any]] {
        let url = try XCTUnwrap(Bundle.module.url(forResource: "metrics_fixture", withExtension: "json", subdirectory: "Fixtures"))
        let root = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
        return try XCTUnwrap(root[key] as? [[String: Any]], "run scripts/reference/metrics_fixture.py")
    }

    /// JSON null → NaN (how the fixture writes scipy's NaN).
    func numbers(_ v: Any?) throws -> [Double] {
        try XCTUnwrap(v as? [Any]).map { ($0 as? Double) ?? .nan }
    }

    /// scipy's default nan_policy='propagate': any NaN makes SRCC, KRCC and PLCC NaN.
    func testNaNInputGivesNaNLikeScipy() throws {
        let cases = try fixture("nan_cases")
        XCTAssertEqual(cases.count, 3)
        for c in cases {
            let name = c["name"] as? String ?? "?"
            let x = try numbers(c["predictions"]), y = try numbers(c["labels"])
            XCTAssertTrue(c["srcc"] is NSNull && c["krcc"] is NSNull && c["plcc"] is NSNull, "scipy gives NaN for \(name)")
            XCTAssertTrue(Metrics.srcc(x, y).isNaN, "srcc \(name) = \(Metrics.srcc(x, y))")
            XCTAssertTrue(Metrics.krcc(x, y).isNaN, "krcc \(name) = \(Metrics.krcc(x, y))")
            XCTAssertTrue(Metrics.plcc(x, y).isNaN, "plcc \(name)")
        }
        // The issue's example, by value.
        XCTAssertTrue(Metrics.srcc([.nan, 1, 2, 3], [1, 2, 3, 4]).isNaN)
        XCTAssertTrue(Metrics.krcc([.nan, 1, 2, 3], [1, 2, 3, 4]).isNaN)
        XCTAssertTrue(QualityReport(predictions: [.nan, 1, 2, 3, 4] as [Double], labels: [1, 2, 3, 4, 5]).srcc.isNaN)
    }

    /// The bounded fit reaches scipy's bounded optimum (curve_fit, method 'trf', b1 and b2 in the
    /// label range): on a well-posed case and on one whose free fit runs off to b1 ≈ 755.
    func testBoundedFitMatchesScipyBoundedCurveFit() throws {
        let cases = try fixture("bounded_cases")
        XCTAssertEqual(cases.map { $0["name"] as? String }, ["logistic_n50", "exponential_n40"])
        for c in cases {
            let name = c["name"] as? String ?? "?"
            let x = try numbers(c["predictions"]), y = try numbers(c["labels"])
            let want = try numbers(c["fitted"]), cost = try XCTUnwrap(c["cost"] as? Double)
            let f = try XCTUnwrap(Logistic4.fitBounded(x, y), name)
            let lo = y.min()!, hi = y.max()!
            XCTAssertTrue((lo...hi).contains(f.b1) && (lo...hi).contains(f.b2), "\(name): limits \(f.b1), \(f.b2) outside \(lo)...\(hi)")
            var ours = 0.0
            for i in 0..<x.count {
                XCTAssertEqual(f.apply(x[i]), want[i], accuracy: 2e-3 * (hi - lo), "\(name) fitted value \(i)")
                ours += (f.apply(x[i]) - y[i]) * (f.apply(x[i]) - y[i])
            }
            XCTAssertLessThanOrEqual(ours, cost * (1 + 1e-6) + 1e-12, "\(name): never a worse bounded optimum than scipy's")
        }
        // The free fit of the degenerate case indeed leaves the label range (what the bound prevents).
        let free = try numbers(cases[1]["unbounded_params"])
        XCTAssertGreaterThan(free[0], 100)
    }

    /// The calibration never leaves the label range, even far outside the fitted predictions.
    func testCalibrationStaysInTheLabelRange() throws {
        let c = try fixture("bounded_cases")[1]
        let x = try numbers(c["predictions"]), y = try numbers(c["labels"])
        let free = try XCTUnwrap(Logistic4.fit(x, y))
        XCTAssertGreaterThan(free.apply(10.0 as Double), 50, "the free VQEG fit extrapolates far above the labels")
        let (cal, note) = Logistic4.calibration(x, y)
        let f = try XCTUnwrap(cal)
        XCTAssertNil(note, "40 points and a good logistic: no fallback")
        XCTAssertNil(f.linear)
        for v: Double in [-1e6, -10, 0, 0.5, 1, 10, 1e6] {
            XCTAssertTrue((y.min()!...y.max()!).contains(f.apply(v)), "calibrated \(v) → \(f.apply(v))")
        }
        XCTAssertLessThan(f.apply(0.1 as Double), f.apply(0.9 as Double), "monotone increasing for positively correlated data")
    }

    /// Below `minLogisticSamples` points the calibration is a clamped straight line, with a note.
    func testFewSamplesFallBackToLinearWithAWarning() throws {
        let x: [Double] = [0.1, 0.4, 0.35, 0.8, 0.9, 0.2]
        let y: [Double] = [1.2, 2.9, 2.5, 5.1, 5.9, 1.9]
        let (cal, note) = Logistic4.calibration(x, y)
        let f = try XCTUnwrap(cal)
        let line = try XCTUnwrap(f.linear)
        XCTAssertTrue(note?.contains("linear") ?? false, note ?? "no note")
        XCTAssertTrue(note?.contains("6 scored videos") ?? false, note ?? "no note")
        XCTAssertEqual(f.apply(100.0 as Double), 5.9)
        XCTAssertEqual(f.apply(-100.0 as Double), 1.2)
        XCTAssertGreaterThan(line.slope, 0)
        // Least squares: residuals sum to zero inside the range.
        var sum = 0.0
        for i in 0..<x.count { sum += line.slope * x[i] + line.intercept - y[i] }
        XCTAssertEqual(sum, 0, accuracy: 1e-9)
        XCTAssertTrue(f.summary.hasPrefix("linear"), f.summary)
        // Round trip through the checkpoint's JSON, and old calibrations (no "linear" key) still decode.
        let back = try JSONDecoder().decode(Logistic4.self, from: JSONEncoder().encode(f))
        XCTAssertEqual(back, f)
        let old = try JSONDecoder().decode(Logistic4.self, from: Data(#"{"b1":5,"b2":1,"b3":0.5,"b4":0.2}"#.utf8))
        XCTAssertEqual(old, Logistic4(b1: 5, b2: 1, b3: 0.5, b4: 0.2))
        XCTAssertNil(Logistic4.calibration([1, 1, 1], [1, 2, 3]).0, "constant predictions: no calibration")
        XCTAssertNil(Logistic4.calibration([.nan, 1, 2], [1, 2, 3]).0, "NaN: no calibration")
    }
}
