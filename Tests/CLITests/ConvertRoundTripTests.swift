// scripts/convert/safetensors_to_fastvqa.py: a fast-vqa checkpoint written by `vqa-mpi train`
// → the official FAST-VQA .pth → back through fastvqa_to_safetensors.py is bit-identical, for the
// EMA and the raw weights. Runs without PyTorch (both scripts fall back to tensor_files.py). Where
// PyTorch is importable (VQA_TORCH_PYTHON, default python3), torch.load(weights_only=True) must read
// the .pth with the same bytes and relative_position_index must equal the window's index built with
// torch ops; CI machines have no torch and skip that test.

import Foundation
import XCTest
import TestSupport

final class ConvertRoundTripTests: XCTestCase {
    /// A tiny fast-vqa-m (same tensor names as the official model, small sizes) trained one step.
    static let checkpoint: (path: String, log: String) = {
        let out = UserFacingCLITests.data + "/fastvqa-m"
        let syn = UserFacingCLITests.data + "/syn"
        let r = try? CLI.vqa(["train", "--model", "fast-vqa-m", "--model-option", "embed_dim=8", "--model-option", "depths=1,1,1,1",
                              "--model-option", "heads=1,1,1,1", "--model-option", "window=2,2,2", "--model-option", "head_hidden=4",
                              "--train-labels", syn + "/labels_train.txt", "--data-root", syn, "--epochs", "1", "--max-steps", "1",
                              "--batch-size", "2", "--set", "data.train.sampler.clip_len=4", "--set", "data.train.sampler.fragments_h=2",
                              "--set", "data.train.sampler.fragments_w=2", "--set", "train.ema=0.5", "--out", out])
        return (out + "/last.safetensors", (r?.stdout ?? "") + (r?.stderr ?? "") + " status \(r?.status ?? -1)")
    }()

    private func script(_ name: String, _ args: [String]) throws -> ProcessResult {
        try CLI.run("/usr/bin/env", ["python3", Repo.root.appendingPathComponent("scripts/convert/\(name)").path] + args)
    }

    private func tensors(_ path: String) throws -> [String: Data] {
        let d = try Data(contentsOf: URL(fileURLWithPath: path))
        let n = Int(d.prefix(8).enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) })
        let header = try XCTUnwrap(try JSONSerialization.jsonObject(with: d.subdata(in: 8..<8 + n)) as? [String: Any])
        var out: [String: Data] = [:]
        for (k, v) in header where k != "__metadata__" {
            let o = try XCTUnwrap((v as? [String: Any])?["data_offsets"] as? [Int])
            out[k] = d.subdata(in: 8 + n + o[0]..<8 + n + o[1])
        }
        return out
    }

    func testOursToOfficialToOursIsBitIdentical() throws {
        let ckpt = Self.checkpoint.path
        XCTAssertTrue(FileManager.default.fileExists(atPath: ckpt), Self.checkpoint.log)
        let ours = try tensors(ckpt)
        XCTAssertTrue(ours.keys.contains { $0.hasPrefix("ema.") } && ours.keys.contains { $0.hasPrefix("optim.") }, "\(ours.keys.sorted())")
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("convert-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for (flag, prefix) in [("ema", "ema."), ("raw", "")] {
            let pth = "\(dir)/\(flag).pth", back = "\(dir)/\(flag).safetensors"
            let w = try script("safetensors_to_fastvqa.py", [ckpt, pth, "--weights", flag])
            XCTAssertEqual(w.status, 0, w.stderr)
            XCTAssertTrue(w.stdout.contains("\(flag) weights") && w.stdout.contains("swin_tiny_grpb_m"), w.stdout)
            let r = try script("fastvqa_to_safetensors.py", [pth, back])
            XCTAssertEqual(r.status, 0, r.stderr)
            let got = try tensors(back)
            let want = ours.filter { $0.key.hasPrefix(prefix) && !$0.key.hasPrefix("optim.") && (prefix == "ema." || !$0.key.hasPrefix("ema.")) }
            XCTAssertEqual(got.count, want.count)
            for (k, v) in want { XCTAssertEqual(got[String(k.dropFirst(prefix.count))], v, "\(flag): \(k) changed in the round trip") }
        }
        let wrong = try script("safetensors_to_fastvqa.py", [UserFacingCLITests.trained.dir + "/last.safetensors", "\(dir)/x.pth"])
        XCTAssertEqual(wrong.status, 2)
        XCTAssertTrue(wrong.stderr.contains("model is 'fragnet'") && wrong.stderr.contains("fast-vqa-b and fast-vqa-m"), wrong.stderr)
    }

    func testPyTorchLoadsTheOfficialFileWithTheSameBytes() throws {
        let python = ProcessInfo.processInfo.environment["VQA_TORCH_PYTHON"] ?? "python3"
        let probe = try CLI.run("/usr/bin/env", [python, "-c", "import torch"])
        guard probe.status == 0 else { throw XCTSkip("PyTorch is not importable by \(python) (set VQA_TORCH_PYTHON); the round trip above covers the bytes") }
        let pth = FileManager.default.temporaryDirectory.appendingPathComponent("official-\(UUID().uuidString).pth").path
        defer { try? FileManager.default.removeItem(atPath: pth) }
        XCTAssertEqual(try script("safetensors_to_fastvqa.py", [Self.checkpoint.path, pth]).status, 0, Self.checkpoint.log)
        let check = try CLI.run("/usr/bin/env", [python, "-c", """
            import sys, json, struct, torch
            sd = torch.load(sys.argv[1], map_location="cpu", weights_only=True)["state_dict"]
            raw = open(sys.argv[2], "rb").read(); n = struct.unpack("<Q", raw[:8])[0]; h = json.loads(raw[8:8 + n])
            bad = []
            for k, v in sd.items():
                if k.endswith("relative_position_index"):
                    w = (2, 2, 2)
                    c = torch.stack(torch.meshgrid(*[torch.arange(x) for x in w], indexing="ij")).flatten(1)
                    r = (c[:, :, None] - c[:, None, :]).permute(1, 2, 0) + torch.tensor([w[0] - 1, w[1] - 1, w[2] - 1])
                    idx = r[:, :, 0] * (2 * w[1] - 1) * (2 * w[2] - 1) + r[:, :, 1] * (2 * w[2] - 1) + r[:, :, 2]
                    if v.dtype != torch.int64 or not torch.equal(v, idx): bad.append(k)
                    continue
                ours = "ema." + k.replace("fragments_backbone.", "backbone.", 1)
                a, b = h[ours]["data_offsets"]
                if v.dtype != torch.float32 or list(v.shape) != h[ours]["shape"] or v.contiguous().numpy().tobytes() != raw[8 + n + a:8 + n + b]:
                    bad.append(k)
            print("OK" if not bad else "BAD " + " ".join(bad), len(sd))
            """, pth, Self.checkpoint.path])
        XCTAssertEqual(check.status, 0, check.stderr)
        XCTAssertTrue(check.stdout.hasPrefix("OK"), check.stdout)
    }
}
