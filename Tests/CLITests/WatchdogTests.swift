// The collective watchdog end to end (2 ranks under mpirun): a rank stopped with SIGSTOP no longer
// hangs the job — the other rank aborts it naming the missing rank — and a SIGTERM to the waiting
// rank ends the job (128 + 15) instead of being ignored while it busy-waits.

import Foundation
import XCTest
import TestSupport

final class WatchdogTests: XCTestCase {
    /// 2 ranks training (100 epochs) in the background; rank 1's pid once rank 0 trains.
    private func start(_ name: String, timeout: String) throws -> (run: TestProcess, rank1: Int32) {
        let out = FaultTests.data + "/\(name)-\(UUID().uuidString.prefix(8))", tag = "\(name)-\(getpid())"
        let run = try MPIRun.start(2, FaultTests.trainArgs(out: out, epochs: 100) + ["--collective-timeout", timeout],
                                   env: ["VQA_FAULT_TAG": tag], logPrefix: out + "-log")
        XCTAssertTrue(run.waitFor(timeout: 120) { run.stdout.contains("epoch 1  step 2/3") }, run.stdout + run.stderr)
        return (run, try XCTUnwrap(FaultSupport.rankPid(tag: tag, rank: 1), "rank 1 not found"))
    }

    private func cleanUp(_ pid: Int32) {
        kill(pid, SIGKILL)
        kill(pid, SIGCONT)
    }

    func testStoppedRankIsNamedAndTheJobEnds() throws {
        let (run, rank1) = try start("wd-stop", timeout: "5")
        defer { cleanUp(rank1) }
        let sent = Date()
        kill(rank1, SIGSTOP)
        let (status, seconds) = run.finish(timeout: 120, since: sent)
        print("SIGSTOP of rank 1, collective timeout 5 s: mpirun exited \(status) after \(String(format: "%.1f", seconds)) s")
        XCTAssertNotEqual(status, -1, "the job hung after SIGSTOP of rank 1: " + run.stderr)
        XCTAssertNotEqual(status, 0)
        XCTAssertTrue(run.stderr.contains("rank 0: collective watchdog: waited") && run.stderr.contains("for rank(s) 1, which did not arrive")
                      && run.stderr.contains("--collective-timeout"), run.stderr)
    }

    func testSIGTERMWhileWaitingForAStoppedRankEndsTheJob() throws {
        let (run, rank1) = try start("wd-term", timeout: "600")
        defer { cleanUp(rank1) }
        kill(rank1, SIGSTOP)
        usleep(500_000)  // rank 0 reaches the next collective and waits there
        let rank0 = try XCTUnwrap(FaultSupport.rankPid(tag: "wd-term-\(getpid())", rank: 0), "rank 0 not found")
        let sent = Date()
        kill(rank0, SIGTERM)
        let (status, seconds) = run.finish(timeout: 150, since: sent)
        print("SIGTERM to rank 0 waiting for a stopped rank 1: mpirun exited \(status) after \(String(format: "%.1f", seconds)) s")
        XCTAssertNotEqual(status, -1, "SIGTERM was ignored while rank 0 waited: " + run.stderr)
        XCTAssertEqual(status, 143, run.stderr)
        XCTAssertTrue(run.stderr.contains("rank 0: stopped by SIGTERM while waiting") && run.stderr.contains("for rank(s) 1"), run.stderr)
    }
}
