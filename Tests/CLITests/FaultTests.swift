// Faults end to end (docs/faults.md): preemption by SIGTERM/SIGINT (to mpirun and to one rank),
// kill -9 of a rank, damaged checkpoints, failed checkpoint writes, non-finite steps. Each test
// spawns the release binary; the only time bound is the issue's 30 s hang guard for kill -9.

import XCTest
import Foundation
import TestSupport

final class FaultTests: XCTestCase {
    /// The tiny synthetic set: 3 training steps per epoch at batch 4.
    static let data = tinySyntheticSet("faults")

    /// Tiny model and clips; AWP so the perturbed pass is part of every step; a progress line per step.
    static func trainArgs(out: String, epochs: Int, val: Bool = false) -> [String] {
        let syn = Self.data + "/syn"
        return ["train", "--train-labels", syn + "/labels_train.txt", "--data-root", syn]
            + (val ? ["--val-labels", syn + "/labels_test.txt"] : [])
            + ["--epochs", "\(epochs)", "--batch-size", "4", "--seed", "7", "--regularizer", "awp", "--gamma", "0.01",
               "--set", "model.options.widths=4,8,8,8", "--set", "data.train.sampler.clip_len=4",
               "--set", "data.train.sampler.fragments_h=2", "--set", "data.train.sampler.fragments_w=2",
               "--set", "data.train.sampler.test_clips=1", "--set", "train.ema=0.5", "--set", "train.log_every=1", "--out", out]
    }

    func assertSameTensors(_ a: String, _ b: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let x = try FaultSupport.tensors(a), y = try FaultSupport.tensors(b)
        XCTAssertEqual(Set(x.keys), Set(y.keys), file: file, line: line)
        XCTAssertTrue(x.keys.contains { $0.hasPrefix("ema.") } && x.keys.contains { $0.hasPrefix("optim.") }, file: file, line: line)
        let differing = x.keys.filter { x[$0] != y[$0] }.sorted()
        XCTAssertEqual(differing, [], "\(a) and \(b) differ", file: file, line: line)
    }

    /// The uninterrupted 2-rank run, 4 epochs (12 steps), shared by the preemption and kill tests.
    static let reference4: String = {
        let out = FaultTests.data + "/ref4"
        _ = try? MPIRun.vqa(2, FaultTests.trainArgs(out: out, epochs: 4))
        return out + "/last.safetensors"
    }()

    /// SIGINT to rank 1 alone: the ranks agree at the next step boundary, rank 0 saves, every rank
    /// exits 130; --resume then ends with the uninterrupted run's weights, bit for bit.
    func testSignalToOneRankStopsEveryRankAndResumeIsExact() throws {
        let out = Self.data + "/sigint", tag = "sigint-\(getpid())"
        // Checkpoints only every 3rd epoch (train.save_every): a stop at a step boundary or an epoch end
        // without a scheduled save still saves first.
        let every = ["--set", "train.save_every=3"]
        let run = try MPIRun.start(2, Self.trainArgs(out: out, epochs: 4) + every, env: ["VQA_FAULT_TAG": tag], logPrefix: out + "-log")
        // Rank 0 prints "training" after the collective weight broadcast, so rank 1 has its handler
        // by then; the flag is seen in step 1 or 2 of 3, a mid-epoch stop (sampler replay on resume).
        let (status, _) = try FaultSupport.signal(run, SIGINT, to: .rank(1, tag: tag), after: "training fragnet", timeout: 120,
                                                  what: "SIGINT to rank 1: mpirun")
        XCTAssertEqual(status, 130, run.stdout + run.stderr)
        let meta = try FaultSupport.metadata(out + "/last.safetensors")
        let stoppedAt = try XCTUnwrap(Int(meta["step"] ?? ""))
        print("SIGINT to rank 1: stopped after global step \(stoppedAt) of 12 (sampler step \(meta["sampler_step"] ?? "?"))")
        // Usually seen in step 1 or 2 of 3 (a mid-epoch stop: the sampler replays on resume). How far
        // the run got before the flag was seen depends on the machine (seen: a slow start-up stopped
        // at the end of epoch 1; a fresh clone on an idle machine at epoch 2, step 1): any stop before
        // the last step is right as long as the message and the checkpoint's sampler position agree.
        XCTAssertTrue((1..<12).contains(stoppedAt), "the run should stop before its last step, stopped after step \(stoppedAt)")
        let epoch = (stoppedAt - 1) / 3 + 1, inEpoch = stoppedAt - (epoch - 1) * 3
        if inEpoch == 3 {
            XCTAssertTrue(run.stderr.contains("preempted by SIGINT at the end of epoch \(epoch)") && run.stderr.contains("--resume"), run.stderr)
            XCTAssertEqual(meta["sampler_step"], "0", "an epoch-boundary checkpoint starts the next epoch's sampler")
        } else {
            XCTAssertTrue(run.stderr.contains("preempted by SIGINT at epoch \(epoch), step \(inEpoch)/3") && run.stderr.contains("--resume"), run.stderr)
            XCTAssertEqual(meta["sampler_step"], "\(inEpoch)")
        }

        let r = try MPIRun.vqa(2, Self.trainArgs(out: out, epochs: 4) + every + ["--resume"])
        XCTAssertEqual(r.status, 0, r.stdout + r.stderr)
        try assertSameTensors(out + "/last.safetensors", Self.reference4)
        // The resume names the position in the words of the preemption message.
        let position = try XCTUnwrap(run.stderr.components(separatedBy: "preempted by SIGINT ").last?.components(separatedBy: ":").first)
        XCTAssertTrue(r.stdout.contains("resumed from \(out)/last.safetensors: \(position)\n"), "'\(position)' vs \(r.stdout)")
    }

