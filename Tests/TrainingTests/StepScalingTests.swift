// The scaling decomposition of `bench step`: the floor/straggler arithmetic on hand-made timings,
// the report on a world of one, and under mpirun that `--independent` adds its ceiling and per-rank
// figures without changing what the data-parallel steps train.

import XCTest
import Foundation
@testable import Dist
@testable import Engine
@testable import Training
import TestSupport

final class StepScalingTests: XCTestCase {
    func testFloorIsTheLastArriversCostAndWaitTheMeanExcess() {
        // ms in collectives per step: rank 0 [5, 1, 3], rank 1 [2, 4, 3].
        let (floor, wait) = StepScalingReport.synchronisation([[5, 1, 3], [2, 4, 3]])
        XCTAssertEqual(floor, 2, "minima 2, 1, 3")
        XCTAssertEqual(wait, 1.5, "mean excesses 1.5, 1.5, 0")
        let three = StepScalingReport.synchronisation([[1, 10], [4, 10], [7, 13]])
        XCTAssertEqual(three.floor, 5.5, "minima 1 and 10")
        XCTAssertEqual(three.wait, 2, "mean excesses (0+3+6)/3 and (0+0+3)/3")
        XCTAssertTrue(StepScalingReport.synchronisation([]) == (0, 0))
    }

    func testReportOnAWorldOfOne() throws {
        var r = StepBenchResult()
        r.stepMs = [100, 120, 110]; r.gatherMs = [1, 2, 3]; r.commMs = [0, 0, 0]
        r.forwardMs = [40, 50, 45]; r.backwardMs = [55, 60, 58]; r.optimizerMs = [4, 5, 6]
        r.commThreadCPUMs = [0, 0, 0]; r.fillMs = [7, 8, 9]
        var alone = r
        alone.stepMs = [200, 250, 300]; alone.gatherMs = [0, 0, 0]
        let report = try StepScalingReport(comm: SoloCommunicator(), result: r, independent: alone, samplesPerRank: 4)
        XCTAssertEqual(report.perRank.count, 1)
        let row = Dictionary(uniqueKeysWithValues: zip(StepScalingReport.keys, report.perRank[0]))
        XCTAssertEqual(row["step_ms"], 110)
        XCTAssertEqual(row["compute_ms"], 107, "step − gathers − all-reduce: 99, 118, 107")
        XCTAssertEqual(row["gather_ms"], 2)
        XCTAssertEqual(row["fill_ms"], 8)
        XCTAssertEqual(row["independent_step_ms"], 250)
        XCTAssertEqual(try XCTUnwrap(report.independentSamplesPerS), 16, accuracy: 1e-12, "4 clips / 0.25 s")
        XCTAssertEqual(report.collectiveFloorMs, 2)
        XCTAssertEqual(report.stragglerWaitMs, 0, "one rank never waits for itself")
        XCTAssertEqual(report.maxOverRanks("backward_ms"), 58)
        XCTAssertNil(try StepScalingReport(comm: SoloCommunicator(), result: r, independent: nil, samplesPerRank: 4).independentSamplesPerS)
    }

    /// Runs `bench step` on 2 ranks and returns rank 0's JSON object and the dumped weights.
    private func bench(_ extra: [String]) throws -> ([String: Any], [String: [Float]]) {
        let path = try TempDir.make("step-scaling", for: self).appendingPathComponent("weights.safetensors").path
        let r = try MPIRun.vqa(2, ["bench", "step"] + BenchStepFixture.tiny + ["--optimizer", "sgd", "--lr", "0.01", "--dump", path, "--json"] + extra)
        XCTAssertEqual(r.status, 0, "\(extra): \(r.stderr)")
        let line = try XCTUnwrap(r.stdout.split(separator: "\n").first { $0.hasPrefix("{") }, r.stdout)
        let obj = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], String(line))
        return (obj, try SafetensorsFile.read(path: path).tensors.mapValues { try $0.floats() })
    }

    func testIndependentBaselineUnderMPIKeepsTheTrainedWeights() throws {
        let (plain, plainWeights) = try bench([])
        let (obj, weights) = try bench(["--independent", "--profile", "--checksum-every", "2"])
        XCTAssertFalse(weights.isEmpty)
        XCTAssertEqual(weights, plainWeights, "interleaved independent blocks must not touch the data-parallel replica")
        XCTAssertNil(plain["independent_samples_per_s"], "only with --independent")
        XCTAssertNil(plain["profile"], "only with --profile")

        let perRank = try XCTUnwrap(obj["per_rank"] as? [[String: Any]])
        XCTAssertEqual(perRank.map { $0["rank"] as? Int }, [0, 1])
        for row in perRank {
            for key in StepScalingReport.keys where key != "comm_thread_cpu_ms" && key != "gather_ms" {
                XCTAssertGreaterThan(row[key] as? Double ?? -1, 0, "\(key) of rank \(row["rank"] ?? "?")")
            }
        }
        // The ceiling is the sum over ranks of their clips per second alone (3 clips per rank).
        let independent = try XCTUnwrap(obj["independent_samples_per_s"] as? Double)
        let expected = perRank.map { 3 / (($0["independent_step_ms"] as? Double ?? .nan) / 1000) }.reduce(0, +)
        XCTAssertEqual(independent, expected, accuracy: 1e-4 * expected)
        let samples = try XCTUnwrap(obj["samples_per_s"] as? Double)
        XCTAssertEqual(try XCTUnwrap(obj["scaling_vs_independent"] as? Double), samples / independent, accuracy: 1e-4)
        XCTAssertEqual(obj["max_rank_step_ms"] as? Double ?? -1,
                       perRank.map { $0["step_ms"] as? Double ?? .nan }.max()!, accuracy: 1e-3)
        for key in ["collective_floor_ms", "straggler_wait_ms", "gather_ms", "compute_ms", "fill_ms"] {
            XCTAssertGreaterThanOrEqual(obj[key] as? Double ?? -1, 0, key)
        }
        let profile = try XCTUnwrap(obj["profile"] as? [[String: Any]])
        XCTAssertTrue(profile.contains { $0["op"] as? String == "convolve" }, "\(profile.map { $0["op"] ?? "" })")
        for e in profile {
            XCTAssertNotNil(e["independent_forward_ms"], "the independent steps run the same ops: \(e)")
        }
    }

    func testPeerWaitPoliciesTrainBitIdenticalWeights() throws {
        XCTAssertEqual(try PeerWait.parse("sleep"), .sleep)
        XCTAssertThrowsError(try PeerWait.parse("nap")) { e in XCTAssertTrue("\(e)".contains("valid: spin, sleep"), "\(e)") }
        XCTAssertNoThrow(try PeerWait.sleep.arrive(SoloCommunicator()), "nothing to wait for on a world of one")
        var weights: [String: [String: [Float]]] = [:]
        for wait in ["spin", "sleep"] {
            for overlap in ["after", "thread"] {
                let (obj, w) = try bench(["--peer-wait", wait, "--overlap", overlap, "--regularizer", "awp",
                                          "--bucket-mb", "0.01", "--first-bucket-mb", "0.002"])
                XCTAssertEqual(obj["peer_wait"] as? String, wait)
                XCTAssertEqual(obj["overlap"] as? String, overlap)
                weights["\(wait)/\(overlap)"] = w
            }
        }
        XCTAssertFalse(weights["spin/after"]!.isEmpty)
        for (k, w) in weights { XCTAssertEqual(w, weights["spin/after"]!, "\(k): the same collectives in the same order") }
    }
}
