// `vqa-mpi train` itself (loader, trainer, step) on 1, 2 and 3 ranks with every regularizer must
// train what one process trains: SGD within 1e-5 relative per tensor, AdamW within 2e-5 except two
// tensors whose true gradient is 0 (docs/distributed.md). EVERY rank's final weights are compared (each rank writes
// them into its --dump-batches file as `end.*`), with equal, non-empty key sets.
// The training set has 10 videos and the global batch is 6: the last step of each epoch holds the
// 4 remaining samples, with no repeated ones (rank 2 of 3 has none), as a one-process run.

import XCTest
import TestSupport
import Foundation
import Engine

/// A tiny synthetic dataset and the `train` arguments shared by the trainer-level tests.
enum TinyTrainData {
    /// 12 synthetic videos (64×48, 8 frames); 10 in labels_train.txt.
    static let root: String = {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("train-equivalence-\(getpid())").path
        let p = Process()
        p.executableURL = URL(fileURLWithPath: CLI.binary)
        p.arguments = ["synth", "--out", dir + "/syn", "--videos", "12", "--width", "64", "--height", "48",
                       "--frames", "8", "--fps", "8", "--threads", "2"]
        p.standardOutput = FileHandle.nullDevice
        try? p.run()
        p.waitUntilExit()
        return dir
    }()

    /// `train` with a tiny fragnet: 4 frames, 2×2 fragments of 32², global batch 6, SGD by default.
    static func args(out: String, epochs: Int = 2, extra: [String] = []) -> [String] {
        let syn = root + "/syn"
        return ["train", "--train-labels", syn + "/labels_train.txt", "--data-root", syn,
                "--epochs", "\(epochs)", "--batch-size", "6", "--seed", "3", "--gamma", "0.01", "--threads", "1",
                "--set", "model.options.widths=4,8,8,8", "--set", "model.options.head_hidden=8",
                "--set", "data.train.sampler.clip_len=4", "--set", "data.train.sampler.fragments_h=2",
                "--set", "data.train.sampler.fragments_w=2", "--set", "train.ema=0.5", "--set", "train.checksum_every=1",
                "--set", "schedule.warmup_epochs=0.5", "--set", "optimizer.kind=sgd", "--set", "optimizer.lr=0.01",
                "--out", out] + extra
    }
}

extension XCTestCase {
    /// Runs the binary on `np` ranks: a plain process (world of one, no MPI) for 1, mpirun otherwise.
    func launch(_ np: Int, _ args: [String]) throws -> ProcessResult {
        np == 1 ? try CLI.vqa(args) : try MPIRun.vqa(np, args)
    }

    /// Float tensors of a safetensors file by name, those starting with `prefix` (prefix removed).
    func floatTensors(_ path: String, prefix: String = "") throws -> [String: [Float]] {
        let f = try SafetensorsFile.read(path: path)
        var out: [String: [Float]] = [:]
        for (k, t) in f.tensors where k.hasPrefix(prefix) && t.dtype == .F32 { out[String(k.dropFirst(prefix.count))] = try t.floats() }
        return out
    }

    /// Every rank's final weights from a run's --dump-batches FILE (rank r > 0: FILE.rank<r>).
    func everyRankWeights(_ dump: String, ranks: Int) throws -> [[String: [Float]]] {
        try (0..<ranks).map { r in
            try floatTensors(r == 0 ? dump : (dump as NSString).deletingPathExtension + ".rank\(r).safetensors", prefix: "end.")
        }
    }
}

final class TrainEquivalenceTests: XCTestCase {
    /// Trains on `np` ranks; returns every rank's final weights and rank 0's dump path.
    func train(_ np: Int, _ extra: [String], tag: String) throws -> (ranks: [[String: [Float]]], out: String) {
        let out = TinyTrainData.root + "/\(tag)-np\(np)-\(UUID().uuidString.prefix(6))"
        let dump = out + "-dump.safetensors"
        let r = try launch(np, TinyTrainData.args(out: out, extra: extra + ["--dump-batches", dump]))
        XCTAssertEqual(r.status, 0, "\(tag) np \(np): \(r.stdout.suffix(500)) \(r.stderr.suffix(2000))")
        let ranks = try everyRankWeights(dump, ranks: np)
        // Rank 0's dump agrees with the checkpoint it wrote.
        let last = try floatTensors(out + "/last.safetensors").filter { !$0.key.hasPrefix("ema.") && !$0.key.hasPrefix("optim.") }
        XCTAssertEqual(relativeDifference(ranks[0], last).0, 0, "\(tag) np \(np): end.* of rank 0 is the checkpoint's weights")
        return (ranks, out)
    }

    static let regularizers = ["none", "l2", "aug", "rwp", "awp"]

