// fragnet's `norm=none` option (no GroupNorm anywhere) against a naive Double twin written from the
// shape legend in FragNet.swift: direct-loop Conv3d, exact GELU (erf), residual add, 1×1×1 head, mean.
// Shapes here: x [2, 3, 2, 64, 32] → stem [2, 4, 1, 16, 8] → stages [.., 8×4], [.., 4×2], [.., 2×1]
// → quality map [2, 1, 1, 2, 1] → scores [2].

import XCTest
import Foundation
@testable import Engine

final class FragNetNormOptionTests: XCTestCase {
    let options = ["widths": "4,4,8,8", "head_hidden": "4", "dropout": "0", "norm": "none"]

    /// Naive Conv3d on Double: x [N, Cin, T, H, W], w [Cout, Cin, kt, kh, kw] → [N, Cout, T', H', W'].
    func conv(_ x: [Double], _ xs: [Int], _ w: [Float], _ b: [Float], cout: Int, k: (Int, Int, Int),
              s: (Int, Int, Int), p: (Int, Int, Int)) -> ([Double], [Int]) {
        let (n, cin, t, h, wd) = (xs[0], xs[1], xs[2], xs[3], xs[4])
        let to = (t + 2 * p.0 - k.0) / s.0 + 1, ho = (h + 2 * p.1 - k.1) / s.1 + 1, wo = (wd + 2 * p.2 - k.2) / s.2 + 1
        var y = [Double](repeating: 0, count: n * cout * to * ho * wo)
        for ni in 0..<n { for co in 0..<cout { for a in 0..<to { for bb in 0..<ho { for c in 0..<wo {
            var acc = Double(b[co])
            for ci in 0..<cin { for i in 0..<k.0 { for j in 0..<k.1 { for l in 0..<k.2 {
                let ti = a * s.0 - p.0 + i, hi = bb * s.1 - p.1 + j, wi = c * s.2 - p.2 + l
                guard ti >= 0, ti < t, hi >= 0, hi < h, wi >= 0, wi < wd else { continue }
                acc += Double(w[(((co * cin + ci) * k.0 + i) * k.1 + j) * k.2 + l]) * x[(((ni * cin + ci) * t + ti) * h + hi) * wd + wi]
            } } } }
            y[(((ni * cout + co) * to + a) * ho + bb) * wo + c] = acc
        } } } } }
        return (y, [n, cout, to, ho, wo])
    }

    func gelu(_ v: [Double]) -> [Double] { v.map { 0.5 * $0 * (1 + erf($0 / 2.0.squareRoot())) } }

    func testNormNoneMatchesNaiveTwinAndHasNoNormParameters() throws {
        let m = try FragNet(config: FragNet.Config(options: options), seed: 3)
        let p = m.parameters
        XCTAssertFalse(p.infos.contains { $0.name.contains("norm") }, "norm=none must declare no normalisation parameters")
        let withNorm = try FragNet(config: FragNet.Config(options: options.merging(["norm": "group"]) { $1 }), seed: 3)
        XCTAssertEqual(withNorm.parameters.infos.count - p.infos.count, 2 * 7, "7 GroupNorms (weight + bias each) dropped")
        func w(_ name: String) -> [Float] { Array(p.value(p.index(of: name)!)) }

        let xs = [2, 3, 2, 64, 32]
        let input = randomArray(xs.reduce(1, *), seed: 5, scale: 2)
        let tape = Tape(compute: Compute(threads: 2))
        let scores = m.forward(tape, tape.constant(input, shape: xs))

        let wdt = [4, 4, 8, 8]
        var (h, hs) = conv(input.map(Double.init), xs, w("stem.conv.weight"), w("stem.conv.bias"), cout: wdt[0],
                           k: (2, 4, 4), s: (2, 4, 4), p: (0, 0, 0))
        h = gelu(h)
        for i in 0..<3 {
            let (pre, ds) = conv(h, hs, w("stages.\(i).down.weight"), w("stages.\(i).down.bias"), cout: wdt[i + 1],
                                 k: (3, 3, 3), s: (1, 2, 2), p: (1, 1, 1))
            let d = gelu(pre)
            let (bl, _) = conv(d, ds, w("stages.\(i).block.conv.weight"), w("stages.\(i).block.conv.bias"), cout: wdt[i + 1],
                               k: (1, 3, 3), s: (1, 1, 1), p: (0, 1, 1))
            h = zip(d, gelu(bl)).map { $0 + $1 }; hs = ds
        }
        let (hid, hidS) = conv(h, hs, w("head.fc_hid.weight"), w("head.fc_hid.bias"), cout: 4, k: (1, 1, 1), s: (1, 1, 1), p: (0, 0, 0))
        let (map, mapS) = conv(gelu(hid), hidS, w("head.fc_last.weight"), w("head.fc_last.bias"), cout: 1,
                               k: (1, 1, 1), s: (1, 1, 1), p: (0, 0, 0))
        XCTAssertEqual(mapS, [2, 1, 1, 2, 1])
        let per = map.count / 2
        let expected = (0..<2).map { n in map[(n * per)..<((n + 1) * per)].reduce(0, +) / Double(per) }
        let ours = tape.array(scores)
        XCTAssertEqual(ours.count, 2)
        for n in 0..<2 {
            XCTAssertEqual(Double(ours[n]), expected[n], accuracy: 1e-5 * max(1, abs(expected[n])), "score \(n)")
        }
        XCTAssertNotEqual(expected[0], expected[1], "the two clips must score differently, or the check is weak")
    }

    func testNormOptionIsValidated() {
        XCTAssertThrowsError(try FragNet.Config(options: ["norm": "batch"])) { error in
            XCTAssertTrue("\(error)".contains("'group' or 'none'"), "\(error)")
        }
        XCTAssertTrue(try FragNet.Config(options: [:]).groupNorm, "the default keeps GroupNorm (PyTorch parity fixture)")
        // Widths need not divide into groups when there is no GroupNorm.
        XCTAssertNoThrow(try FragNet.Config(options: ["widths": "6,6,10,10", "groups": "4", "norm": "none"]))
    }
}
