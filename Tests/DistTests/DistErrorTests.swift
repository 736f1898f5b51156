import XCTest
@testable import Dist

final class DistErrorTests: XCTestCase {
    func testMessage() { XCTAssertEqual(String(describing: DistError("x")), "x") }
}
