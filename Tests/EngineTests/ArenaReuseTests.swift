// Arena buffer release and reuse: the best-fit `takeReusable`, and the tape handing each dead
// activation gradient back during `backward` while keeping leaf and parameter gradients.

import XCTest
@testable import Engine

final class ArenaReuseTests: XCTestCase {
    func testReleasedBuffersAreReusedBestFitAndStepsStayAllocationFree() {
        let arena = Arena()
        for pass in 0..<3 {
            arena.reset()
            let a = arena.take(1000), b = arena.take(5000), c = arena.take(2000)
            arena.release(b)
            arena.release(c)
            let d = arena.takeReusable(1500)  // smallest released buffer that fits: c
            XCTAssertEqual(d, c)
            let e = arena.takeReusable(1800)  // c is taken: b
            XCTAssertEqual(e, b)
            let f = arena.takeReusable(1800)  // nothing released left: a new slot
            XCTAssert(f != a && f != b && f != c)
            if pass == 0 { XCTAssertEqual(arena.freshAllocations, 4) } else { XCTAssertEqual(arena.freshAllocations, 4, "pass \(pass) allocated") }
        }
    }

    /// y = x·2, then 20 chained ops (multiply by 1.01, add), backward; returns (dx, arena floats).
    func chain(_ tape: Tape, n: Int) -> ([Float], Int) {
        tape.reset()
        let x = tape.leaf([Float](repeating: 1, count: n), shape: [n])
        var y = tape.mulScalar(x, 2)
        for _ in 0..<20 { y = tape.add(tape.mulScalar(y, 1.01), y) }
        let seed = [Float](repeating: 1, count: n)
        seed.withUnsafeBufferPointer { tape.backward(y, seed: $0.baseAddress!) }
        return (Array(UnsafeBufferPointer(start: tape.grad(x), count: n)), tape.arena.reservedFloats)
    }

    func testBackwardReleasesDeadActivationGradients() {
        let n = 10_000, tape = Tape()
        let (dx, reserved) = chain(tape, n: n)
        // dy/dx = 2·2.01²⁰ for every element.
        let want = Float(2 * pow(2.01, 20.0))
        XCTAssert(dx.allSatisfy { abs($0 - want) <= 1e-4 * want }, "dx \(dx[0]) vs \(want)")
        // 41 forward values + the leaf; gradients reuse a handful of buffers instead of 41 more.
        let values = 42 * n
        XCTAssertLessThanOrEqual(reserved, Int(Double(values + 6 * n) * 1.13), "arena holds \(reserved) floats for \(values) of values")
        let fresh = tape.arena.freshAllocations
        let (again, reservedAgain) = chain(tape, n: n)
        XCTAssertEqual(again, dx)
        XCTAssertEqual(reservedAgain, reserved)
        XCTAssertEqual(tape.arena.freshAllocations, fresh, "a repeated step must reuse every buffer")
    }

    /// Workspaces taken inside backward closures go back to the arena when the closure returns: 20
    /// broadcast products each take an n-float workspace for the scalar's gradient in backward.
    func testBackwardWorkspacesAreReleasedPerClosure() {
        let n = 10_000, tape = Tape()
        let x = tape.leaf([Float](repeating: 1, count: n), shape: [n]), s = tape.leaf([1.01], shape: [1])
        var y = x
        for _ in 0..<20 { y = tape.mul(y, s) }
        let forward = tape.arena.reservedFloats
        let seed = [Float](repeating: 1, count: n)
        seed.withUnsafeBufferPointer { tape.backward(y, seed: $0.baseAddress!) }
        // ds = Σ over the 20 uses of Σ_i ∂y_i/∂s = 20·n·1.01¹⁹.
        XCTAssertEqual(Double(tape.grad(s)[0]), 20 * Double(n) * pow(1.01, 19), accuracy: 1)
        XCTAssertLessThanOrEqual(tape.arena.reservedFloats - forward, Int(Double(6 * n) * 1.13),
                                 "backward held \(tape.arena.reservedFloats - forward) floats: workspaces piled up")
    }

    func testReleasedValueIsReusedByBackward() {
        let tape = Tape()
        let x = tape.leaf([1, 2, 3, 4], shape: [4])
        let dead = tape.mulScalar(x, 2)
        let y = tape.mulScalar(x, 3)
        let deadBuffer = tape.value(dead)
        tape.releaseValue(dead)
        XCTAssertEqual(tape.grad(y), deadBuffer, "the released value is the first buffer a gradient gets")
    }

    func testLeafAndParameterGradientsSurviveBackward() {
        let store = ParameterStore()
        let w = store.declare("w", shape: [3], initializer: .ones)
        store.allocate()
        store.initialize(seed: 1)
        let tape = Tape()
        let x = tape.leaf([1, 2, 3], shape: [3])
        let y = tape.mul(x, tape.parameter(store, w))
        let hidden = tape.mulScalar(y, 3)
        let s = tape.sum(hidden, axes: [0])
        tape.backward(s)
        XCTAssertEqual(Array(UnsafeBufferPointer(start: tape.gradIfPresent(x)!, count: 3)), [3, 3, 3])
        XCTAssertEqual(Array(store.grad(w)), [3, 6, 9])
        XCTAssertNil(tape.gradIfPresent(hidden), "an op output's gradient is released once its backward ran")
    }
}
