// What a user of a trained model sees: a video's score does not depend on its neighbours or on the
// rank count, train refuses overlapping train/val sets, progress lines and metrics carry the time,
// `--version` names the linked libraries (checked against pkg-config), `train --help` lists every
// model, sampler and regularizer, landscape samples as the checkpoint was trained.

import Foundation
import XCTest
import TestSupport

final class UserFacingCLITests: XCTestCase {
    /// 10 videos of 128×96, 24 frames (2 held out): room for random fragment offsets and clip starts, so a
    /// position-keyed sampler would give a video another sample in another list position.
    static let data: String = {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("user-cli-\(getpid())").path
        _ = try? CLI.vqa(["synth", "--out", dir + "/syn", "--videos", "10", "--width", "128", "--height", "96",
                          "--frames", "24", "--fps", "8", "--threads", "2"])
        return dir
    }()

    static func trainArgs(out: String) -> [String] {
        let syn = data + "/syn"
        return ["train", "--train-labels", syn + "/labels_train.txt", "--data-root", syn, "--val-labels", syn + "/labels_test.txt",
                "--epochs", "1", "--batch-size", "2", "--seed", "5", "--model-option", "widths=4,8,8,8",
                "--set", "data.train.sampler.clip_len=4", "--set", "data.train.sampler.fragments_h=2", "--set", "data.train.sampler.fragments_w=2",
                "--set", "data.train.sampler.test_clips=2", "--set", "train.log_every=1", "--out", out]
    }

    /// One trained checkpoint shared by the tests (and the train run's stdout).
    static let trained: (dir: String, stdout: String, status: Int32, started: Date) = {
        let out = data + "/run", started = Date()
        let r = try? CLI.vqa(trainArgs(out: out))
        return (out, (r?.stdout ?? "") + (r?.stderr ?? ""), r?.status ?? -1, started)
    }()

    private func requireTrained() throws -> String {
        XCTAssertEqual(Self.trained.status, 0, Self.trained.stdout)
        return Self.trained.dir + "/last.safetensors"
    }

    /// path → raw score from `score --json`.
    private func scores(_ args: [String]) throws -> [String: Double] {
        let r = try CLI.vqa(["score", "--checkpoint", try requireTrained(), "--json"] + args)
        XCTAssertEqual(r.status, 0, r.stderr)
        var out: [String: Double] = [:]
        for line in r.stdout.split(separator: "\n") {
            let o = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            out[try XCTUnwrap(o["path"] as? String)] = try XCTUnwrap(o["raw"] as? Double)
        }
        return out
    }

    func testAVideosScoreDoesNotDependOnItsPositionOrNeighbours() throws {
        let v = try FileManager.default.contentsOfDirectory(atPath: Self.data + "/syn/videos").sorted().map { Self.data + "/syn/videos/" + $0 }
        let forward = try scores(v), backward = try scores(Array(v.reversed()))
        XCTAssertEqual(forward.count, 10)
        for p in v { XCTAssertEqual(forward[p], backward[p], "\(p): first vs last in the list") }
        let alone = try scores([v[3]]), pair = try scores([v[0], v[3]])
        XCTAssertEqual(alone[v[3]], forward[v[3]]); XCTAssertEqual(pair[v[3]], forward[v[3]])
    }

    func testEvalPredictionsAreTheSameOnOneAndTwoRanks() throws {
        guard let mpirun = Tools.which("mpirun") else { throw XCTSkip("mpirun is not installed") }
        let ckpt = try requireTrained(), syn = Self.data + "/syn"
        func predictions(_ np: Int) throws -> [String: String] {
            let csv = Self.data + "/pred-\(np).csv"
            let args = ["eval", "--checkpoint", ckpt, "--labels", syn + "/labels.txt", "--data-root", syn, "--predictions", csv, "--batch-size", "1"]
            let r = np == 1 ? try CLI.vqa(args)
                : try CLI.run(mpirun, ["-np", "\(np)", "--mca", "btl", "self,vader", "--mca", "btl_vader_single_copy_mechanism", "none", CLI.binary] + args,
                              env: ["OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1"])
            XCTAssertEqual(r.status, 0, r.stderr)
            var out: [String: String] = [:]
            for line in try String(contentsOfFile: csv, encoding: .utf8).split(separator: "\n").dropFirst() {
                let f = line.split(separator: ",").map(String.init)
                out[f[0]] = f[2]
            }
            return out
        }
        let one = try predictions(1), two = try predictions(2)
        XCTAssertEqual(one.count, 10)
        XCTAssertEqual(one, two, "per-video predictions, -np 1 vs -np 2")
        // eval and score sample a file alike: the same raw score.
        let file = try XCTUnwrap(one.keys.sorted().first)
        let s = try scores([file])
        XCTAssertEqual(Float(one[file] ?? ""), s[file].map { Float($0) }, "eval and score of \(file)")
    }

