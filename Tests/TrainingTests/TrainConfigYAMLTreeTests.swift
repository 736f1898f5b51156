import XCTest
@testable import Dist
import Yams
@testable import Training

/// Config YAML parsing: the trees match what Yams builds for ordinary files, merge keys work, and the
/// inputs that trap inside `Yams.load` (a map or list as a map key; found by the config fuzzer) are
/// clear errors instead of crashes.
final class TrainConfigYAMLTreeTests: XCTestCase {
    func testMapOrListKeysAreErrorsNotCrashes() {
        for (yaml, kind) in [("{[a]: 1}", "list"), ("? {a: b}\n: c\n", "map"), ("train:\n  ? [1, 2]\n  : 3\n", "list")] {
            XCTAssertThrowsError(try TrainConfig.resolve(yaml: yaml, source: "bad.yaml"), yaml) { e in
                XCTAssertTrue("\(e)".contains("bad.yaml"), "\(e)")
                XCTAssertTrue("\(e)".contains("a map key must be a plain name, not a \(kind)"), "\(e)")
            }
        }
        // As a --set value the text is not YAML the key can take: the default's type decides.
        XCTAssertThrowsError(try TrainConfig.resolve(sets: ["train.epochs={[a]: 1}"])) { e in
            XCTAssertTrue("\(e)".contains("train.epochs must be an integer"), "\(e)")
        }
    }

    /// YAML 1.1 integers as Yams reads them, but an overflow stays text instead of trapping.
    func testIntegersMatchYamsAndOverflowIsNotACrash() throws {
        for text in ["0", "12", "-7", "+3", "1_000", "0x1F", "-0x10", "0b101", "0o17", "017", "1:30", "-2:00:01", "9223372036854775807"] {
            let yams = try XCTUnwrap(try Yams.load(yaml: "v: \(text)") as? [String: Any])["v"] as? Int
            XCTAssertEqual(TrainConfig.integer(text), yams, text)
            XCTAssertNotNil(yams, text)
        }
        for text in ["922338023380142142:22", "9223372036854775808", "0x1FFFFFFFFFFFFFFFF"] {
            XCTAssertNil(TrainConfig.integer(text), text)
            let tree = try XCTUnwrap(TrainConfig.yamlTree("v: \(text)", source: "t") as? [String: Any])
            XCTAssertEqual(tree["v"] as? String, text)
        }
        XCTAssertThrowsError(try TrainConfig.resolve(yaml: "train: {epochs: 922338023380142142:22}", source: "t.yaml")) { e in
            XCTAssertTrue("\(e)".contains("train.epochs must be an integer"), "\(e)")
        }
    }

    func testMergeKeysAndAnchors() throws {
        let yaml = """
        base: &opt {kind: sgd, lr: 0.01, momentum: 0.8}
        """
        // `base` is not a section: rejected by name (anchors alone do not add keys).
        XCTAssertThrowsError(try TrainConfig.resolve(yaml: yaml, source: "m.yaml")) { e in
            XCTAssertTrue("\(e)".contains("unknown key 'base'"), "\(e)")
        }
        let merged = """
        optimizer:
          <<: [{kind: sgd, lr: 0.01, momentum: 0.8}, {lr: 0.5, wd: 0.1}]
          lr: 0.02
        """
        let c = try TrainConfig.resolve(yaml: merged, source: "m.yaml").config
        XCTAssertEqual(c.optimizer.kind, .sgd)
        XCTAssertEqual(c.optimizer.lr, 0.02)        // the map's own key wins
        XCTAssertEqual(c.optimizer.momentum, 0.8)   // from the first merged map
        XCTAssertEqual(c.optimizer.wd, 0.1)         // only in the second
        XCTAssertThrowsError(try TrainConfig.resolve(yaml: "optimizer: {<<: 3}", source: "m.yaml")) { e in
            XCTAssertTrue("\(e)".contains("'<<' merge key must name a map"), "\(e)")
        }
    }

    /// For files without the trapping keys the trees equal Yams.load's (scalars typed the same way).
    func testTreesMatchYamsLoad() throws {
        let text = """
        a: 1
        b: 1.5e-3
        c: true
        d: hello
        e: [1, two, 3.0, null]
        f: {g: ~, h: '7', i: 0x10}
        """
        let ours = try XCTUnwrap(TrainConfig.yamlTree(text, source: "t") as? [String: Any])
        let yams = try XCTUnwrap(try Yams.load(yaml: text) as? [String: Any])
        XCTAssertEqual(canonical(ours), canonical(yams))
        XCTAssertTrue(canonical(ours).contains("h: String 7"), canonical(ours))
        XCTAssertEqual(ours["a"] as? Int, 1)
        XCTAssertEqual(ours["b"] as? Double, 1.5e-3)
        XCTAssertEqual(ours["c"] as? Bool, true)
    }

    /// Type-tagged text of a tree with sorted keys (dictionary order is not stable across instances).
    private func canonical(_ v: Any) -> String {
        switch v {
        case let m as [String: Any]: return "{" + m.keys.sorted().map { "\($0): \(canonical(m[$0]!))" }.joined(separator: ", ") + "}"
        case let l as [Any]: return "[" + l.map(canonical).joined(separator: ", ") + "]"
        default: return "\(type(of: v)) \(v)"
        }
    }
}
