import XCTest
@testable import Dist
@testable import Training

final class ProgressTests: XCTestCase {
    /// The bar is drawn only on a terminal outside a launcher, unless VQA_PROGRESS says otherwise.
    func testBarOnlyOnTerminalOutsideLauncher() {
        XCTAssertTrue(Progress.useBar(isTTY: true, environment: [:]))
        XCTAssertFalse(Progress.useBar(isTTY: false, environment: [:]))
        XCTAssertFalse(Progress.useBar(isTTY: true, environment: ["OMPI_COMM_WORLD_SIZE": "2"]))
        XCTAssertFalse(Progress.useBar(isTTY: true, environment: ["SLURM_PROCID": "0"]))
        XCTAssertTrue(Progress.useBar(isTTY: false, environment: ["OMPI_COMM_WORLD_SIZE": "2", "VQA_PROGRESS": "bar"]))
        XCTAssertFalse(Progress.useBar(isTTY: true, environment: ["VQA_PROGRESS": "lines"]))
    }
}
