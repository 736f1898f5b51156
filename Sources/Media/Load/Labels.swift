import Foundation

// Label files: the FAST-VQA format and CSV with a header.
//
// FAST-VQA (KoNViD-1k, LIVE-VQC, YouTube-UGC, LSVQ, KonIQ-10k as shipped by FAST-VQA):
//   relative/path.mp4, duration_s|-1, fps|-1, MOS
// CSV: a header row; the file column and the score column are found by name (case-insensitive:
// name, filename, file_name, file, video, video_name, image_name, flickr_id / mos, score, dmos,
// mos_score) or given explicitly. Both: spaces around fields, blank lines, CRLF, and lines starting
// with # are ignored; fields may be double-quoted ("a, b.mp4", "" for a quote).

/// One labelled video or image.
public struct LabelEntry: Sendable, Equatable, Codable {
    /// File path (with the data root prefixed when one was given).
    public var path: String
    /// Mean opinion score (or DMOS) as written in the label file.
    public var mos: Double
    /// Duration in seconds, when the label file gives one (nil for -1 or absent).
    public var duration: Double?
    /// Frames per second, when the label file gives one (nil for -1 or absent).
    public var fps: Double?

    /// An entry; duration and fps are optional facts from the label file.
    public init(path: String, mos: Double, duration: Double? = nil, fps: Double? = nil) {
        self.path = path; self.mos = mos; self.duration = duration; self.fps = fps
    }
}

/// Which label-file format to parse.
public enum LabelFormat: String, Codable, CaseIterable, Sendable {
    /// Decide from the first data line: four fields with numbers in fields 2–4 → fastvqa, else csv.
    case auto
    /// `path, duration|-1, fps|-1, MOS` without a header.
    case fastvqa
    /// A header row naming the columns.
    case csv
}

/// Reads label files into LabelEntry lists.
public enum Labels {
    /// Header names recognised as the file column (lower case).
    public static let fileColumnNames = ["name", "filename", "file_name", "file", "video", "video_name", "image_name", "flickr_id"]
    /// Header names recognised as the score column (lower case).
    public static let scoreColumnNames = ["mos", "score", "dmos", "mos_score"]