    func testOverlappingTrainAndValidationSetsAreRefused() throws {
        let syn = Self.data + "/syn"
        var args = Self.trainArgs(out: Self.data + "/overlap")
        args[args.firstIndex(of: "--val-labels")! + 1] = syn + "/labels.txt"  // holds every training file
        let n = try String(contentsOfFile: syn + "/labels_train.txt", encoding: .utf8).split(separator: "\n").count
        let refused = try CLI.vqa(args)
        XCTAssertEqual(refused.status, 1)
        XCTAssertTrue(refused.stderr.contains("val set 'labels' shares \(n) file(s) with the training labels"), refused.stderr)
        XCTAssertTrue(refused.stderr.contains("--allow-overlap"), refused.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: Self.data + "/overlap/last.safetensors"), "refused before any work")
        // The same file twice, reached through another spelling of the path.
        var same = Self.trainArgs(out: Self.data + "/same")
        same[same.firstIndex(of: "--val-labels")! + 1] = syn + "/../syn/labels_train.txt"
        let twice = try CLI.vqa(same + ["--max-steps", "1"])
        XCTAssertEqual(twice.status, 1, twice.stderr)
        let allowed = try CLI.vqa(same + ["--max-steps", "1", "--allow-overlap"])
        XCTAssertEqual(allowed.status, 0, allowed.stderr)
        XCTAssertTrue(allowed.stderr.contains("warning: val set 'labels_train' shares \(n) file(s)"), allowed.stderr)
    }

    func testProgressLinesAndMetricsRecordsCarryTheTime() throws {
        _ = try requireTrained()
        let iso = try NSRegularExpression(pattern: #"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z epoch 1"#)
        let lines = Self.trained.stdout.split(separator: "\n").map(String.init).filter { $0.contains("epoch 1  step") || $0.contains("epoch 1/1") }
        XCTAssertGreaterThanOrEqual(lines.count, 2, Self.trained.stdout)
        for l in lines { XCTAssertNotNil(iso.firstMatch(in: l, range: NSRange(l.startIndex..., in: l)), "no time on: \(l)") }
        let f = ISO8601DateFormatter()
        for line in try String(contentsOfFile: Self.trained.dir + "/metrics.jsonl", encoding: .utf8).split(separator: "\n") {
            let o = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            let t = try XCTUnwrap(f.date(from: try XCTUnwrap(o["timestamp"] as? String)), "\(o)")
            XCTAssertTrue(t.timeIntervalSince(Self.trained.started) > -2 && t.timeIntervalSinceNow < 2, "\(t) outside the run")
            XCTAssertNotNil(o["time"] as? [String: Any], "the per-phase seconds stay under `time`")
        }
    }

    func testVersionNamesTheLinkedLibraries() throws {
        let r = try CLI.vqa(["--version"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let lines = r.stdout.split(separator: "\n").map(String.init)
        XCTAssertTrue(lines.first?.hasPrefix("vqa-mpi ") == true, r.stdout)
        XCTAssertTrue(r.stdout.contains("OpenMPI: Open MPI v"), r.stdout)
        XCTAssertTrue(r.stdout.contains("OpenBLAS: OpenBLAS ") && r.stdout.contains("(core: "), r.stdout)
        // The FFmpeg libraries reported are the ones pkg-config says we build against.
        for lib in ["libavformat", "libavcodec", "libavutil", "libswscale"] {
            let v = try CLI.run("/usr/bin/env", ["pkg-config", "--modversion", lib])
            guard v.status == 0 else { continue }
            XCTAssertTrue(r.stdout.contains("\(lib) \(v.stdout.trimmingCharacters(in: .whitespacesAndNewlines))"), "\(lib): \(r.stdout)")
        }
        // The commit: the checkout's HEAD when built inside it, a stamp file beside the binary, else unknown.
        let head = try CLI.run("/usr/bin/env", ["git", "-C", Repo.root.path, "rev-parse", "HEAD"])
        if head.status == 0, URL(fileURLWithPath: CLI.binary).resolvingSymlinksInPath().path.hasPrefix(Repo.root.resolvingSymlinksInPath().path) {
            XCTAssertTrue(r.stdout.contains("commit: \(head.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) (checkout HEAD)"), r.stdout)
        }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("version-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let copy = dir.appendingPathComponent("vqa-mpi").path
        try FileManager.default.copyItem(atPath: CLI.binary, toPath: copy)
        let bare = try CLI.run(copy, ["--version"])
        XCTAssertEqual(bare.status, 0, bare.stderr)
        XCTAssertTrue(bare.stdout.contains("commit: unknown"), "no .git above \(dir.path): \(bare.stdout)")
        try "0123456789abcdef0123456789abcdef01234567\n".write(toFile: dir.appendingPathComponent("vqa-mpi.commit").path, atomically: true, encoding: .utf8)
        XCTAssertTrue(try CLI.run(copy, ["--version"]).stdout.contains("commit: 0123456789abcdef0123456789abcdef01234567\n"))
    }

    func testTrainHelpListsModelsSamplersAndRegularizersAndTakesModelOptions() throws {
        let r = try CLI.vqa(["train", "--help"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let text = r.stdout.replacingOccurrences(of: "\n ", with: " ")
        for name in ["fragnet (default):", "fast-vqa-b:", "fast-vqa-m:", "simplevqa:", "spatial fragments (default):", "spatial sama:",
                     "spatial resize:", "temporal fragments (default):", "temporal t_frag:", "temporal uniform:", "none (default):", "l2:",
                     "aug:", "rwp:", "awp:", "--model-option", "--allow-overlap"] {
            XCTAssertTrue(text.contains(name), "train --help lacks '\(name)'")
        }
        let dry = try CLI.vqa(["train", "--model", "fast-vqa-m", "--model-option", "embed_dim=24", "--model-option", "window=2,2,2", "--dry-run"])
        XCTAssertEqual(dry.status, 0, dry.stderr)
        XCTAssertTrue(dry.stdout.contains("embed_dim: '24'") || dry.stdout.contains("embed_dim: \"24\"") || dry.stdout.contains("embed_dim: 24"), dry.stdout)
        let bad = try CLI.vqa(["train", "--model-option", "widths", "--dry-run"])
        XCTAssertEqual(bad.status, 64)
        XCTAssertTrue(bad.stderr.contains("--model-option takes key=value"), bad.stderr)
        let unknown = try CLI.vqa(["train", "--model-option", "depthz=3", "--dry-run"])
        XCTAssertNotEqual(unknown.status, 0, "an option the model does not know must fail: \(unknown.stdout)")
    }

    func testLandscapeSamplesAsTheCheckpointWasTrained() throws {
        let ckpt = try requireTrained(), syn = Self.data + "/syn"
        let base = ["landscape", "--checkpoint", ckpt, "--labels", syn + "/labels_train.txt", "--data-root", syn, "--points", "1",
                    "--range", "0:1", "--directions", "0", "--hessian-iters", "0", "--subset", "2", "--batch-size", "2"]
        let r = try CLI.vqa(base + ["--out", Self.data + "/land"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stderr.contains("2×2 fragments of 32×32, clip_len 4, frame_interval 2, 1 clip(s)"), r.stderr)
        let o = try CLI.vqa(base + ["--out", Self.data + "/land2", "--clip-len", "2", "--frame-interval", "1"])
        XCTAssertEqual(o.status, 0, o.stderr)
        XCTAssertTrue(o.stderr.contains("2×2 fragments of 32×32, clip_len 2, frame_interval 1"), "flags override: \(o.stderr)")
    }
}
