import XCTest
@testable import Media

final class LoaderTests: XCTestCase {
    /// A small sampler: 2×2 fragments of 8 px (16×16), 4 frames at interval 1, one clip.
    var config: SamplerConfig {
        var c = SamplerConfig()
        c.fragmentsH = 2; c.fragmentsW = 2; c.fsizeH = 8; c.fsizeW = 8
        c.clipLen = 4; c.frameInterval = 1; c.trainClips = 1; c.testClips = 1
        c.augment = AugmentConfig()
        c.augment.ops = [.hflip, .trivialAugment]
        return c
    }

    func entries(_ n: Int, bad: Set<Int> = []) -> [LabelEntry] {
        (0..<n).map { LabelEntry(path: bad.contains($0) ? "bad\($0).mp4" : "v\($0).mp4", mos: Double($0) / 2) }
    }

    /// Opens `vN.mp4` as a synthetic 40×30 video of 12 + N frames; `bad*` files fail.
    let open: @Sendable (String) throws -> FrameReader = { path in
        if path.hasPrefix("bad") { throw MediaError(path, "moov atom not found") }
        let n = Int(path.dropFirst().dropLast(4))!
        return SyntheticReader(path: path, width: 40, height: 30, frames: 12 + n)
    }

    func loader(_ e: [LabelEntry], rank: Int = 0, world: Int = 1, batch: Int = 2, threads: Int = 2, prefetch: Int = 2,
                maxFail: Double = 0.5, log: FailureLog = FailureLog(sink: { _ in })) throws -> Loader {
        try Loader(entries: e, sampler: config, rank: rank, worldSize: world, batchSizePerRank: batch, seed: 42,
                   shuffle: true, train: true, decodeThreads: threads, prefetch: prefetch, maxFailureFraction: maxFail,
                   failures: log, open: open)
    }

    /// All batches of one epoch as (indices, valid, padding, bytes).
    func drain(_ l: Loader, epoch: Int) throws -> [([Int], [Bool], [Bool], [Float])] {
        l.start(epoch: epoch)
        var out: [([Int], [Bool], [Bool], [Float])] = []
        while let b = try l.next() {
            XCTAssertEqual(b.step, out.count); XCTAssertEqual(b.epoch, epoch)
            XCTAssertEqual(b.labels, b.indices.map { Float(Double($0) / 2) })
            out.append((b.indices, b.valid, b.padding, Array(UnsafeBufferPointer(start: b.data, count: b.floatCount))))
        }
        return out
    }

    func testRanksRunTheSameStepsAndTogetherCoverThePaddedPermutation() throws {
        let e = entries(10)
        let loaders = try (0..<3).map { try loader(e, rank: $0, world: 3, batch: 2) }
        XCTAssertEqual(loaders.map(\.stepsPerEpoch), [2, 2, 2])
        let order = loaders[0].epochOrder(1)
        XCTAssertEqual(order.count, 12)
        XCTAssertEqual(Set(order.prefix(10)), Set(0..<10), "the first n positions are a permutation")
        XCTAssertEqual(Array(order.suffix(2)), Array(order.prefix(2)), "padding repeats the start")
        XCTAssertNotEqual(order, loaders[0].epochOrder(2), "each epoch has its own permutation")
        XCTAssertEqual(loaders[1].epochOrder(1), order)
        let perRank = try loaders.map { try drain($0, epoch: 1) }
        var union: [Int] = []
        for step in 0..<2 { for r in 0..<3 { union += perRank[r][step].0 } }
        XCTAssertEqual(union, order)
        XCTAssertEqual(perRank[2][1].2, [true, true], "the last two slots pad the epoch")
        XCTAssertEqual(perRank[0][0].2, [false, false])
        XCTAssertEqual(loaders[2].rankIndices(epoch: 1, step: 1), perRank[2][1].0)
    }

