import XCTest
@testable import Media

final class SamplerTests: XCTestCase {
    /// Samples one clip and returns (buffer, reader, shape, frame indices).
    func run(_ config: SamplerConfig, reader: SyntheticReader, index: Int = 7, epoch: Int = 0, seed: UInt64 = 42,
             train: Bool = true) throws -> (TestBuffer, ClipReader, [Int]) {
        let sampler = try FragmentSampler(config: config)
        let shape = sampler.shape(train: train)
        let buffer = TestBuffer(shape.floatsPerSample)
        try sampler.sample(reader: reader, sampleIndex: index, epoch: epoch, seed: seed, train: train, into: buffer.pointer)
        let indices = sampler.frameIndices(frameCount: reader.info.frameCount, sampleIndex: index, epoch: epoch, seed: seed, train: train)
        return (buffer, ClipReader(buffer: buffer, shape: shape), indices)
    }

    /// Patch origins (x, y) per (t, cell) for a `.coordinates` source, checking each patch is a
    /// contiguous native-resolution copy from the right frame.
    func origins(_ clip: ClipReader, indices: [Int], config: SamplerConfig, clipIndex: Int = 0) -> [[(Int, Int)]] {
        let s = clip.shape
        return (0..<s.frames).map { t in
            var cells: [(Int, Int)] = []
            for i in 0..<config.fragmentsH {
                for j in 0..<config.fragmentsW {
                    let o = clip.source(clip: clipIndex, t: t, y: i * config.fsizeH, x: j * config.fsizeW)
                    XCTAssertEqual(o.frame, indices[clipIndex * s.frames + t] % 64)
                    for py in [0, 5, config.fsizeH - 1] {
                        for px in [0, 17 % config.fsizeW, config.fsizeW - 1] {
                            let p = clip.source(clip: clipIndex, t: t, y: i * config.fsizeH + py, x: j * config.fsizeW + px)
                            XCTAssertEqual(p.x, o.x + px); XCTAssertEqual(p.y, o.y + py); XCTAssertEqual(p.frame, o.frame)
                        }
                    }
                    cells.append((o.x, o.y))
                }
            }
            return cells
        }
    }

    func testFragmentPatchesComeFromTheirCellsAndShareOffsetsOverTheClip() throws {
        let reader = SyntheticReader(width: 480, height: 360, frames: 60)
        let config = SamplerConfig.fastVQAB
        let (_, clip, indices) = try run(config, reader: reader)
        XCTAssertEqual(clip.shape, ClipShape(clips: 1, frames: 32, height: 224, width: 224))
        let o = origins(clip, indices: indices, config: config)
        let cellW = 480 / 7, cellH = 360 / 7
        for (k, (x, y)) in o[0].enumerated() {
            let i = k / 7, j = k % 7
            XCTAssertGreaterThanOrEqual(x, j * cellW); XCTAssertLessThanOrEqual(x + 32, (j + 1) * cellW)
            XCTAssertGreaterThanOrEqual(y, i * cellH); XCTAssertLessThanOrEqual(y + 32, (i + 1) * cellH)
        }
        for t in 1..<32 { XCTAssertTrue(zip(o[t], o[0]).allSatisfy { $0 == $1 }, "offsets differ at frame \(t)") }
        let offsets = o[0].enumerated().map { k, p in (p.0 - (k % 7) * cellW, p.1 - (k / 7) * cellH) }
        XCTAssertGreaterThan(Set(offsets.map { $0.0 * 1000 + $0.1 }).count, 10, "cells should draw different offsets")

        let (_, other, otherIndices) = try run(config, reader: reader, epoch: 1)
        let o2 = origins(other, indices: otherIndices, config: config)
        XCTAssertFalse(zip(o2[0], o[0]).allSatisfy { $0 == $1 }, "a new epoch should move the fragments")
    }

    func testAlignedBlocksShareOffsetsOnlyWithinABlock() throws {
        let reader = SyntheticReader(width: 480, height: 360, frames: 60)
        var config = SamplerConfig.fastVQAB
        config.aligned = 8
        let (_, clip, indices) = try run(config, reader: reader)
        let o = origins(clip, indices: indices, config: config)
        for t in 0..<32 where t % 8 != 0 {
            XCTAssertTrue(zip(o[t], o[t - t % 8]).allSatisfy { $0 == $1 }, "frame \(t) left its block")
        }
        for b in 1..<4 { XCTAssertFalse(zip(o[8 * b], o[0]).allSatisfy { $0 == $1 }, "block \(b) repeats block 0") }
    }

