// The loader's motion-feature source: keys relative to the data root (or explicit ones), the
// settings checks made before any work, and chunk alignment through a safetensors file.

import XCTest
import Foundation
@testable import Dist
import Engine
import Media
@testable import Training
import TestSupport

final class MotionFeatureSourceTests: XCTestCase {
    var path = ""

    override func setUpWithError() throws {
        path = try TempDir.make("motion-source", for: self).appendingPathComponent("features.safetensors").path
        // 4 chunks × 2 features: chunk k holds (k, −k).
        try SafetensorsFile(tensors: ["videos/a.mp4": SafetensorsTensor(floats: [0, 0, 1, -1, 2, -2, 3, -3], shape: [4, 2])]).write(to: path)
    }

    func model(motionDim: Int) throws -> VQAModel {
        try ModelKind.simpleVQA.make(seed: 1, options: ["depth": "18", "width": "2", "head_hidden": "2", "motion_dim": "\(motionDim)"])
    }

    func testKeysAreRelativeToTheRootAndFramesTakeTheirChunk() throws {
        var s = try MotionFeatureSource(path: path, dim: 2, roots: ["data/set/"])
        XCTAssertEqual(s.key(for: "data/set/videos/a.mp4"), "videos/a.mp4")
        XCTAssertEqual(try MotionFeatureSource(path: path, dim: 2, roots: ["data/set"]).key(for: "data/set/videos/a.mp4"), "videos/a.mp4")
        XCTAssertEqual(s.key(for: "/elsewhere/a.mp4"), "/elsewhere/a.mp4", "paths outside the root are their own key")
        // A relative path starting with a combining mark (U+033B) merges with the root's "/" into one
        // Character; the key is still the bytes after the root (Fuzz/corpus/labels/regress-combining-mark-path).
        XCTAssertEqual(s.key(for: "data/set/\u{33B} 2323058.mp4"), "\u{33B} 2323058.mp4")
        s.explicitKeys = ["clip.mp4": "videos/a.mp4"]
        // Frames of an 8-frame video at indices 0, 3, 4, 7: centres 1/16, 7/16, 9/16, 15/16 → chunks 0, 1, 2, 3.
        var out = [Float](repeating: .nan, count: 8)
        try s.write(path: "clip.mp4", positions: FragmentSampler.framePositions([0, 3, 4, 7], frameCount: 8), into: &out)
        XCTAssertEqual(out, [0, 0, 1, -1, 2, -2, 3, -3])
        // 2 frames: centres 1/4 and 3/4 → chunks 1 and 3.
        try s.write(path: "data/set/videos/a.mp4", positions: FragmentSampler.framePositions([0, 1], frameCount: 2), into: &out)
        XCTAssertEqual(Array(out.prefix(4)), [1, -1, 3, -3])
        XCTAssertThrowsError(try s.write(path: "data/set/videos/b.mp4", positions: [0.5], into: &out)) {
            XCTAssert("\($0)".contains("no tensor \"videos/b.mp4\""), "\($0)")
        }
    }

    func testSettingsAreCheckedBeforeAnyWork() throws {
        let entries = [LabelEntry(path: "root/videos/a.mp4", mos: 1)]
        XCTAssertNil(try MotionFeatureSource.make(path: "", model: try model(motionDim: 0), roots: ["root"], entries: entries, what: "x"))
        XCTAssertThrowsError(try MotionFeatureSource.make(path: "", model: try model(motionDim: 2), roots: ["root"], entries: entries,
                                                          what: "data.train.motion_features")) {
            XCTAssert("\($0)".contains("data.train.motion_features gives none"), "\($0)")
        }
        XCTAssertThrowsError(try MotionFeatureSource.make(path: path, model: try model(motionDim: 0), roots: ["root"], entries: entries, what: "x")) {
            XCTAssert("\($0)".contains("motion_dim=0"), "\($0)")
        }
        XCTAssertThrowsError(try MotionFeatureSource.make(path: path, model: try model(motionDim: 3), roots: ["root"], entries: entries, what: "x")) {
            XCTAssert("\($0)".contains("[4, 2]") && "\($0)".contains("motion_dim=3"), "\($0)")
        }
        XCTAssertThrowsError(try MotionFeatureSource.make(path: path + ".absent", model: try model(motionDim: 2), roots: [], entries: entries, what: "x")) {
            XCTAssert("\($0)".contains("does not exist"), "\($0)")
        }
        let s = try XCTUnwrap(try MotionFeatureSource.make(path: path, model: try model(motionDim: 2), roots: ["root"], entries: entries, what: "x"))
        XCTAssertEqual(s.width, 2)
    }
}
