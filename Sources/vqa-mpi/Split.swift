// `vqa-mpi split`: seeded random train/test splits of one whole-set label file (FAST-VQA's run-time
// protocol for KoNViD-1k, LIVE-VQC, YouTube-UGC: several random 80/20 splits), written as label
// files. With a grouping (a scene column or a path pattern) whole groups go to one side, so the
// versions of one scene never straddle the split. Splits come from Media's Splits (seeded MediaRNG).

import ArgumentParser
import Foundation
import Media

struct SplitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "split",
        abstract: "Split a label file into seeded random train/test label files (K repeats: split-NN/).",
        discussion: """
        Writes OUT/labels_train.txt and OUT/labels_test.txt (FAST-VQA lines, paths as listed), or with
        --repeats K > 1 OUT/split-01/ ... OUT/split-K/ each holding both files. Split i depends only on
        (--seed, i): re-running gives the same files. With --group-column (a column of --groups, or of
        the label file itself when it is a CSV) or --group-pattern, --ratio applies to groups and every
        group lands on one side.
        """
    )

    @Option(help: "Whole-set label file (FAST-VQA lines or CSV with a header).") var labels: String
    @Option(help: "Output directory (created if missing).") var out: String
    @Option(help: "Share of entries (or groups) in the training side, in (0, 1).") var ratio = 0.8
    @Option(help: "Seed of the split(s).") var seed: UInt64 = 42
    @Option(help: "Number of independent splits (K > 1 writes split-01 ... split-K).") var repeats = 1
    @Option(name: .customLong("group-column"), help: "Column naming each entry's group (scene): versions of one group stay on one side.") var groupColumn: String?
    @Option(help: "CSV with a file column and --group-column (default: the label file), e.g. synth's distortions.csv.") var groups: String?
    @Option(name: .customLong("group-pattern"), help: "Regular expression on the path whose first capture group names the group, e.g. '^(.*)_v[0-9]+\\.mp4$'.") var groupPattern: String?

    func validate() throws {
        if !(ratio > 0 && ratio < 1) { throw ValidationError("--ratio must be strictly between 0 and 1, got \(ratio)") }
        if repeats < 1 { throw ValidationError("--repeats must be at least 1, got \(repeats)") }
        if repeats > 99 { throw ValidationError("--repeats must be at most 99 (split-NN directories), got \(repeats)") }
        if groupColumn != nil && groupPattern != nil { throw ValidationError("--group-column and --group-pattern exclude each other; pass one") }
        if groups != nil && groupColumn == nil { throw ValidationError("--groups needs --group-column (the column of FILE naming the group)") }
    }

    func run() throws {
        let entries = try Labels.load(path: labels)
        guard entries.count >= 2 else { throw MediaError(labels, "\(entries.count) entr\(entries.count == 1 ? "y" : "ies"); a split needs at least 2") }
        let keys = try groupKeys(entries)
        let splits = try LabelSplitter.split(entries, groups: keys, ratio: ratio, seed: seed, repeats: repeats)
        let groupCount = Set(keys ?? entries.map(\.path)).count
        for (i, s) in splits.enumerated() {
            let dir = repeats == 1 ? out : (out as NSString).appendingPathComponent(String(format: "split-%02d", i + 1))
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            for (name, part) in [("labels_train.txt", s.train), ("labels_test.txt", s.test)] {
                let path = (dir as NSString).appendingPathComponent(name)
                do { try Data(LabelSplitter.text(part).utf8).write(to: URL(fileURLWithPath: path), options: .atomic) } catch {
                    throw MediaError(path, "cannot write (\(error.localizedDescription)); check the directory's permissions and free space")
                }
            }
            print("\(dir): train \(s.train.count), test \(s.test.count)")
        }
        let unit = keys == nil ? "" : " over \(groupCount) groups"
        print("\(entries.count) entries\(unit), ratio \(ratio), seed \(seed), \(repeats) split(s); train with --train-labels DIR/labels_train.txt --val-labels DIR/labels_test.txt")
    }

    /// Each entry's group key, or nil without a grouping.
    func groupKeys(_ entries: [LabelEntry]) throws -> [String]? {
        if let pattern = groupPattern {
            let re: NSRegularExpression
            do { re = try NSRegularExpression(pattern: pattern) } catch { throw ValidationError("--group-pattern '\(pattern)' is not a valid regular expression (\(error.localizedDescription))") }
            guard re.numberOfCaptureGroups >= 1 else { throw ValidationError("--group-pattern '\(pattern)' needs a capture group ( ... ) naming the group") }
            return try entries.map { e in
                let ns = e.path as NSString
                guard let m = re.firstMatch(in: e.path, range: NSRange(location: 0, length: ns.length)), m.range(at: 1).location != NSNotFound else {
                    throw MediaError(e.path, "does not match --group-pattern '\(pattern)'; every path needs a group")
                }
                return ns.substring(with: m.range(at: 1))
            }
        }
        guard let column = groupColumn else { return nil }
        let file = groups ?? labels
        let table = try GroupTable(path: file, column: column)
        return try entries.map { e in
            guard let g = table.group(of: e.path) else {
                throw MediaError(file, "no row for \(e.path) (matched by path, then by file name); every entry of \(labels) needs a group")
            }
            return g
        }
    }
}
