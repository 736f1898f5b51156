// SimpleVQA with precomputed motion features end to end: synthetic videos, per-video .npy features
// written by numpy, tiny ResNet-18 trained 2 steps under `mpirun -np 2` and in one process (same
// predictions), sharded eval, score keys (folder and label file agree), features that change the
// score, bad feature files skipped with a message, and configuration errors before any work.

import XCTest
import Foundation
import TestSupport

final class MotionFeaturesE2ETests: XCTestCase {
    /// 12 synthetic videos (64×48, 8 frames) and features: feat/ (4 chunks × 3 per video, random),
    /// zero/ (zeros), bad/ (feat with one file truncated and one of width 5), wide/ (every file width 5).
    static let data: String = {
        let dir = tinySyntheticSet("motion-e2e")
        _ = try? Python.run(["-c", """
        import os, sys, numpy as np
        d = sys.argv[1]
        rels = [l.split(',')[0].strip() for l in open(d + '/syn/labels.txt') if l.strip()]
        rng = np.random.default_rng(11)
        for i, r in enumerate(rels):
            a = (2 * rng.standard_normal((4, 3))).astype(np.float32)
            for sub, v in (('feat', a), ('zero', np.zeros_like(a)), ('bad', a), ('wide', np.ones((4, 5), np.float32))):
                p = os.path.join(d, sub, r + '.npy')
                os.makedirs(os.path.dirname(p), exist_ok=True)
                np.save(p, v)
        np.save(os.path.join(d, 'bad', rels[1] + '.npy'), np.ones((4, 5), np.float32))
        b = open(os.path.join(d, 'bad', rels[2] + '.npy'), 'rb').read()
        open(os.path.join(d, 'bad', rels[2] + '.npy'), 'wb').write(b[:-7])
        print(rels[1]); print(rels[2])
        """, dir])
        let config = """
        model:
          name: simplevqa
          options: {depth: "18", width: "4", head_hidden: "8", motion_dim: "3"}
        data:
          train:
            sampler: {spatial: resize, resize_h: 64, resize_w: 64, temporal: uniform, clip_len: 4, train_clips: 1, test_clips: 1}
        """
        try? config.write(toFile: dir + "/simplevqa-motion.yaml", atomically: true, encoding: .utf8)
        return dir
    }()

    var syn: String { Self.data + "/syn" }

    func trainArgs(out: String, features: String? = "feat") -> [String] {
        ["train", "--config", Self.data + "/simplevqa-motion.yaml", "--train-labels", syn + "/labels_train.txt", "--data-root", syn,
         "--batch-size", "4", "--epochs", "1", "--max-steps", "2", "--seed", "3", "--regularizer", "awp", "--gamma", "0.01",
         "--out", out] + (features.map { ["--motion-features", Self.data + "/" + $0] } ?? [])
    }

    /// The features are written by numpy: without it every test here is skipped (a failure when CI=true).
    override func setUpWithError() throws { try Python.require(modules: ["numpy"]) }

    /// path → raw score of `score` CSV output.
    func scores(_ stdout: String) -> [String: Double] {
        var out: [String: Double] = [:]
        for row in stdout.split(separator: "\n").dropFirst() {
            let f = row.split(separator: ",")
            if f.count == 3, let v = Double(f[2]) { out[String(f[0])] = v }
        }
        return out
    }

    func eval(_ ckpt: String, features: String, np: Int = 1) throws -> [Double] {
        let pred = Self.data + "/pred-\(UUID().uuidString.prefix(6)).csv"
        let args = ["eval", "--checkpoint", ckpt, "--labels", syn + "/labels.txt", "--data-root", syn,
                    "--motion-features", Self.data + "/" + features, "--predictions", pred, "--json"]
        let r = np == 1 ? try CLI.vqa(args) : try MPIRun.vqa(np, args)
        XCTAssertEqual(r.status, 0, r.stdout + r.stderr)
        let rows = try String(contentsOfFile: pred, encoding: .utf8).split(separator: "\n").dropFirst()
        return rows.map { Double($0.split(separator: ",").last!) ?? .nan }
    }

