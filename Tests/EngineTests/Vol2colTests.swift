// vol2col and col2vol (Conv+Kernels.swift, Conv+Rows.swift) against their definition, element by
// element, on geometries that reach every row path: contiguous, stride 2 and stride 4 gathers
// (full eight-float blocks, an overlapping last block, rows shorter than eight and shorter than
// four), padding on both edges, dilation, other strides, groups, two samples per call with a row
// stride larger than the columns, and a sub-range of output rows as the forward tiles use.
// Both kernels only move floats, so the comparison is exact.

import XCTest
@testable import Engine

final class Vol2colTests: XCTestCase {
    struct Shape {
        var x: [Int], k: (Int, Int, Int), s = (1, 1, 1), p = (0, 0, 0), d = (1, 1, 1), groups = 1, cout = 2
    }

    static let shapes: [(String, Shape)] = [
        ("patchify stride 4, Wo 9", Shape(x: [2, 3, 4, 9, 37], k: (2, 4, 4), s: (2, 4, 4))),
        ("patchify stride 4, Wo 21, padded", Shape(x: [2, 2, 3, 9, 83], k: (2, 4, 4), s: (2, 4, 4), p: (1, 2, 3))),
        ("stride 4, Wo 5", Shape(x: [1, 2, 2, 8, 20], k: (1, 4, 4), s: (1, 4, 4))),
        ("k3 stride (1,2,2) pad 1, Wo 10", Shape(x: [2, 3, 3, 9, 19], k: (3, 3, 3), s: (1, 2, 2), p: (1, 1, 1))),
        ("k3 stride (1,2,2) pad 1, Wo 19", Shape(x: [2, 2, 2, 5, 37], k: (3, 3, 3), s: (1, 2, 2), p: (1, 1, 1))),
        ("k3 stride 2, Wo 4", Shape(x: [1, 2, 3, 7, 7], k: (3, 3, 3), s: (2, 2, 2), p: (1, 1, 1))),
        ("k(1,3,3) pad (0,1,1), Wo 13", Shape(x: [2, 3, 2, 6, 13], k: (1, 3, 3), p: (0, 1, 1))),
        ("k(1,3,3) pad (0,1,1), Wo 5", Shape(x: [2, 3, 2, 6, 5], k: (1, 3, 3), p: (0, 1, 1))),
        ("k(1,3,3) pad (0,1,1), Wo 3", Shape(x: [1, 2, 2, 4, 3], k: (1, 3, 3), p: (0, 1, 1))),
        ("k 3 stride 1, Wo 26, no pad", Shape(x: [1, 2, 3, 5, 28], k: (3, 3, 3))),
        ("stride 3, dilation 2, groups 2", Shape(x: [2, 4, 5, 11, 29], k: (2, 3, 3), s: (1, 3, 3), p: (1, 2, 2),
                                                d: (2, 2, 2), groups: 2, cout: 4)),
        ("kernel wider than padded edge", Shape(x: [1, 1, 1, 3, 2], k: (1, 3, 5), p: (0, 1, 2))),
    ]

    func geometry(_ s: Shape) -> ConvGeometry {
        var g = ConvGeometry()
        (g.n, g.cin, g.t, g.h, g.w) = (s.x[0], s.x[1], s.x[2], s.x[3], s.x[4])
        (g.cout, g.kt, g.kh, g.kw) = (s.cout, s.k.0, s.k.1, s.k.2)
        (g.st, g.sh, g.sw) = s.s
        (g.pt, g.ph, g.pw) = s.p
        (g.dt, g.dh, g.dw) = s.d
        g.groups = s.groups
        return g
    }

