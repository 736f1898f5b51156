// Hostile and mistaken configs: an alias bomb or an oversized text is refused before Yams builds a
// tree; model options and data.train.max_failure_fraction are checked by `validate` (so by dry-run).

import XCTest
@testable import Dist
@testable import Training
import Engine
import TestSupport

final class TrainConfigBoundsTests: XCTestCase {
    /// "Billion laughs": nine levels of nine aliases, 9^9 values once expanded (the committed seed).
    static let bomb = (["a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]"]
        + zip("abcdefgh", "bcdefghi").map { prev, cur in "\(cur): &\(cur) [" + Array(repeating: "*\(prev)", count: 9).joined(separator: ",") + "]" })
        .joined(separator: "\n") + "\n"

    func testAliasBombIsRefusedNamingTheSource() {
        XCTAssertThrowsError(try TrainConfig.resolve(yaml: Self.bomb, source: "bomb.yaml")) { e in
            XCTAssertTrue("\(e)".hasPrefix("bomb.yaml: ") && "\(e)".contains("aliases") && "\(e)".contains("\(TrainConfig.maxYAMLNodes)"), "\(e)")
            XCTAssertFalse("\(e)".contains("\n"), "one line: \(e)")
        }
    }

    func testAliasBombAsAMapKeyOrInAStoredConfigIsRefused() {
        // Yams hashes map keys to find duplicates: an aliased key would be walked in full.
        XCTAssertThrowsError(try TrainConfig.resolve(yaml: Self.bomb + "j: {? *i : 1}\n", source: "key.yaml")) { e in
            XCTAssertTrue("\(e)".contains("key.yaml") && "\(e)".contains("aliases"), "\(e)")
        }
        XCTAssertThrowsError(try TrainConfig.fromStoredYAML(Self.bomb, source: "ckpt.safetensors (stored config)")) { e in
            XCTAssertTrue("\(e)".contains("ckpt.safetensors (stored config)") && "\(e)".contains("aliases"), "\(e)")
        }
    }

    func testModestAliasesStillResolve() throws {
        // Anchors, aliases and a merge key well under the bound resolve as before.
        let yaml = """
        regularization: {kind: awp, awp: &p {gamma: 0.01, every: 2}, rwp: {<<: *p, sync: local}}
        data: {train: {augment: &a [hflip], always_augment: false}}
        optimizer: {betas: [0.9, 0.999]}
        """
        let c = try TrainConfig.resolve(yaml: yaml, source: "ok.yaml").config
        XCTAssertEqual(c.regularization.awp.every, 2)
        XCTAssertEqual(c.regularization.rwp.every, 2)
        XCTAssertEqual(c.regularization.rwp.sync, .local)
    }

    func testOversizedTextIsRefused() throws {
        let big = "# " + String(repeating: "x", count: TrainConfig.maxYAMLBytes) + "\n"
        XCTAssertThrowsError(try TrainConfig.resolve(yaml: big, source: "big.yaml")) { e in
            XCTAssertTrue("\(e)".contains("big.yaml") && "\(e)".contains("bytes"), "\(e)")
        }
        let path = try TempDir.make("config-bounds", for: self).appendingPathComponent("big.yaml").path
        try Data(big.utf8).write(to: URL(fileURLWithPath: path))
        XCTAssertThrowsError(try TrainConfig.load(path: path)) { e in XCTAssertTrue("\(e)".contains(path) && "\(e)".contains("bytes"), "\(e)") }
    }

    func testUnknownOrInvalidModelOptionsFailValidation() {
        // Before: resolve (and so `train --dry-run`) accepted them; building the model rejected them later.
        XCTAssertThrowsError(try TrainConfig.resolve(sets: ["model.options.bogus=1"])) { e in
            XCTAssertTrue("\(e)".contains("unknown option 'bogus'") && "\(e)".contains("widths"), "\(e)")
        }
        XCTAssertThrowsError(try TrainConfig.resolve(sets: ["model.options.widths=6,8,8,8", "model.options.groups=4"])) { e in
            XCTAssertTrue("\(e)".contains("not divisible"), "\(e)")
        }
        XCTAssertThrowsError(try TrainConfig.resolve(sets: ["model.name=fast-vqa-m", "model.options.window=1,2"])) { e in
            XCTAssertTrue("\(e)".contains("window"), "\(e)")
        }
        XCTAssertThrowsError(try TrainConfig.resolve(sets: ["model.name=simplevqa", "model.options.nope=1"])) { e in
            XCTAssertTrue("\(e)".contains("unknown option 'nope'"), "\(e)")
        }
        XCTAssertNoThrow(try TrainConfig.resolve(sets: ["model.options.widths=4,8,8,8"]))
        // Every model validates exactly what building it accepts.
        for kind in ModelKind.allCases {
            for options in [[:], ["bogus": "1"], ["head_hidden": "0"], ["dropout": "2"]] as [[String: String]] {
                let validated = (try? kind.validate(options: options)) != nil
                let built = options.isEmpty ? true : (try? kind.make(seed: 0, options: options)) != nil
                XCTAssertEqual(validated, built, "\(kind) \(options)")
            }
        }
    }

    func testMaxFailureFractionIsARealCheckedKey() throws {
        XCTAssertEqual(try TrainConfig.resolve().config.data.train.maxFailureFraction, 0.1)
        XCTAssertEqual(try TrainConfig.resolve(sets: ["data.train.max_failure_fraction=0.5"]).config.data.train.maxFailureFraction, 0.5)
        for bad in ["1.5", "-0.1", ".nan"] {
            XCTAssertThrowsError(try TrainConfig.resolve(sets: ["data.train.max_failure_fraction=\(bad)"]), bad) { e in
                XCTAssertTrue("\(e)".contains("data.train.max_failure_fraction must be in [0, 1]"), "\(e)")
            }
        }
    }
}