    /// Reads and parses the label file at `path`; `dataRoot` is prefixed to relative entry paths.
    public static func load(path: String, dataRoot: String? = nil, format: LabelFormat = .auto,
                            fileColumn: String? = nil, scoreColumn: String? = nil) throws -> [LabelEntry] {
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw MediaError(path, "cannot read the label file (\(error.localizedDescription)); check the path")
        }
        return try parse(data: data, source: path, dataRoot: dataRoot, format: format,
                         fileColumn: fileColumn, scoreColumn: scoreColumn)
    }

    /// Parses the bytes of a label file (UTF-8, else Latin-1); errors name `source`.
    public static func parse(data: Data, source: String, dataRoot: String? = nil, format: LabelFormat = .auto,
                             fileColumn: String? = nil, scoreColumn: String? = nil) throws -> [LabelEntry] {
        guard let text = String(data: data, encoding: .utf8) ?? String(data: data, encoding: .isoLatin1) else {
            throw MediaError(source, "the label file is not text")
        }
        return try parse(text: text, source: source, dataRoot: dataRoot, format: format,
                         fileColumn: fileColumn, scoreColumn: scoreColumn)
    }

    /// Parses label-file text; errors name `source`, the line number and what was expected.
    public static func parse(text: String, source: String, dataRoot: String? = nil, format: LabelFormat = .auto,
                             fileColumn: String? = nil, scoreColumn: String? = nil) throws -> [LabelEntry] {
        var lines: [(number: Int, fields: [String])] = []
        // "\r\n" is one Character in Swift, so split on both forms.
        let rawLines = text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" })
        for (i, raw) in rawLines.enumerated() {
            var line = Substring(raw)
            if line.hasSuffix("\r") { line = line.dropLast() }
            if i == 0 && line.hasPrefix("\u{FEFF}") { line = line.dropFirst() }
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty || trimmed.unicodeScalars.first == "#" { continue }
            lines.append((i + 1, try fields(of: trimmed, source: source, line: i + 1)))
        }
        guard let first = lines.first else { throw MediaError(source, "no label lines (only blanks or # comments)") }
        var kind = format
        if kind == .auto {
            let f = first.fields
            kind = f.count == 4 && Double(f[1]) != nil && Double(f[2]) != nil && Double(f[3]) != nil ? .fastvqa : .csv
            if fileColumn != nil || scoreColumn != nil { kind = .csv }
        }
        let entries = kind == .csv
            ? try parseCSV(lines, source: source, dataRoot: dataRoot, fileColumn: fileColumn, scoreColumn: scoreColumn)
            : try parseFastVQA(lines, source: source, dataRoot: dataRoot)
        guard !entries.isEmpty else { throw MediaError(source, "the label file has a header but no entries") }
        return entries
    }

    static func parseFastVQA(_ lines: [(number: Int, fields: [String])], source: String, dataRoot: String?) throws -> [LabelEntry] {
        try lines.map { line in
            let f = line.fields
            guard f.count == 4 else {
                throw MediaError(source, "line \(line.number): expected 4 comma-separated fields `path, duration|-1, fps|-1, MOS`, got \(f.count)")
            }
            guard !f[0].isEmpty else { throw MediaError(source, "line \(line.number): empty file path") }
            func optional(_ s: String, _ what: String) throws -> Double? {
                guard let v = Double(s), v.isFinite else {
                    throw MediaError(source, "line \(line.number): \(what) '\(s)' is not a number (use -1 when unknown)")
                }
                return v < 0 ? nil : v
            }
            let duration = try optional(f[1], "duration"), fps = try optional(f[2], "fps")
            guard let mos = Double(f[3]), mos.isFinite else {
                throw MediaError(source, "line \(line.number): MOS '\(f[3])' is not a number")
            }
            try checkScale(mos, f[3], source: source, line: line.number)
            return LabelEntry(path: join(dataRoot, f[0]), mos: mos, duration: duration, fps: fps)
        }
    }

    static func parseCSV(_ lines: [(number: Int, fields: [String])], source: String, dataRoot: String?,
                         fileColumn: String?, scoreColumn: String?) throws -> [LabelEntry] {
        let header = lines[0].fields.map { $0.lowercased() }
        func column(_ explicit: String?, _ names: [String], _ what: String, _ flag: String) throws -> Int {
            if let e = explicit {
                guard let i = header.firstIndex(of: e.lowercased()) else {
                    throw MediaError(source, "line \(lines[0].number): no \(what) column '\(e)' in the header (columns: \(lines[0].fields.joined(separator: ", ")))")
                }
                return i
            }
            for n in names { if let i = header.firstIndex(of: n) { return i } }
            throw MediaError(source, "line \(lines[0].number): no \(what) column in the header (columns: \(lines[0].fields.joined(separator: ", "))); expected one of \(names.joined(separator: ", ")) or name it with \(flag)")
        }
        let fileIndex = try column(fileColumn, fileColumnNames, "file", "--file-column")
        let scoreIndex = try column(scoreColumn, scoreColumnNames, "score", "--score-column")
        return try lines.dropFirst().map { line in
            let f = line.fields
            guard f.count == header.count else {
                throw MediaError(source, "line \(line.number): expected \(header.count) fields as in the header, got \(f.count)")
            }
            guard !f[fileIndex].isEmpty else { throw MediaError(source, "line \(line.number): empty \(lines[0].fields[fileIndex])") }
            guard let mos = Double(f[scoreIndex]), mos.isFinite else {
                throw MediaError(source, "line \(line.number): \(lines[0].fields[scoreIndex]) '\(f[scoreIndex])' is not a number")
            }
            try checkScale(mos, f[scoreIndex], source: source, line: line.number)
            return LabelEntry(path: join(dataRoot, f[fileIndex]), mos: mos)
        }
    }

    /// Splits one line into comma-separated fields, honouring double quotes; trims unquoted space.
    /// Works on Unicode scalars, not Characters: a combining mark after a quote or comma (valid
    /// UTF-8, found by the fuzzer) would otherwise merge with it into one grapheme and hide it.
    static func fields(of line: String, source: String, line number: Int) throws -> [String] {
        var out: [String] = []
        var field = String.UnicodeScalarView()
        var quoted = false, wasQuoted = false
        var it = line.unicodeScalars.makeIterator()
        var pending: Unicode.Scalar? = nil
        func blank(_ v: String.UnicodeScalarView) -> Bool { v.allSatisfy { $0.properties.isWhitespace } }
        func finish() -> String {
            let s = String(field)
            return wasQuoted ? s : s.trimmingCharacters(in: .whitespaces)
        }
        while let ch = pending ?? it.next() {
            pending = nil
            if quoted {
                if ch == "\"" {
                    if let next = it.next() {
                        if next == "\"" { field.append("\"") } else { quoted = false; pending = next }
                    } else { quoted = false }
                } else { field.append(ch) }
            } else if ch == "\"" && blank(field) && !wasQuoted {
                field = String.UnicodeScalarView(); quoted = true; wasQuoted = true
            } else if ch == "," {
                out.append(finish())
                field = String.UnicodeScalarView(); wasQuoted = false
            } else if wasQuoted {
                if !ch.properties.isWhitespace {
                    throw MediaError(source, "line \(number): text after a closing quote; quote the whole field")
                }
            } else { field.append(ch) }
        }
        if quoted { throw MediaError(source, "line \(number): unterminated quote") }
        out.append(finish())
        return out
    }

    /// Largest |MOS| accepted. Labels become Float and are z-scored over a batch (squares summed):
    /// far below where that overflows, far above any quality scale (1–5, 0–100, DMOS).
    static let maxAbsScore = 1e6

    /// Refuses a score whose magnitude would overflow the Float loss arithmetic.
    static func checkScale(_ mos: Double, _ text: String, source: String, line: Int) throws {
        guard abs(mos) <= maxAbsScore else {
            throw MediaError(source, "line \(line): score '\(text)' is outside ±\(Int(maxAbsScore)) (quality scales are 1–5 or 0–100); "
                             + "rescale the scores, such values overflow the loss (NaN)")
        }
    }

    /// Refuses two or more entries whose scores are all equal: the correlation losses and metrics
    /// need variance (a single entry is a list of files to check or score, not a training set).
    public static func requireVariance(_ entries: [LabelEntry], source: String) throws {
        guard entries.count >= 2, let first = entries.first?.mos, entries.allSatisfy({ $0.mos == first }) else { return }
        throw MediaError(source, "labels have no variance; PLCC/rank loss are undefined (all \(entries.count) scores are \(first)); "
                         + "check the score column")
    }

    /// `root/path` unless root is empty or path is absolute.
    static func join(_ root: String?, _ path: String) -> String {
        guard let root, !root.isEmpty, !path.hasPrefix("/") else { return path }
        return root.hasSuffix("/") ? root + path : root + "/" + path
    }
}
