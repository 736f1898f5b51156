// The pieces of `vqa-mpi split`: grouped seeded splits over Media's Splits, the label-file text
// they write, and the group table read from a CSV column.

import Foundation
import Media

enum LabelSplitter {
    /// `repeats` seeded splits of `entries`. Without groups: Splits.repeated on the entries. With
    /// groups: Splits.repeated on the distinct groups (in first-appearance order), each entry
    /// following its group, so no group is on both sides; entries keep their input order.
    static func split(_ entries: [LabelEntry], groups: [String]?, ratio: Double, seed: UInt64, repeats: Int) throws -> [Split] {
        guard let groups else { return try Splits.repeated(entries, count: repeats, trainFraction: ratio, seed: seed) }
        var order: [String] = [], seen = Set<String>()
        for g in groups where seen.insert(g).inserted { order.append(g) }
        guard order.count >= 2 else {
            throw MediaError("split", "all \(entries.count) entries are in one group ('\(order.first ?? "")'); a grouped split needs at least 2 groups")
        }
        let units = order.map { LabelEntry(path: $0, mos: 0) }
        return try Splits.repeated(units, count: repeats, trainFraction: ratio, seed: seed).map { s in
            let train = Set(s.train.map(\.path))
            let pairs = zip(entries, groups)
            return Split(train: pairs.filter { train.contains($0.1) }.map { $0.0 }, test: pairs.filter { !train.contains($0.1) }.map { $0.0 })
        }
    }

    /// FAST-VQA label lines `path, duration|-1, fps|-1, MOS` (paths with a comma, quote or edge
    /// space double-quoted; numbers in their shortest exact form).
    static func text(_ entries: [LabelEntry]) -> String {
        entries.map { e in
            let path = Labels.quotedField(e.path)
            return "\(path), \(e.duration.map { "\($0)" } ?? "-1"), \(e.fps.map { "\($0)" } ?? "-1"), \(e.mos)\n"
        }.joined()
    }
}

/// file → group from a CSV with a header: the file column is the first of Labels.fileColumnNames
/// present, the group column is named by the user.
struct GroupTable {
    private var byPath: [String: String] = [:]
    private var byName: [String: [String]] = [:]

    init(path: String, column: String) throws {
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
            throw MediaError(path, "cannot read the group table (\(error.localizedDescription))")
        }
        let lines = text.split(whereSeparator: \.isNewline).map(String.init).filter { !$0.trimmingCharacters(in: .whitespaces).isEmpty }
        guard let head = lines.first else { throw MediaError(path, "empty file; expected a CSV header with a file column and '\(column)'") }
        let header = GroupTable.fields(head).map { $0.lowercased() }
        guard let g = header.firstIndex(of: column.lowercased()) else {
            throw MediaError(path, "no column '\(column)' (columns: \(header.joined(separator: ", "))); pass --group-column with one of them")
        }
        guard let f = Labels.fileColumnNames.compactMap({ header.firstIndex(of: $0) }).first else {
            throw MediaError(path, "no file column (one of \(Labels.fileColumnNames.joined(separator: ", "))); columns: \(header.joined(separator: ", "))")
        }
        for (n, line) in lines.dropFirst().enumerated() {
            let v = GroupTable.fields(line)
            guard v.count > max(f, g) else { throw MediaError(path, "line \(n + 2): \(v.count) fields, the header has \(header.count)") }
            byPath[v[f]] = v[g]
            byName[(v[f] as NSString).lastPathComponent, default: []].append(v[g])
        }
    }

    /// The group of a label path: by the exact path, else by a unique file name.
    func group(of path: String) -> String? {
        if let g = byPath[path] { return g }
        let hits = byName[(path as NSString).lastPathComponent] ?? []
        return hits.count == 1 ? hits[0] : nil
    }

    /// One CSV line's fields: commas split, double quotes group ("" is a quote), unquoted edges trimmed.
    static func fields(_ line: String) -> [String] {
        var out: [String] = [], cur = "", quoted = false, wasQuoted = false
        var it = Array(line).makeIterator()
        var pending: Character? = nil
        while let c = pending ?? it.next() {
            pending = nil
            if quoted {
                if c == "\"" {
                    if let n = it.next() { if n == "\"" { cur.append("\"") } else { quoted = false; pending = n } } else { quoted = false }
                } else { cur.append(c) }
            } else if c == "\"" { quoted = true; wasQuoted = true
            } else if c == "," { out.append(wasQuoted ? cur : cur.trimmingCharacters(in: .whitespaces)); cur = ""; wasQuoted = false
            } else { cur.append(c) }
        }
        out.append(wasQuoted ? cur : cur.trimmingCharacters(in: .whitespaces))
        return out
    }
}
