import XCTest
@testable import Media
import TestSupport

final class LabelsTests: XCTestCase {
    func testFastVQAFormatToleratesSpacesBlankLinesCRLFAndComments() throws {
        let text = "# KoNViD-1k labels\r\n4542323058.mp4, 8.008, 29.97002997002997, 3.22\r\n\r\n  yfcc-batch1/747.mp4 ,-1, -1 ,67.75  \r\n"
        let e = try Labels.parse(text: text, source: "labels.txt", dataRoot: "/data/kv")
        XCTAssertEqual(e, [
            LabelEntry(path: "/data/kv/4542323058.mp4", mos: 3.22, duration: 8.008, fps: 29.97002997002997),
            LabelEntry(path: "/data/kv/yfcc-batch1/747.mp4", mos: 67.75, duration: nil, fps: nil),
        ])
        XCTAssertEqual(try Labels.parse(text: "a.mp4,1,2,3", source: "x", dataRoot: "/r/")[0].path, "/r/a.mp4")
        XCTAssertEqual(try Labels.parse(text: "/abs/a.mp4,1,2,3", source: "x", dataRoot: "/r")[0].path, "/abs/a.mp4")
    }

    func testCSVFindsColumnsByNameAndHonoursQuotes() throws {
        let text = "image_name,c1,MOS,SD\n\"a, b.jpg\",x,3.5,0.2\nc.jpg, y ,4.25,0.1\n"
        let e = try Labels.parse(text: text, source: "koniq.csv")
        XCTAssertEqual(e.map(\.path), ["a, b.jpg", "c.jpg"])
        XCTAssertEqual(e.map(\.mos), [3.5, 4.25])
        XCTAssertNil(e[0].duration)
        let explicit = try Labels.parse(text: "vid,q,z\n\"say \"\"hi\"\".mp4\",1.5,2\n", source: "o.csv",
                                        fileColumn: "vid", scoreColumn: "Z")
        XCTAssertEqual(explicit, [LabelEntry(path: "say \"hi\".mp4", mos: 2)])
        for header in ["filename,dmos", "video_name,mos_score", "flickr_id,score", "Name,Mos"] {
            XCTAssertEqual(try Labels.parse(text: header + "\nv.mp4,1\n", source: "s.csv")[0].mos, 1)
        }
    }

    func testErrorsNameFileLineAndExpectation() {
        func message(_ text: String, _ format: LabelFormat = .auto, file: String? = nil) -> String {
            do { _ = try Labels.parse(text: text, source: "set/labels.txt", format: format, fileColumn: file); return "" } catch { return "\(error)" }
        }
        let fields = message("a.mp4,1,2,3\n# c\nb.mp4,1,2\n", .fastvqa)
        XCTAssertTrue(fields.hasPrefix("set/labels.txt: line 3:"), fields)
        XCTAssertTrue(fields.contains("expected 4"), fields)
        let mos = message("a.mp4,1,2,3\nb.mp4,1,2,good\n", .fastvqa)
        XCTAssertTrue(mos.contains("line 2") && mos.contains("'good'"), mos)
        let column = message("path,rating\nv.mp4,3\n")
        XCTAssertTrue(column.contains("no file column") && column.contains("path, rating") && column.contains("--file-column"), column)
        let quote = message("name,mos\n\"v.mp4,3\n")
        XCTAssertTrue(quote.contains("line 2") && quote.contains("unterminated quote"), quote)
        XCTAssertTrue(message("\n# only\n").contains("no label lines"))
        let missing = message("name,mos\nv.mp4,3\n", file: "clip")
        XCTAssertTrue(missing.contains("'clip'"), missing)
        XCTAssertThrowsError(try Labels.load(path: "/nonexistent/labels.txt")) { XCTAssertTrue("\($0)".hasPrefix("/nonexistent/labels.txt: ")) }
    }

    func testLoadReadsAFileFromDisk() throws {
        let url = try TempDir.make("labels", for: self).appendingPathComponent("labels.txt")
        try "x.mp4, -1, -1, 1.5\n".write(to: url, atomically: true, encoding: .utf8)
        XCTAssertEqual(try Labels.load(path: url.path, dataRoot: "root"), [LabelEntry(path: "root/x.mp4", mos: 1.5)])
    }

    func entries(_ n: Int) -> [LabelEntry] { (0..<n).map { LabelEntry(path: "v\($0).mp4", mos: Double($0)) } }

    func testRatioSplitIsDeterministicDisjointAndComplete() throws {
        let all = entries(1200)
        let a = try Splits.ratio(all), b = try Splits.ratio(all)
        XCTAssertEqual(a, b)
        XCTAssertEqual(a.train.count, 960); XCTAssertEqual(a.test.count, 240)
        XCTAssertTrue(Set(a.train.map(\.path)).isDisjoint(with: a.test.map(\.path)))
        XCTAssertEqual(Set(a.train.map(\.path) + a.test.map(\.path)).count, 1200)
        XCTAssertEqual(a.test.map(\.mos), a.test.map(\.mos).sorted(), "label-file order is kept")
        XCTAssertNotEqual(try Splits.ratio(all, seed: 43).test, a.test)
        XCTAssertNotEqual(a.test.map(\.path), Array(all.suffix(240)).map(\.path), "the split must be shuffled")
    }

    func testRepeatedSplitsDifferAndStartWithTheRatioSplit() throws {
        let all = entries(50)
        let k = try Splits.repeated(all, count: 5, trainFraction: 0.8, seed: 42)
        XCTAssertEqual(k.count, 5)
        XCTAssertEqual(k[0], try Splits.ratio(all))
        XCTAssertEqual(Set(k.map { $0.test.map(\.path).joined() }).count, 5)
        XCTAssertEqual(k, try Splits.repeated(all, count: 5, seed: 42))
        XCTAssertThrowsError(try Splits.ratio(entries(1)))
        XCTAssertThrowsError(try Splits.ratio(all, trainFraction: 1))
    }

    func testExplicitSplitRejectsSharedFiles() throws {
        let all = entries(4)
        XCTAssertEqual(try Splits.explicit(train: Array(all[0..<3]), test: [all[3]]).test, [all[3]])
        XCTAssertThrowsError(try Splits.explicit(train: Array(all[0..<3]), test: [all[2]])) {
            XCTAssertTrue("\($0)".hasPrefix("v2.mp4: listed in both"), "\($0)")
        }
    }
}
