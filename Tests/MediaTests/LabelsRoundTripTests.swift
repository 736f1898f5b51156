// Regression inputs found by the label-file fuzzer (Fuzz/Sources/fuzz-labels): a parsed file
// written back as a FAST-VQA label file with every path quoted must parse to the same entries.

import XCTest
@testable import Media

final class LabelsRoundTripTests: XCTestCase {
    func rewrite(_ entries: [LabelEntry]) -> String {
        entries.map { e in
            let path = "\"" + e.path.replacingOccurrences(of: "\"", with: "\"\"") + "\""
            return "\(path), \(e.duration.map { "\($0)" } ?? "-1"), \(e.fps.map { "\($0)" } ?? "-1"), \(e.mos)"
        }.joined(separator: "\n")
    }

    /// Valid UTF-8: the path starts with U+073B, a combining mark, so a quote written before it
    /// merges with it into one Character; the field splitter must see the quote (Unicode scalars).
    func testCombiningMarkAfterQuoteRoundTrips() throws {
        let bytes: [UInt8] = [0x6d, 0x70, 0x34, 0x2c, 0x20, 0x2e, 0x30, 0x30, 0x34, 0x2c, 0x20, 0x32, 0x39, 0x2c, 0x20,
                              0x33, 0x2e, 0x32, 0x32, 0x0a, 0xdc, 0xbb, 0x08, 0x7c, 0x34, 0x2c, 0x20, 0x2d, 0x31, 0x2c, 0x20,
                              0x2d, 0x30, 0x2c, 0x20, 0x36, 0x37, 0x2e, 0x37, 0x35, 0x0a]
        let entries = try Labels.parse(data: Data(bytes), source: "fuzz.txt")
        XCTAssertEqual(entries.count, 2)
        let text = rewrite(entries)
        let again = try Labels.parse(text: text, source: "rewritten", format: .fastvqa)
        XCTAssertEqual(again, entries, "\(entries) vs \(again); text: \(Array(text.unicodeScalars).map { $0.value })")
    }
}
