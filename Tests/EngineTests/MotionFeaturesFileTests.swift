// Motion-feature files written by numpy in the test (python3 with numpy, as CI has): 1-D [D] arrays,
// float64 and format-2.0 headers read back exactly; non-finite values, big-endian data, truncated
// data and absurd shapes rejected with the file named; frames take the chunk covering their centre.

import XCTest
import Foundation
@testable import Engine
import TestSupport

final class MotionFeaturesFileTests: XCTestCase {
    var dir = ""

    override func setUpWithError() throws {
        dir = try TempDir.make("motion-npy", for: self).path
        try FileManager.default.createDirectory(atPath: dir + "/v", withIntermediateDirectories: true)
        let script = """
        import sys, numpy as np
        d = sys.argv[1]
        np.save(d + '/v/one.mp4.npy', np.array([0.25, -1.5, 3.0], np.float32))
        np.save(d + '/v/f8.mp4.npy', (np.arange(6, dtype=np.float64).reshape(2, 3) / 7))
        with open(d + '/v/v2.mp4.npy', 'wb') as f:
            np.lib.format.write_array(f, np.arange(9, dtype=np.float32).reshape(3, 3) - 4, version=(2, 0))
        np.save(d + '/v/nan.mp4.npy', np.array([[1, np.nan, 2]], np.float32))
        np.save(d + '/v/big.mp4.npy', np.arange(3, dtype='>f4'))
        np.save(d + '/v/cut.mp4.npy', np.ones((4, 3), np.float32))
        b = open(d + '/v/cut.mp4.npy', 'rb').read()
        open(d + '/v/cut.mp4.npy', 'wb').write(b[:-5])
        b = open(d + '/v/one.mp4.npy', 'rb').read().replace(b"(3,)", b"(-3,)")
        open(d + '/v/neg.mp4.npy', 'wb').write(b)
        b = open(d + '/v/f8.mp4.npy', 'rb').read().replace(b"(2, 3)", b"(9999999999999, 3)")
        open(d + '/v/huge.mp4.npy', 'wb').write(b)
        """
        try Python.require(modules: ["numpy"])
        let r = try Python.run(["-c", script, dir])
        guard r.status == 0 else { throw TestSupportError("writing the .npy files failed: \(r.stderr)") }
    }

    func testNumPyArraysAreReadExactly() throws {
        let m = try MotionFeatures(path: dir, dim: 3)
        let one = try m.chunks(for: "v/one.mp4")
        XCTAssertEqual(one.chunks, 1); XCTAssertEqual(one.values, [0.25, -1.5, 3.0])
        let f8 = try m.chunks(for: "v/f8.mp4")
        XCTAssertEqual(f8.chunks, 2); XCTAssertEqual(f8.values, (0..<6).map { Float(Double($0) / 7) })
        let v2 = try m.chunks(for: "v/v2.mp4")
        XCTAssertEqual(v2.chunks, 3); XCTAssertEqual(v2.values, (0..<9).map { Float($0 - 4) })
        XCTAssertEqual(m.storedShape(for: "v/f8.mp4"), [2, 3])
        XCTAssertNil(m.storedShape(for: "v/absent.mp4"))
    }

    func testBadFilesAreRejectedNamingTheFile() throws {
        let m = try MotionFeatures(path: dir, dim: 3)
        let cases = ["nan": "non-finite", "big": "little-endian", "cut": "needs", "neg": "does not fit", "huge": "does not fit"]
        for (name, why) in cases {
            XCTAssertThrowsError(try m.chunks(for: "v/\(name).mp4"), name) {
                XCTAssert("\($0)".contains("v/\(name).mp4.npy") && "\($0)".contains(why), "\(name): \($0)")
            }
        }
        XCTAssertThrowsError(try MotionFeatures(path: dir, dim: 4).chunks(for: "v/one.mp4")) { XCTAssert("\($0)".contains("expected [chunks, 4] or [4]")) }
        XCTAssertThrowsError(try MotionFeatures(path: dir + "/nowhere", dim: 3)) { XCTAssert("\($0)".contains("does not exist")) }
    }

    /// A frame centred at fraction p takes chunk ⌊p·C⌋: with 3 chunks, p = 0.1, 0.34, 0.5, 0.7, 0.99
    /// → 0, 1, 1, 2, 2; a [D] array serves every frame.
    func testFramesTakeTheChunkCoveringTheirCentre() throws {
        let m = try MotionFeatures(path: dir, dim: 3)
        var out = [Float](repeating: .nan, count: 15)
        try m.write(for: "v/v2.mp4", positions: [0.1, 0.34, 0.5, 0.7, 0.99], into: &out)
        let rows: [[Float]] = [[-4, -3, -2], [-1, 0, 1], [2, 3, 4]]
        XCTAssertEqual(out, [0, 1, 1, 2, 2].flatMap { rows[$0] })
        var one = [Float](repeating: .nan, count: 6)
        try m.write(for: "v/one.mp4", positions: [0.2, 0.9], into: &one)
        XCTAssertEqual(one, [0.25, -1.5, 3.0, 0.25, -1.5, 3.0])
    }
}
