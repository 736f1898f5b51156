import XCTest
@testable import Engine

final class LinearTests: XCTestCase {
    func testLinearMatchesNaiveAndGradients() {
        let x = randomArray(3 * 5, seed: 1), w = randomArray(4 * 5, seed: 2), b = randomArray(4, seed: 3)
        let tape = Tape()
        let y = tape.linear(tape.constant(x, shape: [3, 5]), tape.constant(w, shape: [4, 5]), tape.constant(b, shape: [4]))
        XCTAssertEqual(tape.shape(y), [3, 4])
        let out = tape.array(y)
        for i in 0..<3 { for o in 0..<4 {
            var s = b[o]; for k in 0..<5 { s += x[i * 5 + k] * w[o * 5 + k] }
            XCTAssertEqual(out[i * 4 + o], s, accuracy: 1e-5)
        } }
        gradCheck([(x, [3, 5]), (w, [4, 5]), (b, [4])]) { t, v in t.linear(v[0], v[1], v[2]) }
    }

    func testBatchedMatmulAllTransposes() {
        for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
            let a = randomArray(2 * 3 * 4, seed: 5), b = randomArray(2 * 4 * 5, seed: 6)
            let ashape = ta ? [2, 4, 3] : [2, 3, 4], bshape = tb ? [2, 5, 4] : [2, 4, 5]
            let tape = Tape()
            let y = tape.matmul(tape.constant(a, shape: ashape), tape.constant(b, shape: bshape), transA: ta, transB: tb)
            XCTAssertEqual(tape.shape(y), [2, 3, 5])
            let out = tape.array(y)
            for n in 0..<2 { for i in 0..<3 { for j in 0..<5 {
                var s: Float = 0
                for k in 0..<4 {
                    let av = ta ? a[n * 12 + k * 3 + i] : a[n * 12 + i * 4 + k]
                    let bv = tb ? b[n * 20 + j * 4 + k] : b[n * 20 + k * 5 + j]
                    s += av * bv
                }
                XCTAssertEqual(out[n * 15 + i * 5 + j], s, accuracy: 1e-5)
            } } }
            gradCheck([(a, ashape), (b, bshape)]) { t, v in t.matmul(v[0], v[1], transA: ta, transB: tb) }
        }
    }

    func testArenaReusesBuffersInSteadyState() {
        let tape = Tape()
        let store = ParameterStore()
        let w = store.declare("fc.weight", shape: [8, 16], initializer: .kaimingUniform(fanIn: 16))
        store.allocate(); store.initialize(seed: 1)
        let x = randomArray(4 * 16)
        for step in 0..<3 {
            tape.reset()
            let before = tape.arena.freshAllocations
            let y = tape.linear(tape.constant(x, shape: [4, 16]), tape.parameter(store, w), nil)
            tape.backward(tape.alias(y, shape: [32]), seed: randomArray(32))
            if step > 0 { XCTAssertEqual(tape.arena.freshAllocations, before, "step \(step) allocated") }
        }
    }

    func testCounterRNGIsAPureFunctionOfItsKey() {
        var a = CounterRNG(seed: 42, epoch: 3, index: 17, purpose: .sampling)
        var b = CounterRNG(seed: 42, epoch: 3, index: 17, purpose: .sampling)
        var c = CounterRNG(seed: 42, epoch: 3, index: 18, purpose: .sampling)
        var d = CounterRNG(seed: 42, epoch: 3, index: 17, purpose: .dropout)
        let sa = (0..<9).map { _ in a.nextUInt32() }
        XCTAssertEqual(sa, (0..<9).map { _ in b.nextUInt32() })
        XCTAssertNotEqual(sa, (0..<9).map { _ in c.nextUInt32() })
        XCTAssertNotEqual(sa, (0..<9).map { _ in d.nextUInt32() })
        // Uniform floats: mean ≈ 0.5, Gaussians: mean ≈ 0, variance ≈ 1 over 20k draws.
        var r = CounterRNG(seed: 7, purpose: .test)
        let u = (0..<20_000).map { _ in Double(r.nextFloat()) }
        XCTAssertEqual(u.reduce(0, +) / 20_000, 0.5, accuracy: 0.01)
        let g = (0..<20_000).map { _ in Double(r.nextGaussian()) }
        let mean = g.reduce(0, +) / 20_000
        XCTAssertEqual(mean, 0, accuracy: 0.03)
        XCTAssertEqual(g.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / 20_000, 1, accuracy: 0.05)
    }
}

final class PhiloxTests: XCTestCase {
    /// Known-answer vectors of Random123's kat_vectors for philox4x32 with 10 rounds.
    func testPhiloxKnownAnswers() {
        func check(_ c: (UInt32, UInt32, UInt32, UInt32), _ k: (UInt32, UInt32), _ e: [UInt32]) {
            let r = CounterRNG.philox(c, k.0, k.1)
            XCTAssertEqual([r.0, r.1, r.2, r.3], e)
        }
        check((0, 0, 0, 0), (0, 0), [0x6627_e8d5, 0xe169_c58d, 0xbc57_ac4c, 0x9b00_dbd8])
        check((.max, .max, .max, .max), (.max, .max), [0x408f_276d, 0x41c8_3b0e, 0xa20b_c7c6, 0x6d54_51fd])
        check((0x243f_6a88, 0x85a3_08d3, 0x1319_8a2e, 0x0370_7344), (0xa409_3822, 0x299f_31d0),
              [0xd16c_fe09, 0x94fd_cceb, 0x5001_e420, 0x2412_6ea1])
    }
}