    func testSameKeyGivesSameBytesOnAnyThreadAndOtherKeysDiffer() throws {
        let reader = SyntheticReader(width: 300, height: 260, frames: 40)
        var config = SamplerConfig.fastVQAB
        config.augment = try AugmentConfig(names: ["hflip", "trivial_augment", "random_resized_crop"])
        let (a, _, _) = try run(config, reader: reader, index: 3, epoch: 2)
        let lock = NSLock()
        nonisolated(unsafe) var results: [[Float]] = []
        let frozen = config
        DispatchQueue.concurrentPerform(iterations: 3) { _ in
            // A fresh sampler (own scratch) on each thread, same key.
            let sampler = try! FragmentSampler(config: frozen)
            let b = TestBuffer(sampler.shape(train: true).floatsPerSample)
            try! sampler.sample(reader: reader, sampleIndex: 3, epoch: 2, seed: 42, train: true, into: b.pointer)
            let arr = b.array
            lock.lock(); results.append(arr); lock.unlock()
        }
        XCTAssertEqual(results.count, 3)
        for r in results { XCTAssertEqual(r, a.array) }
        let (c, _, _) = try run(config, reader: reader, index: 4, epoch: 2)
        XCTAssertNotEqual(c.array, a.array)
    }

    func testNormalisationMatchesImageNetStatistics() throws {
        let reader = SyntheticReader(width: 224, height: 224, frames: 64, pattern: .constant(0, 128, 255))
        let (buffer, _, _) = try run(.fastVQAB, reader: reader, train: false)
        let plane = 32 * 224 * 224
        let values = buffer.array
        let expected: [Float] = [-2.117904, 0.2051821, 2.64]   // numpy float32 (v − mean) / std
        for c in 0..<3 {
            for k in [0, 12345, plane - 1] { XCTAssertEqual(values[c * plane + k], expected[c], accuracy: 1e-6) }
        }
        XCTAssertFalse(values.contains { $0.isNaN }, "every output element must be written")
    }

    func testSmallSourceIsUpsampledBilinearlyBeforeFragmenting() throws {
        // 160×120: ratio = min(120/224, 160/224), so the frame becomes 298×224 (FAST-VQA rule).
        XCTAssertEqual(FragmentSampler.upsampledSize(height: 120, width: 160, minHeight: 224, minWidth: 224).0, 224)
        XCTAssertEqual(FragmentSampler.upsampledSize(height: 120, width: 160, minHeight: 224, minWidth: 224).1, 298)
        let reader = SyntheticReader(width: 160, height: 120, frames: 40, pattern: .gradient)
        let (_, clip, indices) = try run(.fastVQAB, reader: reader)
        func source(_ d: Double, scale: Double, limit: Double) -> Double { min(limit, max(0, (d + 0.5) * scale - 0.5)) }
        let cellW = 298 / 7
        for t in [0, 31] {
            XCTAssertEqual(clip.value(clip: 0, c: 2, t: t, y: 100, x: 100), Float(indices[t]), accuracy: 1e-3)
            for i in 0..<7 {
                for j in 0..<7 {
                    // Rows: cells are exactly 32 high, so no vertical offset.
                    let y = i * 32 + 9
                    XCTAssertEqual(Double(clip.value(clip: 0, c: 1, t: t, y: y, x: j * 32)),
                                   source(Double(y), scale: 120.0 / 224.0, limit: 119), accuracy: 1e-3)
                    // Columns: the patch starts at cell j plus an offset in [0, cellW − 32).
                    let r0 = Double(clip.value(clip: 0, c: 0, t: t, y: i * 32, x: j * 32))
                    let start = (0..<(cellW - 32)).map { j * cellW + $0 }
                        .first { abs(source(Double($0), scale: 160.0 / 298.0, limit: 159) - r0) < 1e-3 }
                    XCTAssertNotNil(start, "cell (\(i), \(j)) does not start inside its upsampled cell")
                    if let s = start {
                        XCTAssertEqual(Double(clip.value(clip: 0, c: 0, t: t, y: i * 32, x: j * 32 + 31)),
                                       source(Double(s + 31), scale: 160.0 / 298.0, limit: 159), accuracy: 1e-3)
                    }
                }
            }
        }
    }

