// Aggregation of the regulariser study: runs grouped by (kind, setting), mean ± sample std over
// seeds, markdown tables (final epoch, best epoch, difference to the baseline, every run) and the
// best run of each kind (whose landscapes the script overlays).

import Foundation

/// Mean and sample standard deviation (n − 1) of the finite values of a list.
public struct MeanStd: Sendable, Equatable {
    public var mean: Double, std: Double
    /// Finite values used.
    public var count: Int
    /// Values left out because they were NaN or infinite (shown in the cell, never dropped silently).
    var nonFinite: Int

    /// NaN and infinities are left out (and counted in `nonFinite`); std is NaN below two values,
    /// the mean below one.
    public init(_ values: [Double]) {
        let v = values.filter(\.isFinite)
        count = v.count
        nonFinite = values.count - v.count
        mean = v.isEmpty ? .nan : v.reduce(0, +) / Double(v.count)
        let m = mean
        std = v.count < 2 ? .nan : (v.map { ($0 - m) * ($0 - m) }.reduce(0, +) / Double(v.count - 1)).squareRoot()
    }
}

/// The runs of one regularizer setting (one row of the tables).
public struct StudyGroup: Sendable {
    public var kind: String, setting: String
    public var runs: [StudyRun]

    /// Mean ± std over the group's seeds of one value.
    public func stat(_ value: (StudyRun) -> Double) -> MeanStd { MeanStd(runs.map(value)) }

    /// "kind setting" as shown in the tables.
    public var label: String { setting.isEmpty ? kind : "\(kind) \(setting)" }
}

/// The study's tables and selections.
public enum StudyTable {
    /// Row order of the kinds; others follow in order of appearance.
    static let kindOrder = ["none", "l2", "aug", "rwp", "awp"]

    /// Groups by (kind, setting): kinds in `kindOrder`, settings in order of first appearance.
    public static func groups(_ runs: [StudyRun]) -> [StudyGroup] {
        var groups: [StudyGroup] = []
        for r in runs {
            if let i = groups.firstIndex(where: { $0.kind == r.kind && $0.setting == r.setting }) { groups[i].runs.append(r) }
            else { groups.append(StudyGroup(kind: r.kind, setting: r.setting, runs: [r])) }
        }
        func rank(_ k: String) -> Int { kindOrder.firstIndex(of: k) ?? kindOrder.count }
        return groups.enumerated().sorted { a, b in
            rank(a.element.kind) != rank(b.element.kind) ? rank(a.element.kind) < rank(b.element.kind) : a.offset < b.offset
        }.map(\.element)
    }

    /// The run with the highest final in-domain SRCC of each kind (kinds in table order; NaN never wins
    /// over a number, ties go to the earlier run).
    public static func bestPerKind(_ runs: [StudyRun]) -> [StudyRun] {
        var best: [String: StudyRun] = [:]
        for r in runs {
            guard let b = best[r.kind] else { best[r.kind] = r; continue }
            let v = r.final.inDomainSRCC, w = b.final.inDomainSRCC
            if v.isFinite && (!w.isFinite || v > w) { best[r.kind] = r }
        }
        return groups(runs).map(\.kind).reduce(into: [String]()) { if !$0.contains($1) { $0.append($1) } }.compactMap { best[$0] }
    }

    /// "0.712 ± 0.031" (digits decimals), "0.712 ± –" for one value, "–" for none; when some
    /// values were NaN the cell says how many were left out: "0.712 ± 0.031 (1 of 3 NaN)".
    public static func cell(_ s: MeanStd, digits: Int = 3) -> String {
        guard s.count > 0 else { return "–" }
        return format(s.mean, digits) + " ± " + (s.std.isFinite ? format(s.std, digits) : "–") + nanNote(s)
    }

    /// " (k of n NaN)" when a mean left out k of n values, "" otherwise.
    static func nanNote(_ s: MeanStd) -> String {
        s.nonFinite > 0 && s.count > 0 ? " (\(s.nonFinite) of \(s.count + s.nonFinite) NaN)" : ""
    }

