// Config resolution: defaults, YAML, --set overrides, flags, unknown keys and invalid enum values.

import XCTest
@testable import Dist
import Engine
@testable import Training

final class TrainConfigTests: XCTestCase {
    func testDefaultsAreFastVQAs() throws {
        let c = try TrainConfig.resolve().config
        XCTAssertEqual(c.optimizer.lr, 1e-3)
        XCTAssertEqual(c.optimizer.backboneLrMult, 0.1)
        XCTAssertEqual(c.optimizer.wd, 0.05)
        XCTAssertEqual(c.schedule.warmupEpochs, 2.5)
        XCTAssertEqual(c.loss, ["plcc": 1, "rank": 0.3])
        XCTAssertEqual(c.regularization.awp.gamma, 1e-4)
        XCTAssertEqual(c.train.ema, 0.999)
        XCTAssertEqual(c.data.train.sampler.clipLen, 32)
    }

    func testYAMLThenSetThenFlagsOverrideInOrder() throws {
        let yaml = """
        model: {name: fragnet, options: {widths: "4,8,8,8"}}
        data:
          train: {labels: a.txt, data_root: /d, sampler: {clip_len: 8, fragments_h: 2}}
          val: [{name: t, labels: b.txt}]
        regularization: {kind: awp, awp: {gamma: 0.01, sync: local}}
        train: {epochs: 5, batch_size: 8}
        """
        let r = try TrainConfig.resolve(yaml: yaml, sets: ["train.epochs=7", "loss.rank=0", "data.train.sampler.frame_interval=3"],
                                        flags: [("train.batch_size", 4)])
        let c = r.config
        XCTAssertEqual(c.model.options, ["widths": "4,8,8,8"])
        XCTAssertEqual(c.data.train.sampler.clipLen, 8)
        XCTAssertEqual(c.data.train.sampler.fragmentsH, 2)
        XCTAssertEqual(c.data.train.sampler.frameInterval, 3)
        XCTAssertEqual(c.data.val, [TrainConfig.ValSet(name: "t", labels: "b.txt", dataRoot: "")])
        XCTAssertEqual(c.train.epochs, 7)
        XCTAssertEqual(c.train.batchSize, 4)
        XCTAssertEqual(c.loss["rank"], 0)
        let step = try c.stepConfig()
        XCTAssertEqual(step.perturbation?.kind, .awp)
        XCTAssertEqual(step.perturbation?.gamma, 0.01)
        XCTAssertEqual(step.sync, .local)
        // The printed YAML resolves to the same config.
        XCTAssertEqual(try TrainConfig.resolve(yaml: r.yaml).config, c)
        XCTAssertTrue(r.yaml.contains("clip_len: 8"), r.yaml)
    }

    func testRegularizersMapToOptimizerAndStep() throws {
        let l2 = try TrainConfig.resolve(sets: ["regularization.kind=l2", "regularization.l2.wd=0.2"]).config
        XCTAssertEqual(try l2.optimizerConfig().weightDecay, 0.2)
        XCTAssertNil(try l2.stepConfig().perturbation)
        let aug = try TrainConfig.resolve(sets: ["regularization.kind=aug"]).config
        XCTAssertEqual(try aug.trainSampler().augment.ops, [.hflip, .trivialAugment])
        XCTAssertEqual(try TrainConfig.resolve().config.trainSampler().augment.ops, [])
        let rwp = try TrainConfig.resolve(sets: ["regularization.kind=rwp", "regularization.rwp.select=ndim"]).config
        XCTAssertEqual(try rwp.stepConfig().perturbation?.kind, .rwp)
        XCTAssertEqual(try rwp.stepConfig().perturbation?.select, .ndimAbove1)
    }

    func testUnknownKeysListTheValidOnes() {
        XCTAssertThrowsError(try TrainConfig.resolve(yaml: "train: {epoch: 3}", source: "my.yaml")) { e in
            let s = "\(e)"
            XCTAssertTrue(s.contains("my.yaml") && s.contains("unknown key 'train.epoch'") && s.contains("epochs") && s.contains("batch_size"), s)
        }
        XCTAssertThrowsError(try TrainConfig.resolve(sets: ["optimiser.lr=1"])) { e in
            XCTAssertTrue("\(e)".contains("unknown key 'optimiser'") && "\(e)".contains("optimizer"), "\(e)")
        }
        XCTAssertThrowsError(try TrainConfig.resolve(yaml: "data: {val: [{name: a, label: x}]}")) { e in
            XCTAssertTrue("\(e)".contains("data.val[0].label") && "\(e)".contains("labels"), "\(e)")
        }
        XCTAssertThrowsError(try TrainConfig.resolve(sets: ["train.epochs"])) { e in XCTAssertTrue("\(e)".contains("key=value"), "\(e)") }
    }

    func testInvalidValuesListTheValidOnes() {
        XCTAssertThrowsError(try TrainConfig.resolve(sets: ["regularization.kind=sam"])) { e in
            XCTAssertTrue("\(e)".contains("'sam'") && "\(e)".contains("none, l2, aug, rwp, awp"), "\(e)")
        }
        XCTAssertThrowsError(try TrainConfig.resolve(sets: ["regularization.awp.sync=ring"])) { e in
            XCTAssertTrue("\(e)".contains("global, local"), "\(e)")
        }
        XCTAssertThrowsError(try TrainConfig.resolve(sets: ["model.name=swin"])) { e in XCTAssertTrue("\(e)".contains("fragnet"), "\(e)") }
        XCTAssertThrowsError(try TrainConfig.resolve(sets: ["loss.huber=1"])) { e in XCTAssertTrue("\(e)".contains("plcc"), "\(e)") }
        XCTAssertThrowsError(try TrainConfig.resolve(sets: ["train.epochs=many"])) { e in XCTAssertTrue("\(e)".contains("train.epochs"), "\(e)") }
        XCTAssertThrowsError(try TrainConfig.resolve(sets: ["data.train.sampler.augment.ops=[blur]"])) { e in XCTAssertTrue("\(e)".contains("hflip"), "\(e)") }
    }

    func testShippedConfigsResolve() throws {
        let dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("configs")
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasSuffix(".yaml") }
        XCTAssertGreaterThanOrEqual(files.count, 5)
        for f in files { XCTAssertNoThrow(try TrainConfig.load(path: dir.appendingPathComponent(f).path), f) }
        let koniq = try TrainConfig.load(path: dir.appendingPathComponent("koniq-10k.yaml").path).config
        XCTAssertEqual(koniq.data.train.sampler.clipLen, 2)
        XCTAssertEqual(koniq.data.train.sampler.frameInterval, 1)
        XCTAssertThrowsError(try TrainConfig.resolve(sets: ["data.train.sampler.clip_len=1"])) { e in
            XCTAssertTrue("\(e)".contains("even clip_len"), "\(e)")
        }
    }
}
