// scripts/convert/simplevqa_motion_to_npy.py end to end: SlowFast feature folders in SimpleVQA's
// layout written by numpy here, converted by the script, read back by our MotionFeatures reader.
// Checks the [slow, fast] order per chunk, the chunk count, both folder-naming conventions, the CSV
// header skip, and that a video without features is reported (exit 1) while the others are written.

import XCTest
import Foundation
@testable import Engine
import TestSupport

final class MotionConverterTests: XCTestCase {
    var dir = ""
    /// The converter.
    let script = Repo.root.appendingPathComponent("scripts/convert/simplevqa_motion_to_npy.py").path

    override func setUpWithError() throws {
        dir = try TempDir.make("motion-convert", for: self).path
        // Chunk k of a video: slow[i] = 10000·k + i (2048 values), fast[j] = −(10000·k + j) (256 values);
        // integers, exact in float32. clipA is stored under its base name without extension (3 chunks),
        // sub/clipB.mp4 under its full relative path (1 chunk); videos/none.mp4 has no folder.
        let setup = """
        import os, sys, numpy as np
        d = sys.argv[1]
        def write(folder, chunks):
            os.makedirs(os.path.join(d, 'src', folder), exist_ok=True)
            for k in range(chunks):
                np.save(os.path.join(d, 'src', folder, f'feature_{k}_slow_feature.npy'), (10000 * k + np.arange(2048)).astype(np.float32).reshape(1, 2048))
                np.save(os.path.join(d, 'src', folder, f'feature_{k}_fast_feature.npy'), -(10000 * k + np.arange(256)).astype(np.float32))
        write('clipA', 3)
        write('sub/clipB.mp4', 1)
        open(os.path.join(d, 'labels.csv'), 'w').write('video_name,duration,fps,mos\\nvideos/clipA.mp4, 8.0, 30, 3.2\\nsub/clipB.mp4, 4.0, 25, 2.1\\nvideos/none.mp4, 5.0, 30, 1.5\\n')
        """
        try Python.require(modules: ["numpy"])
        let r = try Python.run(["-c", setup, dir])
        guard r.status == 0 else { throw TestSupportError("writing SimpleVQA's feature folders failed: \(r.stderr)") }
    }

    func testConvertedFeaturesReadBackAsSlowThenFastPerChunk() throws {
        let r = try Python.run([script, dir + "/src", dir + "/labels.csv", dir + "/out"])
        XCTAssertEqual(r.status, 1, "one video has no features: \(r.stdout) \(r.stderr)")
        XCTAssertTrue(r.stdout.contains("wrote 2 of 3"), r.stdout)
        XCTAssertTrue(r.stderr.contains("videos/none.mp4"), r.stderr)

        let m = try MotionFeatures(path: dir + "/out", dim: 2304)
        func expected(chunks: Int) -> [Float] {
            var v: [Float] = []
            for k in 0..<chunks {
                for i in 0..<2048 { v.append(Float(10000 * k + i)) }
                for j in 0..<256 { v.append(-Float(10000 * k + j)) }
            }
            return v
        }
        let a = try m.chunks(for: "videos/clipA.mp4")
        XCTAssertEqual(a.chunks, 3)
        XCTAssertTrue(a.values == expected(chunks: 3), "clipA starts \(a.values.prefix(3)), its fast part \(a.values[2048..<2051])")
        let b = try m.chunks(for: "sub/clipB.mp4")
        XCTAssertEqual(b.chunks, 1)
        XCTAssertTrue(b.values == expected(chunks: 1), "clipB starts \(b.values.prefix(3)), its fast part \(b.values[2048..<2051])")
        XCTAssertThrowsError(try m.chunks(for: "videos/none.mp4"))
        // Frames take the chunk covering their centre: 6 frames over 3 chunks → chunks 0, 0, 1, 1, 2, 2.
        let frames = try m.perFrame(for: "videos/clipA.mp4", frames: 6)
        XCTAssertEqual(frames.count, 6 * 2304)
        XCTAssertEqual(stride(from: 0, to: frames.count, by: 2304).map { frames[$0] }, [0, 0, 10000, 10000, 20000, 20000])
    }
}
