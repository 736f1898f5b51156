// `vqa-mpi report`: train/test SRCC and PLCC per epoch of several runs side by side, with the
// generalisation gap, as one SVG; a summary table on stdout.
//
// Input: RUN_DIR/metrics.jsonl, one JSON object per epoch. Nested objects are flattened to dotted
// keys, so {"train": {"srcc": x}} and {"train.srcc": x} are the same. Read: `epoch` (else the line
// number), `train.srcc`, `train.plcc`, and per validation set `val.<name>.srcc` / `.plcc`
// (`test.<name>.*` too; a bare `val.srcc` is the set "val"). Unknown keys are ignored.

import ArgumentParser
import Dist
import Foundation
import Training
import Reports

struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Plot train/test SRCC and PLCC per epoch of several runs (from RUN_DIR/metrics.jsonl) with the generalisation gap."
    )

    @Argument(help: "Run directories, each with a metrics.jsonl.") var runs: [String]
    @Option(help: "Output SVG file.") var out: String

    func validate() throws {
        if runs.isEmpty { throw ValidationError("give at least one RUN_DIR containing metrics.jsonl") }
    }

    func run() throws {
        let metrics = try runs.map { try RunMetrics(directory: $0) }
        let svg = RunMetrics.svg(metrics)
        do { try Data(svg.utf8).write(to: URL(fileURLWithPath: out), options: .atomic) } catch {
            throw ValidationError("cannot write \(out): \(error.localizedDescription)")
        }
        print(RunMetrics.table(metrics))
        print("wrote \(out)")
    }
}

/// Per-epoch train and validation metrics of one run.
struct RunMetrics {
    let name: String
    var epochs: [Double] = []
    var trainSRCC: [Double] = [], trainPLCC: [Double] = []
    /// Validation set name → per-epoch values (NaN where an epoch lacks them).
    var valSRCC: [String: [Double]] = [:], valPLCC: [String: [Double]] = [:]

    /// Reads DIR/metrics.jsonl; a malformed line is an error naming the file and line.
    init(directory: String) throws {
        name = (directory as NSString).standardizingPath.split(separator: "/").last.map(String.init) ?? directory
        let path = (directory as NSString).appendingPathComponent("metrics.jsonl")
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ValidationError("\(path) is missing or unreadable; pass run directories written by `vqa-mpi train`")
        }
        var rows: [[String: Double]] = []
        for (n, line) in String(decoding: data, as: UTF8.self).split(whereSeparator: \.isNewline).enumerated() {
            let text = line.trimmingCharacters(in: .whitespaces)
            if text.isEmpty { continue }
            guard let obj = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] else {
                throw ValidationError("\(path):\(n + 1): not a JSON object: \(text.prefix(80))")
            }
            var flat: [String: Double] = [:]
            Self.flatten(obj, prefix: "", into: &flat)
            rows.append(flat)
        }
        if rows.isEmpty { throw ValidationError("\(path) has no epochs") }
        var names = Set<String>()
        for r in rows { for k in r.keys { if let (set, _) = Self.validation(k) { names.insert(set) } } }
        for (i, r) in rows.enumerated() {
            epochs.append(r["epoch"] ?? Double(i + 1))
            trainSRCC.append(r["train.srcc"] ?? .nan)
            trainPLCC.append(r["train.plcc"] ?? .nan)
            var s: [String: Double] = [:], p: [String: Double] = [:]
            for (k, v) in r { if let (set, metric) = Self.validation(k) { if metric == "srcc" { s[set] = v } else { p[set] = v } } }
            for set in names {
                valSRCC[set, default: []].append(s[set] ?? .nan)
                valPLCC[set, default: []].append(p[set] ?? .nan)
            }
        }
    }

    /// Nested objects become dotted keys; numbers (and numeric strings) are kept.
    static func flatten(_ obj: [String: Any], prefix: String, into out: inout [String: Double]) {
        for (k, v) in obj {
            let key = prefix.isEmpty ? k : prefix + "." + k
            if let d = v as? [String: Any] { flatten(d, prefix: key, into: &out) }
            else if let n = v as? NSNumber { out[key] = n.doubleValue }
            else if let s = v as? String, let d = Double(s) { out[key] = d }
        }
    }

    /// (set, "srcc"|"plcc") for `val.<set>.srcc`, `test.<set>.plcc`, `val.srcc`, ...
    static func validation(_ key: String) -> (String, String)? {
        let parts = key.split(separator: ".").map(String.init)
        guard parts.count >= 2, ["val", "test"].contains(parts[0]), let metric = parts.last, ["srcc", "plcc"].contains(metric) else { return nil }
        let set = parts.count == 2 ? parts[0] : parts[1..<(parts.count - 1)].joined(separator: ".")
        return (set, metric)
    }

    /// The first validation set by name (the "test" set of the table and gap).
    var testSet: String? { valSRCC.keys.sorted().first }

    /// Last finite value.
    static func last(_ v: [Double]) -> Double { v.last(where: \.isFinite) ?? .nan }

    static func table(_ runs: [RunMetrics]) -> String {
        let w = max(12, runs.map(\.name.count).max() ?? 0)
        var s = "run".padding(toLength: w, withPad: " ", startingAt: 0) + "  epochs  train_srcc  test_srcc   gap     test_set\n"
        for r in runs {
            let tr = last(r.trainSRCC), te = r.testSet.map { last(r.valSRCC[$0]!) } ?? .nan
            s += r.name.padding(toLength: w, withPad: " ", startingAt: 0)
                + String(format: "  %6d  %10.4f  %9.4f  %7.4f  ", r.epochs.count, tr, te, tr - te) + (r.testSet ?? "-") + "\n"
        }
        return s
    }

    static func svg(_ runs: [RunMetrics]) -> String {
        var srcc: [SVGSeries] = [], plcc: [SVGSeries] = [], gap: [SVGSeries] = []
        for (k, r) in runs.enumerated() {
            let color = SVGPlot.palette[k % SVGPlot.palette.count]
            srcc.append(SVGSeries(name: "\(r.name) train", xs: r.epochs, ys: r.trainSRCC, color: color, dashed: true))
            plcc.append(SVGSeries(name: "\(r.name) train", xs: r.epochs, ys: r.trainPLCC, color: color, dashed: true))
            for set in r.valSRCC.keys.sorted() {
                srcc.append(SVGSeries(name: "\(r.name) \(set)", xs: r.epochs, ys: r.valSRCC[set]!, color: color))
                plcc.append(SVGSeries(name: "\(r.name) \(set)", xs: r.epochs, ys: r.valPLCC[set]!, color: color))
            }
            if let t = r.testSet {
                gap.append(SVGSeries(name: r.name, xs: r.epochs, ys: zip(r.trainSRCC, r.valSRCC[t]!).map { $0 - $1 }, color: color))
            }
        }
        return SVGPlot.document([.lines(title: "SRCC (dashed: train)", xLabel: "epoch", yLabel: "SRCC", series: srcc),
                                 .lines(title: "PLCC (dashed: train)", xLabel: "epoch", yLabel: "PLCC", series: plcc),
                                 .lines(title: "Generalisation gap: train − test SRCC", xLabel: "epoch", yLabel: "gap", series: gap)],
                                columns: 3, title: "Training curves")
    }
}
