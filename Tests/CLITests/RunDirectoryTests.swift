// The training output directory end to end: a finished run is never overwritten or mixed (refusal,
// --overwrite moving it aside, the lock against a second train), --out paths that cannot be a
// directory, a validation set that cannot be read, and epoch files left by a killed save.

import Foundation
import XCTest
import TestSupport

final class RunDirectoryTests: XCTestCase {
    private let fm = FileManager.default

    /// A fresh output path under the shared synthetic data's directory.
    private func fresh(_ name: String) -> String {
        let out = FaultTests.data + "/\(name)-\(UUID().uuidString.prefix(8))"
        try? fm.removeItem(atPath: out)
        return out
    }

    func testOccupiedOutIsRefusedAndOverwriteMovesTheRunAside() throws {
        let out = fresh("occupied")
        let first = try CLI.vqa(FaultTests.trainArgs(out: out, epochs: 1))
        XCTAssertEqual(first.status, 0, first.stderr)
        let last = try Data(contentsOf: URL(fileURLWithPath: out + "/last.safetensors"))
        let metrics = try Data(contentsOf: URL(fileURLWithPath: out + "/metrics.jsonl"))

        let again = try CLI.vqa(FaultTests.trainArgs(out: out, epochs: 1) + ["--seed", "8"])
        XCTAssertEqual(again.status, 1, again.stdout + again.stderr)
        XCTAssertTrue(again.stderr.contains("already holds a run") && again.stderr.contains("last.safetensors")
                      && again.stderr.contains("metrics.jsonl") && again.stderr.contains("--resume") && again.stderr.contains("--overwrite"), again.stderr)
        XCTAssertFalse(again.stdout.contains("training"), "refused before any work: \(again.stdout)")
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: out + "/last.safetensors")), last)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: out + "/metrics.jsonl")), metrics)

        let both = try CLI.vqa(FaultTests.trainArgs(out: out, epochs: 1) + ["--resume", "--overwrite"])
        XCTAssertNotEqual(both.status, 0)
        XCTAssertTrue(both.stderr.contains("exclude each other"), both.stderr)

        let over = try CLI.vqa(FaultTests.trainArgs(out: out, epochs: 1) + ["--seed", "8", "--overwrite"])
        XCTAssertEqual(over.status, 0, over.stderr)
        let previous = try XCTUnwrap(try fm.contentsOfDirectory(atPath: out).first { $0.hasPrefix("previous-") }, "nothing moved aside")
        XCTAssertTrue(over.stdout.contains("moved the previous run's files into \(out)/\(previous)"), over.stdout)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: "\(out)/\(previous)/last.safetensors")), last)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: "\(out)/\(previous)/metrics.jsonl")), metrics)
        XCTAssertNotEqual(try Data(contentsOf: URL(fileURLWithPath: out + "/last.safetensors")), last, "seed 8 trains other weights")
    }

    func testSecondTrainOnTheSameOutFailsNamingTheHolder() throws {
        let out = fresh("locked")
        let holder = try TestProcess(try CLI.requireBinary(), FaultTests.trainArgs(out: out, epochs: 100), logPrefix: out + "-log")
        defer { kill(holder.pid, SIGKILL); _ = holder.finish(timeout: 30) }
        XCTAssertTrue(holder.waitFor(timeout: 120) { holder.stdout.contains("epoch 1  step 2/3") }, holder.stdout + holder.stderr)
        for extra in [[], ["--resume"]] {
            let second = try CLI.vqa(FaultTests.trainArgs(out: out, epochs: 100) + extra)
            XCTAssertEqual(second.status, 1, "\(extra): " + second.stdout + second.stderr)
            XCTAssertTrue(second.stderr.contains("another train is using this directory (pid \(holder.pid)"), "\(extra): " + second.stderr)
            XCTAssertFalse(second.stdout.contains("training"), "\(extra): \(second.stdout)")
        }
        XCTAssertTrue(holder.process.isRunning, "the first run goes on")
    }

    func testOutPathsThatCannotBeADirectoryGiveOneLine() throws {
        let file = FaultTests.data + "/syn/labels.txt"
        for (out, cause) in [("", "--out is empty"), (file, "is a file, not a directory"), (file + "/run", "Not a directory"),
                             ("/proc/vqa-run/x", "cannot create /proc/vqa-run")] {
            let r = try CLI.vqa(FaultTests.trainArgs(out: out, epochs: 1))
            XCTAssertEqual(r.status, 1, "\(out): \(r.stderr)")
            let lines = r.stderr.split(separator: "\n")
            XCTAssertEqual(lines.count, 1, "\(out): \(r.stderr)")
            XCTAssertTrue(r.stderr.contains(cause) && (out.isEmpty || r.stderr.contains("--out \(out):")), "\(out): \(r.stderr)")
            XCTAssertFalse(r.stderr.contains("Error Domain") || r.stderr.contains("NSCocoaErrorDomain"), r.stderr)
        }
    }

    func testUnreadableValidationSetStopsWithoutClaimingBest() throws {
        let out = fresh("badval"), syn = FaultTests.data + "/syn"
        let bad = "unreadable-\(UUID().uuidString.prefix(8))"
        try fm.createDirectory(atPath: "\(syn)/\(bad)", withIntermediateDirectories: true)
        var labels = ""
        for i in 0..<4 {
            try Data("not a video \(i)".utf8).write(to: URL(fileURLWithPath: "\(syn)/\(bad)/\(i).mp4"))
            labels += "\(bad)/\(i).mp4, 1.0, 8.0, \(2 + i).0\n"
        }
        try labels.write(toFile: "\(syn)/\(bad).txt", atomically: true, encoding: .utf8)
        let r = try CLI.vqa(FaultTests.trainArgs(out: out, epochs: 2) + ["--val-labels", "\(syn)/\(bad).txt"])
        XCTAssertEqual(r.status, 1, r.stdout + r.stderr)
        XCTAssertTrue(r.stderr.contains("validation set '\(bad)'") && r.stderr.contains("best.safetensors was not written")
                      && r.stderr.contains("check-dataset"), r.stderr)
        XCTAssertFalse((r.stdout + r.stderr).contains("wrote") && (r.stdout + r.stderr).contains("best.safetensors,"), r.stdout)
        XCTAssertFalse(fm.fileExists(atPath: out + "/best.safetensors"))
        XCTAssertTrue(fm.fileExists(atPath: out + "/last.safetensors"), "the epoch's checkpoint is kept")
    }

    func testFinishedRunNamesOnlyTheFilesItWrote() throws {
        let out = fresh("nobest")
        let r = try CLI.vqa(FaultTests.trainArgs(out: out, epochs: 1))
        XCTAssertEqual(r.status, 0, r.stderr)
        let line = try XCTUnwrap(r.stdout.split(separator: "\n").first { $0.hasPrefix("wrote ") })
        XCTAssertFalse(line.contains("\(out)/best.safetensors,"), String(line))
        XCTAssertTrue(line.contains("no best.safetensors: no validation set"), String(line))
    }

    /// A process killed between saving epoch-NNN and removing the oldest kept one leaves that one
    /// behind; the next save removes every epoch file beyond train.keep_last.
    func testEpochFileLeftByAKilledSaveIsRemoved() throws {
        let out = fresh("stale")
        let keep = ["--set", "train.keep_last=1"]
        let r = try CLI.vqa(FaultTests.trainArgs(out: out, epochs: 2) + keep)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(RunDirectoryTests.epochFiles(out), ["epoch-002.safetensors"])
        try fm.copyItem(atPath: out + "/epoch-002.safetensors", toPath: out + "/epoch-001.safetensors")
        let resumed = try CLI.vqa(FaultTests.trainArgs(out: out, epochs: 3) + keep + ["--resume"])
        XCTAssertEqual(resumed.status, 0, resumed.stderr)
        XCTAssertEqual(RunDirectoryTests.epochFiles(out), ["epoch-003.safetensors"])
    }

    /// train.save_every 2 over 6 epochs: checkpoints at epochs 2, 4 and 6 only (keep_last 2 keeps two
    /// saved epochs, 4 and 6), metrics.jsonl every epoch, and the same weights as saving every epoch.
    func testSaveEveryWritesEveryNthEpochAndTheLastWithTheSameWeights() throws {
        let every = fresh("every2"), each = fresh("every1")
        let r = try CLI.vqa(FaultTests.trainArgs(out: every, epochs: 6) + ["--set", "train.save_every=2"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(RunDirectoryTests.epochFiles(every), ["epoch-004.safetensors", "epoch-006.safetensors"])
        let lines = try String(contentsOfFile: every + "/metrics.jsonl", encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(lines.count, 6)
        XCTAssertEqual(try FaultSupport.metadata(every + "/last.safetensors")["epoch"], "6")
        let s = try CLI.vqa(FaultTests.trainArgs(out: each, epochs: 6))
        XCTAssertEqual(s.status, 0, s.stderr)
        XCTAssertEqual(try FaultSupport.tensors(every + "/last.safetensors"), try FaultSupport.tensors(each + "/last.safetensors"))
        // An odd last epoch is saved too; 0 is refused before any work with the valid range.
        let odd = fresh("every4")
        let o = try CLI.vqa(FaultTests.trainArgs(out: odd, epochs: 3) + ["--set", "train.save_every=4", "--set", "train.keep_epochs=true"])
        XCTAssertEqual(o.status, 0, o.stderr)
        XCTAssertEqual(RunDirectoryTests.epochFiles(odd), ["epoch-003.safetensors"])
        let zero = try CLI.vqa(FaultTests.trainArgs(out: fresh("every0"), epochs: 3) + ["--set", "train.save_every=0"])
        XCTAssertNotEqual(zero.status, 0)
        XCTAssertTrue(zero.stderr.contains("train.save_every must be ≥ 1"), zero.stderr)
    }

    static func epochFiles(_ dir: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).filter { $0.hasPrefix("epoch-") }.sorted()
    }
}
