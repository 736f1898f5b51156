import Foundation
import XCTest
@testable import Dist
import Engine
import Media
@testable import Training
import TestSupport

/// Replays every committed fuzz seed (Fuzz/corpus/<target>/) through the parser its fuzz target
/// drives and checks the same properties, so the corpus is exercised where libFuzzer is absent.
/// Every seed is a valid input by construction (Fuzz/make_corpus.py), so each must parse, except the
/// `regress-*` inputs that once crashed a target, which must be rejected with an error.
final class FuzzCorpusTests: XCTestCase {
    static let corpus = Repo.root.appendingPathComponent("Fuzz/corpus")

    func seeds(_ target: String) throws -> [(name: String, data: Data)] {
        let dir = FuzzCorpusTests.corpus.appendingPathComponent(target)
        let names = try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted()
        XCTAssertFalse(names.isEmpty, "no seeds in \(dir.path)")
        return try names.map { ($0, try Data(contentsOf: dir.appendingPathComponent($0))) }
    }

    /// fuzz-labels: byte 0 = options (format, data root, explicit columns), then the file.
    func testLabelSeedsParseAndRoundTrip() throws {
        var all: [String: [LabelEntry]] = [:]
        for (name, data) in try seeds("labels") {
            let options = data[data.startIndex]
            let formats: [LabelFormat] = [.auto, .fastvqa, .csv, .auto]
            let explicit = options & 8 != 0
            let entries = try Labels.parse(data: data.dropFirst(), source: name, dataRoot: options & 4 != 0 ? "root/dir" : nil,
                                           format: formats[Int(options & 3)], fileColumn: explicit ? "name" : nil,
                                           scoreColumn: explicit ? "mos" : nil)
            XCTAssertEqual(try Labels.parse(text: FuzzCorpusTests.fastVQAText(entries), source: name, format: .fastvqa), entries, name)
            all[name] = entries
        }
        XCTAssertEqual(all["fastvqa-konvid"], [LabelEntry(path: "4542323058.mp4", mos: 3.22, duration: 8.008, fps: 29.97002997002997),
                                               LabelEntry(path: "yfcc-batch1/747.mp4", mos: 67.75)])
        XCTAssertEqual(all["fastvqa-root"]?.map(\.path), ["root/dir/4542323058.mp4", "root/dir/yfcc-batch1/747.mp4"])
        XCTAssertEqual(all["fastvqa-forced"], [LabelEntry(path: "a, b.mp4", mos: 1.5, fps: 30), LabelEntry(path: "/abs/c.mp4", mos: 2, duration: 10)])
        XCTAssertEqual(all["csv-koniq"]?.map(\.mos), [3.828571429, 3.479166667])
        XCTAssertEqual(all["csv-explicit"], [LabelEntry(path: "say \"hi\".mp4", mos: 2), LabelEntry(path: "v.mp4", mos: 4.5)])
        XCTAssertEqual(all["csv-forced"], [LabelEntry(path: "root/dir/x.mp4", mos: 1e-3)])
        XCTAssertEqual(all["latin1"]?.map(\.path), ["café.mp4"])
    }