    func testTwoRanksTrainAsOneAndFeaturesChangeTheScore() throws {
        let one = Self.data + "/np1", two = Self.data + "/np2"
        let r1 = try CLI.vqa(trainArgs(out: one))
        XCTAssertEqual(r1.status, 0, r1.stdout + r1.stderr)
        let r2 = try MPIRun.vqa(2, trainArgs(out: two))
        XCTAssertEqual(r2.status, 0, r2.stdout + r2.stderr)
        let p1 = try eval(one + "/last.safetensors", features: "feat")
        let p2 = try eval(two + "/last.safetensors", features: "feat")
        XCTAssertEqual(p1.count, 12)
        for (a, b) in zip(p1, p2) { XCTAssertEqual(a, b, accuracy: 1e-4 * max(1, abs(a)), "2 ranks must train as 1: \(p1) vs \(p2)") }
        // Sharded evaluation equals one process.
        let p2sharded = try eval(two + "/last.safetensors", features: "feat", np: 2)
        for (a, b) in zip(p2, p2sharded) { XCTAssertEqual(a, b, accuracy: 1e-6 * max(1, abs(a))) }
        // Zeroed features change every video's score: the motion features reach the prediction.
        let zeroed = try eval(one + "/last.safetensors", features: "zero")
        for (a, z) in zip(p1, zeroed) { XCTAssertGreaterThan(abs(a - z), 1e-6, "zeroing the motion features must change the score") }

        // score: a folder (keys relative to it) and the label file (relative to --data-root) agree.
        let ck = one + "/last.safetensors", feat = Self.data + "/feat"
        let byFolder = try CLI.vqa(["score", "--checkpoint", ck, "--motion-features", feat, syn])
        XCTAssertEqual(byFolder.status, 0, byFolder.stderr)
        let byLabels = try MPIRun.vqa(2, ["score", "--checkpoint", ck, "--motion-features", feat, "--data-root", syn, syn + "/labels.txt"])
        XCTAssertEqual(byLabels.status, 0, byLabels.stderr)
        let a = scores(byFolder.stdout), b = scores(byLabels.stdout)
        XCTAssertEqual(a.count, 12)
        XCTAssertEqual(Set(a.keys), Set(b.keys))
        for (k, v) in a { XCTAssertEqual(v, b[k] ?? .nan, accuracy: 1e-6 * max(1, abs(v)), k) }
        for (x, y) in zip(a.values.sorted(), p1.sorted()) { XCTAssertEqual(x, y, accuracy: 1e-5 * max(1, abs(y)), "score and eval agree") }

        // Bad feature files: each is reported once naming the file and the reason, the rest are scored.
        let bad = try CLI.vqa(["score", "--checkpoint", ck, "--motion-features", Self.data + "/bad", syn])
        XCTAssertEqual(bad.status, 0, bad.stderr)
        XCTAssertEqual(scores(bad.stdout).count, 10, bad.stdout)
        XCTAssertTrue(bad.stderr.contains("2 of 12 file(s) could not be read"), bad.stderr)
        XCTAssertTrue(bad.stderr.contains("has shape [4, 5], expected [chunks, 3]"), bad.stderr)
        XCTAssertTrue(bad.stderr.contains("is not a readable .npy file"), bad.stderr)
        XCTAssertTrue(bad.stderr.contains(Self.data + "/bad/videos/"), bad.stderr)
        for (k, v) in scores(bad.stdout) { XCTAssertEqual(v, a[k] ?? .nan, accuracy: 1e-6 * max(1, abs(v)), "\(k): good files score as before") }
    }

