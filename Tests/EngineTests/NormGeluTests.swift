import XCTest
@testable import Engine

/// The fused groupNormGelu against its naive twin gelu(groupNorm(x)) and finite differences.
final class NormGeluTests: XCTestCase {
    /// Values and every gradient of `build` for inputs (x, w, b) under upstream gradient r.
    func run(_ x: [Float], _ shape: [Int], _ w: [Float], _ b: [Float], threads: Int,
             _ build: (Tape, Var, Var, Var) -> Var) -> [[Float]] {
        let t = Tape(compute: Compute(threads: threads))
        let xv = t.leaf(x, shape: shape), wv = t.leaf(w, shape: [w.count]), bv = t.leaf(b, shape: [b.count])
        let y = build(t, xv, wv, bv)
        let r = randomArray(t.count(y), seed: 77)
        r.withUnsafeBufferPointer { t.backward(y, seed: $0.baseAddress!) }
        let grads = [xv, wv, bv].map { Array(UnsafeBufferPointer(start: t.grad($0), count: t.count($0))) }
        return [t.array(y)] + grads
    }

    /// Bit-identical to the separate ops, forward and backward, on shapes that take the SIMD
    /// paths (long channel runs) and odd tails, with one and two threads.
    func testBitIdenticalToSeparateOps() {
        for (shape, groups) in [([2, 8, 3, 7, 9], 4), ([4, 24, 2, 14, 14], 4), ([1, 6, 5], 3), ([3, 4, 1], 1),
                               ([2, 4, 3, 30, 31], 2), ([1, 2, 2, 32, 32], 1)] {
            let n = shape.reduce(1, *), ch = shape[1]
            // Offset and scaled inputs spread z over both branches of Φ (|z| below and above √2).
            let x = randomArray(n, seed: 31, scale: 4).map { $0 + 1.5 }
            let w = randomArray(ch, seed: 32, scale: 2), b = randomArray(ch, seed: 33)
            for threads in [1, 2] {
                let fused = run(x, shape, w, b, threads: threads) { t, x, w, b in t.groupNormGelu(x, groups: groups, w, b) }
                let twin = run(x, shape, w, b, threads: threads) { t, x, w, b in t.gelu(t.groupNorm(x, groups: groups, w, b)) }
                for (k, name) in ["y", "dx", "dw", "db"].enumerated() {
                    XCTAssertEqual(fused[k].map(\.bitPattern), twin[k].map(\.bitPattern),
                                   "\(name) differs for shape \(shape), groups \(groups), threads \(threads)")
                }
            }
        }
    }

    func testGradientsMatchFiniteDifferences() {
        let x = randomArray(2 * 4 * 6, seed: 41, scale: 2)
        gradCheck([(x, [2, 4, 6]), (randomArray(4, seed: 42, scale: 2), [4]), (randomArray(4, seed: 43), [4])], eps: 3e-3) { t, v in
            t.groupNormGelu(v[0], groups: 2, v[1], v[2])
        }
    }
}