    /// The fuzz target's rewrite: entries as a FAST-VQA label file with every path quoted.
    static func fastVQAText(_ entries: [LabelEntry]) -> String {
        entries.map { e in
            "\"\(e.path.replacingOccurrences(of: "\"", with: "\"\""))\", \(e.duration.map { "\($0)" } ?? "-1"), \(e.fps.map { "\($0)" } ?? "-1"), \(e.mos)"
        }.joined(separator: "\n")
    }

    /// fuzz-config: YAML up to the first NUL, then NUL-separated `--set` overrides.
    func testConfigSeedsResolveAndStoredYAMLIsStable() throws {
        for (name, data) in try seeds("config") {
            let parts = [UInt8](data).split(separator: 0, maxSplits: 4, omittingEmptySubsequences: false)
            let yaml = String(decoding: parts[0], as: UTF8.self)
            let sets = parts.dropFirst().map { String(decoding: $0, as: UTF8.self) }
            if name.hasPrefix("regress-") { // once crashed the fuzz target: now an error naming the source
                XCTAssertThrowsError(try TrainConfig.resolve(yaml: yaml, source: name, sets: sets), name) { e in
                    XCTAssertTrue("\(e)".contains(name), "\(e)")
                }
                continue
            }
            let r = try TrainConfig.resolve(yaml: yaml, source: name, sets: sets)
            XCTAssertEqual(try TrainConfig.fromStoredYAML(r.yaml, source: name), r.config, name)
            _ = try r.config.optimizerConfig(); _ = try r.config.stepConfig(); _ = try r.config.trainSampler()
            if name == "sets" {
                XCTAssertEqual(r.config.train.epochs, 3)
                XCTAssertEqual(r.config.regularization.kind, .rwp)
                XCTAssertEqual(r.config.loss["rank"], 0)
            }
            if name == "anchors" { XCTAssertEqual(r.config.regularization.rwp.every, 2) }
        }
    }

    /// fuzz-safetensors: parse, re-serialise canonically, checkpoint verification.
    func testSafetensorsSeedsRoundTripAndCheckpointVerifies() throws {
        let dir = try TempDir.make("fuzz-corpus", for: self)
        for (name, data) in try seeds("safetensors") {
            let file = try SafetensorsFile.parse([UInt8](data), path: name)
            let out = file.serialized()
            let again = try SafetensorsFile.parse(out, path: name)
            XCTAssertEqual(again, file, name)
            XCTAssertEqual(again.serialized(), out, name)
            // serialized() is exactly what write(to:) puts on disk.
            let path = dir.appendingPathComponent(name).path
            try file.write(to: path)
            XCTAssertEqual([UInt8](try Data(contentsOf: URL(fileURLWithPath: path))), out, name)
            // The fuzz target's property: with the right format tag and checksum, info() accepts the
            // file whatever its other metadata says (regress-malformed-model-options: a non-JSON
            // model_options once made it throw).
            XCTAssertNoThrow(try Checkpoint.info(of: Checkpoint.sealed(file), path: name), name)
        }
        let mixed = try SafetensorsFile.parse([UInt8](try Data(contentsOf: FuzzCorpusTests.corpus.appendingPathComponent("safetensors/mixed"))), path: "mixed")
        XCTAssertEqual(try mixed.tensors["a.bias"]?.doubles(), [1.5, -0.25])
        XCTAssertEqual(try mixed.tensors["b.idx"]?.int64s(), [42])
        XCTAssertEqual(mixed.tensors["e.empty"]?.shape, [0, 4])
        XCTAssertEqual(mixed.metadata["note"], "café \"q\"\n")
        // The checkpoint seed's checksum was computed by Fuzz/make_corpus.py (Python FNV-1a).
        let url = FuzzCorpusTests.corpus.appendingPathComponent("safetensors/checkpoint")
        let ckpt = try SafetensorsFile.parse([UInt8](try Data(contentsOf: url)), path: "checkpoint")
        let info = try Checkpoint.info(of: ckpt, path: "checkpoint")
        XCTAssertEqual([info.epoch, info.step, info.optimizerSteps, info.samplerEpoch, info.bestEpoch], [1, 3, 3, 1, 1])
        XCTAssertEqual(info.seed, 42)
        XCTAssertEqual(info.bestMetric, 0.5)
        XCTAssertEqual(info.modelOptions, ["width": "8"])
        XCTAssertEqual(info.calibration, Logistic4(b1: 5, b2: 1, b3: 0.5, b4: 0.2))
        // Checkpoint.read (the path-based entry) applies the same checks.
        XCTAssertEqual(try Checkpoint.read(path: url.path).info, info)
        var damaged = ckpt
        damaged.tensors["optim.m"] = SafetensorsTensor(floats: [0, 1], shape: [2])
        XCTAssertThrowsError(try Checkpoint.info(of: damaged, path: "damaged")) { e in
            XCTAssertTrue("\(e)".contains("damaged: checksum mismatch"), "\(e)")
        }
    }
}