    func testEveryRankOfOneTwoAndThreeRanksTrainsTheOneProcessWeightsWithSGD() throws {
        for reg in Self.regularizers {
            let one = try train(1, ["--regularizer", reg], tag: "sgd-\(reg)").ranks[0]
            XCTAssertGreaterThan(one.count, 10, "the dump holds the model's tensors")
            for np in [2, 3] {
                for (rank, w) in try train(np, ["--regularizer", reg], tag: "sgd-\(reg)").ranks.enumerated() {
                    let (d, tensor) = relativeDifference(one, w)
                    XCTAssertLessThanOrEqual(d, 1e-5, "SGD \(reg): rank \(rank) of \(np) differs from one process in \(tensor)")
                }
            }
        }
    }

    /// AdamW divides by √v, which turns rounding noise of a near-zero gradient into ±lr steps. Two
    /// tensors of this fragnet have a true gradient of exactly 0 and only drift: `head.fc_last.bias`
    /// (both losses ignore a common shift of the scores) and `stem.conv.bias` (4 channels in 4
    /// GroupNorm groups: the norm subtracts each channel's mean, bias included). They move at most
    /// lr × backbone multiplier per step on each side; every other tensor must stay within the
    /// documented relative bound (docs/distributed.md, "What N ranks train").
    static let zeroGradient: [String: Float] = ["head.fc_last.bias": 1e-3, "stem.conv.bias": 1e-4]

    func testAdamWStaysWithinTheDocumentedBound() throws {
        let adamw = ["--set", "optimizer.kind=adamw", "--set", "optimizer.lr=0.001"]
        var report: [String] = []
        for reg in Self.regularizers {
            let one = try train(1, adamw + ["--regularizer", reg], tag: "adamw-\(reg)").ranks[0]
            for np in [2, 3] {
                for (rank, w) in try train(np, adamw + ["--regularizer", reg], tag: "adamw-\(reg)").ranks.enumerated() {
                    let (d, tensor) = relativeDifference(one, w, except: Set(Self.zeroGradient.keys))
                    report.append("\(reg) np\(np) r\(rank): \(d) \(tensor)")
                    XCTAssertLessThanOrEqual(d, 2e-5, "AdamW \(reg): rank \(rank) of \(np) differs from one process in \(tensor)")
                    for (name, lr) in Self.zeroGradient {
                        let drift = zip(one[name]!, w[name]!).map { abs($0 - $1) }.max()!
                        XCTAssertLessThanOrEqual(drift, 2 * 4 * lr * 1.01, "\(name) drifts at most lr per step (4 steps) on each side")
                    }
                }
            }
        }
        print("AdamW max relative differences:\n" + report.joined(separator: "\n"))
    }

    /// The last global batch of an epoch holds only the samples left (10 mod 6 = 4), on every rank
    /// count: no entry is repeated to fill it.
    func testLastBatchHoldsOnlyTheRemainingSamples() throws {
        for np in [1, 3] {
            let out = TinyTrainData.root + "/pad-np\(np)-\(UUID().uuidString.prefix(6))"
            let dump = out + "-dump.safetensors"
            let r = try launch(np, TinyTrainData.args(out: out, epochs: 1, extra: ["--dump-batches", dump]))
            XCTAssertEqual(r.status, 0, r.stderr)
            var counts = [0, 0]
            var seen: [Int64] = []
            for rank in 0..<np {
                let path = rank == 0 ? dump : (dump as NSString).deletingPathExtension + ".rank\(rank).safetensors"
                let f = try SafetensorsFile.read(path: path)
                let c = try XCTUnwrap(f.tensors["count"]).int64s(), idx = try XCTUnwrap(f.tensors["index"]).int64s()
                XCTAssertEqual(c.count, 2, "2 steps per epoch")
                for s in 0..<2 { counts[s] += Int(c[s]) }
                seen += idx.filter { $0 >= 0 }
            }
            XCTAssertEqual(counts, [6, 4], "np \(np): samples per global step")
            XCTAssertEqual(seen.sorted(), Array(0..<10), "np \(np): every training entry exactly once")
        }
    }

    /// RWP logs the clean pass: its perturbed_loss_rise is the perturbed minus the clean loss, not 0.
    func testRWPReportsANonZeroPerturbedLossRise() throws {
        let (_, out) = try train(1, ["--regularizer", "rwp", "--gamma", "0.05"], tag: "rwp-rise")
        let lines = try String(contentsOfFile: out + "/metrics.jsonl", encoding: .utf8).split(separator: "\n")
        for line in lines {
            let rec = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            let rise = try XCTUnwrap(rec["perturbed_loss_rise"] as? Double, "\(line)")
            XCTAssertNotEqual(rise, 0, "RWP's rise must compare the perturbed pass with the clean one")
        }
    }
}
