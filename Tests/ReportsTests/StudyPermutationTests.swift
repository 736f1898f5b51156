// The study table's p-values against scipy.stats.permutation_test (exact, two-sided, independent
// groups; values printed by scripts/reference/study_pvalues.py), and the limits of the test.

import XCTest
@testable import Reports

final class StudyPermutationTests: XCTestCase {
    /// (group a, group b, scipy's p) — scripts/reference/study_pvalues.py.
    let scipy: [([Double], [Double], Double)] = [
        ([0.1, 0.2, 0.3], [0.4, 0.5, 0.6], 0.1),
        ([0.556, 0.401, 0.444], [0.172, 0.487, 0.461], 0.6),
        ([49.4, 5.68, 1.15, 0.221, 0.231, 5.74], [0.0939, 3.29, -1.34, 0.0365, 3.82, 2.05], 0.19696969696969696),
        ([1.0, 2.0, 3.0, 4.0], [2.5, 3.5, 9.0], 0.34285714285714286),
        ([0.3, 0.3, 0.3], [0.3, 0.3, 0.3], 1.0),
    ]

    func testExactPValuesEqualSciPys() {
        for (a, b, p) in scipy {
            XCTAssertEqual(StudyTable.permutationP(a, b), p, accuracy: 1e-12, "\(a) vs \(b)")
            XCTAssertEqual(StudyTable.permutationP(b, a), p, accuracy: 1e-12, "two-sided: symmetric in the groups")
        }
    }

    func testLimits() {
        // Non-finite values are left out (a failed seed's NaN), as in the mean ± std cells.
        XCTAssertEqual(StudyTable.permutationP([0.1, .nan, 0.2, 0.3], [0.4, 0.5, 0.6]), 0.1, accuracy: 1e-12)
        XCTAssertTrue(StudyTable.permutationP([.nan], [1, 2]).isNaN)
        XCTAssertTrue(StudyTable.permutationP([], [1, 2]).isNaN)
        // One run against one: the two splits give ±t, so p = 1.
        XCTAssertEqual(StudyTable.permutationP([1], [2]), 1)
        // Too many splits to enumerate: NaN rather than hours of work.
        XCTAssertTrue(StudyTable.permutationP(Array(repeating: 1, count: 20), Array(repeating: 2, count: 20)).isNaN)
        XCTAssertEqual(StudyTable.binomial(12, 6), 924)
        XCTAssertNil(StudyTable.binomial(200, 100))
        // Six seeds against six, fully separated: 2 / 924.
        XCTAssertEqual(StudyTable.permutationP([1, 2, 3, 4, 5, 6], [7, 8, 9, 10, 11, 12]), 2.0 / 924, accuracy: 1e-15)
    }
}
