// `vqa-mpi study-table`: aggregates the runs of the regulariser study (scripts/experiments/
// generalization.sh) into results.md — mean ± std over seeds per regularizer setting — or names the
// best run of each kind (--best-runs). The reading and statistics live in Dist/Study*.swift.

import ArgumentParser
import Dist
import Foundation
import Training
import Reports

struct StudyTableCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "study-table",
        abstract: "Tabulate regulariser-study runs (mean ± std over seeds of in-domain/shifted SRCC and PLCC, gap, sharpness).",
        discussion: """
        Each RUN_DIR holds study.json ({"kind", "setting", "seed"}), metrics.jsonl, and optionally eval-train.json \
        (`vqa-mpi eval --json` on the training labels) and sharpness/sharpness.json (`vqa-mpi landscape`).
        """
    )

    @Argument(help: "Run directories.") var runs: [String]
    @Option(help: "Markdown file to write (results.md).") var out: String?
    @Option(name: .customLong("in-domain"), help: "Validation set name of the in-domain test split in metrics.jsonl.") var inDomain = "test"
    @Option(help: "Validation set name of the shifted (cross-dataset) test set in metrics.jsonl.") var shifted = "shifted"
    @Option(help: "Markdown file put verbatim before the tables.") var header: String?
    @Option(help: "Markdown file put verbatim after the tables.") var footer: String?
    @Flag(name: .customLong("best-runs"), help: "Print 'KIND<TAB>RUN_DIR' of the best run (final in-domain SRCC) of each kind instead.") var bestRuns = false

    func validate() throws {
        if runs.isEmpty { throw ValidationError("give at least one RUN_DIR") }
        if out == nil && !bestRuns { throw ValidationError("--out FILE is required (or --best-runs)") }
    }

    func run() throws {
        let loaded: [StudyRun]
        do { loaded = try runs.map { try StudyRun(directory: $0, inDomain: inDomain, shifted: shifted) } } catch {
            throw ValidationError("\(error)")
        }
        if bestRuns {
            for r in StudyTable.bestPerKind(loaded) { print("\(r.kind)\t\(r.directory)") }
            return
        }
        func text(_ path: String?) throws -> String {
            guard let path else { return "" }
            guard let d = FileManager.default.contents(atPath: path) else { throw ValidationError("cannot read \(path)") }
            return String(decoding: d, as: UTF8.self)
        }
        let doc = StudyTable.markdown(loaded, header: try text(header), footer: try text(footer))
        do { try Data(doc.utf8).write(to: URL(fileURLWithPath: out!), options: .atomic) } catch {
            throw ValidationError("cannot write \(out!): \(error.localizedDescription)")
        }
        print(StudyTable.finalTable(StudyTable.groups(loaded)), terminator: "")
        print("wrote \(out!) (\(loaded.count) runs)")
    }
}
