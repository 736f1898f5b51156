// Which convolutions take the patchify direct kernel (Conv+Patchify.swift). Its results are
// checked against the naive convolution by ConvTests (the "patchify" and "fragnet stem" cases, with
// and without kept columns) and across thread counts by ConvThreadsTests; this test makes sure
// those cases really run it, and that fragnet's stem does.

import XCTest
@testable import Engine

final class PatchifyTests: XCTestCase {
    func geometry(_ c: ConvTests.Case) -> ConvGeometry {
        var g = ConvGeometry()
        (g.n, g.cin, g.t, g.h, g.w) = (c.x[0], c.x[1], c.x[2], c.x[3], c.x[4])
        (g.cout, g.kt, g.kh, g.kw) = (c.w[0], c.w[2], c.w[3], c.w[4])
        (g.st, g.sh, g.sw) = c.stride
        (g.pt, g.ph, g.pw) = c.padding
        (g.dt, g.dh, g.dw) = c.dilation
        g.groups = c.groups
        return g
    }

    func testPatchifyCasesAndFragnetStemTakeTheDirectKernel() {
        let tested = ConvTests.cases.filter { $0.0.contains("patchify") }
        XCTAssertEqual(tested.count, 3)
        for (name, c) in tested { XCTAssertTrue(geometry(c).isPatchify, name) }
        let stem = ConvTests.Case(x: [4, 3, 8, 224, 224], w: [24, 3, 2, 4, 4], stride: (2, 4, 4))
        XCTAssertTrue(geometry(stem).isPatchify)
        // Overlapping, padded, grouped, large-K or narrow convolutions keep vol2col + sgemm.
        for c in [ConvTests.Case(x: [1, 3, 4, 16, 64], w: [4, 3, 2, 4, 4], stride: (2, 2, 4)),
                  ConvTests.Case(x: [1, 3, 4, 16, 64], w: [4, 3, 2, 4, 4], stride: (2, 4, 4), padding: (0, 0, 1)),
                  ConvTests.Case(x: [1, 4, 4, 16, 64], w: [4, 2, 2, 4, 4], stride: (2, 4, 4), groups: 2),
                  ConvTests.Case(x: [1, 9, 4, 16, 64], w: [4, 9, 2, 4, 4], stride: (2, 4, 4)),
                  ConvTests.Case(x: [1, 3, 4, 16, 60], w: [4, 3, 2, 4, 4], stride: (2, 4, 4))] {
            XCTAssertFalse(geometry(c).isPatchify, "\(c.x) \(c.w) \(c.stride) \(c.padding) groups \(c.groups)")
        }
    }
}
