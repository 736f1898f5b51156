// `vqa-mpi train --dump-batches FILE`: the dump holds what the trainer fed the model, checked against
// facts outside the trainer: the label file (every entry once per epoch, with its MOS), the FAST-VQA
// warm-up + cosine formula, the PLCC + rank loss recomputed here from the dumped global predictions,
// and a one-rank run of the same seed (samples are keyed by (seed, epoch, entry), so every entry's
// clip must be the same bytes whichever rank and world size produced it).

import XCTest
import Foundation
import TestSupport

final class DumpBatchesTests: XCTestCase {
    static let data: String = {
        let dir = TempDir.shared("dump-batches").path
        _ = try? CLI.vqa(["synth", "--out", dir + "/syn", "--videos", "16", "--versions", "2", "--width", "64", "--height", "64",
                          "--frames", "8", "--fps", "8", "--threads", "2", "--test-fraction", "0.25"])
        return dir
    }()

    func args(out: String, dump: String) -> [String] {
        let syn = Self.data + "/syn"
        return ["train", "--train-labels", syn + "/labels_train.txt", "--data-root", syn, "--epochs", "2", "--batch-size", "4",
                "--seed", "3", "--regularizer", "none", "--set", "model.options.widths=4,8,8,8", "--set", "model.options.dropout=0",
                "--set", "data.train.sampler.clip_len=2", "--set", "data.train.sampler.fragments_h=2",
                "--set", "data.train.sampler.fragments_w=2", "--set", "data.train.sampler.test_clips=1",
                "--set", "train.shuffle_block=2", "--set", "schedule.warmup_epochs=1", "--out", out, "--dump-batches", dump]
    }

    /// Parsed safetensors: name → (dtype, shape, bytes), and the metadata.
    struct File { var tensors: [String: (dtype: String, shape: [Int], data: Data)] = [:]; var meta: [String: String] = [:] }

