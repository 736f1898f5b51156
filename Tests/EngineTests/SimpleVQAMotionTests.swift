// SimpleVQA motion features: .npy files written by numpy (Fixtures/motion, np.save of
// arange(12).reshape(3, 4)·0.5 − 1 as float32 and arange(8).reshape(2, 4)/3 as float64), a
// safetensors file keyed by video path, chunk-to-frame alignment, and the model's concatenation.

import XCTest
import Foundation
@testable import Engine
import TestSupport

final class SimpleVQAMotionTests: XCTestCase {
    var motionDir: String { Bundle.module.resourceURL!.appendingPathComponent("Fixtures/motion").path }

    func testNPYFilesWrittenByNumPyAreRead() throws {
        let m = try MotionFeatures(path: motionDir, dim: 4)
        let a = try m.chunks(for: "clips/a.mp4")
        XCTAssertEqual(a.chunks, 3)
        XCTAssertEqual(a.values, (0..<12).map { Float($0) * 0.5 - 1 })
        let b = try m.chunks(for: "clips/b.mp4")
        XCTAssertEqual(b.values, (0..<8).map { Float(Double($0) / 3) })
        XCTAssertThrowsError(try m.chunks(for: "clips/fortran.mp4")) { XCTAssert("\($0)".contains("Fortran order")) }
        XCTAssertThrowsError(try m.chunks(for: "clips/missing.mp4")) { XCTAssert("\($0)".contains("<dir>/<relative path>.npy")) }
        XCTAssertThrowsError(try MotionFeatures(path: motionDir, dim: 5).chunks(for: "clips/a.mp4")) { XCTAssert("\($0)".contains("expected [chunks, 5]")) }
    }

    func testFramesTakeTheirChunkAndSafetensorsIsKeyedByPath() throws {
        let path = try TempDir.make("simplevqa-motion", for: self).appendingPathComponent("motion.safetensors").path
        let values: [Float] = (0..<6).map(Float.init)  // 3 chunks × 2
        try SafetensorsFile(tensors: ["v/x.mp4": SafetensorsTensor(floats: values, shape: [3, 2])]).write(to: path)
        let m = try MotionFeatures(path: path, dim: 2)
        // 6 frames over 3 chunks: chunk ⌊t·3/6⌋ = 0, 0, 1, 1, 2, 2; 3 frames: one chunk each.
        XCTAssertEqual(try m.perFrame(for: "v/x.mp4", frames: 6), [0, 1, 0, 1, 2, 3, 2, 3, 4, 5, 4, 5])
        XCTAssertEqual(try m.perFrame(for: "v/x.mp4", frames: 3), values)
        XCTAssertThrowsError(try m.chunks(for: "v/y.mp4")) { XCTAssert("\($0)".contains("relative to the data root")) }
        XCTAssertThrowsError(try MotionFeatures(path: path, dim: 3)) { XCTAssert("\($0)".contains("motion_dim=3")) }
    }

    /// The motion block enters quality.0 after the spatial features: the score's gradient with
    /// respect to motion feature j of frame t is quality.1 · quality.0[:, spatial + j] / T.
    func testMotionFeaturesAreConcatenatedAfterTheSpatialFeatures() throws {
        let m = try SimpleVQA(config: .init(options: ["depth": "18", "width": "2", "motion_dim": "3", "head_hidden": "4"]), seed: 5)
        let tape = Tape()
        let clips = tape.constant(randomArray(1 * 3 * 2 * 64 * 64, seed: 1), shape: [1, 3, 2, 64, 64])
        let motion = tape.leaf(randomArray(6, seed: 2), shape: [1, 2, 3])
        let score = m.forward(tape, clips, motion: motion)
        [Float(1)].withUnsafeBufferPointer { tape.backward(score, seed: $0.baseAddress!) }
        let w1 = Array(m.parameters.value(m.fc1.weight)), w2 = Array(m.parameters.value(m.fc2.weight))
        let f = m.config.spatialDim + 3
        let g = Array(UnsafeBufferPointer(start: tape.grad(motion), count: 6))
        for t in 0..<2 { for j in 0..<3 {
            let want = (0..<4).reduce(Float(0)) { $0 + w2[$1] * w1[$1 * f + m.config.spatialDim + j] } / 2
            XCTAssertEqual(g[t * 3 + j], want, accuracy: 1e-5)
        } }
    }
}
