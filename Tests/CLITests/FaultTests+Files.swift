// Faults of files and numbers: damaged checkpoints (eval, score, --init-from, --resume and its
// fallback), a failed checkpoint write (simulated full disk), non-finite steps.

import XCTest
import Foundation
import TestSupport

extension FaultTests {
    /// One uninterrupted single-process run of 3 epochs (fallback and failed-save tests compare with it).
    static let solo3: String = {
        let out = FaultTests.data + "/solo3"
        _ = try? CLI.vqa(FaultTests.trainArgs(out: out, epochs: 3))
        return out + "/last.safetensors"
    }()

    /// A 1-epoch checkpoint to damage.
    static let good: String = {
        let out = FaultTests.data + "/good"
        _ = try? CLI.vqa(FaultTests.trainArgs(out: out, epochs: 1))
        return out + "/last.safetensors"
    }()

    /// Damaged variants of `good`: name → (path, words the error must contain).
    func damagedCheckpoints() throws -> [(String, String, [String])] {
        let bytes = try Data(contentsOf: URL(fileURLWithPath: Self.good))
        let dir = Self.data + "/damaged"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        var out: [(String, String, [String])] = []
        func put(_ name: String, _ d: Data, _ words: [String]) throws {
            let p = dir + "/" + name
            try d.write(to: URL(fileURLWithPath: p))
            out.append((name, p, words))
        }
        try put("truncated.safetensors", bytes.prefix(bytes.count / 2), ["truncated"])
        try put("header-cut.safetensors", bytes.prefix(20), ["truncated"])
        var flipped = bytes
        flipped[bytes.count - 3] ^= 0x10
        try put("bitflip.safetensors", flipped, ["checksum mismatch"])
        try put("text.safetensors", Data("model: fragnet\nthis is not a checkpoint\n".utf8), ["not a safetensors file"])
        try put("empty.safetensors", Data(), ["shorter than the 8-byte header"])
        // A valid safetensors file that is not a checkpoint: one tensor "w" of 2 floats.
        let header = #"{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#
        var plain = Data()
        var n = UInt64(header.utf8.count).littleEndian
        withUnsafeBytes(of: &n) { plain.append(contentsOf: $0) }
        plain.append(contentsOf: header.utf8)
        plain.append(contentsOf: [UInt8](repeating: 0, count: 8))
        try put("plain.safetensors", plain, ["not a vqa-mpi checkpoint"])
        // One bit of the metadata: the format tag (/2 → /0; once read as a plain file, exit 0) and the
        // epoch (once resumed at the wrong position). The checksum covers the metadata.
        func flip(_ text: String, _ mask: UInt8) throws -> Data {
            let at = try XCTUnwrap(bytes.range(of: Data(text.utf8)), text)
            var d = bytes
            d[at.upperBound] ^= mask  // the byte after `text`
            return d
        }
        try put("tagflip.safetensors", try flip("vqa-mpi-checkpoint/", 2), ["carries vqa-mpi training metadata"])
        try put("epochflip.safetensors", try flip("\"epoch\":\"", 2), ["checksum mismatch"])
        return out
    }

    /// eval, score and train --init-from name the file and the reason and exit 1 (never crash);
    /// --resume with nothing usable lists every candidate's problem.
    func testDamagedCheckpointsAreRejectedClearly() throws {
        XCTAssertTrue(FileManager.default.fileExists(atPath: Self.good))
        let syn = Self.data + "/syn"
        for (name, path, words) in try damagedCheckpoints() {
            let runs: [(String, [String])] = [
                ("eval", ["eval", "--checkpoint", path, "--labels", syn + "/labels_test.txt", "--data-root", syn]),
                ("score", ["score", "--checkpoint", path, syn + "/videos/00000.mp4"]),
                ("init-from", Self.trainArgs(out: Self.data + "/init-\(name)", epochs: 1) + ["--init-from", path]),
            ]
            for (what, args) in runs {
                let r = try CLI.vqa(args)
                XCTAssertEqual(r.status, 1, "\(what) \(name): \(r.stderr)")
                XCTAssertTrue(r.stderr.contains(path), "\(what) \(name) must name the file: \(r.stderr)")
                // init-from reads a plain safetensors file as weights; it then finds no matching tensor.
                let expected = what == "init-from" && name == "plain.safetensors" ? ["no tensor matches the model"] : words
                for w in expected { XCTAssertTrue(r.stderr.contains(w), "\(what) \(name) must say '\(w)': \(r.stderr)") }
            }
        }
        // --resume over a directory whose every checkpoint is damaged: one error listing each.
        let dir = Self.data + "/all-damaged"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let damaged = try damagedCheckpoints()
        try FileManager.default.copyItem(atPath: damaged[0].1, toPath: dir + "/last.safetensors")
        try FileManager.default.copyItem(atPath: damaged[2].1, toPath: dir + "/epoch-001.safetensors")
        let r = try CLI.vqa(Self.trainArgs(out: dir, epochs: 2) + ["--resume"])
        XCTAssertEqual(r.status, 1, r.stderr)
        XCTAssertTrue(r.stderr.contains(dir + "/last.safetensors") && r.stderr.contains("truncated")
                      && r.stderr.contains(dir + "/epoch-001.safetensors") && r.stderr.contains("checksum mismatch"), r.stderr)
        let none = try CLI.vqa(Self.trainArgs(out: Self.data + "/no-such-run", epochs: 2) + ["--resume"])
        XCTAssertEqual(none.status, 1)
        XCTAssertTrue(none.stderr.contains("no checkpoint in it"), none.stderr)
    }

