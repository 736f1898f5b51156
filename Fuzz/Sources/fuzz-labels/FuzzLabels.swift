// libFuzzer target: label-file bytes → Labels.parse(data:) → Splits.
//
// Input layout: byte 0 chooses the options (bits 0–1 format auto/fastvqa/csv, bit 2 a data root,
// bit 3 explicit column names "name"/"mos"); the rest is the file. Thrown MediaErrors are the
// expected outcome for bad input; anything else (a trap, an invariant broken below) is a crash.
// Properties checked on success: entries non-empty, finite MOS, duration/fps absent or finite
// and ≥ 0, non-empty paths under the data root; re-writing the entries as a FAST-VQA label file
// (every path quoted) parses back to the same entries; a ratio split keeps every entry once.

import CFuzzDriver
import Foundation
import Media

@main
enum FuzzLabels {
    static func main() {
        exit(fuzz_run(CommandLine.argc, CommandLine.unsafeArgv) { data, size in fuzzLabels(data, size) })
    }
}

/// One libFuzzer input: 0 whatever the outcome; a broken property traps.
func fuzzLabels(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data else { return 0 }
    guard size >= 1 else { return 0 }
    let options = data[0]
    let body = Data(UnsafeBufferPointer(start: data + 1, count: size - 1))
    let formats: [LabelFormat] = [.auto, .fastvqa, .csv, .auto]
    let root: String? = options & 4 != 0 ? "root/dir" : nil
    let explicit = options & 8 != 0
    let entries: [LabelEntry]
    do {
        entries = try Labels.parse(data: body, source: "fuzz.txt", dataRoot: root, format: formats[Int(options & 3)],
                                   fileColumn: explicit ? "name" : nil, scoreColumn: explicit ? "mos" : nil)
    } catch is MediaError {
        return 0
    } catch {
        fatalError("Labels.parse threw a non-MediaError: \(error)")
    }
    check(entries, root: root)
    return 0
}

func check(_ entries: [LabelEntry], root: String?) {
    precondition(!entries.isEmpty, "parse returned no entries without throwing")
    for e in entries {
        precondition(e.mos.isFinite, "non-finite MOS \(e.mos)")
        for v in [e.duration, e.fps] { if let v { precondition(v.isFinite && v >= 0, "bad duration/fps \(v)") } }
        precondition(!e.path.isEmpty, "empty path")
        // Byte prefixes: a path starting with a combining mark merges with the root's "/" into one Character.
        if let root, !e.path.hasPrefix("/") { precondition(e.path.utf8.starts(with: (root + "/").utf8), "path \(e.path) not under \(root)") }
    }
    // Round trip through the FAST-VQA format with every path quoted.
    let text = entries.map { e in
        // Every path quoted, inner quotes doubled per Unicode scalar (a quote followed by a combining
        // mark is one Character: Character-level replacement would miss it).
        var quoted = String.UnicodeScalarView()
        quoted.append("\"")
        for c in e.path.unicodeScalars { quoted.append(c); if c == "\"" { quoted.append("\"") } }
        quoted.append("\"")
        let path = String(quoted)
        return "\(path), \(e.duration.map { "\($0)" } ?? "-1"), \(e.fps.map { "\($0)" } ?? "-1"), \(e.mos)"
    }.joined(separator: "\n")
    do {
        let again = try Labels.parse(text: text, source: "rewritten", format: .fastvqa)
        precondition(again == entries, "rewritten label file parses to other entries:\n\(text)")
    } catch {
        fatalError("rewritten label file does not parse (\(error)):\n\(text)")
    }
    if entries.count >= 2 {
        do {
            let split = try Splits.ratio(entries)
            precondition(split.train.count + split.test.count == entries.count && !split.train.isEmpty && !split.test.isEmpty,
                         "split lost entries")
        } catch { fatalError("a ratio split of \(entries.count) entries failed: \(error)") }
    }
}
