import XCTest
@testable import Engine

final class OpProfilerTests: XCTestCase {
    /// Runs conv → gelu → conv → add on `tape`, backward from the sum; returns the input gradient.
    private func pass(_ tape: Tape) -> [Float] {
        tape.reset()
        let x = tape.leaf(randomArray(2 * 3 * 2 * 6 * 6, seed: 1), shape: [2, 3, 2, 6, 6])
        let w1 = tape.leaf(randomArray(4 * 3 * 27, seed: 2), shape: [4, 3, 3, 3, 3])
        let w2 = tape.leaf(randomArray(4 * 4 * 9, seed: 3), shape: [4, 4, 1, 3, 3])
        let h = tape.gelu(tape.conv3d(x, w1, nil, padding: (1, 1, 1)))
        let y = tape.add(h, tape.conv3d(h, w2, nil, padding: (0, 1, 1)))
        tape.backward(y, seed: randomArray(tape.count(y), seed: 4))
        return Array(UnsafeBufferPointer(start: tape.grad(x), count: tape.count(x)))
    }

    func testBooksEveryOpKindWithCallsAndTimes() {
        let tape = Tape(compute: Compute(threads: 2))
        let profiler = OpProfiler()
        tape.profiler = profiler
        for _ in 0..<3 { _ = pass(tape) }
        let byName = Dictionary(uniqueKeysWithValues: profiler.entries.map { ($0.name, $0) })
        XCTAssertEqual(byName["convolve"]?.calls, 6, "\(profiler.entries)")
        XCTAssertEqual(byName["binaryOp"]?.calls, 3, "\(profiler.entries)")
        XCTAssertEqual(byName["unary"]?.calls, 3, "gelu: \(profiler.entries)")
        XCTAssertEqual(profiler.entries.reduce(0) { $0 + $1.calls }, 3 * 4, "two convs, gelu, add per pass: \(profiler.entries)")
        for e in profiler.entries {
            XCTAssertFalse(e.name.contains("("), "kind is the bare function name: \(e.name)")
            XCTAssertGreaterThanOrEqual(e.forwardSeconds, 0)
            XCTAssertGreaterThanOrEqual(e.backwardSeconds, 0)
        }
        XCTAssertGreaterThan(byName["convolve"]!.forwardSeconds, 0)
        XCTAssertGreaterThan(byName["convolve"]!.backwardSeconds, 0)
        profiler.clear()
        XCTAssertTrue(profiler.entries.isEmpty)
    }

    func testProfilingDoesNotChangeGradients() {
        let plain = pass(Tape(compute: Compute(threads: 2)))
        let tape = Tape(compute: Compute(threads: 2))
        tape.profiler = OpProfiler()
        XCTAssertEqual(pass(tape), plain)
    }

    func testKindStripsTheArgumentLabels() {
        XCTAssertEqual(OpProfiler.kind(of: "convolve(_:_:_:_:outShape:)"), "convolve")
        XCTAssertEqual(OpProfiler.kind(of: "plain"), "plain")
    }
}