    /// Index into x of column-matrix row r, output position q·Wo + ox of sample n, or nil (padding).
    func source(_ g: ConvGeometry, group: Int, n: Int, r: Int, q: Int, ox: Int) -> Int? {
        let c = r / g.kvol, kidx = r % g.kvol
        let ki = kidx / (g.kh * g.kw), kj = (kidx / g.kw) % g.kh, kk = kidx % g.kw
        let oz = q / g.ho, oy = q % g.ho
        let iz = oz * g.st - g.pt + ki * g.dt, iy = oy * g.sh - g.ph + kj * g.dh, ix = ox * g.sw - g.pw + kk * g.dw
        if iz < 0 || iz >= g.t || iy < 0 || iy >= g.h || ix < 0 || ix >= g.w { return nil }
        return (((n * g.cin + group * g.cinG + c) * g.t + iz) * g.h + iy) * g.w + ix
    }

    /// (group, first sample, samples, rows) of each call tested on geometry g.
    func calls(_ g: ConvGeometry) -> [(Int, Int, Int, Range<Int>)] {
        let all = 0..<g.to * g.ho, mid = (all.count / 3)..<max(all.count / 3 + 1, 2 * all.count / 3 + 1)
        var out: [(Int, Int, Int, Range<Int>)] = []
        for grp in 0..<g.groups {
            out += [(grp, 0, g.n, all), (grp, g.n - 1, 1, mid.clamped(to: all))]
        }
        return out
    }

    func testVol2colMatchesDefinition() {
        for (name, s) in Self.shapes {
            let g = geometry(s), x = (0..<s.x.reduce(1, *)).map { Float($0 % 977) + 0.5 }
            for threads in [1, 2] {
                for (grp, n0, nb, rows) in calls(g) {
                    let span = rows.count * g.wo, ld = nb * span + 3, sentinel: Float = -7
                    var col = [Float](repeating: sentinel, count: g.kRows * ld)
                    x.withUnsafeBufferPointer { xp in
                        col.withUnsafeMutableBufferPointer { cp in
                            ConvKernels.vol2col(xp.baseAddress!, g, group: grp, n0: n0, nb: nb, rows: rows,
                                                col: cp.baseAddress!, ld: ld, compute: Compute(threads: threads))
                        }
                    }
                    var bad = 0
                    for r in 0..<g.kRows {
                        for i in 0..<ld {
                            var want = sentinel
                            if i < nb * span {
                                let j = i / span, q = rows.lowerBound + (i % span) / g.wo, ox = i % g.wo
                                want = source(g, group: grp, n: n0 + j, r: r, q: q, ox: ox).map { x[$0] } ?? 0
                            }
                            if col[r * ld + i] != want { bad += 1 }
                        }
                    }
                    XCTAssertEqual(bad, 0, "\(name): group \(grp), samples \(n0)+\(nb), rows \(rows), \(threads) threads")
                }
            }
        }
    }

    func testCol2volMatchesDefinition() {
        for (name, s) in Self.shapes {
            let g = geometry(s), xCount = s.x.reduce(1, *)
            for (grp, n0, nb, rows) in calls(g) {
                let span = rows.count * g.wo, ld = nb * span + 3
                let col = (0..<g.kRows * ld).map { Float($0 % 613) * 0.25 }
                var gx = (0..<xCount).map { Float($0 % 7) }
                var want = gx.map { Double($0) }
                for r in 0..<g.kRows {
                    for i in 0..<nb * span {
                        let j = i / span, q = rows.lowerBound + (i % span) / g.wo, ox = i % g.wo
                        if let k = source(g, group: grp, n: n0 + j, r: r, q: q, ox: ox) { want[k] += Double(col[r * ld + i]) }
                    }
                }
                col.withUnsafeBufferPointer { cp in
                    gx.withUnsafeMutableBufferPointer { gp in
                        ConvKernels.col2vol(cp.baseAddress!, ld: ld, g, group: grp, n0: n0, nb: nb, rows: rows,
                                            gx: gp.baseAddress!, compute: Compute(threads: 2))
                    }
                }
                let worst = zip(gx, want).map { abs(Double($0) - $1) / max(1, abs($1)) }.max() ?? 0
                XCTAssertLessThan(worst, 1e-6, "\(name): group \(grp), samples \(n0)+\(nb), rows \(rows)")
            }
        }
    }
}