    func testTemporalIndicesFollowFragmentSampleFrames() throws {
        let s = try FragmentSampler(config: .fastVQAB)
        let train = s.frameIndices(frameCount: 300, sampleIndex: 1, epoch: 0, seed: 42, train: true)
        XCTAssertEqual(train.count, 32)
        XCTAssertTrue((1..<32).allSatisfy { train[$0] - train[$0 - 1] == 2 })
        XCTAssertTrue((0..<(300 - 64)).contains(train[0]))
        let test = s.frameIndices(frameCount: 300, sampleIndex: 1, epoch: 0, seed: 42, train: false)
        XCTAssertEqual(test.count, 128)
        for k in 0..<4 {
            let start = test[32 * k]
            XCTAssertTrue((k * 75..<(k * 75 + 75 - 64)).contains(start), "clip \(k) starts at \(start)")
            XCTAssertTrue((1..<32).allSatisfy { test[32 * k + $0] - test[32 * k + $0 - 1] == 2 })
        }
        XCTAssertEqual(test, s.frameIndices(frameCount: 300, sampleIndex: 1, epoch: 0, seed: 42, train: false), "test sampling is seeded")
        let starts = Set((0..<20).map { s.frameIndices(frameCount: 300, sampleIndex: $0, epoch: 0, seed: 42, train: true)[0] })
        XCTAssertGreaterThan(starts.count, 5, "training starts are random across samples")
        // Too short: start 0 and indices wrap modulo the length, as FAST-VQA's np.mod.
        let short = s.frameIndices(frameCount: 20, sampleIndex: 1, epoch: 0, seed: 42, train: true)
        XCTAssertEqual(short, (0..<32).map { (2 * $0) % 20 })
    }

    func testFasterVQATemporalFragmentsAndUniformFrames() throws {
        let s = try FragmentSampler(config: .fasterVQA)
        let idx = s.frameIndices(frameCount: 240, sampleIndex: 2, epoch: 0, seed: 1, train: true)
        XCTAssertEqual(idx.count, 32)
        for seg in 0..<8 {
            let part = Array(idx[(4 * seg)..<(4 * seg + 4)])
            XCTAssertTrue((seg * 30..<(seg * 30 + 30 - 8)).contains(part[0]), "segment \(seg) starts at \(part[0])")
            XCTAssertEqual(part, (0..<4).map { part[0] + 2 * $0 })
        }
        var u = SamplerConfig.fastVQAB
        u.temporal = .uniform; u.clipLen = 8; u.testClips = 1; u.aligned = 0
        let uniform = try FragmentSampler(config: u)
        XCTAssertEqual(uniform.frameIndices(frameCount: 80, sampleIndex: 0, epoch: 0, seed: 1, train: false), [5, 15, 25, 35, 45, 55, 65, 75])
        let trainU = uniform.frameIndices(frameCount: 80, sampleIndex: 0, epoch: 0, seed: 1, train: true)
        XCTAssertTrue(trainU.enumerated().allSatisfy { k, v in (10 * k..<(10 * k + 10)).contains(v) })
    }

    func testTestClipsFillTheirOwnSlots() throws {
        let reader = SyntheticReader(width: 256, height: 256, frames: 63)
        let (_, clip, indices) = try run(.fastVQAB, reader: reader, train: false)
        XCTAssertEqual(clip.shape.clips, 4)
        for c in 0..<4 {
            for t in [0, 31] { XCTAssertEqual(clip.source(clip: c, t: t, y: 0, x: 0).frame, indices[32 * c + t]) }
        }
    }

    func testSamaUsesNativeThenDownscaledFramesWithCentredOffsetsAtTest() throws {
        // 256×240 gradient: ratio = 240/224, the last pair of frames is scaled to 224 rows.
        let reader = SyntheticReader(width: 256, height: 240, frames: 64, pattern: .gradient)
        var config = SamplerConfig.sama
        config.testClips = 1
        let (_, clip, _) = try run(config, reader: reader, train: false)
        // Frames 0–1: scale 1, native; cell 36×34 wide/high, offset int(0.5·(cell − 32)).
        let cw = 256 / 7, ch = 240 / 7
        for t in [0, 1] {
            XCTAssertEqual(clip.value(clip: 0, c: 0, t: t, y: 0, x: 32 * 3), Float(3 * cw + (cw - 32) / 2), accuracy: 1e-3)
            XCTAssertEqual(clip.value(clip: 0, c: 1, t: t, y: 32 * 2, x: 0), Float(2 * ch + (ch - 32) / 2), accuracy: 1e-3)
        }
        // Frames 30–31: scale 224/240 → 239×224 (round half even as Python); rows map by 240/224.
        let vh = 224, vw = Int((256.0 * 224.0 / 240.0).rounded(.toNearestOrEven))
        let cellH = vh / 7, cellW = vw / 7
        let y0 = 2 * cellH + Int(0.5 * Double(cellH - 32)), x0 = 3 * cellW + Int(0.5 * Double(cellW - 32))
        let gy = max(0, (Double(y0) + 0.5) * 240.0 / Double(vh) - 0.5)
        let gx = max(0, (Double(x0) + 0.5) * 256.0 / Double(vw) - 0.5)
        XCTAssertEqual(Double(clip.value(clip: 0, c: 1, t: 31, y: 64, x: 96)), gy, accuracy: 1e-3)
        XCTAssertEqual(Double(clip.value(clip: 0, c: 0, t: 31, y: 64, x: 96)), gx, accuracy: 1e-3)
    }

