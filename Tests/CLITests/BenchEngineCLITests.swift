import XCTest
import Foundation
import TestSupport

final class BenchEngineCLITests: XCTestCase {
    func testProfileListsEveryConvolutionPerStep() throws {
        // A narrow fragnet on 2 clips of 2×64²: 9 convolutions (stem, 3 × down + block, 2 head) per step.
        let r = try CLI.vqa(["bench", "engine", "--model", "fragnet", "--model-option", "widths=4,8,8,8",
                             "--model-option", "head_hidden=4", "--batch", "2", "--frames", "2", "--size", "64",
                             "--threads", "1", "--steps", "2", "--warmup", "1", "--json", "--profile"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let obj = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any], r.stdout)
        let profile = try XCTUnwrap(obj["profile"] as? [[String: Any]], r.stdout)
        let byOp = Dictionary(uniqueKeysWithValues: profile.map { ($0["op"] as? String ?? "", $0) })
        XCTAssertEqual(byOp["convolve"]?["calls"] as? Double, 9, r.stdout)
        XCTAssertEqual(byOp["groupNormGelu"]?["calls"] as? Double, 7, r.stdout)
        XCTAssertGreaterThan(byOp["convolve"]?["backward_ms"] as? Double ?? 0, 0, r.stdout)
        // Slowest first.
        let totals = profile.map { ($0["forward_ms"] as? Double ?? 0) + ($0["backward_ms"] as? Double ?? 0) }
        XCTAssertEqual(totals, totals.sorted(by: >))
        // Per layer: the 9 convolutions are 9 distinct shapes, each once per step, with positive GFLOP/s.
        let layers = try XCTUnwrap(obj["conv_layers"] as? [[String: Any]], r.stdout)
        XCTAssertEqual(layers.count, 9, r.stdout)
        XCTAssertTrue(layers.allSatisfy { $0["calls"] as? Double == 1 && ($0["forward_gflops"] as? Double ?? 0) > 0 }, r.stdout)
        XCTAssertEqual(obj["allocs_per_step"] as? Double, 0, r.stdout)
    }

    /// --micro-batch: reported in the JSON with the step's allocations still 0; a value that does not
    /// divide --batch is refused before any work with the valid values.
    func testMicroBatchIsReportedAndValidated() throws {
        let base = ["bench", "engine", "--model", "fragnet", "--model-option", "widths=4,8,8,8", "--model-option", "head_hidden=4",
                    "--batch", "4", "--frames", "2", "--size", "32", "--threads", "1", "--steps", "2", "--warmup", "1", "--json"]
        let r = try CLI.vqa(base + ["--micro-batch", "2"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let obj = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any], r.stdout)
        XCTAssertEqual(obj["micro_batch"] as? Double, 2, r.stdout)
        XCTAssertEqual(obj["batch"] as? Double, 4, r.stdout)
        XCTAssertGreaterThan(obj["step_ms"] as? Double ?? 0, 0, r.stdout)
        let bad = try CLI.vqa(base + ["--micro-batch", "3"])
        XCTAssertEqual(bad.status, 64, bad.stderr)
        XCTAssertTrue(bad.stderr.contains("--micro-batch 3 must divide --batch 4; valid values: 1, 2, 4"), bad.stderr)
        XCTAssertTrue(bad.stdout.isEmpty, bad.stdout)
    }
}
