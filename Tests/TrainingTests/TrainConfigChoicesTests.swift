// The configuration's named choices are typed enums, checked once at load: every enum-valued key is
// in TrainConfig.choices, and a wrong name fails naming the key and listing the valid names.

import XCTest
import TestSupport
@testable import Training

final class TrainConfigChoicesTests: XCTestCase {
    /// Dotted snake_case paths of every enum-valued property below `value` (the sampler decodes its own).
    func enumPaths(_ value: Any, _ path: String = "") -> [String] {
        if path == "data.train.sampler" { return [] }
        var out: [String] = []
        for child in Mirror(reflecting: value).children {
            guard let label = child.label else { continue }
            let p = path.isEmpty ? TrainConfig.snake(label) : "\(path).\(TrainConfig.snake(label))"
            if !(child.value is String), let raw = (child.value as? any RawRepresentable)?.rawValue, raw is String {
                out.append(p)
            } else {
                out += enumPaths(child.value, p)
            }
        }
        return out
    }

    func testEveryEnumKeyIsAChoice() {
        let paths = Set(enumPaths(TrainConfig()))
        XCTAssertEqual(paths, Set(TrainConfig.choices.keys))
        XCTAssertTrue(paths.contains("regularization.awp.select") && paths.contains("schedule.kind"), "\(paths)")
    }

    func testEveryChoiceFailsAtLoadWithItsValidValues() throws {
        for (key, valid) in TrainConfig.choices {
            XCTAssertThrowsError(try TrainConfig.resolve(yaml: "{}", source: "my.yaml", sets: ["\(key)=bogus"])) { e in
                XCTAssertTrue(e is TrainingError, "\(e)")
                XCTAssertTrue("\(e)".contains("\(key): invalid value 'bogus'; valid values: \(valid.joined(separator: ", "))"), "\(e)")
            }
        }
        XCTAssertThrowsError(try TrainConfig.resolve(yaml: "schedule: {kind: cosine}", source: "my.yaml")) { e in
            XCTAssertTrue("\(e)".contains("my.yaml") && "\(e)".contains("warmup_cosine, constant"), "\(e)")
        }
        let c = try TrainConfig.resolve(sets: ["schedule.kind=constant", "regularization.kind=awp", "regularization.awp.select=ndim",
                                               "optimizer.kind=sgd", "model.name=simplevqa"]).config
        XCTAssertEqual([c.schedule.kind.rawValue, c.regularization.kind.rawValue, c.regularization.awp.select.rawValue,
                        c.optimizer.kind.rawValue, c.model.name.rawValue], ["constant", "awp", "ndim", "sgd", "simplevqa"])
        XCTAssertEqual(try c.stepConfig().perturbation?.select, .ndimAbove1)
    }
}
