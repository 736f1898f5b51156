// Bucket partitioning (pure) and the comm-thread protocol with in-process communicators.

import XCTest
import Foundation
@testable import Dist
@testable import Engine

/// Views laid out like ParameterStore: consecutive, each start 16-float aligned.
private func storeLikeViews(_ counts: [Int]) -> [GradientView] {
    var offset = 0
    return counts.map { n in defer { offset += (n + 15) & ~15 }; return GradientView(offset: offset, count: n) }
}

/// A fake world of `size` identical ranks: the sum over ranks is `size ×` the local value.
/// Records every all-reduce (offset in `base`, count) and which instance ran it.
private final class RecordingComm: Communicator, @unchecked Sendable {
    let size: Int
    var rank: Int { 0 }
    let base: UnsafeMutablePointer<Float>?
    let failing: Bool
    private let lock = NSLock()
    private var _calls: [(offset: Int, count: Int)] = []
    private var _duplicates: [RecordingComm] = []
    var calls: [(offset: Int, count: Int)] { lock.lock(); defer { lock.unlock() }; return _calls }
    var duplicates: [RecordingComm] { lock.lock(); defer { lock.unlock() }; return _duplicates }

    init(size: Int, base: UnsafeMutablePointer<Float>?, failing: Bool = false) {
        self.size = size; self.base = base; self.failing = failing
    }
    func allReduceSum(_ buf: UnsafeMutablePointer<Float>, count: Int) throws {
        if failing { throw DistError("MPI_Allreduce failed: simulated") }
        lock.lock(); _calls.append((base.map { buf - $0 } ?? -1, count)); lock.unlock()
        for i in 0..<count { buf[i] *= Float(size) }
    }
    func allReduceSum(_ buf: UnsafeMutablePointer<Double>, count: Int) throws { for i in 0..<count { buf[i] *= Double(size) } }
    func allReduceSum(_ buf: UnsafeMutablePointer<Int64>, count: Int) throws { for i in 0..<count { buf[i] *= Int64(size) } }
    func broadcast(_ buf: UnsafeMutablePointer<Float>, count: Int, root: Int) throws {}
    func broadcastBytes(_ buf: UnsafeMutableRawPointer, byteCount: Int, root: Int) throws {}
    func allGather(_ values: [Float]) throws -> [Float] { Array((0..<size).map { _ in values }.joined()) }
    func barrier() throws {}
    func duplicate() throws -> Communicator {
        let d = RecordingComm(size: size, base: base, failing: failing)
        lock.lock(); _duplicates.append(d); lock.unlock()
        return d
    }
    func abort(code: Int32) -> Never { fatalError("abort \(code)") }
}

final class GradientBucketsTests: XCTestCase {
    func testHandWorkedPartition() throws {
        let views = [10, 20, 30, 40, 50].reduce(into: [GradientView]()) { v, n in
            v.append(GradientView(offset: (v.last.map { $0.offset + $0.count } ?? 0), count: n))
        }
        let b = try GradientBuckets.partition(views: views, bucketFloats: 70, firstBucketFloats: 60)
        XCTAssertEqual(b, [GradientBucket(index: 0, parameters: 4...4, offset: 100, count: 50),
                           GradientBucket(index: 1, parameters: 2...3, offset: 30, count: 70),
                           GradientBucket(index: 2, parameters: 0...1, offset: 0, count: 30)])
    }

    func testPartitionPropertiesOnStoreLikeLayout() throws {
        var rng = CounterRNG(seed: 3, purpose: .test)
        let counts = (0..<300).map { i in i % 17 == 0 ? 70_000 : (i % 5 == 0 ? 0 : 1 + rng.nextInt(below: 9000)) }
        let views = storeLikeViews(counts)
        let cap = 40_000, first = 5_000
        let buckets = try GradientBuckets.partition(views: views, bucketFloats: cap, firstBucketFloats: first)
        var expectedTop = views.count - 1
        for (k, b) in buckets.enumerated() {
            XCTAssertEqual(b.index, k)
            XCTAssertEqual(b.parameters.upperBound, expectedTop, "reverse order, no parameter skipped")
            expectedTop = b.parameters.lowerBound - 1
            let limit = k == 0 ? first : cap
            let filled = b.parameters.map { counts[$0] }.reduce(0, +)
            XCTAssertTrue(filled <= limit || b.parameters.count == 1, "bucket \(k) holds \(filled) > \(limit)")
            if b.parameters.lowerBound > 0 {  // it closed only because the next parameter did not fit
                XCTAssertGreaterThan(filled + counts[b.parameters.lowerBound - 1], limit, "bucket \(k) closed early")
            }
            XCTAssertEqual(b.offset, views[b.parameters.lowerBound].offset)
            XCTAssertEqual(b.offset + b.count, views[b.parameters.upperBound].offset + views[b.parameters.upperBound].count)
        }
        XCTAssertEqual(expectedTop, -1, "every parameter is in a bucket")
    }

