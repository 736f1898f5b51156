// Per-frame side features through the loader (Loader+Features.swift): each sample's features follow
// the frames the sampler drew (checked against FragmentSampler.frameIndices, an independent call),
// and a feature source that fails makes its sample a bad input (zeroed, invalid, recorded) while
// the other samples load.

import XCTest
@testable import Media

/// Writes, per frame, (position, entry number, k) so a test can tell where every value came from;
/// throws for paths listed in `failing`.
final class PositionFeatures: FrameFeatureSource {
    let failing: Set<String>
    init(failing: Set<String> = []) { self.failing = failing }
    var width: Int { 3 }
    func write(path: String, positions: [Double], into: UnsafeMutablePointer<Float>) throws {
        if failing.contains(path) { throw MediaError(path + ".npy", "shape [2, 5], expected [chunks, 3]") }
        let n = Float(Int(path.dropFirst().dropLast(4))!)
        for (k, p) in positions.enumerated() {
            into[3 * k] = Float(p); into[3 * k + 1] = n; into[3 * k + 2] = Float(k)
        }
    }
}

/// Lines reported by a FailureLog (thread-safe).
final class Lines: @unchecked Sendable {
    private var lines: [String] = []
    private let lock = NSLock()
    func append(_ s: String) { lock.lock(); lines.append(s); lock.unlock() }
    var all: [String] { lock.lock(); defer { lock.unlock() }; return lines }
}

final class LoaderFeatureTests: XCTestCase {
    /// Uniform frames: 3 per clip, 2 test clips (features [2, 3, 3] per sample).
    var config: SamplerConfig {
        var c = SamplerConfig()
        c.spatial = .resize; c.resizeH = 16; c.resizeW = 16
        c.temporal = .uniform; c.clipLen = 3; c.trainClips = 1; c.testClips = 2
        return c
    }

    let open: @Sendable (String) throws -> FrameReader = { path in
        let n = Int(path.dropFirst().dropLast(4))!
        return SyntheticReader(path: path, width: 40, height: 30, frames: 10 + 3 * n)
    }

    func testFeaturesFollowTheSampledFramesAndAFailingSourceSkipsItsSample() throws {
        let entries = (0..<5).map { LabelEntry(path: "v\($0).mp4", mos: Double($0)) }
        let box = Lines()
        let log = FailureLog(sink: { box.append($0) })
        for train in [true, false] {
            let l = try Loader(entries: entries, sampler: config, rank: 0, worldSize: 1, batchSizePerRank: 2, seed: 7,
                               shuffle: train, train: train, decodeThreads: 2, maxFailureFraction: 1, failures: log,
                               features: PositionFeatures(failing: ["v3.mp4"]), open: open)
            XCTAssertEqual(l.featureWidth, 3)
            let sampler = try FragmentSampler(config: config)
            let shape = config.shape(train: train)
            var seen = Set<Int>()
            l.start(epoch: 1)
            while let b = try l.next() {
                XCTAssertEqual(b.featureFloatsPerSample, shape.clips * shape.frames * 3)
                for i in 0..<b.capacity {
                    let e = b.indices[i]
                    let f = Array(UnsafeBufferPointer(start: b.sampleFeatures(i)!, count: b.featureFloatsPerSample))
                    if e == 3 {
                        XCTAssertFalse(b.valid[i])
                        XCTAssertEqual(f, [Float](repeating: 0, count: f.count), "a failed sample's features are zero")
                        continue
                    }
                    XCTAssertTrue(b.valid[i])
                    seen.insert(e)
                    let frames = 10 + 3 * e
                    let idx = sampler.frameIndices(frameCount: frames, sampleIndex: e, epoch: 1, seed: 7, train: train)
                    XCTAssertEqual(idx.count, shape.clips * shape.frames)
                    for (k, fi) in idx.enumerated() {
                        XCTAssertEqual(f[3 * k], Float((Double(fi) + 0.5) / Double(frames)), "entry \(e) frame \(k)")
                        XCTAssertEqual(f[3 * k + 1], Float(e)); XCTAssertEqual(f[3 * k + 2], Float(k))
                    }
                }
            }
            XCTAssertEqual(seen, [0, 1, 2, 4])
        }
        let messages = box.all
        XCTAssert(messages.contains { $0.contains("v3.mp4") && $0.contains("expected [chunks, 3]") }, "\(messages)")
    }

    func testWithoutASourceThereAreNoFeatures() throws {
        let l = try Loader(entries: [LabelEntry(path: "v0.mp4", mos: 1)], sampler: config, rank: 0, worldSize: 1,
                           batchSizePerRank: 1, seed: 1, shuffle: false, train: false, open: open)
        XCTAssertEqual(l.featureWidth, 0)
        l.start(epoch: 0)
        let b = try XCTUnwrap(try l.next())
        XCTAssertNil(b.features); XCTAssertNil(b.sampleFeatures(0)); XCTAssertEqual(b.featureFloatsPerSample, 0)
    }
}
