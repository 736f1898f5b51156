// `vqa-mpi synth` at small frame sizes: the same seed gives the same bytes from run to run, and the
// generator never reads memory it did not write (valgrind memcheck as the outside oracle).
//
// The defect this pins: swscale's SIMD input converters read past the last pixel of an RGB24 line,
// and our frame buffers had no slack after the last row. At 64×48 those buffers live on the malloc
// heap, so the bytes read belonged to another allocation (free-list pointers that move with ASLR),
// and on a fresh machine videos 1 and 2 of `--videos 3 --seed 77 --width 64 --height 48` differed
// between two runs. Whether the stray bytes change the output depends on the CPU's code path;
// the invalid read itself does not, so memcheck catches it on every x86-64 machine.

import XCTest
import Foundation
import TestSupport

final class SynthDeterminismTests: XCTestCase {
    private let small = ["--videos", "3", "--seed", "77", "--width", "64", "--height", "48", "--frames", "6",
                         "--fps", "12", "--threads", "1"]

    /// The reproduction: the CLI twice in fresh processes, every file byte-identical.
    func testSmallFramesGiveTheSameBytesInTwoRuns() throws {
        let a = try TempDir.newPath("synth-det-a", for: self).path, b = try TempDir.newPath("synth-det-b", for: self).path
        for dir in [a, b] {
            let r = try CLI.vqa(["synth", "--out", dir] + small)
            XCTAssertEqual(r.status, 0, r.stderr)
        }
        let files = ["labels_train.txt", "labels_test.txt", "labels.txt", "distortions.csv",
                     "videos/00000.mp4", "videos/00001.mp4", "videos/00002.mp4"]
        for f in files {
            XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: a + "/" + f)),
                           try Data(contentsOf: URL(fileURLWithPath: b + "/" + f)), f)
        }
    }

    /// memcheck over the same command: no invalid read and no uninitialised byte may reach a
    /// branch or the written files. Every distortion runs (blur, scaling, banding, noise, stutter,
    /// compression) across the three videos, so every swscale context the generator makes is used.
    func testSynthReadsNoMemoryItDidNotWrite() throws {
        let valgrind = try requireTool("valgrind"), strip = try requireTool("strip")
        // valgrind 3.19 cannot read the DWARF 5 that Swift 6 emits; a stripped copy runs the same code.
        let copy = try TempDir.newPath("synth-det-bin", for: self).path, out = try TempDir.newPath("synth-det-vg", for: self).path
        let s = try CLI.run(strip, ["-o", copy, try CLI.requireBinary()])
        XCTAssertEqual(s.status, 0, s.stderr)
        let r = try CLI.run(valgrind, ["--error-exitcode=97", "--track-origins=yes", copy, "synth", "--out", out] + small)
        let errors = r.stderr.split(separator: "\n").filter {
            $0.contains("Invalid read") || $0.contains("Invalid write") || $0.contains("uninitialised")
        }
        XCTAssertEqual(errors, [], "memcheck found reads of memory the generator never wrote:\n\(r.stderr.suffix(4000))")
        XCTAssertEqual(r.status, 0, r.stderr.suffix(4000).description)
        XCTAssertTrue(FileManager.default.fileExists(atPath: out + "/videos/00002.mp4"))
    }
}