    /// `landscape` on a motion checkpoint: 2 ranks, the features reach the loss (zeroed ones give
    /// another loss at the checkpoint), and none at all is refused.
    func testLandscapeReadsTheMotionFeatures() throws {
        let ck = Self.data + "/landscape-ckpt"
        if !FileManager.default.fileExists(atPath: ck + "/last.safetensors") {
            let t = try CLI.vqa(trainArgs(out: ck))
            XCTAssertEqual(t.status, 0, t.stdout + t.stderr)
        }
        func run(_ features: String?) throws -> (ProcessResult, String) {
            let out = Self.data + "/landscape-\(features ?? "none")"
            let args = ["landscape", "--checkpoint", ck + "/last.safetensors", "--labels", syn + "/labels.txt", "--data-root", syn,
                        "--fragments", "2", "--fsize", "32", "--clip-len", "4", "--frame-interval", "1", "--points", "3",
                        "--directions", "1", "--hessian-iters", "0", "--subset", "8", "--out", out]
                + (features.map { ["--motion-features", Self.data + "/" + $0] } ?? [])
            return (try MPIRun.vqa(2, args), out)
        }
        let (feat, featOut) = try run("feat"), (zero, zeroOut) = try run("zero")
        XCTAssertEqual(feat.status, 0, feat.stdout + feat.stderr)
        XCTAssertEqual(zero.status, 0, zero.stdout + zero.stderr)
        /// The loss at α = 0 (the checkpoint itself) from landscape.csv (checkpoint,alpha,loss,srcc).
        func loss(_ dir: String) throws -> Double {
            let rows = try String(contentsOfFile: dir + "/landscape.csv", encoding: .utf8).split(separator: "\n").map { $0.split(separator: ",") }
            let row = try XCTUnwrap(rows.first { $0.count == 4 && Double($0[1]) == 0 }, "\(rows)")
            return try XCTUnwrap(Double(row[2]))
        }
        XCTAssertNotEqual(try loss(featOut), try loss(zeroOut), "the motion features must reach the landscape's loss")
        let (none, _) = try run(nil)
        XCTAssertNotEqual(none.status, 0)
        XCTAssertTrue((none.stdout + none.stderr).contains("--motion-features"), none.stdout + none.stderr)
    }

    func testValSetsOfTheTrainingDataRootInheritItsFeatures() throws {
        func val(_ root: String) -> [String] {
            ["--set", "data.val=[{name: held-out, labels: '\(syn)/labels_test.txt', data_root: '\(root)'}]"]
        }
        let same = try CLI.vqa(trainArgs(out: Self.data + "/val-same") + val(syn))
        XCTAssertEqual(same.status, 0, same.stdout + same.stderr)
        let metrics = (try? String(contentsOfFile: Self.data + "/val-same/metrics.jsonl", encoding: .utf8)) ?? ""
        XCTAssertTrue(metrics.contains("\"held-out\""), "the inherited features let the val set be evaluated: \(metrics.suffix(400))")
        // Another data_root (the same videos under another path) does not inherit: stop before any work.
        let other = try CLI.vqa(trainArgs(out: Self.data + "/val-other") + val(syn + "/."))
        XCTAssertNotEqual(other.status, 0)
        XCTAssertTrue((other.stdout + other.stderr).contains("data.val[0].motion_features"), other.stdout + other.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: Self.data + "/val-other/metrics.jsonl"), "no training ran")
    }

    func testConfigurationErrorsStopBeforeAnyWork() throws {
        let noFeatures = try CLI.vqa(trainArgs(out: Self.data + "/nofeat", features: nil))
        XCTAssertNotEqual(noFeatures.status, 0)
        XCTAssertTrue((noFeatures.stdout + noFeatures.stderr).contains("data.train.motion_features"), noFeatures.stdout + noFeatures.stderr)
        let wide = try CLI.vqa(trainArgs(out: Self.data + "/wide", features: "wide"))
        XCTAssertNotEqual(wide.status, 0)
        XCTAssertTrue((wide.stdout + wide.stderr).contains("width 5"), wide.stdout + wide.stderr)
        let missing = try CLI.vqa(trainArgs(out: Self.data + "/missing", features: "nowhere"))
        XCTAssertNotEqual(missing.status, 0)
        XCTAssertTrue((missing.stdout + missing.stderr).contains("does not exist"), missing.stdout + missing.stderr)
        for dir in ["nofeat", "wide", "missing"] {
            XCTAssertFalse(FileManager.default.fileExists(atPath: Self.data + "/\(dir)/metrics.jsonl"), "\(dir): no training ran")
        }
    }
}
