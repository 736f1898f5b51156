import XCTest
@testable import Media

final class MediaErrorTests: XCTestCase {
    func testErrorNamesFileAndReason() {
        XCTAssertEqual(String(describing: MediaError("a/b.mp4", "file is empty")), "a/b.mp4: file is empty")
    }
}
