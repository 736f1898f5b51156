// ClipBatch, the one model input of training, evaluation and landscapes: compaction of a loader
// batch (invalid and padding slots), per-clip labels and dropout keys, the tape input, the clip-score
// mean and its backward; and the fault injector the trainer is built with in the fault tests.

import XCTest
import TestSupport
@testable import Dist
@testable import Engine
@testable import Media
@testable import Training

final class ClipBatchTests: XCTestCase {
    /// A loader batch of 3 slots, 2 clips of [3, 2, 2, 2] and 2 motion features per frame; every
    /// float of slot s is 100·s + its offset, so a copied sample is recognisable.
    func loaderBatch(valid: [Bool], padding: [Bool]) -> SampleBatch {
        let shape = ClipShape(clips: 2, frames: 2, height: 2, width: 2)
        let b = SampleBatch(sampleShape: shape, capacity: 3, featureWidth: 2)
        for s in 0..<3 {
            for i in 0..<shape.floatsPerSample { b.sample(s)[i] = Float(100 * s + i) }
            for i in 0..<b.featureFloatsPerSample { b.sampleFeatures(s)![i] = Float(-100 * s - i) }
        }
        b.valid = valid; b.padding = padding
        b.indices = [7, 8, 9]; b.labels = [1.5, 2.5, 3.5]
        return b
    }

    func testCompactionKeepsValidSamplesAndDropsPaddingOnRequest() {
        let b = loaderBatch(valid: [true, false, true], padding: [false, false, true])
        let compactor = ClipCompactor()
        let train = compactor.batch(b, dropPadding: false)
        XCTAssertEqual(train.indices, [7, 9])
        XCTAssertEqual(train.labels, [1.5, 3.5])
        XCTAssertEqual(train.clipShape, [3, 2, 2, 2])
        XCTAssertEqual(train.clipCount, 4)
        let per = b.sampleShape.floatsPerSample, mper = b.featureFloatsPerSample
        XCTAssertEqual(Array(UnsafeBufferPointer(start: train.clips, count: 2 * per)),
                       Array(UnsafeBufferPointer(start: b.sample(0), count: per)) + Array(UnsafeBufferPointer(start: b.sample(2), count: per)))
        XCTAssertEqual(Array(UnsafeBufferPointer(start: train.motion!, count: 2 * mper)),
                       Array(UnsafeBufferPointer(start: b.sampleFeatures(0)!, count: mper)) + Array(UnsafeBufferPointer(start: b.sampleFeatures(2)!, count: mper)))
        let eval = compactor.batch(b, dropPadding: true)
        XCTAssertEqual(eval.indices, [7])
        XCTAssertEqual(eval.clips[per - 1], Float(per - 1))
        // Every slot kept: the loader's own memory, no copy.
        let full = loaderBatch(valid: [true, true, true], padding: [false, false, false])
        XCTAssertEqual(compactor.batch(full, dropPadding: true).clips, full.data)
    }

    func testClipLabelsKeysScoresAndTheirGradient() {
        let buffer = FloatBuffer(count: 4 * 24)
        let batch = ClipBatch(clipShape: [3, 2, 2, 2], clipsPerSample: 2, clips: buffer.base, labels: [1, 4], indices: [5, 7])
        XCTAssertEqual(batch.clipLabels, [1, 1, 4, 4])
        XCTAssertEqual(batch.clipKeys, [10, 11, 14, 15])
        let scores: [Float] = [1, 2, 3, 5]
        XCTAssertEqual(scores.withUnsafeBufferPointer { ClipBatch.sampleScores($0.baseAddress!, samples: 2, clips: 2) }, [1.5, 4])
        XCTAssertEqual(ClipBatch.clipGradient([1, -2][...], clips: 2), [0.5, 0.5, -1, -1])
    }

    func testFeedWritesTheSampleRangeAndChecksMotionFeatures() throws {
        let model = try ModelKind.fragnet.make(seed: 1, options: ["widths": "4,8,8,8"])
        let buffer = FloatBuffer(count: 3 * 24)
        for i in 0..<buffer.count { buffer.base[i] = Float(i) }
        let batch = ClipBatch(clipShape: [3, 2, 2, 2], clips: buffer.base, labels: [0, 0, 0], indices: [4, 5, 6])
        let tape = Tape()
        let x = try batch.feed(tape, model: model, samples: 1..<3)
        XCTAssertEqual(tape.shape(x.clips), [2, 3, 2, 2, 2])
        XCTAssertNil(x.motion)
        XCTAssertEqual(tape.array(x.clips), (24..<72).map(Float.init))
        XCTAssertEqual(tape.sampleKeys, [5, 6])
        let motion = FloatBuffer(count: 3 * 2 * 2)
        let withMotion = ClipBatch(clipShape: [3, 2, 2, 2], clips: buffer.base, motion: motion.base, motionWidth: 2, labels: [0, 0, 0], indices: [0, 1, 2])
        XCTAssertThrowsError(try withMotion.feed(Tape(), model: model)) { XCTAssertTrue("\($0)".contains("motion_dim=0"), "\($0)") }
    }

    func testFaultInjectorPoisonsACopyOnTheLastRankOnly() throws {
        XCTAssertNil(try FaultInjector.from(environment: [:]))
        let f = try XCTUnwrap(try FaultInjector.from(environment: ["VQA_MPI_TEST_INJECT_NAN": "2", "VQA_MPI_TEST_FAIL_WRITE": "after:1,times:1"]))
        let buffer = FloatBuffer(count: 24, value: 1)
        let batch = ClipBatch(clipShape: [3, 2, 2, 2], clips: buffer.base, labels: [1], indices: [0])
        XCTAssertEqual(f.input(batch, globalStep: 2, rank: 0, lastRankWithSamples: 1).clips, buffer.base)
        XCTAssertEqual(f.input(batch, globalStep: 1, rank: 1, lastRankWithSamples: 1).clips, buffer.base)
        let poisoned = f.input(batch, globalStep: 2, rank: 1, lastRankWithSamples: 1)
        XCTAssertTrue(poisoned.clips[0].isNaN)
        XCTAssertEqual(poisoned.clips[1], 1)
        XCTAssertEqual(buffer.base[0], 1, "the loader's memory is left alone")
        XCTAssertEqual([f.willSaveCheckpoint(), f.willSaveCheckpoint(), f.willSaveCheckpoint()], [Int.max, 1000, Int.max])
        XCTAssertThrowsError(try FaultInjector.from(environment: ["VQA_MPI_TEST_INJECT_NAN": "x"])) { e in
            XCTAssertTrue(e is TrainingError && "\(e)".contains("VQA_MPI_TEST_INJECT_NAN"), "\(e)")
        }
    }
}