    func testPartitionEdgeCasesAndInvalidLayouts() throws {
        XCTAssertEqual(try GradientBuckets.partition(views: [], bucketFloats: 10, firstBucketFloats: 10), [])
        let big = try GradientBuckets.partition(views: storeLikeViews([5, 1000, 5]), bucketFloats: 100, firstBucketFloats: 10)
        XCTAssertEqual(big.map(\.parameters), [2...2, 1...1, 0...0])
        XCTAssertThrowsError(try GradientBuckets.partition(views: [GradientView(offset: 0, count: 10), GradientView(offset: 5, count: 3)],
                                                           bucketFloats: 10, firstBucketFloats: 10)) { e in
            XCTAssertTrue("\(e)".contains("overlaps"), "\(e)")
        }
        XCTAssertThrowsError(try GradientBuckets.partition(views: storeLikeViews([3]), bucketFloats: 0, firstBucketFloats: 1))
        let buf = FloatBuffer(count: 16)
        XCTAssertThrowsError(try GradientBuckets(views: storeLikeViews([20]), buffer: buf.base, bufferCount: 16,
                                                 communicator: SoloCommunicator())) { e in
            XCTAssertTrue("\(e)".contains("past the buffer of 16 floats"), "\(e)")
        }
    }

    /// Any markReady order, some parameters never marked, several steps on the same object: each
    /// bucket is reduced exactly once per step, in bucket order, on the duplicate communicator.
    func testReducesEveryBucketOnceInOrderForAnyMarkOrder() throws {
        let counts = (0..<60).map { 100 + ($0 * 37) % 900 }
        let views = storeLikeViews(counts)
        let n = views.last!.offset + views.last!.count + 16
        let grads = FloatBuffer(count: n)
        let world = RecordingComm(size: 4, base: grads.base)
        let buckets = try GradientBuckets(views: views, buffer: grads.base, bufferCount: n, communicator: world,
                                          bucketMiB: 6000.0 * 4 / 1_048_576, firstBucketMiB: 1000.0 * 4 / 1_048_576)
        XCTAssertGreaterThan(buckets.buckets.count, 3)
        XCTAssertEqual(buckets.scale, 0.25)
        var inSpan = [Bool](repeating: false, count: n)
        for b in buckets.buckets { for i in b.offset..<(b.offset + b.count) { inSpan[i] = true } }
        for step in 0..<5 {
            for i in 0..<n { grads.base[i] = Float(i % 11) + Float(step) }
            var rng = CounterRNG(seed: 11, epoch: UInt64(step), purpose: .test)
            let order = rng.permutation(views.count)
            let marks = step == 2 ? Array(order.prefix(40)) : order  // the rest: unused parameters
            // The backward pass runs on another thread while the comm thread reduces; waitAll
            // comes after it, as in training.
            let done = DispatchSemaphore(value: 0)
            let worker = Thread { for p in marks { buckets.markReady(p) }; done.signal() }
            worker.start()
            done.wait()
            let timing = try buckets.waitAll()
            XCTAssertEqual(timing.bucketSeconds.count, buckets.buckets.count)
            XCTAssertTrue(timing.bucketSeconds.allSatisfy { $0 >= 0 } && timing.exposedSeconds >= 0)
            for i in 0..<n {
                let v = Float(i % 11) + Float(step)
                XCTAssertEqual(grads.base[i], inSpan[i] ? v * 4 * 0.25 : v, "step \(step) float \(i)")
            }
        }
        XCTAssertTrue(world.calls.isEmpty, "the caller's communicator stays free for the main thread")
        XCTAssertEqual(world.duplicates.count, 1)
        let calls = world.duplicates[0].calls
        let expected = Array(repeating: buckets.buckets.map { ($0.offset, $0.count) }, count: 5).joined()
        XCTAssertEqual(calls.map(\.offset), expected.map(\.0))
        XCTAssertEqual(calls.map(\.count), expected.map(\.1))
    }

