// train's check that no validation file is also a training file: an overlap inflates the
// validation metrics and the best.safetensors choice silently. Refused unless --allow-overlap.

import Foundation
import Media
import Training

enum TrainValOverlap {
    /// (val set name, shared count, first shared path) for every val set sharing files with the
    /// training labels; paths compared after resolving data_root, `.`/`..` and the working directory.
    static func find(_ c: TrainConfig) throws -> [(name: String, count: Int, first: String)] {
        func key(_ p: String) -> String { URL(fileURLWithPath: p).standardizedFileURL.path }
        var entries = try Labels.load(path: c.data.train.labels, dataRoot: c.data.train.dataRoot.isEmpty ? nil : c.data.train.dataRoot)
        if c.data.split.enabled { entries = try c.data.split.apply(entries).train }  // the split's own test side is disjoint
        let train = Set(entries.map { key($0.path) })
        var out: [(name: String, count: Int, first: String)] = []
        for v in c.data.val {
            let shared = try Labels.load(path: v.labels, dataRoot: v.dataRoot.isEmpty ? nil : v.dataRoot).map(\.path).filter { train.contains(key($0)) }
            if let first = shared.first { out.append((name: v.name, count: Set(shared.map(key)).count, first: first)) }
        }
        return out
    }

    /// One line per overlapping val set.
    static func describe(_ found: [(name: String, count: Int, first: String)], _ c: TrainConfig) -> String {
        found.map { "val set '\($0.name)' shares \($0.count) file(s) with the training labels \(c.data.train.labels) (first: \($0.first))" }
            .joined(separator: "\n")
    }
}
