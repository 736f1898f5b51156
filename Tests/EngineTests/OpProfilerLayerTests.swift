// OpProfiler's per-layer bookings: every convolution labels itself with its shape and FLOPs, and
// its forward and backward times land both under the op kind and under the layer.

import XCTest
@testable import Engine

final class OpProfilerLayerTests: XCTestCase {
    func testConvolutionsAreBookedPerLayerWithTheirFlops() {
        let tape = Tape(compute: Compute(threads: 2))
        let profiler = OpProfiler()
        tape.profiler = profiler
        for _ in 0..<3 {
            tape.reset()
            let x = tape.constant(randomArray(2 * 3 * 2 * 6 * 6, seed: 1), shape: [2, 3, 2, 6, 6])
            let w1 = tape.leaf(randomArray(4 * 3 * 27, seed: 2), shape: [4, 3, 3, 3, 3])
            let w2 = tape.leaf(randomArray(4 * 4 * 4, seed: 3), shape: [4, 4, 1, 2, 2])
            let h = tape.gelu(tape.conv3d(x, w1, nil, padding: (1, 1, 1)))
            let y = tape.conv3d(h, w2, nil, stride: (1, 2, 2))
            tape.backward(y, seed: randomArray(tape.count(y), seed: 4))
        }
        XCTAssertEqual(profiler.layers.map(\.name), ["conv 3->4 k3x3x3 s1x1x1 out 2x2x6x6", "conv 4->4 k1x2x2 s1x2x2 out 2x2x3x3"])
        // Forward FLOPs = 2 · N · Cout · To·Ho·Wo · Cin·kt·kh·kw per call; backward: dW only for the
        // first layer (its input is a constant), dX and dW for the second.
        let f1 = 2.0 * 2 * 4 * 72 * 81, f2 = 2.0 * 2 * 4 * 18 * 16
        XCTAssertEqual(profiler.layers.map(\.calls), [3, 3])
        XCTAssertEqual(profiler.layers.map(\.forwardFlops), [3 * f1, 3 * f2])
        XCTAssertEqual(profiler.layers.map(\.backwardFlops), [3 * f1, 3 * 2 * f2])
        let kind = profiler.entries.first { $0.name == "convolve" }!
        XCTAssertEqual(kind.calls, 6)
        XCTAssertEqual(kind.forwardSeconds, profiler.layers.reduce(0) { $0 + $1.forwardSeconds }, accuracy: 1e-12)
        XCTAssertEqual(kind.backwardSeconds, profiler.layers.reduce(0) { $0 + $1.backwardSeconds }, accuracy: 1e-12)
        XCTAssertTrue(profiler.layers.allSatisfy { $0.forwardSeconds > 0 && $0.backwardSeconds > 0 })
        XCTAssertTrue(profiler.entries.filter { $0.name != "convolve" }.allSatisfy { $0.forwardFlops == 0 })
        profiler.clear()
        XCTAssertTrue(profiler.layers.isEmpty)
    }
}
