import XCTest
@testable import Dist
@testable import Training

/// `TrainConfig.decode` reads a resolved tree through JSON (fast) and, for trees holding non-finite
/// numbers, through a Yams node; both must give the same config, and list items take their defaults' type.
final class TrainConfigDecodeTests: XCTestCase {
    static let configs = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("configs")

    /// Every shipped config, plus overrides touching lists, maps and every scalar type, decodes to the
    /// same TrainConfig through JSON and through Yams.
    func testJSONAndYAMLDecodingAgree() throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: Self.configs.path).filter { $0.hasSuffix(".yaml") }.sorted()
        XCTAssertGreaterThanOrEqual(files.count, 5)
        let extra = ["optimizer.betas=[0.8, 0.95]", "data.train.augment=[hflip]", "train.epochs=7",
                     "model.options={widths: '8,16,32,64'}", "loss={plcc: 1, rank: 0.5}", "train.ema=0.5"]
        var checked = 0
        for f in files {
            let text = try String(contentsOf: Self.configs.appendingPathComponent(f), encoding: .utf8)
            for sets in [[], f.contains("demo") ? extra : []] {
                let tree = try TrainConfig.resolvedTree(yaml: text, source: f, sets: sets, flags: [])
                let viaJSON = try TrainConfig.decode(tree), viaYAML = try TrainConfig.decode(tree, viaYAML: true)
                XCTAssertEqual(viaJSON, viaYAML, "\(f) \(sets)")
                checked += 1
            }
        }
        XCTAssertGreaterThan(checked, files.count)
        let demo = try TrainConfig.load(path: Self.configs.appendingPathComponent("demo.yaml").path, sets: extra).config
        XCTAssertEqual(demo.optimizer.betas, [0.8, 0.95])
        XCTAssertEqual(demo.model.options["widths"], "8,16,32,64")
    }

    /// List items are checked against the default's item type, naming the item.
    func testListItemsTakeTheDefaultsType() throws {
        let ints = try TrainConfig.resolve(yaml: "optimizer: {betas: [0, 0.5]}", source: "t.yaml").config
        XCTAssertEqual(ints.optimizer.betas, [0, 0.5])  // an integer is a number
        XCTAssertThrowsError(try TrainConfig.resolve(yaml: "optimizer: {betas: [high, 0.99]}", source: "t.yaml")) { e in
            XCTAssertTrue("\(e)".contains("optimizer.betas[0] must be a number"), "\(e)")
        }
        XCTAssertThrowsError(try TrainConfig.resolve(yaml: "optimizer: {betas: [[0.9], 0.99]}", source: "t.yaml")) { e in
            XCTAssertTrue("\(e)".contains("optimizer.betas[0] must be a single value"), "\(e)")
        }
        let names = try TrainConfig.resolve(yaml: "data: {train: {augment: [hflip]}}", source: "t.yaml").config
        XCTAssertEqual(names.data.train.augment, ["hflip"])
    }

    /// The stored YAML (checkpoints, `--resume`) keeps every double exactly and quotes strings that
    /// would read back as numbers; Yams' own representation kept 15 digits (found by the config fuzzer).
    func testStoredYAMLIsExact() throws {
        let lrs = [0.12345678901234568, 2.92233720368547758070e-2, 1e-5, 3.0, Double.leastNonzeroMagnitude, Double.greatestFiniteMagnitude]
        for lr in lrs {
            let r = try TrainConfig.resolve(yaml: "optimizer: {lr: \(lr)}\nmodel: {options: {head_hidden: '8'}}\ndata: {train: {labels: '123'}}",
                                            source: "t.yaml")
            XCTAssertEqual(r.config.optimizer.lr, lr)
            let again = try TrainConfig.fromStoredYAML(r.yaml, source: "stored")
            XCTAssertEqual(again, r.config, r.yaml)
            XCTAssertEqual(again.optimizer.lr.bitPattern, lr.bitPattern, "\(lr): \(r.yaml)")
            XCTAssertEqual(again.data.train.labels, "123")
            XCTAssertTrue(r.yaml.contains("labels: '123'"), r.yaml)
        }
    }

    /// A non-finite number takes the Yams path and is then rejected by name.
    func testNonFiniteTreesDecodeThroughYAML() throws {
        let tree = try TrainConfig.resolvedTree(yaml: "optimizer: {lr: .inf}", source: "t.yaml", sets: [], flags: [])
        XCTAssertFalse(TrainConfig.isFinite(tree))
        XCTAssertEqual(try TrainConfig.decode(tree).optimizer.lr, .infinity)
        XCTAssertThrowsError(try TrainConfig.resolve(yaml: "optimizer: {lr: -.inf}", source: "t.yaml")) { e in
            XCTAssertTrue("\(e)".contains("optimizer.lr"), "\(e)")
        }
    }
}
