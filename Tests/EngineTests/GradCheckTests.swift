// The gradient checker itself: a gradient that is 1 % off must fail it (the old checker, absolute
// tolerance 2e-2 per element with a second-order stencil, passed it), and so must a bug confined to
// one element; a correct gradient passes with a wide margin.

import XCTest
@testable import Engine

final class GradCheckTests: XCTestCase {
    /// Identity forward whose backward scales the incoming gradient by `factor` (and, with `bump`,
    /// adds `bump` to element `at` of it): a deliberately wrong gradient wrapped around a real op.
    func wrongGradient(_ t: Tape, _ x: Var, factor: Float, bump: Float = 0, at: Int = 0) -> Var {
        let n = t.count(x)
        let (y, out) = t.output(shape: t.shape(x), needsGrad: t.anyNeedsGrad(x))
        out.update(from: t.value(x), count: n)
        t.setBackward(y) { t in
            guard t.needsGrad(x) else { return }
            let gy = t.grad(y), gx = t.grad(x)
            for i in 0..<n { gx[i] += factor * gy[i] }
            gx[at] += bump
        }
        return y
    }

    /// Real ops: a layer norm with affine parameters and a linear layer with GELU in between.
    let inputs: [([Float], [Int])] = [(randomArray(3 * 8, seed: 5, scale: 2), [3, 8]), (randomArray(8, seed: 6), [8]),
                                      (randomArray(8, seed: 7), [8]), (randomArray(5 * 8, seed: 8), [5, 8])]
    func network(_ t: Tape, _ v: [Var]) -> Var { t.linear(t.gelu(t.layerNorm(v[0], v[1], v[2])), v[3], nil) }

    func testCorrectGradientPassesWithMargin() {
        let r = gradCheckReport(inputs) { t, v in self.network(t, v) }
        XCTAssertLessThan(r.relativeNorm.max()!, 3e-4, "the finite differences must resolve far below the 3e-3 tolerance")
        XCTAssertLessThan(gradCheck(inputs) { t, v in self.network(t, v) }, 3e-3)
    }

    func testOnePercentScaledGradientFails() {
        let r = gradCheckReport(inputs) { t, v in
            self.network(t, [self.wrongGradient(t, v[0], factor: 1.01)] + v[1...])
        }
        XCTAssertGreaterThan(r.relativeNorm[0], 3e-3, "a gradient 1 % too large must fail the default tolerance")
        XCTAssertEqual(r.relativeNorm[0], 0.01, accuracy: 1e-3)
        XCTAssertLessThan(r.relativeNorm[1], 3e-3, "the other inputs' gradients are still right")
        // The old criterion: per element, absolute below 1, tolerance 2e-2. It accepted this.
        XCTAssertLessThan(r.worstElement.error, 2e-2)
    }

    func testOneWrongElementFails() {
        let n = 3 * 8 * 4
        let r = gradCheckReport([(randomArray(n, seed: 9, scale: 2), [n])]) { t, v in
            t.gelu(self.wrongGradient(t, v[0], factor: 1, bump: 0.05, at: 17))
        }
        XCTAssertEqual(r.worstElement.index, 17)
        XCTAssertGreaterThan(r.worstElement.error, 2e-2, "an error confined to one element must fail the element criterion")
    }
}