    static func format(_ v: Double, _ digits: Int) -> String {
        guard v.isFinite else { return "–" }
        let s = String(format: "%.\(digits)f", v)
        return s == String(format: "%.\(digits)f", -0.0) ? String(format: "%.\(digits)f", 0.0) : s
    }

    /// A value with `sig` significant digits (sharpness rises and eigenvalues span decades).
    static func significant(_ v: Double, _ sig: Int = 3) -> String { v.isFinite ? String(format: "%.\(sig)g", v) : "–" }

    /// A markdown table row.
    static func row(_ cells: [String]) -> String { "| " + cells.joined(separator: " | ") + " |\n" }
    static func rule(_ n: Int) -> String { "|" + String(repeating: "---|", count: n) + "\n" }

    /// Final-epoch table: mean ± std over seeds per setting.
    public static func finalTable(_ groups: [StudyGroup]) -> String {
        var s = row(["regularizer", "seeds", "in-domain SRCC", "in-domain PLCC", "shifted SRCC", "shifted PLCC",
                     "gap (train − test SRCC)", "sharpness (mean rise)", "Hessian λ_max", "Hessian λ of largest magnitude"])
        s += rule(10)
        for g in groups {
            let gapMark = g.runs.allSatisfy(\.gapFromEval) ? "" : "*"
            s += row([g.label, "\(g.runs.count)", cell(g.stat(\.final.inDomainSRCC)), cell(g.stat(\.final.inDomainPLCC)),
                      cell(g.stat(\.final.shiftedSRCC)), cell(g.stat(\.final.shiftedPLCC)), cell(g.stat(\.gap)) + gapMark,
                      cell(g.stat(\.sharpnessMean), digits: 4), sigCell(g.stat(\.hessianTop)), sigCell(g.stat(\.hessianLargestMagnitude))])
        }
        return s
    }

    /// Best-epoch table (epoch chosen on the in-domain test set, as best.safetensors).
    static func bestTable(_ groups: [StudyGroup]) -> String {
        var s = row(["regularizer", "seeds", "best epoch", "in-domain SRCC", "in-domain PLCC", "shifted SRCC", "shifted PLCC"])
        s += rule(7)
        for g in groups {
            s += row([g.label, "\(g.runs.count)", cell(g.stat { Double($0.bestEpoch) }, digits: 1), cell(g.stat(\.best.inDomainSRCC)),
                      cell(g.stat(\.best.inDomainPLCC)), cell(g.stat(\.best.shiftedSRCC)), cell(g.stat(\.best.shiftedPLCC))])
        }
        return s
    }

    /// Differences of the group means to the first group of kind `baseline` (nil without it or without other groups).
    static func deltaTable(_ groups: [StudyGroup], baseline: String = "none") -> String? {
        guard let base = groups.first(where: { $0.kind == baseline }),
              groups.contains(where: { !($0.kind == base.kind && $0.setting == base.setting) }) else { return nil }
        func p(_ g: StudyGroup, _ v: (StudyRun) -> Double) -> String {
            let x = permutationP(g.runs.map(v), base.runs.map(v))
            return x.isFinite ? String(format: " (p %.2f)", x) : ""
        }
        func left(_ g: StudyGroup, _ v: (StudyRun) -> Double) -> String {
            let k = g.stat(v).nonFinite + base.stat(v).nonFinite
            return k > 0 ? " (\(k) NaN left out)" : ""
        }
        func d(_ g: StudyGroup, _ v: (StudyRun) -> Double) -> String {
            let x = g.stat(v).mean - base.stat(v).mean
            return x.isFinite ? (x >= 0 ? "+" : "") + format(x, 3) + p(g, v) + left(g, v) : "–"
        }
        func ratio(_ g: StudyGroup, _ v: (StudyRun) -> Double) -> String {
            let x = g.stat(v).mean / base.stat(v).mean
            return x.isFinite ? String(format: "×%.2f", x) + p(g, v) + left(g, v) : "–"
        }
        var s = row(["regularizer", "Δ in-domain SRCC", "Δ shifted SRCC", "Δ gap", "sharpness ratio", "λ_max ratio"])
        s += rule(6)
        var smallest = 1.0
        for g in groups where !(g.kind == base.kind && g.setting == base.setting) {
            s += row([g.label, d(g, \.final.inDomainSRCC), d(g, \.final.shiftedSRCC), d(g, \.gap),
                      ratio(g, \.sharpnessMean), ratio(g, \.hessianTop)])
            if let c = binomial(g.runs.count + base.runs.count, g.runs.count) { smallest = min(smallest, min(1, 2 / Double(c))) }
        }
        s += "\np: exact two-sided permutation test of the difference of means over seeds (every split of the two "
        s += "groups' runs; scipy.stats.permutation_test's convention). With these seed counts no p can be below "
        s += String(format: "%.3g", smallest) + ", so a p near that floor is the strongest evidence this table can show.\n"
        return s
    }