    func testBatchesAreIdenticalWithOneOrThreeThreadsAndAcrossWorldSizes() throws {
        let e = entries(9)
        let one = try drain(try loader(e, batch: 4, threads: 1, prefetch: 1), epoch: 3)
        let three = try drain(try loader(e, batch: 4, threads: 3, prefetch: 3), epoch: 3)
        XCTAssertEqual(one.count, 3)
        for (a, b) in zip(one, three) {
            XCTAssertEqual(a.0, b.0); XCTAssertEqual(a.1, b.1); XCTAssertEqual(a.3, b.3)
            XCTAssertFalse(a.3.contains { $0.isNaN })
        }
        // A sample's bytes depend on (seed, epoch, entry), not on which rank or slot loads it.
        let perSample = 3 * 4 * 16 * 16
        let split = try drain(try loader(e, rank: 1, world: 2, batch: 2), epoch: 3)
        let (idx, _, _, bytes) = split[0]
        let (allIdx, _, _, allBytes) = one[0]
        for (k, entry) in idx.enumerated() {
            if let p = allIdx.firstIndex(of: entry) {
                XCTAssertEqual(Array(bytes[(k * perSample)..<((k + 1) * perSample)]),
                               Array(allBytes[(p * perSample)..<((p + 1) * perSample)]))
            }
        }
        // Restarting an epoch mid-way gives the same batches again.
        let l = try loader(e, batch: 4)
        l.start(epoch: 3)
        _ = try l.next()
        XCTAssertEqual(try drain(l, epoch: 3).map(\.3), one.map(\.3))
    }

    func testFailingEntriesAreReportedOnceCountedAndMarkedInvalid() throws {
        let lock = NSLock()
        nonisolated(unsafe) var lines: [String] = []
        let log = FailureLog(sink: { line in lock.lock(); lines.append(line); lock.unlock() })
        let l = try loader(entries(8, bad: [3]), batch: 4, threads: 3, log: log)
        for epoch in 0..<3 {
            let batches = try drain(l, epoch: epoch)
            var seen = 0
            for (indices, valid, _, bytes) in batches {
                for (k, i) in indices.enumerated() {
                    XCTAssertEqual(valid[k], i != 3)
                    if i == 3 {
                        seen += 1
                        let per = 3 * 4 * 16 * 16
                        XCTAssertTrue(bytes[(k * per)..<((k + 1) * per)].allSatisfy { $0 == 0 })
                    }
                }
            }
            XCTAssertEqual(seen, 1)
        }
        XCTAssertEqual(log.count(for: "bad3.mp4"), 3)
        XCTAssertEqual(log.failedFiles, ["bad3.mp4"])
        XCTAssertEqual(lines.filter { $0 == "bad3.mp4: moov atom not found" }.count, 1, "\(lines)")
        let summaries = lines.filter { $0.hasPrefix("epoch ") }
        XCTAssertEqual(summaries.count, 3, "\(lines)")
        guard summaries.count == 3 else { return }
        XCTAssertTrue(summaries[2].contains("epoch 2: skipped 1 sample(s) from 1 unreadable file(s): bad3.mp4 ×1"), summaries[2])
    }

    func testTooManyFailuresStopWithAClearError() throws {
        let l = try loader(entries(8, bad: [0, 1, 2, 3, 4]), batch: 2, maxFail: 0.25)
        l.start(epoch: 0)
        var thrown: Error?
        do { while try l.next() != nil {} } catch { thrown = error }
        let text = thrown.map { "\($0)" } ?? ""
        XCTAssertTrue(text.hasPrefix("data loader: "), text)
        XCTAssertTrue(text.contains("more than the allowed 25%") && text.contains("moov atom not found"), text)
    }

    func testInvalidSettingsAreRejected() {
        XCTAssertThrowsError(try loader(entries(4), rank: 2, world: 2)) { XCTAssertTrue("\($0)".contains("rank 2")) }
        XCTAssertThrowsError(try loader([], batch: 1)) { XCTAssertTrue("\($0)".contains("no entries")) }
        XCTAssertThrowsError(try Loader(entries: entries(3), sampler: config, rank: 0, worldSize: 2, batchSizePerRank: 2,
                                        seed: 1, shuffle: false, train: true, dropLast: true, open: open)) {
            XCTAssertTrue("\($0)".contains("dropLast"))
        }
    }
}
