import XCTest
@testable import Media

/// Label fields written by `Labels.quotedField` read back unchanged, including a quote or comma
/// followed by a combining mark (one Swift Character, which Character-level escaping missed:
/// fuzz-labels crash a0940366, a path `…4"\u{33B}…`).
final class LabelsQuoteTests: XCTestCase {
    func testQuotedFieldsRoundTripThroughTheParser() throws {
        let paths = ["/d/plain.mp4", "/d/a,b.mp4", "/d/say \"hi\".mp4", " /d/edge.mp4", "/d/q\"\u{33B}x.mp4",
                     "/d/c,\u{301}d.mp4", "/d/\u{1}Cacte4\"\u{33B}\u{13}04\"\".mp4"]
        let text = paths.enumerated().map { "\(Labels.quotedField($1)), -1, -1, \($0 + 1).5" }.joined(separator: "\n")
        let entries = try Labels.parse(text: text, source: "quoted", format: .fastvqa)
        XCTAssertEqual(entries.map(\.path), paths, text)
        XCTAssertEqual(entries.map(\.mos), [1.5, 2.5, 3.5, 4.5, 5.5, 6.5, 7.5])
    }

    func testFieldsWithoutSpecialScalarsAreLeftAlone() {
        XCTAssertEqual(Labels.quotedField("/d/plain.mp4"), "/d/plain.mp4")
        XCTAssertEqual(Labels.quotedField("q\"\u{33B}"), "\"q\"\"\u{33B}\"")
    }
}