    /// Every run's own values.
    static func runTable(_ groups: [StudyGroup]) -> String {
        var s = row(["run", "regularizer", "seed", "epochs", "in-domain SRCC / PLCC", "shifted SRCC / PLCC", "best epoch",
                     "gap", "sharpness mean / max", "Hessian λ_max", "Hessian λ of largest magnitude"])
        s += rule(11)
        for g in groups {
            for r in g.runs {
                s += row(["`\(r.directory)`", g.label, "\(r.seed)", "\(r.epochs)",
                          format(r.final.inDomainSRCC, 3) + " / " + format(r.final.inDomainPLCC, 3),
                          format(r.final.shiftedSRCC, 3) + " / " + format(r.final.shiftedPLCC, 3), "\(r.bestEpoch)",
                          format(r.gap, 3) + (r.gapFromEval ? "" : "*"),
                          format(r.sharpnessMean, 4) + " / " + format(r.sharpnessMax, 4), significant(r.hessianTop),
                          significant(r.hessianLargestMagnitude)])
            }
        }
        return s
    }

    static func sigCell(_ s: MeanStd) -> String {
        guard s.count > 0 else { return "–" }
        return significant(s.mean) + " ± " + significant(s.std) + nanNote(s)
    }

    /// The whole results document: `header` (verbatim), the four tables with their definitions, `footer`.
    public static func markdown(_ runs: [StudyRun], header: String = "", footer: String = "") -> String {
        let g = groups(runs)
        var s = header.isEmpty ? "# Regulariser study\n\n" : header + (header.hasSuffix("\n") ? "\n" : "\n\n")
        s += "## Final epoch (mean ± sample std over seeds)\n\n" + finalTable(g) + "\n"
        s += """
            In-domain: the held-out test split of the training distribution; shifted: the `shifted`-profile set \
            (cross-dataset). Scores use the EMA weights. Gap: SRCC of the final weights on the training set \
            (`vqa-mpi eval`) minus in-domain test SRCC\(runs.allSatisfy(\.gapFromEval) ? "" : "; * marks the trainer's running train SRCC of the last epoch instead"). \
            Sharpness: mean relative loss rise (L(w+ρd)−L(w))/L(w) over filter-normalised random directions (same \
            direction seed for every run); λ_max: the Hessian's top (largest algebraic) eigenvalue, the sharpest \
            upward curvature; λ of largest magnitude: its eigenvalue of largest absolute value, signed (plain power iteration; negative \
            when the loss curves down more steeply than it curves up). A std of – means one seed; \
            "(k of n NaN)" means k runs had no finite value and the mean is over the others (see the run table).

            """
        s += "\n## Best epoch (chosen on the in-domain test set, as best.safetensors)\n\n" + bestTable(g) + "\n"
        s += "Choosing the epoch on the test set is optimistic; the final-epoch table is the fair comparison.\n"
        if let d = deltaTable(g) {
            s += "\n## Difference to the baseline (means; ratio < 1: flatter)\n\n" + d
        }
        s += "\n## Every run\n\n" + runTable(g)
        if !footer.isEmpty { s += "\n" + footer + (footer.hasSuffix("\n") ? "" : "\n") }
        return s
    }
}