    func testResizeViewSquashesOrKeepsAspectRatio() throws {
        let reader = SyntheticReader(width: 250, height: 100, frames: 40, pattern: .gradient)
        var config = SamplerConfig.doverAesthetic
        config.clipLen = 8; config.tFrag = 8
        let (_, clip, _) = try run(config, reader: reader, train: false)
        XCTAssertEqual(clip.shape, ClipShape(clips: 1, frames: 8, height: 224, width: 224))
        for x in [0, 50, 223] {
            let expect = min(249, max(0, (Double(x) + 0.5) * 250 / 224 - 0.5))
            XCTAssertEqual(Double(clip.value(clip: 0, c: 0, t: 3, y: 10, x: x)), expect, accuracy: 1e-3)
        }
        config.keepAspectRatio = true
        let (_, arp, _) = try run(config, reader: reader, train: false)
        // Centred 100×100 square at x = 75.
        for x in [0, 100, 223] {
            let expect = 75 + min(99, max(0, (Double(x) + 0.5) * 100 / 224 - 0.5))
            XCTAssertEqual(Double(arp.value(clip: 0, c: 0, t: 0, y: 7, x: x)), expect, accuracy: 1e-3)
        }
    }

    func testAugmentationFlipsEveryFrameOnceWithRepeatedFramesAndSeveralClips() throws {
        var config = SamplerConfig.fastVQAB
        config.augment = try AugmentConfig(names: ["hflip"])
        config.augment.flipProbability = 1
        for (frames, clips) in [(20, 1), (60, 2)] {   // 20 frames: indices wrap, frames repeat
            config.trainClips = clips
            let reader = SyntheticReader(width: 300, height: 260, frames: frames)
            let (_, clip, indices) = try run(config, reader: reader)
            for c in 0..<clips {
                for t in [0, 10, 31] {
                    let a = clip.source(clip: c, t: t, y: 40, x: 70), b = clip.source(clip: c, t: t, y: 40, x: 71)
                    XCTAssertEqual(a.frame, indices[32 * c + t])
                    XCTAssertEqual(b.x, a.x - 1, "clip \(c) frame \(t) must be mirrored exactly once")
                }
            }
        }
    }

    func testConfigRejectsBadSettingsAndDecodesPartialYAMLStyleJSON() throws {
        var c = SamplerConfig.fastVQAB
        c.aligned = 5
        XCTAssertThrowsError(try FragmentSampler(config: c)) { XCTAssertTrue("\($0)".contains("aligned")) }
        let json = #"{"spatial": "sama", "clipLen": 16, "augment": {"ops": ["hflip"]}}"#
        let d = try JSONDecoder().decode(SamplerConfig.self, from: Data(json.utf8))
        XCTAssertEqual(d.spatial, .sama); XCTAssertEqual(d.clipLen, 16); XCTAssertEqual(d.fragmentsH, 7)
        XCTAssertEqual(d.augment.ops, [.hflip])
        let back = try JSONDecoder().decode(SamplerConfig.self, from: JSONEncoder().encode(d))
        XCTAssertEqual(back, d)
        XCTAssertThrowsError(try JSONDecoder().decode(SamplerConfig.self, from: Data(#"{"spatial": "crop"}"#.utf8)))
    }

    func testUnknownConfigKeysAreRejectedWithTheValidKeys() throws {
        func message(_ json: String) -> String {
            do {
                _ = try JSONDecoder().decode(SamplerConfig.self, from: Data(json.utf8))
                return "decoded without error"
            } catch { return "\(error)" }
        }
        let top = message(#"{"clip_len": 16, "fragmentsH": 7}"#)
        XCTAssertTrue(top.contains("sampler config") && top.contains("'clip_len'") && top.contains("did you mean 'clipLen'"), top)
        XCTAssertTrue(top.contains("valid keys: spatial, fragmentsH"), top)
        let nested = message(#"{"augment": {"ops": ["hflip"], "flipProb": 0.3, "binz": 3}}"#)
        XCTAssertTrue(nested.contains("augment config") && nested.contains("'binz'") && nested.contains("'flipProb'"), nested)
        XCTAssertTrue(nested.contains("in 'augment'") && nested.contains("flipProbability"), nested)
        XCTAssertEqual(message(#"{"clipLen": 16, "augment": {"bins": 5}}"#), "decoded without error")
    }
}
