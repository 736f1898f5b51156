// Sizes that cannot fit are refused before any work with the estimate and the machine's memory
// (they tried to allocate 10–20 GB and trapped with exit 132/134); landscape --points is bounded.

import Foundation
import XCTest
import TestSupport

final class MemoryLimitTests: XCTestCase {
    func testHugeSizesAreRefusedWithTheEstimate() throws {
        let syn = FaultTests.data + "/syn"
        let base = ["train", "--train-labels", syn + "/labels_train.txt", "--data-root", syn, "--epochs", "1",
                    "--set", "model.options.widths=4,8,8,8", "--out", FaultTests.data + "/mem-refused"]
        for extra in [["--batch-size", "100000"], ["--set", "data.train.sampler.fsize_h=100000"],
                      ["--set", "data.train.sampler.clip_len=100000"]] {
            let r = try CLI.vqa(base + extra)
            XCTAssertEqual(r.status, 1, "\(extra): \(r.stderr)")
            XCTAssertTrue(r.stderr.contains("needs about") && r.stderr.contains("is available (")
                          && r.stderr.contains("lower the batch size"), "\(extra): \(r.stderr)")
            XCTAssertEqual(r.stderr.split(separator: "\n").filter { $0.contains("needs about") }.count, 1, r.stderr)
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: FaultTests.data + "/mem-refused/last.safetensors"))
        let b = try CLI.vqa(["bench", "engine", "--batch", "100000", "--frames", "32", "--size", "224"])
        XCTAssertEqual(b.status, 1, b.stderr)
        XCTAssertTrue(b.stderr.contains("bench engine (batch 100000) needs about"), b.stderr)
        let s = try CLI.vqa(["score", "--checkpoint", FaultTests.good, "--batch-size", "100000000", syn + "/videos/00000.mp4"])
        XCTAssertEqual(s.status, 1, s.stderr)
        XCTAssertTrue(s.stderr.contains("score (batch 100000000 per rank) needs about"), s.stderr)
    }

    func testLandscapePointsAreBounded() throws {
        let r = try CLI.vqa(["landscape", "--checkpoint", FaultTests.good, "--labels", FaultTests.data + "/syn/labels.txt",
                             "--data-root", FaultTests.data + "/syn", "--out", FaultTests.data + "/land-refused", "--points", "1000000", "--dims", "2"])
        XCTAssertEqual(r.status, 64, r.stderr)
        XCTAssertTrue(r.stderr.contains("--points must be in 1...201"), r.stderr)
    }
}
