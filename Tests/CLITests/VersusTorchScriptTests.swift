// scripts/bench/versus_torch.sh (ours against PyTorch, side by side) and the bench engine options it
// and the AWP `every` measurement use. The argument checks run everywhere; the side-by-side run
// needs PyTorch (VQA_TORCH_PYTHON, default python3), which CI machines lack: it skips there.

import Foundation
import XCTest
import TestSupport

final class VersusTorchScriptTests: XCTestCase {
    private func script(_ args: [String], env: [String: String] = [:]) throws -> ProcessResult {
        try CLI.run("/usr/bin/env", ["bash", Repo.root.appendingPathComponent("scripts/bench/versus_torch.sh").path] + args,
                    env: env)
    }

    /// The python that imports torch (VQA_TORCH_PYTHON, default python3) and a fresh --out path;
    /// skips the test where there is none (CI), the argument checks still run.
    private func torchRun(_ prefix: String) throws -> (python: String, out: String) {
        let python = ProcessInfo.processInfo.environment["VQA_TORCH_PYTHON"] ?? "python3"
        let probe = try CLI.run("/usr/bin/env", [python, "-c", "import torch, numpy"])
        guard probe.status == 0 else { throw XCTSkip("PyTorch is not importable by \(python) (set VQA_TORCH_PYTHON); the argument checks still run") }
        return (python, FileManager.default.temporaryDirectory.appendingPathComponent("\(prefix)-\(UUID().uuidString)").path)
    }

    func testBadArgumentsListTheValidValuesBeforeAnyWork() throws {
        // VQA_MPI_BIN points nowhere: argument errors must come first (exit 2), not the missing binary.
        let env = ["VQA_MPI_BIN": "/nonexistent/vqa-mpi", "VQA_TORCH_PYTHON": "/nonexistent/python"]
        // (arguments, what stderr must say): each refused with exit 2 before any work.
        let refused: [([String], [String])] = [
            (["--model", "resnet"], ["'resnet'", "fragnet fast-vqa-b fast-vqa-m simplevqa"]),
            ([], ["--model is required", "simplevqa"]),
            (["--model", "fragnet", "--precision", "bf16"], ["valid values: fp32"]),
            (["--model", "fragnet", "--rounds", "two"], ["--rounds must be a whole number, got 'two'"]),
            // The official FAST-VQA model is a torch side for fast-vqa-b/-m only, from a real clone.
            (["--model", "fragnet", "--official-repo", "/tmp"], ["fast-vqa-b and fast-vqa-m only, not fragnet"]),
            (["--model", "fast-vqa-m", "--official-repo", "/tmp"], ["'/tmp' has no fastvqa/models/__init__.py"]),
            (["--model", "fast-vqa-m", "--official-checkpoint", "maybe"], ["'maybe' is not one of: as-built off"]),
        ]
        for (args, expected) in refused {
            let r = try script(args, env: env)
            XCTAssertEqual(r.status, 2, "\(args): \(r.output)")
            for text in expected { XCTAssertTrue(r.stderr.contains(text), "\(args): '\(text)' not in \(r.stderr)") }
        }
        // VQA_FASTVQA_REPO is for fast-vqa-b/-m: set (even to a bad path), it leaves fragnet alone.
        let fragnetWithRepo = try script(["--model", "fragnet"], env: env.merging(["VQA_FASTVQA_REPO": "/tmp"]) { $1 })
        XCTAssertEqual(fragnetWithRepo.status, 1, fragnetWithRepo.output)
        XCTAssertTrue(fragnetWithRepo.stderr.contains("/nonexistent/vqa-mpi is missing"), fragnetWithRepo.stderr)
        // Valid arguments, then the missing binary is named with the way to build it.
        let missing = try script(["--model", "fragnet"], env: env)
        XCTAssertEqual(missing.status, 1, missing.output)
        XCTAssertTrue(missing.stderr.contains("/nonexistent/vqa-mpi is missing") && missing.stderr.contains("swift build"), missing.stderr)
    }

