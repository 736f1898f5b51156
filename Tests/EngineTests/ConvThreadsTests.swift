// Thread-count independence of the convolutions: every output element sums the same products in
// the same order whatever the number of `Compute` workers, so 1, 2 and 3 threads must agree
// bit for bit (the naive-twin accuracy of every path is checked in ConvTests). Also the item
// scheduler and the column pieces that the convolutions split their GEMMs into.

import XCTest
@testable import Engine

final class ConvThreadsTests: XCTestCase {
    /// y, dX, dW, db of one convolution on `threads` workers.
    func run(_ c: ConvTests.Case, threads: Int, columnBudget: Int, tileBudget: Int) -> [[Float]] {
        let x = randomArray(c.x.reduce(1, *), seed: 21), w = randomArray(c.w.reduce(1, *), seed: 22)
        let tape = Tape(compute: Compute(threads: threads))
        let xv = tape.leaf(x, shape: c.x), wv = tape.leaf(w, shape: c.w)
        let bv = c.bias ? tape.leaf(randomArray(c.w[0], seed: 23), shape: [c.w[0]]) : nil
        let y = tape.conv3d(xv, wv, bv, stride: c.stride, padding: c.padding, dilation: c.dilation, groups: c.groups,
                            columnBudget: columnBudget, tileBudget: tileBudget)
        tape.backward(y, seed: randomArray(tape.count(y), seed: 24))
        func grad(_ v: Var) -> [Float] { Array(UnsafeBufferPointer(start: tape.grad(v), count: tape.count(v))) }
        return [tape.array(y), grad(xv), grad(wv)] + (bv.map { [grad($0)] } ?? [])
    }

    func testConvolutionsAreBitIdenticalForOneTwoAndThreeThreads() {
        let column = ConvGeometry.defaultColumnBudget, tile = ConvGeometry.defaultTileBudget
        let extra: [(String, ConvTests.Case)] = [
            ("one sample, blocked plane", ConvTests.Case(x: [1, 5, 2, 7, 9], w: [7, 5, 3, 3, 3], stride: (1, 2, 2), padding: (1, 1, 1))),
            ("pointwise, wide plane", ConvTests.Case(x: [2, 6, 2, 30, 31], w: [5, 6, 1, 1, 1])),
            // Long inner dimensions (K = 648, 432): OpenBLAS's sums depend on a GEMM's shape, so any
            // split that followed the thread count would show here.
            ("fragnet stage 0 down", ConvTests.Case(x: [3, 24, 2, 28, 28], w: [48, 24, 3, 3, 3], stride: (1, 2, 2), padding: (1, 1, 1))),
            ("fragnet stage 0 block", ConvTests.Case(x: [2, 48, 2, 28, 28], w: [48, 48, 1, 3, 3], padding: (0, 1, 1))),
        ]
        for (budget, tiles) in [(column, tile), (0, tile), (column, 1), (0, 10_000)] {
            for (name, c) in ConvTests.cases + extra {
                let one = run(c, threads: 1, columnBudget: budget, tileBudget: tiles)
                for threads in [2, 3] {
                    let many = run(c, threads: threads, columnBudget: budget, tileBudget: tiles)
                    for (i, what) in ["y", "dX", "dW", "db"].prefix(one.count).enumerated() {
                        XCTAssertEqual(one[i], many[i], "\(what) differs, 1 vs \(threads) threads: \(name), budgets \(budget)/\(tiles)")
                    }
                }
            }
        }
    }

    /// Whole fragnet gradients: bit-identical when repeated with the same thread count; across
    /// thread counts equal to float rounding (ops other than the convolutions may split their
    /// reductions by thread count).
    func testFragNetGradientsAreDeterministicPerThreadCount() throws {
        func gradients(threads: Int) throws -> [[Float]] {
            let m = try FragNet(config: FragNet.Config(options: ["widths": "8,8,16,16", "head_hidden": "16", "dropout": "0"]), seed: 3)
            let tape = Tape(compute: Compute(threads: threads))
            let x = tape.constant(randomArray(2 * 3 * 4 * 64 * 64, seed: 25), shape: [2, 3, 4, 64, 64])
            let scores = m.forward(tape, x)
            m.parameters.zeroGrad()
            tape.backward(scores, seed: [1, -0.5])
            return (0..<m.parameters.infos.count).map { Array(m.parameters.grad($0)) }
        }
        let names = try FragNet(config: FragNet.Config(options: ["widths": "8,8,16,16", "head_hidden": "16"]), seed: 3).parameters.infos.map(\.name)
        let one = try gradients(threads: 1)
        XCTAssertTrue(one.joined().contains { $0 != 0 })
        for threads in [1, 3] {
            let a = try gradients(threads: threads), b = try gradients(threads: threads)
            XCTAssertTrue(a == b, "\(threads) threads: two runs differ")
            for (i, name) in names.enumerated() {
                XCTAssertLessThan(maxRelativeError(a[i], one[i]), 1e-5, "\(name), 1 vs \(threads) threads")
            }
        }
    }

    func testForEachItemRunsEveryItemOnceWithDistinctConcurrentWorkers() {
        for threads in [1, 2, 3, 5] {
            let c = Compute(threads: threads), count = 1000
            let hits = UnsafeMutablePointer<Int>.allocate(capacity: count)
            hits.initialize(repeating: 0, count: count)
            let busy = UnsafeMutablePointer<Int>.allocate(capacity: threads)
            busy.initialize(repeating: 0, count: threads)
            defer { hits.deallocate(); busy.deallocate() }
            let hb = UncheckedBox(hits), bb = UncheckedBox(busy)
            c.forEachItem(count) { worker, item in
                bb.value[min(worker, threads - 1)] += 1  // a data race (caught by the sum below) if two calls shared a worker
                hb.value[item] += worker < threads ? 1 : 1000
                var s = 0
                for k in 0..<200 { s &+= k &* item }
                if s == -1 { print(s) }
            }
            XCTAssertEqual(Array(UnsafeBufferPointer(start: hits, count: count)), Array(repeating: 1, count: count), "threads \(threads)")
            XCTAssertEqual(UnsafeBufferPointer(start: busy, count: threads).reduce(0, +), count, "threads \(threads)")
        }
        var calls = 0
        Compute(threads: 4).forEachItem(0) { _, _ in calls += 1 }
        XCTAssertEqual(calls, 0)
    }

    func testPiecesCoverTheRangeWithAlignedBoundaries() {
        for (count, parts, minimum) in [(96, 4, 32), (1000, 4, 128), (100, 4, 256), (784, 4, 128), (17, 3, 16), (5, 2, 16)] {
            let p = Pieces(count, parts: parts, minimum: minimum)
            XCTAssertEqual(p.parts, max(1, min(parts, count / minimum)), "\(count)")
            var next = 0
            for i in 0..<p.parts {
                let r = p.bounds(i)
                XCTAssertEqual(r.lowerBound, next, "\(count) piece \(i)")
                XCTAssertFalse(r.isEmpty, "\(count) piece \(i)")
                if i > 0 { XCTAssertEqual(r.lowerBound % 16, 0) }
                next = r.upperBound
            }
            XCTAssertEqual(next, count)
        }
    }
}