    func read(_ path: String) throws -> File {
        let d = try Data(contentsOf: URL(fileURLWithPath: path))
        let n = Int(d.prefix(8).enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) })
        let header = try XCTUnwrap(try JSONSerialization.jsonObject(with: d.subdata(in: 8..<8 + n)) as? [String: Any])
        var f = File()
        for (k, v) in header {
            if k == "__metadata__" { f.meta = try XCTUnwrap(v as? [String: String]); continue }
            let o = try XCTUnwrap(v as? [String: Any])
            let off = try XCTUnwrap(o["data_offsets"] as? [Int])
            f.tensors[k] = (try XCTUnwrap(o["dtype"] as? String), try XCTUnwrap(o["shape"] as? [Int]), d.subdata(in: 8 + n + off[0]..<8 + n + off[1]))
        }
        return f
    }

    func floats(_ f: File, _ name: String) throws -> [Float] {
        let t = try XCTUnwrap(f.tensors[name], name)
        XCTAssertEqual(t.dtype, "F32", name)
        return t.data.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
    }

    func ints(_ f: File, _ name: String) throws -> [Int] {
        let t = try XCTUnwrap(f.tensors[name], name)
        XCTAssertEqual(t.dtype, "I64", name)
        return t.data.withUnsafeBytes { $0.bindMemory(to: Int64.self).map { Int($0) } }
    }

    /// FAST-VQA PLCC loss + 0.3 · rank loss, written from the formulas (population std, +1e-8 on it).
    func loss(_ p: [Double], _ y: [Double]) -> Double {
        func z(_ v: [Double]) -> [Double] {
            let m = v.reduce(0, +) / Double(v.count)
            let s = (v.map { ($0 - m) * ($0 - m) }.reduce(0, +) / Double(v.count)).squareRoot()
            return v.map { ($0 - m) / (s + 1e-8) }
        }
        let a = z(p), b = z(y), n = Double(p.count)
        let rho = zip(a, b).map(*).reduce(0, +) / n
        let l0 = zip(a, b).map { ($0 - $1) * ($0 - $1) }.reduce(0, +) / n / 4
        let l1 = zip(a, b).map { (rho * $0 - $1) * (rho * $0 - $1) }.reduce(0, +) / n / 4
        var r: [Double] = [], rmax = 0.0
        for i in p.indices { for j in p.indices {
            let s: Double = y[j] > y[i] ? 1 : (y[j] < y[i] ? -1 : 0)
            let v = max(0, (p[i] - p[j]) * s); r.append(v); rmax = max(rmax, v)
        } }
        return (l0 + l1) / 2 + 0.3 * r.reduce(0, +) / n / (n - 1) / (1 + rmax)
    }

    func testDumpMatchesLabelsScheduleLossAndOneRankRun() throws {
        let out = Self.data + "/run2"
        let r = try MPIRun.vqa(2, args(out: out, dump: out + "/dump.safetensors"))
        XCTAssertEqual(r.status, 0, r.stdout + r.stderr)
        let f0 = try read(out + "/dump.safetensors"), f1 = try read(out + "/dump.rank1.safetensors")
        XCTAssertEqual(f0.meta["world_size"], "2")
        XCTAssertEqual(f1.meta["rank"], "1")
        XCTAssertNil(f1.tensors["loss"], "only rank 0 records the step results")
        let labels = try String(contentsOfFile: Self.data + "/syn/labels_train.txt", encoding: .utf8)
            .split(separator: "\n").map { Double($0.split(separator: ",").last!.trimmingCharacters(in: .whitespaces))! }
        let steps = try ints(f0, "count").count
        let spe = try XCTUnwrap(Int(f0.meta["steps_per_epoch"] ?? ""))
        XCTAssertEqual(spe, (labels.count + 3) / 4)
        XCTAssertEqual(steps, 2 * spe)
        // Every entry once per epoch (the order pads the last global batch with its start), with its MOS.
        let idx0 = try ints(f0, "index"), idx1 = try ints(f1, "index")
        let y0 = try floats(f0, "labels"), y1 = try floats(f1, "labels")
        for e in 0..<2 {
            var seen: [Int] = []
            for s in (e * spe)..<((e + 1) * spe) {
                seen += Array(idx0[(s * 2)..<(s * 2 + 2)]) + Array(idx1[(s * 2)..<(s * 2 + 2)])
            }
            XCTAssertEqual(Set(seen), Set(0..<labels.count), "epoch \(e)")
            XCTAssertEqual(seen.count, spe * 4)
        }
        for (i, y) in zip(idx0 + idx1, y0 + y1) { XCTAssertEqual(Double(y), labels[i], accuracy: 1e-4) }
        // The versions of a scene (shuffle_block 2) stay together: positions 2k, 2k+1 are one scene.
        for s in 0..<steps { XCTAssertEqual(idx0[2 * s] / 2, idx0[2 * s + 1] / 2) }
        // LR: FAST-VQA warm-up (1 epoch) + cosine over all iterations, base 1e-3 (the default).
        let lr = try floats(f0, "lr")
        for (s, v) in lr.enumerated() {
            let w = Double(spe), expect = Double(s) <= w ? 1e-3 * Double(s) / w : 1e-3 * 0.5 * (1 + cos(Double.pi * (Double(s) - w) / Double(2 * spe)))
            XCTAssertEqual(Double(v), expect, accuracy: 1e-9, "step \(s)")
        }
        // Loss: recomputed from the global predictions and labels, which are rank 0's then rank 1's labels.
        let gp = try floats(f0, "global_pred"), gl = try floats(f0, "global_label"), dumped = try floats(f0, "loss")
        for s in 0..<steps {
            let p = gp[(s * 4)..<(s * 4 + 4)].map(Double.init), y = gl[(s * 4)..<(s * 4 + 4)].map(Double.init)
            XCTAssertEqual(y, (Array(y0[(s * 2)..<(s * 2 + 2)]) + Array(y1[(s * 2)..<(s * 2 + 2)])).map(Double.init))
            XCTAssertEqual(Double(dumped[s]), loss(p, y), accuracy: 1e-4 * max(1, abs(loss(p, y))), "step \(s)")
        }
        XCTAssertEqual(try floats(f0, "start.stem.conv.weight").count, 4 * 3 * 2 * 4 * 4)
        // The same seed on one rank: every entry's clip has the same bytes.
        let solo = Self.data + "/run1"
        let r1 = try CLI.vqa(args(out: solo, dump: solo + "/dump.safetensors"))
        XCTAssertEqual(r1.status, 0, r1.stdout + r1.stderr)
        let g = try read(solo + "/dump.safetensors")
        let per = f0.tensors["x"]!.shape.dropFirst(2).reduce(1, *)
        XCTAssertEqual(g.tensors["x"]!.shape, [steps, 4] + Array(f0.tensors["x"]!.shape.dropFirst(2)))
        func clips(_ f: File, _ idx: [Int], batch: Int) -> [Int: Data] {
            var out: [Int: Data] = [:]
            let x = f.tensors["x"]!.data
            for (k, i) in idx.enumerated() where k < batch * spe { out[i] = x.subdata(in: (k * per * 4)..<((k + 1) * per * 4)) }
            return out
        }
        let two = clips(f0, idx0, batch: 2).merging(clips(f1, idx1, batch: 2)) { a, _ in a }
        let one = clips(g, try ints(g, "index"), batch: 4)
        XCTAssertEqual(Set(two.keys), Set(one.keys))
        for (i, d) in one { XCTAssertEqual(two[i], d, "entry \(i): the clip differs between 1 and 2 ranks") }
        XCTAssertEqual(try floats(g, "start.stem.conv.weight"), try floats(f0, "start.stem.conv.weight"))
        XCTAssertFalse(try floats(f0, "x").allSatisfy { $0 == 0 })
    }
}
