// The zero-copy sampling path (FrameVisiting) against the array path on the same decoded frames.

import Foundation
import XCTest
@testable import Media
import TestSupport

/// Hides FrameVisiting so the sampler takes the array path over owned frame copies.
final class CopyingReader: FrameReader {
    let inner: VideoDecoder
    init(_ inner: VideoDecoder) { self.inner = inner }
    var info: VideoInfo { inner.info }
    func frames(at indices: [Int]) throws -> [RGBFrame] { try inner.frames(at: indices) }
}

final class StreamingSamplerTests: XCTestCase {
    func sampleBoth(_ path: String, config: SamplerConfig, train: Bool, index: Int) throws -> ([Float], [Float]) {
        let sampler = try FragmentSampler(config: config)
        let n = sampler.shape(train: train).floatsPerSample
        var a = [Float](repeating: .nan, count: n), b = [Float](repeating: .nan, count: n)
        let dec = try VideoDecoder(path: path)
        XCTAssertTrue(sampler.canStream(dec, train: train))
        try a.withUnsafeMutableBufferPointer {
            try sampler.sample(reader: dec, sampleIndex: index, epoch: 1, seed: 9, train: train, into: $0.baseAddress!)
        }
        let copying = CopyingReader(try VideoDecoder(path: path))
        XCTAssertFalse(sampler.canStream(copying, train: train))
        try b.withUnsafeMutableBufferPointer {
            try sampler.sample(reader: copying, sampleIndex: index, epoch: 1, seed: 9, train: train, into: $0.baseAddress!)
        }
        return (a, b)
    }

    func testStreamingWritesTheSameFloatsAsTheArrayPath() throws {
        let dir = try TempDir.make("media", for: self)
        // 70 frames: 4 test clips of 32 at interval 2 wrap around and repeat frames.
        let big = try Oracle.clip(dir, "big.mp4", size: "480x270", frames: 70, ["-c:v", "libx264", "-g", "20", "-pix_fmt", "yuv420p"])
        let small = try Oracle.clip(dir, "small.mkv", size: "200x120", frames: 40, ["-c:v", "libx264", "-pix_fmt", "yuv420p"])
        var aligned = SamplerConfig.fastVQAB
        aligned.aligned = 8
        for (path, config) in [(big, SamplerConfig.fastVQAB), (small, SamplerConfig.fastVQAB), (big, aligned),
                               (big, SamplerConfig.fasterVQA)] {
            for train in [false, true] {
                for index in [0, 3] {
                    let (a, b) = try sampleBoth(path, config: config, train: train, index: index)
                    XCTAssertFalse(a.contains { $0.isNaN }, "streaming left slots unwritten (\(path), train \(train))")
                    XCTAssertTrue(a == b, "streaming and array paths differ (\(path), train \(train), index \(index))")
                }
            }
        }
    }

    func testAugmentingOrNonFragmentConfigsDoNotStream() throws {
        let dir = try TempDir.make("media", for: self)
        let path = try Oracle.clip(dir, "a.mp4", frames: 4, ["-c:v", "libx264", "-pix_fmt", "yuv420p"])
        let dec = try VideoDecoder(path: path)
        var augmenting = SamplerConfig.fastVQAB
        augmenting.augment.ops = [.hflip]
        XCTAssertFalse(try FragmentSampler(config: augmenting).canStream(dec, train: true))
        XCTAssertTrue(try FragmentSampler(config: augmenting).canStream(dec, train: false))
        XCTAssertFalse(try FragmentSampler(config: .sama).canStream(dec, train: false))
    }
}
