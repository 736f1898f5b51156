// Loader.shuffleBlock: blocks of K consecutive entries (a synthetic scene's versions) move together.

import XCTest
@testable import Media

final class LoaderShuffleBlockTests: XCTestCase {
    func loader(entries n: Int, world: Int = 1, batch: Int = 4) throws -> Loader {
        let e = (0..<n).map { LabelEntry(path: "v\($0).mp4", mos: Double($0)) }
        return try Loader(entries: e, sampler: SamplerConfig(), rank: 0, worldSize: world, batchSizePerRank: batch, seed: 7,
                          shuffle: true, train: true, decodeThreads: 1,
                          open: { path in SyntheticReader(path: path, width: 40, height: 30, frames: 8) })
    }

    func testBlocksStayTogetherInOrderAndTheEpochIsAPermutation() throws {
        let l = try loader(entries: 18)   // 4 blocks of 4 and a last block of 2
        l.shuffleBlock = 4
        for epoch in 0..<5 {
            let order = Array(l.epochOrder(epoch).prefix(18))
            XCTAssertEqual(order.sorted(), Array(0..<18), "epoch \(epoch): every entry exactly once")
            var i = 0, blockStarts: [Int] = []
            while i < order.count {
                let start = order[i], size = min(4, 18 - start)
                XCTAssertEqual(start % 4, 0, "epoch \(epoch): a block starts at a multiple of 4, got \(order)")
                XCTAssertEqual(Array(order[i..<(i + size)]), Array(start..<(start + size)), "epoch \(epoch): block of \(start) split")
                blockStarts.append(start); i += size
            }
            XCTAssertEqual(blockStarts.count, 5)
        }
        XCTAssertNotEqual(l.epochOrder(0), l.epochOrder(1), "the block order changes per epoch")
        XCTAssertFalse((0..<5).allSatisfy { Array(l.epochOrder($0).prefix(18)) == Array(0..<18) }, "blocks are shuffled")
    }

    func testBlockOfOneIsTheEntryShuffleAndRanksAgree() throws {
        let a = try loader(entries: 12), b = try loader(entries: 12)
        b.shuffleBlock = 1
        XCTAssertEqual(a.epochOrder(3), b.epochOrder(3), "shuffle_block 1 is the default entry shuffle")
        let r0 = try loader(entries: 16, world: 2, batch: 4), r1 = try loader(entries: 16, world: 2, batch: 4)
        r0.shuffleBlock = 4; r1.shuffleBlock = 4
        XCTAssertEqual(r0.epochOrder(2), r1.epochOrder(2), "every rank computes the same global order")
    }
}
