// Checkpoints: round trip of weights, EMA, optimizer state and metadata; damaged files rejected by name.

import XCTest
@testable import Dist
import Engine
@testable import Training
import TestSupport

final class CheckpointTests: XCTestCase {
    func makeParts() throws -> (VQAModel, WeightEMA, Optimizer) {
        let model = try ModelKind.fragnet.make(seed: 3, options: ["widths": "4,8,8,8"])
        let store = model.parameters
        let ema = WeightEMA(store: store, decay: 0.9)
        let opt = Optimizer(config: OptimizerConfig(), store: store)
        for i in 0..<store.flatCount { store.grads.base[i] = Float(i % 7) - 3 }
        opt.step(store: store, lr: 1e-3)
        ema.update(from: store)
        return (model, ema, opt)
    }

    func tmp(_ name: String) throws -> String {
        try TempDir.make("ckpt-\(name)", for: self).appendingPathComponent("last.safetensors").path
    }

    func testRoundTripRestoresEverything() throws {
        let (model, ema, opt) = try makeParts()
        var info = CheckpointInfo()
        info.epoch = 3; info.step = 17; info.optimizerSteps = opt.stepCount; info.seed = 9; info.samplerEpoch = 3; info.samplerStep = 2
        info.bestMetric = 1.5; info.bestEpoch = 2; info.calibration = Logistic4(b1: 5, b2: 1, b3: 0.2, b4: 0.7)
        info.modelOptions = ["widths": "4,8,8,8"]; info.config = "train: {epochs: 3}\n"
        let path = try tmp("rt")
        try Checkpoint.save(Checkpoint.make(store: model.parameters, ema: ema, optimizer: opt, info: info), to: path)

        let (other, ema2, opt2) = try makeParts()
        other.parameters.values.fill(0); ema2.shadow.fill(0); for b in opt2.state.values { b.fill(0) }
        let (file, back) = try Checkpoint.read(path: path)
        XCTAssertEqual(back, info)
        try Checkpoint.restore(file, path: path, store: other.parameters, ema: ema2, optimizer: opt2, optimizerSteps: back.optimizerSteps)
        // Compare every parameter's range (the flat buffers also hold alignment padding, not saved).
        func same(_ a: FloatBuffer, _ b: FloatBuffer) -> Bool {
            model.parameters.infos.allSatisfy { i in (i.offset..<i.offset + i.count).allSatisfy { a.base[$0] == b.base[$0] } }
        }
        XCTAssertTrue(same(other.parameters.values, model.parameters.values))
        XCTAssertTrue(same(ema2.shadow, ema.shadow))
        for (k, b) in opt.state { XCTAssertTrue(same(opt2.state[k]!, b), k) }
        XCTAssertEqual(opt2.stepCount, opt.stepCount)
        XCTAssertFalse(same(ema.shadow, model.parameters.values))
        XCTAssertFalse(same(opt.state["exp_avg"]!, opt.state["exp_avg_sq"]!))
    }

    func testChecksumIsFNV1aOverTheTensorsThenTheMetadata() {
        // FNV-1a 64 of "a" + "F32" + shape [1] as 8 LE bytes + 4 data bytes, computed by hand-written reference.
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in Array("a".utf8) + Array("F32".utf8) + [1, 0, 0, 0, 0, 0, 0, 0] + [0, 0, 128, 63] { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        let tensors = ["a": SafetensorsTensor(floats: [1], shape: [1])]
        XCTAssertEqual(Checkpoint.checksum(tensors, metadata: nil), h)  // format /1: tensors only
        // Format /2 goes on with each entry but `checksum`: key length (8 LE bytes), key, value length, value.
        for b in [2, 0, 0, 0, 0, 0, 0, 0] + Array("ep".utf8) + [1, 0, 0, 0, 0, 0, 0, 0] + Array("3".utf8) { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        XCTAssertEqual(Checkpoint.checksum(tensors, metadata: ["ep": "3", "checksum": "ignored"]), h)
    }

    func testDamagedCheckpointsAreRejectedWithTheFileName() throws {
        let (model, ema, opt) = try makeParts()
        let path = try tmp("bad")
        try Checkpoint.save(Checkpoint.make(store: model.parameters, ema: ema, optimizer: opt, info: CheckpointInfo()), to: path)
        var bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        // Flip one bit in the last tensor byte: the header still parses, the checksum does not match.
        var flipped = bytes
        flipped[flipped.count - 1] ^= 1
        try flipped.write(to: URL(fileURLWithPath: path))
        XCTAssertThrowsError(try Checkpoint.read(path: path)) { e in
            XCTAssertTrue("\(e)".contains(path) && "\(e)".contains("checksum"), "\(e)")
        }
        // Truncated.
        bytes.removeLast(100)
        try bytes.write(to: URL(fileURLWithPath: path))
        XCTAssertThrowsError(try Checkpoint.read(path: path)) { e in
            XCTAssertTrue("\(e)".contains(path) && "\(e)".contains("corrupt or truncated"), "\(e)")
        }
        XCTAssertThrowsError(try Checkpoint.read(path: path + ".missing")) { e in XCTAssertTrue("\(e)".contains(".missing"), "\(e)") }
    }

    func testInitFromSkipsHeadAndMismatchedShapes() throws {
        let (model, _, _) = try makeParts()
        let file = SafetensorsFile(tensors: model.parameters.safetensors())
        let target = try ModelKind.fragnet.make(seed: 4, options: ["widths": "4,8,8,8"])
        let before = target.parameters.values.toArray()
        let head = Set(target.headParameters)
        let (loaded, skipped) = try Checkpoint.initFrom(file, path: "x", store: target.parameters, skip: head)
        XCTAssertEqual(skipped.count, head.count)
        XCTAssertEqual(loaded.count + skipped.count, target.parameters.infos.count)
        for (i, info) in target.parameters.infos.enumerated() {
            let got = Array(target.parameters.value(i))
            if head.contains(i) { XCTAssertEqual(got, Array(before[info.offset..<info.offset + info.count]), info.name) }
            else { XCTAssertEqual(got, Array(model.parameters.value(i)), info.name) }
        }
        let wider = try ModelKind.fragnet.make(seed: 4, options: ["widths": "8,8,8,8"])
        let (_, skippedWide) = try Checkpoint.initFrom(file, path: "x", store: wider.parameters, skip: [])
        XCTAssertFalse(skippedWide.isEmpty)
    }
}