    /// SIGTERM to mpirun: Open MPI delivers SIGTERM to the ranks odls_base_sigkill_timeout seconds
    /// later and SIGKILL as long again; with a few seconds the ranks save at a step boundary.
    /// Resuming to a fixed step equals a straight run to that step.
    func testSigtermToMpirunSavesAndResumeIsExact() throws {
        let out = Self.data + "/sigterm"
        let run = try MPIRun.start(2, Self.trainArgs(out: out, epochs: 100), extraFlags: ["--mca", "odls_base_sigkill_timeout", "5"],
                                   logPrefix: out + "-log")
        let (status, _) = try FaultSupport.signal(run, SIGTERM, to: .launcher, after: "epoch 1  step 2/3", timeout: 120,
                                                  what: "SIGTERM to mpirun")
        XCTAssertNotEqual(status, 0, run.stdout + run.stderr)
        // mpirun tears down its output forwarding while it terminates, so the ranks' last lines may
        // be lost (seen on a quiet machine); when they arrive they must name the signal.
        if run.stderr.contains("preempted") { XCTAssertTrue(run.stderr.contains("preempted by SIGTERM"), run.stderr) }
        let stoppedAt = try XCTUnwrap(Int(try FaultSupport.metadata(out + "/last.safetensors")["step"] ?? ""))
        print("SIGTERM to mpirun: stopped after global step \(stoppedAt) of 300")
        XCTAssertTrue((1..<300).contains(stoppedAt))

        let target = stoppedAt + 2
        let r = try MPIRun.vqa(2, Self.trainArgs(out: out, epochs: 100) + ["--resume", "--max-steps", "\(target)"])
        XCTAssertEqual(r.status, 0, r.stdout + r.stderr)
        let straight = Self.data + "/sigterm-straight"
        let s = try MPIRun.vqa(2, Self.trainArgs(out: straight, epochs: 100) + ["--max-steps", "\(target)"])
        XCTAssertEqual(s.status, 0, s.stdout + s.stderr)
        try assertSameTensors(out + "/last.safetensors", straight + "/last.safetensors")
    }

    /// kill -9 of rank 1 mid-epoch: the job ends non-zero within 30 s; --resume from the last
    /// checkpoint finishes the run with the uninterrupted run's weights.
    func testKillNineOfOneRankEndsJobAndResumeFinishes() throws {
        let out = Self.data + "/kill9", tag = "kill9-\(getpid())"
        let run = try MPIRun.start(2, Self.trainArgs(out: out, epochs: 4), env: ["VQA_FAULT_TAG": tag], logPrefix: out + "-log")
        let (status, seconds) = try FaultSupport.signal(run, SIGKILL, to: .rank(1, tag: tag), after: "epoch 2  step 1/3", timeout: 30,
                                                        what: "kill -9 of rank 1 in epoch 2: mpirun")
        XCTAssertNotEqual(status, 0)
        XCTAssertNotEqual(status, -1, "the job did not end within 30 s of the kill")
        XCTAssertLessThan(seconds, 30)
        let r = try MPIRun.vqa(2, Self.trainArgs(out: out, epochs: 4) + ["--resume"])
        XCTAssertEqual(r.status, 0, r.stdout + r.stderr)
        XCTAssertTrue(r.stdout.contains("resumed from"), r.stdout)
        try assertSameTensors(out + "/last.safetensors", Self.reference4)
    }
}
