import XCTest
import Foundation
import TestSupport

final class BenchConvCLITests: XCTestCase {
    func testBenchConvPrintsJSONWithSgemmBaseline() throws {
        let r = try CLI.vqa(["bench", "conv", "--input", "2,4,3,12,12", "--weight", "8,4,3,3,3", "--stride", "1,2,2",
                             "--padding", "1,1,1", "--threads", "1", "--reps", "2", "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let obj = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any], r.stdout)
        for key in ["conv3d_forward_gflops", "conv3d_backward_gflops", "conv3d_fwd_bwd_gflops", "sgemm_gflops", "ratio"] {
            XCTAssertGreaterThan(obj[key] as? Double ?? 0, 0, key)
        }
        // Output 3×6×6 per sample: the equivalent GEMM is Cout × N·P × Cin·kvol.
        XCTAssertEqual(obj["gemm_shape"] as? [Int], [8, 2 * 3 * 6 * 6, 4 * 27])
    }

    func testBenchConvRejectsMismatchedChannels() throws {
        let r = try CLI.vqa(["bench", "conv", "--input", "2,4,3,12,12", "--weight", "8,5,3,3,3"])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("input channels"), r.stderr)
    }
}
