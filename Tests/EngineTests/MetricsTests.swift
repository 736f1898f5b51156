import Foundation
import XCTest
@testable import Engine

/// Compares the metrics with scipy (Fixtures/metrics_fixture.json from
/// scripts/reference/metrics_fixture.py) and with naive twins.
final class MetricsTests: XCTestCase {
    struct Case {
        let name: String
        let x: [Double], y: [Double]
        let srcc: Double, plcc: Double, krcc: Double, rmse: Double, rmseRescaled: Double
        let rescaled: [Double]
        let params: [Double], fitted: [Double], fitPLCC: Double, fitRMSE: Double, fitCost: Double
    }

    func loadCases() throws -> [Case] {
        let url = try XCTUnwrap(Bundle.module.url(forResource: "metrics_fixture", withExtension: "json", subdirectory: "Fixtures"),
                                "run scripts/reference/metrics_fixture.py to create the fixture")
        let root = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
        let cases = try XCTUnwrap(root["cases"] as? [[String: Any]])
        return try cases.map { c in
            func d(_ k: String, _ o: [String: Any] = c) throws -> Double { try XCTUnwrap(o[k] as? Double, k) }
            func a(_ k: String, _ o: [String: Any] = c) throws -> [Double] { try XCTUnwrap(o[k] as? [Double], k) }
            let fit = try XCTUnwrap(c["logistic"] as? [String: Any])
            return Case(name: c["name"] as? String ?? "?", x: try a("predictions"), y: try a("labels"),
                        srcc: try d("srcc"), plcc: try d("plcc"), krcc: try d("krcc"), rmse: try d("rmse"),
                        rmseRescaled: try d("rmse_rescaled"), rescaled: try a("rescaled"),
                        params: try a("params", fit), fitted: try a("fitted", fit), fitPLCC: try d("plcc", fit),
                        fitRMSE: try d("rmse", fit), fitCost: try d("cost", fit))
        }
    }

    func testCorrelationsMatchScipy() throws {
        let cases = try loadCases()
        XCTAssertGreaterThanOrEqual(cases.count, 5)
        for c in cases {
            XCTAssertEqual(Metrics.srcc(c.x, c.y), c.srcc, accuracy: 1e-6, c.name)
            XCTAssertEqual(Metrics.krcc(c.x, c.y), c.krcc, accuracy: 1e-6, c.name)
            XCTAssertEqual(Metrics.plcc(c.x, c.y), c.plcc, accuracy: 1e-6, c.name)
            XCTAssertEqual(Metrics.rmse(c.x, c.y), c.rmse, accuracy: 1e-9 * max(1, c.rmse), c.name)
            let r = Metrics.rescaled(c.x, to: c.y)
            for i in 0..<r.count { XCTAssertEqual(r[i], c.rescaled[i], accuracy: 1e-9 * max(1, abs(c.rescaled[i])), c.name) }
        }
    }

