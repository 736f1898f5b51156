// scripts/launch.sh with the real trainer: a failing rank ends the job in seconds (not 2 ×
// VQA_TERM_GRACE), and SIGTERM to the script reaches the ranks at once, which checkpoint, print
// their "stopped: preempted" line and exit 143. The default grace (45 s) is kept, so the bounds
// below (30 s) fail when the grace is spent on the way.

import Foundation
import XCTest
import TestSupport

final class LaunchScriptTrainTests: XCTestCase {
    /// launch.sh with `args` in the background, with the default grace and shared-memory transport.
    private func launch(_ args: [String], logPrefix: String, env: [String: String] = [:]) throws -> TestProcess {
        _ = try requireTool("mpirun")
        return try TestProcess("/bin/bash", [Repo.root.appendingPathComponent("scripts/launch.sh").path, "-np", "2", "--oversubscribe"] + args,
                               env: ["VQA_MPI_BIN": try CLI.requireBinary(), "VQA_MPI_BTL": "self,vader", "VQA_TERM_GRACE": "45"]
                                   .merging(env) { $1 }, logPrefix: logPrefix)
    }

    func testFailingRanksEndTheJobInSeconds() throws {
        let out = FaultTests.data + "/launch-missing"
        var args = FaultTests.trainArgs(out: out, epochs: 1)
        args[args.firstIndex(of: "--train-labels")! + 1] = FaultTests.data + "/no-such-labels.txt"
        let run = try launch(args, logPrefix: out + "-log")
        let (status, seconds) = run.finish(timeout: 150)
        print("launch.sh with a missing label file: exit \(status) after \(String(format: "%.1f", seconds)) s")
        XCTAssertNotEqual(status, 0, run.stderr)
        XCTAssertNotEqual(status, -1, "launch.sh did not end within 150 s")
        XCTAssertTrue(run.stderr.contains("no-such-labels.txt"), run.stderr)
        XCTAssertLessThan(seconds, 30, "a failing rank must end the job in seconds, not after 2 × VQA_TERM_GRACE")
    }

    func testKillNineOfARankEndsTheJobInSeconds() throws {
        let out = FaultTests.data + "/launch-kill9", tag = "launch-kill9-\(getpid())"
        let run = try launch(FaultTests.trainArgs(out: out, epochs: 100), logPrefix: out + "-log", env: ["VQA_FAULT_TAG": tag])
        let (status, seconds) = try FaultSupport.signal(run, SIGKILL, to: .rank(1, tag: tag), after: "epoch 1  step 2/3", timeout: 150,
                                                        what: "kill -9 of rank 1 under launch.sh")
        XCTAssertNotEqual(status, 0)
        XCTAssertNotEqual(status, -1, "launch.sh did not end within 150 s")
        XCTAssertLessThan(seconds, 30, "a dead rank must end the job in seconds, not after 2 × VQA_TERM_GRACE")
    }

    func testSIGTERMReachesTheRanksAtOnceAndKeepsTheStopLine() throws {
        let out = FaultTests.data + "/launch-sigterm"
        let run = try launch(FaultTests.trainArgs(out: out, epochs: 100), logPrefix: out + "-log")
        let (status, seconds) = try FaultSupport.signal(run, SIGTERM, to: .launcher, after: "epoch 1  step 2/3", timeout: 150,
                                                        what: "SIGTERM to launch.sh")
        XCTAssertEqual(status, 143, run.stdout + run.stderr)
        XCTAssertTrue(run.stderr.contains("stopped: preempted by SIGTERM") && run.stderr.contains("--resume"), run.stderr)
        XCTAssertLessThan(seconds, 30, "the ranks must get the signal at once, not after VQA_TERM_GRACE")
        let meta = try FaultSupport.metadata(out + "/last.safetensors")
        XCTAssertGreaterThan(Int(meta["step"] ?? "") ?? 0, 0, "\(meta)")
    }
}
