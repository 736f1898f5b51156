// Real MPI: spawns the release binary under mpirun (and as a singleton) running
// `vqa-mpi bench allreduce --verify`, which checks every collective on every rank.

import XCTest
import Foundation
import TestSupport

final class MPIRunTests: XCTestCase {
    func verifiedJSON(_ r: ProcessResult, ranks: Int, file: StaticString = #filePath, line: UInt = #line) throws -> [String: Any] {
        XCTAssertEqual(r.status, 0, "stdout: \(r.stdout)\nstderr: \(r.stderr)", file: file, line: line)
        let lines = r.stdout.split(separator: "\n").filter { $0.hasPrefix("{") }
        XCTAssertEqual(lines.count, 1, "exactly rank 0 prints JSON: \(r.stdout)", file: file, line: line)
        let obj = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data((lines.first ?? "").utf8)) as? [String: Any])
        XCTAssertEqual(obj["ranks"] as? Int, ranks, file: file, line: line)
        XCTAssertEqual(obj["verified"] as? Bool, true, file: file, line: line)
        XCTAssertGreaterThan(obj["ours_ms"] as? Double ?? -1, 0, file: file, line: line)
        XCTAssertGreaterThan(obj["raw_mpi_ms"] as? Double ?? -1, 0, file: file, line: line)
        return obj
    }

    func testTwoRanksVerify() throws {
        let obj = try verifiedJSON(try MPIRun.vqa(2, ["bench", "allreduce", "--mb", "1", "--reps", "3", "--json", "--verify"]), ranks: 2)
        XCTAssertEqual(obj["buckets"] as? Int, 1)
    }

    func testThreeRanksManyBucketsVerify() throws {
        let r = try MPIRun.vqa(3, ["bench", "allreduce", "--mb", "1", "--reps", "3", "--json", "--verify",
                               "--bucket-mb", "0.2", "--first-bucket-mb", "0.05"])
        let obj = try verifiedJSON(r, ranks: 3)
        XCTAssertGreaterThanOrEqual(obj["buckets"] as? Int ?? 0, 5)
    }

    func testSingletonWithoutLauncherVerifies() throws {
        _ = try verifiedJSON(try CLI.vqa(["bench", "allreduce", "--mb", "0.5", "--reps", "2", "--json", "--verify",
                                           "--bucket-mb", "0.1", "--first-bucket-mb", "0.01"]), ranks: 1)
    }

    /// Plain `srun` with Open MPI gives singletons; the launcher's size must not be silently ignored.
    func testSingletonUnderAnAnnouncedSlurmStepIsRefused() throws {
        let r = try CLI.vqa(["bench", "allreduce", "--mb", "0.1", "--reps", "1"],
                            env: ["SLURM_STEP_NUM_TASKS": "2", "SLURM_STEP_ID": "0"])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("srun --mpi=pmix -n 2"), r.stderr)
    }

    func testInvalidOptionsAreRejectedBeforeMPIStarts() throws {
        let r = try CLI.vqa(["bench", "allreduce", "--reps", "0"])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("--reps must be at least 1"), r.stderr)
        let m = try CLI.vqa(["bench", "allreduce", "--first-bucket-mb", "0"])
        XCTAssertNotEqual(m.status, 0)
        XCTAssertTrue(m.stderr.contains("must be positive"), m.stderr)
    }
}