    func testSideBySideRunPrintsMediansAndTheirRatio() throws {
        let bin = try CLI.requireBinary()
        let (python, out) = try torchRun("versus")
        defer { try? FileManager.default.removeItem(atPath: out) }
        let r = try script(["--model", "fragnet", "--batch", "2", "--frames", "2", "--size", "32", "--threads", "1",
                            "--rounds", "2", "--steps", "1", "--warmup", "1", "--python", python, "--out", out],
                           env: ["VQA_MPI_BIN": bin])
        XCTAssertEqual(r.status, 0, r.output)
        let last = try XCTUnwrap(r.stdout.split(separator: "\n").last.map(String.init), r.output)
        let obj = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(last.utf8)) as? [String: Any], last)
        for key in ["ours_step_ms", "torch_step_ms", "ratio", "ours_rss_mb", "torch_rss_mb", "blas_core", "loadavg"] {
            XCTAssertNotNil(obj[key], "\(key) missing in \(last)")
        }
        // The medians are the medians of the per-run lines kept in --out, and ratio is their quotient.
        let lines = { (name: String) throws -> [[String: Any]] in
            try String(contentsOfFile: "\(out)/\(name).jsonl", encoding: .utf8).split(separator: "\n")
                .map { try XCTUnwrap(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]) }
        }
        let ours = try lines("ours"), torch = try lines("torch")
        XCTAssertEqual(ours.count, 2); XCTAssertEqual(torch.count, 2)
        XCTAssertTrue(torch.allSatisfy { $0["model"] as? String == "fragnet" && $0["omp_wait_policy"] as? String == "PASSIVE" && $0["threads"] as? Int == 1 }, "\(torch)")
        XCTAssertTrue(ours.allSatisfy { $0["batch"] as? Int == 2 && $0["size"] as? Int == 32 && $0["awp_step_ms"] is NSNull }, "\(ours)")
        let median2 = { (rows: [[String: Any]]) in rows.compactMap { $0["step_ms"] as? Double }.reduce(0, +) / 2 }
        let o = try XCTUnwrap(obj["ours_step_ms"] as? Double), t = try XCTUnwrap(obj["torch_step_ms"] as? Double)
        XCTAssertEqual(o, median2(ours), accuracy: 0.01)
        XCTAssertEqual(t, median2(torch), accuracy: 0.01)
        XCTAssertEqual(try XCTUnwrap(obj["ratio"] as? Double), o / t, accuracy: 0.01 * o / t)
        XCTAssertEqual(obj["blas_core"] as? String, ours[0]["blas_core"] as? String)
        XCTAssertEqual((obj["loadavg"] as? [String])?.count, 2, last)
        XCTAssertEqual(obj["ours_allocs_per_step"] as? Double, 0, last)
    }

    func testAWPEveryPerturbsEveryNthTimedStep() throws {
        let tiny = ["bench", "engine", "--model", "fragnet", "--model-option", "widths=4,8,8,8", "--model-option", "head_hidden=4",
                    "--batch", "2", "--frames", "2", "--size", "32", "--threads", "1", "--warmup", "1", "--json"]
        // Timed steps 1...4: with every 2, steps 2 and 4 perturb; with every 1 (the default), all four.
        for (every, perturbed) in [(2, 2), (1, 4)] {
            let r = try CLI.vqa(tiny + ["--steps", "4", "--every", "\(every)"])
            XCTAssertEqual(r.status, 0, r.stderr)
            let obj = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any], r.stdout)
            XCTAssertEqual(obj["awp_every"] as? Int, every, r.stdout)
            XCTAssertEqual(obj["awp_perturbed_steps"] as? Int, perturbed, r.stdout)
            XCTAssertGreaterThan(obj["awp_mean_step_ms"] as? Double ?? 0, 0, r.stdout)
            XCTAssertEqual(obj["allocs_per_step"] as? Double, 0, r.stdout)
        }
        let uneven = try CLI.vqa(tiny + ["--steps", "4", "--every", "3"])
        XCTAssertNotEqual(uneven.status, 0)
        XCTAssertTrue(uneven.stderr.contains("--steps 4 must be a multiple of --every 3"), uneven.stderr)
        let zero = try CLI.vqa(tiny + ["--steps", "4", "--every", "0"])
        XCTAssertNotEqual(zero.status, 0)
        XCTAssertTrue(zero.stderr.contains("every must be ≥ 1"), zero.stderr)
        let plainOnly = try CLI.vqa(tiny + ["--steps", "2", "--no-awp"])
        XCTAssertEqual(plainOnly.status, 0, plainOnly.stderr)
        let obj = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(plainOnly.stdout.utf8)) as? [String: Any], plainOnly.stdout)
        XCTAssertTrue(obj["awp_step_ms"] is NSNull && obj["awp_perturbed_steps"] is NSNull, plainOnly.stdout)
        XCTAssertGreaterThan(obj["step_ms"] as? Double ?? 0, 0, plainOnly.stdout)
    }

    /// Against the twin (non-adaptive windows only), ours runs the same attention: adaptive_window=0,
    /// checked by both sides counting the same FLOPs (at 4×64², the official default would run
    /// 1×1×1 windows in ours and fail in the official code).
    func testFastVQAMAgainstTheTwinRunsTheSameWindows() throws {
        let bin = try CLI.requireBinary()
        let (python, out) = try torchRun("versus-m")
        defer { try? FileManager.default.removeItem(atPath: out) }
        let r = try script(["--model", "fast-vqa-m", "--frames", "4", "--size", "64", "--threads", "1", "--rounds", "1",
                            "--steps", "1", "--warmup", "0", "--python", python, "--out", out],
                           env: ["VQA_MPI_BIN": bin, "VQA_FASTVQA_REPO": ""])
        XCTAssertEqual(r.status, 0, r.output)
        let last = try XCTUnwrap(r.stdout.split(separator: "\n").last.map(String.init), r.output)
        let obj = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(last.utf8)) as? [String: Any], last)
        XCTAssertEqual(obj["torch_implementation"] as? String, "twin", last)
        XCTAssertEqual(obj["ours_model_options"] as? [String], ["adaptive_window=0"], last)
        let row = { (name: String) throws -> [String: Any] in
            try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(String(contentsOfFile: "\(out)/\(name).jsonl", encoding: .utf8).utf8)) as? [String: Any])
        }
        let ours = try XCTUnwrap(try row("ours")["model_gflop"] as? Double), torch = try XCTUnwrap(try row("torch")["model_gflop"] as? Double)
        XCTAssertEqual(ours, torch, accuracy: 0.002 * torch, "ours \(ours) GFLOP against the twin's \(torch): not the same attention")
    }
}
