// The memory estimate (Training/MemoryEstimate.swift): terms, saturation instead of overflow traps,
// the refusal message, and the machine's available memory from /proc/meminfo or the cgroup.

import XCTest
import Media
@testable import Dist
@testable import Training
import TestSupport

final class MemoryEstimateTests: XCTestCase {
    func testTermsFollowTheModelAndSaturate() throws {
        var s = SamplerConfig()
        let floats = MemoryEstimate.floatsPerSample(s)
        let e = MemoryEstimate.training(model: "fragnet", parameters: 1_000_000, sampler: s, batchPerRank: 4, environment: [:])
        XCTAssertEqual(e.parameters, 28_000_000)
        XCTAssertEqual(e.batches, 4 * 4 * floats * 4)
        XCTAssertEqual(e.activations, 4 * floats * 4 * 16)
        XCTAssertEqual(e.ranksPerNode, 1)
        XCTAssertEqual(e.total, e.perRank)
        // Two ranks on the node need twice as much.
        let two = MemoryEstimate.training(model: "fragnet", parameters: 1_000_000, sampler: s, batchPerRank: 4,
                                          environment: ["OMPI_COMM_WORLD_LOCAL_SIZE": "2"])
        XCTAssertEqual(two.total, 2 * e.perRank)
        // The sizes saturate at Int.max instead of overflowing (a trap).
        s.fsizeH = 100_000
        XCTAssertGreaterThan(MemoryEstimate.training(model: "fragnet", parameters: 1, sampler: s, batchPerRank: 1, environment: [:]).total, 1_000_000_000_000)
        XCTAssertEqual(MemoryEstimate.training(model: "fragnet", parameters: 1, sampler: s, batchPerRank: 100_000_000, environment: [:]).total, Int.max)
        s = SamplerConfig(); s.clipLen = 100_000
        XCTAssertGreaterThan(MemoryEstimate.training(model: "fragnet", parameters: 1, sampler: s, batchPerRank: 1, environment: [:]).total, 100_000_000_000)
        XCTAssertEqual(MemoryEstimate.mul([Int.max / 2, 3]), Int.max)
    }

    /// Calibration: the estimate bounds the peak RSS measured with `bench engine` (MemoryEstimate.swift's
    /// table) from above, without being absurdly loose.
    func testEstimateBoundsTheMeasuredRuns() {
        let measured: [(String, Int, Int, Int, Int, Double)] = [   // model, params, frames, batch, MB measured
            ("fragnet", 1_105_449, 8, 4, 0, 305.2), ("fragnet", 1_105_449, 8, 1, 0, 147.4),
            ("fast-vqa-m", 27_597_255, 4, 2, 0, 1552.2), ("fast-vqa-b", 28_127_901, 4, 2, 0, 1557.0),
            ("simplevqa", 24_478_913, 4, 2, 0, 1403.0), ("simplevqa", 24_478_913, 4, 1, 0, 1182.1),
            ("simplevqa", 24_478_913, 8, 4, 0, 2429.1),
        ]
        for (model, params, frames, batch, _, mb) in measured {
            let e = MemoryEstimate.training(model: model, parameters: params, floatsPerSample: 3 * frames * 224 * 224,
                                            batchPerRank: batch, prefetch: 0, environment: [:])
            let estimate = Double(e.total) / Double(1 << 20)
            XCTAssertGreaterThan(estimate, mb, "\(model) batch \(batch)")
            XCTAssertLessThan(estimate, 6 * mb, "\(model) batch \(batch): an upper bound, not a wild one")
        }
    }

    func testRefusalNamesTheEstimateAndTheMachine() throws {
        let e = MemoryEstimate(parameters: 1 << 30, batches: 2 << 30, activations: 20 << 30, runtime: 1 << 28, ranksPerNode: 2)
        XCTAssertThrowsError(try e.check("train (batch 100000 per rank)", available: (8_000_000_000, "MemAvailable in /proc/meminfo"))) { err in
            let text = "\(err)"
            XCTAssertTrue(text.hasPrefix("train (batch 100000 per rank) needs about 49.9 GB"), text)
            XCTAssertTrue(text.contains("only 8.0 GB is available (MemAvailable in /proc/meminfo)"), text)
            XCTAssertTrue(text.contains("× 2 ranks on this node") && text.contains("lower the batch size"), text)
        }
        XCTAssertNoThrow(try e.check("x", available: (100_000_000_000, "test")))
        XCTAssertNoThrow(try e.check("x", available: nil), "nothing known about the machine: no refusal")
    }

    func testAvailableReadsMeminfoAndTheCgroupLimit() throws {
        let root = try TempDir.make("meminfo", for: self).path
        try FileManager.default.createDirectory(atPath: root + "/proc", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: root + "/sys/fs/cgroup", withIntermediateDirectories: true)
        try "MemTotal:       24000000 kB\nMemAvailable:   20000000 kB\n".write(toFile: root + "/proc/meminfo", atomically: true, encoding: .utf8)
        XCTAssertEqual(MemoryEstimate.available(root: root)?.bytes, 20_000_000 * 1024)
        try "max\n".write(toFile: root + "/sys/fs/cgroup/memory.max", atomically: true, encoding: .utf8)
        XCTAssertEqual(MemoryEstimate.available(root: root)?.bytes, 20_000_000 * 1024, "no cgroup limit")
        try "4000000000\n".write(toFile: root + "/sys/fs/cgroup/memory.max", atomically: true, encoding: .utf8)
        try "1000000000\n".write(toFile: root + "/sys/fs/cgroup/memory.current", atomically: true, encoding: .utf8)
        let a = try XCTUnwrap(MemoryEstimate.available(root: root))
        XCTAssertEqual(a.bytes, 3_000_000_000)
        XCTAssertTrue(a.source.contains("cgroup"), a.source)
        XCTAssertNotNil(MemoryEstimate.available(), "this machine has /proc/meminfo")
    }
}