    /// A damaged last.safetensors (and a damaged newest epoch file) → --resume warns and continues
    /// from the newest checkpoint that verifies; the run ends exactly as an uninterrupted one.
    func testResumeFallsBackToNewestGoodCheckpoint() throws {
        let out = Self.data + "/fallback"
        let a = try CLI.vqa(Self.trainArgs(out: out, epochs: 3) + ["--max-steps", "6"])
        XCTAssertEqual(a.status, 0, a.stderr)
        let last = out + "/last.safetensors", e2 = out + "/epoch-002.safetensors", e1 = out + "/epoch-001.safetensors"
        var bytes = try Data(contentsOf: URL(fileURLWithPath: last))
        bytes[bytes.count / 2] ^= 0x01
        try bytes.write(to: URL(fileURLWithPath: last))
        try Data(try Data(contentsOf: URL(fileURLWithPath: e2)).prefix(100)).write(to: URL(fileURLWithPath: e2))
        let r = try CLI.vqa(Self.trainArgs(out: out, epochs: 3) + ["--resume"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stderr.contains("warning: \(last): checksum mismatch"), r.stderr)
        XCTAssertTrue(r.stderr.contains("warning: \(e2): corrupt or truncated"), r.stderr)
        XCTAssertTrue(r.stderr.contains("resuming from \(e1) instead"), r.stderr)
        XCTAssertTrue(r.stdout.contains("resumed from \(e1): at the end of epoch 1 (global step 3)"), r.stdout)
        try assertSameTensors(last, Self.solo3)
    }

    /// Simulated full disk: one failed save warns, leaves no temporary file and the previous
    /// checkpoint intact, and the run goes on (the next save succeeds); repeated failures stop the
    /// run with status 1 and the last good checkpoint still readable.
    func testFailedCheckpointWriteIsRetriedThenStops() throws {
        let out = Self.data + "/failsave"
        let r = try CLI.vqa(Self.trainArgs(out: out, epochs: 3), env: ["VQA_MPI_TEST_FAIL_WRITE": "after:1,times:1"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stderr.contains("warning: checkpoint NOT saved at the end of epoch 2") && r.stderr.contains("No space left on device")
                      && r.stderr.contains("still holds epoch 1, global step 3 (intact)"), r.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: out + "/epoch-002.safetensors"))
        XCTAssertTrue(FileManager.default.fileExists(atPath: out + "/epoch-003.safetensors"))
        XCTAssertEqual(FaultSupport.hiddenFiles(out), [])
        try assertSameTensors(out + "/last.safetensors", Self.solo3)

        let stop = Self.data + "/failsave-stop"
        let s = try CLI.vqa(Self.trainArgs(out: stop, epochs: 4) + ["--set", "train.max_failed_saves=2"], env: ["VQA_MPI_TEST_FAIL_WRITE": "after:1"])
        XCTAssertEqual(s.status, 1, s.stderr)
        XCTAssertTrue(s.stderr.contains("2 checkpoint saves failed in a row (train.max_failed_saves 2)"), s.stderr)
        XCTAssertFalse(s.stdout.contains("epoch 4/4"), "the run must stop after the second failed save")
        XCTAssertEqual(FaultSupport.hiddenFiles(stop), [])
        XCTAssertEqual(try FaultSupport.metadata(stop + "/last.safetensors")["epoch"], "1")
        let syn = Self.data + "/syn"
        let e = try CLI.vqa(["eval", "--checkpoint", stop + "/last.safetensors", "--labels", syn + "/labels_test.txt", "--data-root", syn, "--json"])
        XCTAssertEqual(e.status, 0, "the previous checkpoint stays readable: \(e.stderr)")
    }

    /// NaN injected on rank 1 only: the step is skipped on both ranks (replica checksums every step
    /// stay equal), counted in metrics.jsonl, reported with diagnostics; 3 in a row stop the run with
    /// status 1 and a checkpoint without a single non-finite value.
    func testNonFiniteStepsAreSkippedThenStop() throws {
        let out = Self.data + "/nan"
        let r = try MPIRun.vqa(2, Self.trainArgs(out: out, epochs: 4) + ["--set", "train.max_nonfinite_steps=3", "--set", "train.checksum_every=1"],
                               env: ["VQA_MPI_TEST_INJECT_NAN": "1,3,4,5"])
        XCTAssertEqual(r.status, 1, r.stdout + r.stderr)
        XCTAssertTrue(r.stderr.contains("step skipped on every rank, no update applied: global step 1 (epoch 1, step 2/3): loss nan"), r.stderr)
        XCTAssertTrue(r.stderr.contains("non-finite gradients in"), r.stderr)
        XCTAssertTrue(r.stderr.contains("3 non-finite steps in a row (train.max_nonfinite_steps 3), global steps 3–5")
                      && r.stderr.contains("lr "), r.stderr)
        XCTAssertFalse(r.stderr.contains("desync"), r.stderr)
        let lines = try String(contentsOfFile: out + "/metrics.jsonl", encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(lines.count, 1)
        let rec = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(lines[0].utf8)) as? [String: Any])
        XCTAssertEqual(rec["skipped_steps"] as? Int, 1)
        let last = out + "/last.safetensors"
        XCTAssertEqual(try FaultSupport.metadata(last)["step"], "6")
        XCTAssertEqual(try FaultSupport.nonfinite(last), [])
        // Steps 3–5 changed nothing: the weights are those saved after epoch 1 (step 3).
        let a = try FaultSupport.tensors(last), b = try FaultSupport.tensors(out + "/epoch-001.safetensors")
        XCTAssertEqual(a.keys.filter { !$0.hasPrefix("optim.") && a[$0] != b[$0] }, [])
    }
}
