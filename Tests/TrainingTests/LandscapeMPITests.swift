// `vqa-mpi landscape` end to end on a tiny synthetic set: one rank (no launcher) and mpirun -np 2
// give the same landscape.csv and sharpness.json.

import XCTest
import Foundation
import Engine
import TestSupport

final class LandscapeMPITests: XCTestCase {
    var work: URL!

    override func setUpWithError() throws { work = try TempDir.make("landscape-mpi", for: self) }

    /// Writes a freshly initialised tiny fragnet as a checkpoint with model metadata and an extra tensor.
    func checkpoint(seed: UInt64, name: String) throws -> String {
        let model = try ModelKind.fragnet.make(seed: seed, options: ["widths": "8,8,16,16", "head_hidden": "8"])
        var tensors = model.parameters.safetensors()
        tensors["ema.extra"] = SafetensorsTensor(floats: [1, 2, 3], shape: [3])
        let path = work.appendingPathComponent(name).path
        try SafetensorsFile(tensors: tensors, metadata: ["model": "fragnet", "model_options": "{\"widths\": \"8,8,16,16\", \"head_hidden\": 8}"]).write(to: path)
        return path
    }

    func rows(_ csv: String) -> [[String]] { csv.split(separator: "\n").map { $0.split(separator: ",").map(String.init) } }

    func testTwoRanksEqualOneRank() throws {
        _ = try requireTool("mpirun")
        let data = work.appendingPathComponent("data").path
        let synth = try CLI.vqa(["synth", "--out", data, "--videos", "6", "--seed", "1", "--frames", "8", "--width", "64", "--height", "64"])
        XCTAssertEqual(synth.status, 0, synth.stderr)
        let a = try checkpoint(seed: 1, name: "a.safetensors"), b = try checkpoint(seed: 2, name: "b.safetensors")
        func args(_ out: String) -> [String] {
            ["landscape", "--checkpoint", a, "--checkpoint", b, "--labels", data + "/labels.txt", "--data-root", data,
             "--dims", "1", "--points", "3", "--directions", "2", "--hessian-iters", "2", "--subset", "5", "--seed", "3",
             "--fragments", "2", "--fsize", "32", "--clip-len", "4", "--frame-interval", "2", "--batch-size", "2",
             "--out", work.appendingPathComponent(out).path]
        }
        let one = try CLI.vqa(args("one"))
        XCTAssertEqual(one.status, 0, one.stderr)
        XCTAssertTrue(one.stdout.contains("hessian_top"), one.stdout)
        let two = try MPIRun.vqa(2, args("two"))
        XCTAssertEqual(two.status, 0, two.stderr)
        XCTAssertTrue(two.stderr.contains("on 2 rank(s)"), two.stderr)

        let c1 = rows(try String(contentsOfFile: work.appendingPathComponent("one/landscape.csv").path, encoding: .utf8))
        let c2 = rows(try String(contentsOfFile: work.appendingPathComponent("two/landscape.csv").path, encoding: .utf8))
        XCTAssertEqual(c1.count, 1 + 2 * 3)
        XCTAssertEqual(c1.count, c2.count)
        XCTAssertEqual(Set(c1.dropFirst().map { $0[0] }), ["a", "b"])
        for (r1, r2) in zip(c1, c2) {
            XCTAssertEqual(r1.count, r2.count)
            XCTAssertEqual(r1.first, r2.first)
            for (x, y) in zip(r1.dropFirst(), r2.dropFirst()) {
                guard let u = Double(x), let v = Double(y) else { XCTAssertEqual(x, y); continue }
                XCTAssertEqual(u, v, accuracy: 1e-5 * max(1, abs(u)), "\(r1) vs \(r2)")
            }
        }
        func sharp(_ dir: String) throws -> [[String: Any]] {
            let obj = try JSONSerialization.jsonObject(with: Data(contentsOf: work.appendingPathComponent("\(dir)/sharpness.json"))) as? [String: Any]
            return obj?["checkpoints"] as? [[String: Any]] ?? []
        }
        let s1 = try sharp("one"), s2 = try sharp("two")
        XCTAssertEqual(s1.count, 2)
        for (p, q) in zip(s1, s2) {
            XCTAssertEqual(p["loss"] as? Double ?? .nan, q["loss"] as? Double ?? -1, accuracy: 1e-5)
            XCTAssertEqual(p["maxRise"] as? Double ?? .nan, q["maxRise"] as? Double ?? -1, accuracy: 1e-4)
            for key in ["top", "largestMagnitude"] {
                let h1 = (p["hessian"] as? [String: Any])?[key] as? Double ?? .nan
                let h2 = (q["hessian"] as? [String: Any])?[key] as? Double ?? -1
                XCTAssertEqual(h1, h2, accuracy: 2e-2 * max(1, abs(h1)), key)
            }
        }
        let svg = try Data(contentsOf: work.appendingPathComponent("two/landscape.svg"))
        XCTAssertTrue(String(decoding: svg, as: UTF8.self).contains("<svg"))
    }

    func testTwoDimensionalSurfaceUnderTwoRanks() throws {
        _ = try requireTool("mpirun")
        let data = work.appendingPathComponent("data").path
        XCTAssertEqual(try CLI.vqa(["synth", "--out", data, "--videos", "4", "--seed", "2", "--frames", "8", "--width", "64", "--height", "64"]).status, 0)
        let a = try checkpoint(seed: 5, name: "only.safetensors")
        let out = work.appendingPathComponent("surface")
        let r = try MPIRun.vqa(2, ["landscape", "--checkpoint", a, "--labels", data + "/labels.txt", "--data-root", data, "--dims", "2",
                                   "--range", "-0.5:0.5", "--points", "3", "--directions", "1", "--hessian-iters", "0", "--include-bn-bias",
                                   "--fragments", "2", "--clip-len", "4", "--clips", "2", "--out", out.path])
        XCTAssertEqual(r.status, 0, r.stderr)
        let csv = rows(try String(contentsOfFile: out.appendingPathComponent("landscape.csv").path, encoding: .utf8))
        XCTAssertEqual(csv.first ?? [], ["checkpoint", "alpha", "beta", "loss", "srcc"])
        XCTAssertEqual(csv.count, 1 + 9)
        XCTAssertEqual(Set(csv.dropFirst().map { "\($0[1]),\($0[2])" }).count, 9)
        let centre = try XCTUnwrap(csv.first { $0[1] == "0.0" && $0[2] == "0.0" })
        let obj = try JSONSerialization.jsonObject(with: Data(contentsOf: out.appendingPathComponent("sharpness.json"))) as? [String: Any]
        let loss = ((obj?["checkpoints"] as? [[String: Any]])?.first?["loss"] as? Double) ?? .nan
        XCTAssertEqual(Double(centre[3]) ?? .nan, loss, accuracy: 1e-6)
        XCTAssertTrue(String(decoding: try Data(contentsOf: out.appendingPathComponent("landscape.svg")), as: UTF8.self).contains("only: loss"))
    }
}
