// meanStdPool (Ops+Reduce.swift), SimpleVQA's global mean and std pooling in one op: equal to the
// composition of mean, sub, square, sum and sqrt (values and gradients), finite differences, and
// the memory it exists for: simplevqa's pooling keeps no centred or squared copy of a stage.

import XCTest
@testable import Engine

final class MeanStdPoolTests: XCTestCase {
    func testEqualsTheComposedOpsAndFiniteDifferences() {
        let shape = [2, 3, 4, 5], x = randomArray(120, seed: 1, scale: 2).enumerated().map { $0.element + Float($0.offset % 7) * 0.3 }
        let seed = randomArray(12, seed: 2)
        var results: [[Float]] = []
        for fused in [false, true] {
            let tape = Tape(compute: Compute(threads: 2))
            let v = tape.leaf(x, shape: shape)
            let y: Var
            if fused { y = tape.meanStdPool(v, eps: 1e-12) } else {
                let mean = tape.mean(v, axes: [2, 3], keepDims: true)
                let dev = tape.sum(tape.square(tape.sub(v, mean)), axes: [2, 3])
                let std = tape.sqrt(tape.addScalar(tape.mulScalar(dev, 1 / Float(19)), 1e-12))
                y = tape.concat([tape.reshape(mean, [2, 3]), std], axis: 1)
            }
            XCTAssertEqual(tape.shape(y), [2, 6])
            seed.withUnsafeBufferPointer { tape.backward(y, seed: $0.baseAddress!) }
            results.append(tape.array(y) + Array(UnsafeBufferPointer(start: tape.grad(v), count: 120)))
        }
        assertClose(Array(results[1][..<12]), Array(results[0][..<12]), rel: 1e-6, "mean and std")
        assertClose(Array(results[1][12...]), Array(results[0][12...]), rel: 1e-5, "dx")
        // Sample 0, channel 1: mean and unbiased std over its 20 values, in Double.
        let plane = x[20..<40].map(Double.init), m = plane.reduce(0, +) / 20
        XCTAssertEqual(Double(results[1][1]), m, accuracy: 1e-6)
        XCTAssertEqual(Double(results[1][4]), (plane.map { ($0 - m) * ($0 - m) }.reduce(0, +) / 19).squareRoot(), accuracy: 1e-5)
        gradCheck([(randomArray(2 * 3 * 6, seed: 3, scale: 2), [2, 3, 6])], eps: 3e-3) { t, v in t.meanStdPool(v[0], eps: 1e-12) }
    }

    /// simplevqa's features over the trunk's stages take only the [B, 2C] results and the concat
    /// from the arena (the composed pooling took a centred and a squared copy of every stage).
    func testSimpleVQAPoolingKeepsNoCopyOfTheStages() throws {
        let m = try SimpleVQA(config: SimpleVQA.Config(options: ["depth": "50", "width": "4"]), seed: 1)
        let clips = randomArray(2 * 3 * 2 * 64 * 64, seed: 4)
        let trunkTape = Tape(), tape = Tape()
        // The trunk alone, on the frames as spatialFeatures makes them.
        let c = trunkTape.constant(clips, shape: [2, 3, 2, 64, 64])
        let stages = m.trunk(trunkTape, m.parameters, trunkTape.reshape(trunkTape.permute(c, [0, 2, 1, 3, 4]), [4, 3, 64, 64]))
        let features = m.spatialFeatures(tape, tape.constant(clips, shape: [2, 3, 2, 64, 64]))
        XCTAssertEqual(tape.shape(features), [4, m.config.spatialDim])
        let stageFloats = m.config.poolStages.map { trunkTape.count(stages[$0 - 1]) }.reduce(0, +)
        XCTAssertGreaterThan(stageFloats, 8 * m.config.spatialDim, "the stages must outweigh the features for this test to see a copy")
        let extra = tape.arena.reservedFloats - trunkTape.arena.reservedFloats
        XCTAssertLessThanOrEqual(Double(extra), 1.125 * Double(2 * 4 * m.config.spatialDim) + 64,
                                 "pooling took \(extra) floats for stages of \(stageFloats)")
    }
}
