// End to end: synth a tiny set → train under `mpirun -np 2` → eval → score; exact resume (one
// process); Python's safetensors reads our checkpoint; dry-run and configuration errors.

import XCTest
import Foundation
import TestSupport

final class TrainE2ETests: XCTestCase {
    /// A tiny synthetic set shared by the tests of this class (12 videos, 64×48, 8 frames).
    static let data = tinySyntheticSet("train-e2e")

    /// Tiny model and clips: 4 frames, 2×2 fragments of 32², 2 test clips.
    func trainArgs(out: String, epochs: Int = 2) -> [String] {
        let syn = Self.data + "/syn"
        return ["train", "--train-labels", syn + "/labels_train.txt", "--data-root", syn, "--val-labels", syn + "/labels_test.txt",
                "--epochs", "\(epochs)", "--batch-size", "4", "--seed", "5", "--regularizer", "awp", "--gamma", "0.01",
                "--set", "model.options.widths=4,8,8,8", "--set", "data.train.sampler.clip_len=4",
                "--set", "data.train.sampler.fragments_h=2", "--set", "data.train.sampler.fragments_w=2",
                "--set", "data.train.sampler.test_clips=2", "--set", "train.ema=0.5", "--out", out]
    }

    func testTrainEvalScoreUnderMPI() throws {
        let out = Self.data + "/mpi"
        let r = try MPIRun.vqa(2, trainArgs(out: out))
        XCTAssertEqual(r.status, 0, r.stdout + r.stderr)
        for f in ["last.safetensors", "best.safetensors", "metrics.jsonl", "curves.svg", "epoch-002.safetensors"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: out + "/" + f), f)
        }
        let lines = try String(contentsOfFile: out + "/metrics.jsonl", encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(lines.count, 2)
        let rec = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(lines[1].utf8)) as? [String: Any])
        XCTAssertEqual(rec["epoch"] as? Int, 2)
        let val = try XCTUnwrap((rec["val"] as? [String: Any])?["labels_test"] as? [String: Any])
        XCTAssertNotNil(val["ema"]); XCTAssertNotNil(val["raw"])
        XCTAssertNotNil(rec["gap_srcc"]); XCTAssertNotNil((rec["time"] as? [String: Any])?["communication"])
        let xml = try Python.run(["-c", "import sys, xml.etree.ElementTree as E; r = E.parse(sys.argv[1]).getroot(); print(r.tag, len(r.findall('{http://www.w3.org/2000/svg}polyline')))", out + "/curves.svg"])
        XCTAssertEqual(xml.status, 0, "curves.svg must parse as XML: \(xml.stderr)")
        XCTAssertEqual(xml.stdout, "{http://www.w3.org/2000/svg}svg 4\n")
        XCTAssertEqual(r.stdout.components(separatedBy: "epoch 2/2").count - 1, 1, "rank 0 alone prints the summary: \(r.stdout)")

        // Eval, sharded, equals one process; CSV in dataset order.
        let syn = Self.data + "/syn"
        let evalArgs = ["eval", "--checkpoint", out + "/last.safetensors", "--labels", syn + "/labels.txt", "--data-root", syn, "--json"]
        let e2 = try MPIRun.vqa(2, evalArgs + ["--predictions", out + "/pred.csv"])
        XCTAssertEqual(e2.status, 0, e2.stderr)
        let e1 = try CLI.vqa(evalArgs)
        XCTAssertEqual(e1.status, 0, e1.stderr)
        let j2 = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(e2.stdout.utf8)) as? [String: Any])
        let j1 = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(e1.stdout.utf8)) as? [String: Any])
        XCTAssertEqual(j2["n"] as? Int, 12)
        XCTAssertEqual(j2["srcc"] as? Double ?? .nan, j1["srcc"] as? Double ?? -1, accuracy: 1e-9)
        XCTAssertEqual(j2["plcc"] as? Double ?? .nan, j1["plcc"] as? Double ?? -1, accuracy: 1e-5)
        let csv = try String(contentsOfFile: out + "/pred.csv", encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(csv.first, "path,mos,prediction")
        let labelPaths = try String(contentsOfFile: syn + "/labels.txt", encoding: .utf8).split(separator: "\n").map { $0.split(separator: ",")[0] }
        XCTAssertEqual(csv.dropFirst().map { ($0.split(separator: ",")[0] as Substring).hasSuffix(labelPaths[0]) }.first, true)
        XCTAssertEqual(csv.count, 13)

        // Score a folder plus a broken file: the broken one is reported and skipped.
        let broken = Self.data + "/broken.mp4"
        try Data("not a video".utf8).write(to: URL(fileURLWithPath: broken))
        let s = try MPIRun.vqa(2, ["score", "--checkpoint", out + "/best.safetensors", syn + "/videos", broken])
        XCTAssertEqual(s.status, 0, s.stderr)
        let rows = s.stdout.split(separator: "\n")
        XCTAssertEqual(rows.first, "path,score,raw")
        XCTAssertEqual(rows.count, 13, s.stdout)
        XCTAssertTrue(s.stderr.contains(broken + ":"), s.stderr)
        let sj = try CLI.vqa(["score", "--checkpoint", out + "/best.safetensors", "--json", syn + "/videos/00000.mp4"])
        let obj = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(sj.stdout.utf8)) as? [String: Any])
        XCTAssertEqual(obj["calibrated"] as? Bool, true)
        XCTAssertNotNil(obj["raw"] as? Double)

        // Python's safetensors reads the checkpoint (names, shapes, metadata).
        try Python.require(modules: ["safetensors", "numpy"])
        let py = try Python.run(["-c", """
        import sys
        from safetensors import safe_open
        with safe_open(sys.argv[1], framework="numpy") as f:
            keys = list(f.keys()); m = f.metadata()
            assert any(k.startswith("ema.") for k in keys) and any(k.startswith("optim.") for k in keys), keys
            print("OK", len(keys), m["format"], m["epoch"])
        """, out + "/last.safetensors"])
        XCTAssertTrue(py.stdout.hasPrefix("OK") && py.stdout.contains("vqa-mpi-checkpoint/2 2"), py.stdout + py.stderr)
    }

    func testResumeIsBitIdentical() throws {
        let straight = Self.data + "/straight", resumed = Self.data + "/resumed", mid = Self.data + "/mid"
        XCTAssertEqual(try CLI.vqa(trainArgs(out: straight)).status, 0)
        // Interrupted at the epoch boundary (3 steps per epoch), then resumed.
        let a = try CLI.vqa(trainArgs(out: resumed) + ["--max-steps", "3"])
        XCTAssertEqual(a.status, 0, a.stderr)
        let b = try CLI.vqa(trainArgs(out: resumed) + ["--resume"])
        XCTAssertEqual(b.status, 0, b.stderr)
        // Interrupted mid-epoch (step 4 of 6), then resumed.
        XCTAssertEqual(try CLI.vqa(trainArgs(out: mid) + ["--max-steps", "4"]).status, 0)
        XCTAssertEqual(try CLI.vqa(trainArgs(out: mid) + ["--resume"]).status, 0)
        let ref = try FaultSupport.tensors(straight + "/last.safetensors")
        XCTAssertTrue(ref.keys.contains { $0.hasPrefix("ema.") })
        for dir in [resumed, mid] {
            let got = try FaultSupport.tensors(dir + "/last.safetensors")
            XCTAssertEqual(Set(got.keys), Set(ref.keys))
            for (k, v) in ref { XCTAssertEqual(got[k], v, "\(dir): tensor \(k) differs after resume") }
        }
        // The straight run's weights did change during training.
        XCTAssertNotEqual(try FaultSupport.tensors(straight + "/epoch-001.safetensors")["head.fc_last.weight"] ?? Data(),
                          ref["head.fc_last.weight"] ?? Data([1]))
        let lines = try String(contentsOfFile: resumed + "/metrics.jsonl", encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(lines.count, 2)

        // A corrupt last checkpoint is named in a warning; --resume goes on from the newest good one.
        let last = resumed + "/last.safetensors"
        var bytes = try Data(contentsOf: URL(fileURLWithPath: last))
        bytes[bytes.count - 5] ^= 0xff
        try bytes.write(to: URL(fileURLWithPath: last))
        let c = try CLI.vqa(trainArgs(out: resumed, epochs: 3) + ["--resume"])
        XCTAssertEqual(c.status, 0, c.stderr)
        XCTAssertTrue(c.stderr.contains(last) && c.stderr.contains("checksum") && c.stderr.contains("epoch-002.safetensors"), c.stderr)
    }

    func testFineTuneProbesTheHeadThenTrainsAll() throws {
        let base = Self.data + "/ft-base", ft = Self.data + "/ft"
        XCTAssertEqual(try CLI.vqa(trainArgs(out: base, epochs: 1)).status, 0)
        let r = try CLI.vqa(trainArgs(out: ft, epochs: 2) + ["--init-from", base + "/last.safetensors", "--set", "train.linear_probe_epochs=1"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("linear probe done"), r.stdout)
        let src = try FaultSupport.tensors(base + "/last.safetensors")
        let probe = try FaultSupport.tensors(ft + "/epoch-001.safetensors"), full = try FaultSupport.tensors(ft + "/epoch-002.safetensors")
        let backbone = probe.keys.filter { !$0.hasPrefix("ema.") && !$0.hasPrefix("optim.") && !$0.hasPrefix("head.") }
        XCTAssertFalse(backbone.isEmpty)
        // Starts from the source's EMA weights; the probe epoch leaves the backbone untouched, then it trains.
        for k in backbone { XCTAssertEqual(probe[k], src["ema." + k], "\(k) changed during the linear probe") }
        XCTAssertTrue(backbone.contains { full[$0] != probe[$0] }, "the backbone must train after the probe")
        XCTAssertNotEqual(probe["head.fc_last.weight"], src["ema.head.fc_last.weight"])
    }

    func testDryRunAndConfigErrors() throws {
        let r = try CLI.vqa(["train", "--dry-run", "--epochs", "3", "--regularizer", "awp", "--set", "regularization.awp.gamma=0.002"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("epochs: 3") && r.stdout.contains("kind: awp") && r.stdout.contains("gamma: 0.002"), r.stdout)
        let bad = try CLI.vqa(["train", "--dry-run", "--set", "train.epoch=3"])
        XCTAssertNotEqual(bad.status, 0)
        XCTAssertTrue(bad.stderr.contains("unknown key 'train.epoch'") && bad.stderr.contains("epochs"), bad.stderr)
        let e = try CLI.vqa(["train", "--dry-run", "--regularizer", "dropout"])
        XCTAssertNotEqual(e.status, 0)
        XCTAssertTrue(e.stderr.contains("none, l2, aug, rwp, awp"), e.stderr)
        let div = try MPIRun.vqa(2, trainArgs(out: Self.data + "/div") + ["--batch-size", "3"])
        XCTAssertNotEqual(div.status, 0)
        XCTAssertTrue(div.stderr.contains("not divisible") && div.stderr.contains("--batch-size 4"), div.stderr)
    }
}