    func testDoubleMarkIsReportedAndTheNextStepStillWorks() throws {
        let views = storeLikeViews([8, 8, 8])
        let grads = FloatBuffer(count: 48, value: 1)
        let buckets = try GradientBuckets(views: views, buffer: grads.base, bufferCount: 48,
                                          communicator: SoloCommunicator(), scale: 0.5)
        buckets.markReady(2); buckets.markReady(2)
        XCTAssertThrowsError(try buckets.waitAll()) { e in XCTAssertTrue("\(e)".contains("parameter 2 was marked ready twice"), "\(e)") }
        XCTAssertEqual(grads.base[0], 0.5)
        for p in [0, 1, 2] { buckets.markReady(p) }
        XCTAssertNoThrow(try buckets.waitAll())
        XCTAssertEqual(grads.base[0], 0.25)
        XCTAssertEqual(grads.base[39], 0.25)
        XCTAssertEqual(grads.base[40], 1, "past the last parameter: not in any bucket")
    }

    func testSoloWithUnitScaleLeavesGradientsAndNeedsNoThread() throws {
        let grads = FloatBuffer(count: 64, value: 3)
        let buckets = try GradientBuckets(views: storeLikeViews([10, 20, 5]), buffer: grads.base, bufferCount: 64,
                                          communicator: SoloCommunicator())
        XCTAssertEqual(buckets.scale, 1)
        buckets.markReady(1)
        let t = try buckets.waitAll()
        XCTAssertEqual(t.bucketSeconds.count, buckets.buckets.count)
        XCTAssertTrue(grads.toArray().allSatisfy { $0 == 3 })
    }

    func testCommunicationErrorsReachWaitAll() throws {
        let grads = FloatBuffer(count: 32)
        let buckets = try GradientBuckets(views: storeLikeViews([4, 4]), buffer: grads.base, bufferCount: 32,
                                          communicator: RecordingComm(size: 2, base: grads.base, failing: true))
        for p in [1, 0] { buckets.markReady(p) }
        XCTAssertThrowsError(try buckets.waitAll()) { e in
            XCTAssertTrue("\(e)".contains("gradient all-reduce of bucket 0") && "\(e)".contains("simulated"), "\(e)")
        }
    }

    /// Driven by the real Tape callback: the bucketed mean equals the plain gradient.
    func testTapeCallbackDrivesBucketsToTheMeanGradient() throws {
        let store = ParameterStore()
        store.declare("l1.weight", shape: [6, 5], initializer: .uniform(0.5))
        store.declare("l1.bias", shape: [6], initializer: .uniform(0.5))
        store.declare("l2.weight", shape: [3, 6], initializer: .uniform(0.5))
        store.declare("l2.bias", shape: [3], initializer: .uniform(0.5))
        store.allocate(); store.initialize(seed: 5)
        let x = (0..<20).map { Float($0 % 7) * 0.3 - 1 }
        func pass(_ callback: ((Int) -> Void)?) -> [Float] {
            store.zeroGrad()
            let tape = Tape()
            tape.onParameterGradReady = callback
            let h = tape.linear(tape.constant(x, shape: [4, 5]), tape.parameter(store, 0), tape.parameter(store, 1))
            let y = tape.linear(h, tape.parameter(store, 2), tape.parameter(store, 3))
            let seed = [Float](repeating: 1, count: 12)
            tape.backward(y, seed: seed)
            return store.grads.toArray()
        }
        let plain = pass(nil)
        let world = RecordingComm(size: 3, base: store.grads.base)
        let buckets = try GradientBuckets(store: store, communicator: world, bucketMiB: 30.0 * 4 / 1_048_576,
                                          firstBucketMiB: 4.0 * 4 / 1_048_576)
        XCTAssertEqual(buckets.buckets.map(\.parameters), [3...3, 1...2, 0...0])
        var fired: [Int] = []
        let reduced = pass { fired.append($0); buckets.markReady($0) }
        try buckets.waitAll()
        let after = store.grads.toArray()
        XCTAssertEqual(fired, [3, 2, 1, 0])
        XCTAssertEqual(reduced.count, plain.count)
        for i in plain.indices { XCTAssertEqual(after[i], plain[i] * 3 * (1 / 3), accuracy: 1e-6 * max(1, abs(plain[i]))) }
        XCTAssertTrue(plain.contains { $0 != 0 })
    }
}