    func testLogisticFitMatchesScipyCurveFit() throws {
        for c in try loadCases() {
            let f = try XCTUnwrap(Logistic4.fit(c.x, c.y), c.name)
            let scale = max(1, c.y.map(abs).max()!)
            let fitted = c.x.map(f.apply)
            var cost = 0.0
            for i in 0..<fitted.count {
                XCTAssertEqual(fitted[i], c.fitted[i], accuracy: 1e-4 * scale, "\(c.name) fitted value \(i)")
                cost += (fitted[i] - c.y[i]) * (fitted[i] - c.y[i])
            }
            // Never a worse optimum than scipy's.
            XCTAssertLessThanOrEqual(cost, c.fitCost * (1 + 1e-9) + 1e-12, c.name)
            let report = QualityReport(predictions: c.x, labels: c.y)
            XCTAssertEqual(report.plccLogistic, c.fitPLCC, accuracy: 1e-4, c.name)
            XCTAssertEqual(report.rmseLogistic, c.fitRMSE, accuracy: 1e-4 * scale, c.name)
            XCTAssertEqual(report.srcc, c.srcc, accuracy: 1e-6, c.name)
            XCTAssertEqual(report.krcc, c.krcc, accuracy: 1e-6, c.name)
            XCTAssertEqual(report.plcc, c.plcc, accuracy: 1e-6, c.name)
            XCTAssertEqual(report.rmse, c.rmseRescaled, accuracy: 1e-9 * scale, c.name)
            XCTAssertEqual(report.count, c.x.count)
            // Well-determined fits also agree on the parameters (midpoint and |slope| scale).
            if ["ties_n7", "n7", "logistic_n50"].contains(c.name) {
                XCTAssertEqual(f.b1, c.params[0], accuracy: 1e-3 * max(1, abs(c.params[0])), c.name)
                XCTAssertEqual(f.b2, c.params[1], accuracy: 1e-3 * max(1, abs(c.params[1])), c.name)
                XCTAssertEqual(f.b3, c.params[2], accuracy: 1e-3 * max(1, abs(c.params[2])), c.name)
                XCTAssertEqual(abs(f.b4), abs(c.params[3]), accuracy: 1e-3 * max(1, abs(c.params[3])), c.name)
            }
        }
    }

    func testKendallTauBMatchesNaiveTwin() {
        var rng = CounterRNG(seed: 5, purpose: .test)
        // Coarse values force many ties in x, y and both.
        let x = (0..<300).map { _ in Double(rng.nextInt(below: 12)) }
        let y = x.map { $0 + Double(rng.nextInt(below: 7)) }
        var conc = 0.0, disc = 0.0, tx = 0.0, ty = 0.0
        for i in 0..<x.count {
            for j in i + 1..<x.count {
                let a = x[i] - x[j], b = y[i] - y[j]
                if a == 0 && b == 0 { continue }
                if a == 0 { tx += 1 } else if b == 0 { ty += 1 } else if (a > 0) == (b > 0) { conc += 1 } else { disc += 1 }
            }
        }
        let naive = (conc - disc) / ((conc + disc + tx) * (conc + disc + ty)).squareRoot()
        XCTAssertEqual(Metrics.krcc(x, y), naive, accuracy: 1e-12)
        XCTAssertEqual(Metrics.krcc(x, y.map { -$0 }), -naive, accuracy: 1e-12)
    }

    func testRanksAverageTies() {
        XCTAssertEqual(Metrics.ranks([10, 20, 20, 5, 20]), [2, 4, 4, 1, 4])
    }

    func testDegenerateInputsGiveNaNLikeScipy() {
        XCTAssertTrue(Metrics.plcc([1, 1, 1], [1, 2, 3]).isNaN)
        XCTAssertTrue(Metrics.srcc([1, 1, 1], [1, 2, 3]).isNaN)
        XCTAssertTrue(Metrics.krcc([1, 2, 3], [4, 4, 4]).isNaN)
        XCTAssertTrue(Metrics.plcc([1], [2]).isNaN)
        XCTAssertNil(Logistic4.fit([1, 2, 3], [1, 2, 3]), "needs at least 4 points")
        XCTAssertNil(Logistic4.fit([1, 1, 1, 1], [1, 2, 3, 4]), "constant predictions")
        let report = QualityReport(predictions: [1, 1, 1, 1] as [Double], labels: [1, 2, 3, 4])
        XCTAssertNil(report.logistic)
        XCTAssertTrue(report.plccLogistic.isNaN)
    }

    func testLogisticApply() {
        let f = Logistic4(b1: 5, b2: 1, b3: 0.5, b4: -0.25)
        XCTAssertEqual(f.apply(0.5), 3, accuracy: 1e-15)  // midpoint
        XCTAssertEqual(f.apply(0.5 + 0.25 * log(3.0)), 1 + 4 * 0.75, accuracy: 1e-12)  // |b4| used
        XCTAssertEqual(f.apply(Float(100)), 5, accuracy: 1e-6)
    }
}
