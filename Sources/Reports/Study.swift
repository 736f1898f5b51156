// One run of the regulariser study (scripts/experiments/generalization.sh), read back from its
// directory. A run directory holds:
//   study.json             {"kind": "awp", "setting": "γ=0.02", "seed": 1}   (written by the script)
//   metrics.jsonl          one line per epoch (Trainer): val.<set>.{ema|raw}.{srcc,plcc}, gap_srcc
//   eval-train.json        optional: `vqa-mpi eval --json` of the final checkpoint on the training
//                          labels (the train side of the gap)
//   sharpness/sharpness.json  optional: `vqa-mpi landscape` of the final checkpoint
// Scores of a validation set are its EMA entry when present (what eval and best.safetensors use),
// else the raw one. The best epoch maximises in-domain SRCC + PLCC, as the trainer's best.safetensors.

import Foundation

/// In-domain and shifted (cross-dataset) correlations at one epoch.
public struct StudyScores: Sendable, Equatable {
    var inDomainSRCC: Double, inDomainPLCC: Double
    var shiftedSRCC: Double, shiftedPLCC: Double
    /// The four correlations.
    public init(inDomainSRCC: Double, inDomainPLCC: Double, shiftedSRCC: Double, shiftedPLCC: Double) {
        self.inDomainSRCC = inDomainSRCC; self.inDomainPLCC = inDomainPLCC
        self.shiftedSRCC = shiftedSRCC; self.shiftedPLCC = shiftedPLCC
    }
}

/// What the study records of one training run.
public struct StudyRun: Sendable, Equatable {
    /// The run directory.
    public var directory: String
    /// Regularizer kind (none, l2, aug, rwp, awp).
    public var kind: String
    /// Its setting, e.g. "γ=0.02" (empty for none/aug).
    public var setting: String
    public var seed: Int
    /// Epochs recorded in metrics.jsonl.
    public var epochs: Int
    /// Scores after the last epoch.
    public var final: StudyScores
    /// Scores at the best epoch (highest in-domain SRCC + PLCC) and that epoch (1-based).
    public var best: StudyScores
    public var bestEpoch: Int
    /// Train − in-domain test SRCC of the final weights.
    public var gap: Double
    /// True when the train side of `gap` is an evaluation of the final weights on the training set
    /// (eval-train.json); false when it is the trainer's running train SRCC of the last epoch.
    var gapFromEval: Bool
    /// Sharpness: mean and max relative loss rise at radius ρ, the Hessian's top (largest algebraic)
    /// eigenvalue λ_max and its signed eigenvalue of largest magnitude (NaN when absent).
    var sharpnessMean: Double, sharpnessMax: Double, hessianTop: Double, hessianLargestMagnitude: Double

    /// Builds a run from its values (fabricated runs in tests, or a caller's own records).
    public init(directory: String, kind: String, setting: String, seed: Int, epochs: Int, final: StudyScores, best: StudyScores,
                bestEpoch: Int, gap: Double, gapFromEval: Bool, sharpnessMean: Double = .nan, sharpnessMax: Double = .nan,
                hessianTop: Double = .nan, hessianLargestMagnitude: Double = .nan) {
        self.directory = directory; self.kind = kind; self.setting = setting; self.seed = seed; self.epochs = epochs
        self.final = final; self.best = best; self.bestEpoch = bestEpoch; self.gap = gap; self.gapFromEval = gapFromEval
        self.sharpnessMean = sharpnessMean; self.sharpnessMax = sharpnessMax; self.hessianTop = hessianTop
        self.hessianLargestMagnitude = hessianLargestMagnitude
    }

    /// Reads a run directory; `inDomain` and `shifted` name the validation sets in metrics.jsonl.
    public init(directory: String, inDomain: String, shifted: String) throws {
        let dir = directory as NSString
        let manifest = try StudyRun.object(at: dir.appendingPathComponent("study.json"),
                                           hint: "write {\"kind\": \"awp\", \"setting\": \"γ=0.02\", \"seed\": 1} there (generalization.sh does)")
        guard let kind = manifest["kind"] as? String, !kind.isEmpty else {
            throw ReportError("\(dir.appendingPathComponent("study.json")): 'kind' (a string such as \"awp\") is missing")
        }
        guard let seed = StudyRun.number(manifest["seed"]), seed.rounded() == seed else {
            throw ReportError("\(dir.appendingPathComponent("study.json")): 'seed' (an integer) is missing")
        }
        let epochs = try StudyRun.epochs(path: dir.appendingPathComponent("metrics.jsonl"), sets: [inDomain, shifted])
        func scores(_ e: StudyEpoch) -> StudyScores {
            StudyScores(inDomainSRCC: e.srcc[inDomain] ?? .nan, inDomainPLCC: e.plcc[inDomain] ?? .nan,
                        shiftedSRCC: e.srcc[shifted] ?? .nan, shiftedPLCC: e.plcc[shifted] ?? .nan)
        }
        let last = epochs[epochs.count - 1]
        var bestIndex = epochs.count - 1, bestValue = -Double.infinity
        for (i, e) in epochs.enumerated() {
            let v = (e.srcc[inDomain] ?? .nan) + (e.plcc[inDomain] ?? .nan)
            if v.isFinite && v > bestValue { bestValue = v; bestIndex = i }
        }
        var gap = last.gapSRCC ?? .nan, fromEval = false
        let evalPath = dir.appendingPathComponent("eval-train.json")
        if FileManager.default.fileExists(atPath: evalPath) {
            let train = try StudyRun.lastJSONLine(at: evalPath)
            guard let srcc = StudyRun.number(train["srcc"]) else { throw ReportError("\(evalPath): no 'srcc' (expected `vqa-mpi eval --json` output)") }
            gap = srcc - (last.srcc[inDomain] ?? .nan)
            fromEval = true
        }
        var sharp = (mean: Double.nan, max: Double.nan, hessian: Double.nan, magnitude: Double.nan)
        let sharpPath = dir.appendingPathComponent("sharpness/sharpness.json")
        if FileManager.default.fileExists(atPath: sharpPath) {
            let file = try StudyRun.object(at: sharpPath, hint: "rerun `vqa-mpi landscape --out DIR/sharpness`")
            guard let first = (file["checkpoints"] as? [[String: Any]])?.first else {
                throw ReportError("\(sharpPath): 'checkpoints' holds no entry; rerun `vqa-mpi landscape --checkpoint DIR/last.safetensors --out DIR/sharpness`")
            }
            sharp.mean = StudyRun.number(first["meanRise"]) ?? .nan
            sharp.max = StudyRun.number(first["maxRise"]) ?? .nan
            let h = first["hessian"] as? [String: Any]
            if let old = StudyRun.number(h?["eigenvalue"]), h?["top"] == nil {
                // Written before λ_max was separated: plain power iteration (largest magnitude),
                // which is the top eigenvalue only when positive.
                sharp.magnitude = old
                sharp.hessian = old > 0 ? old : .nan
            } else {
                sharp.hessian = StudyRun.number(h?["top"]) ?? .nan
                sharp.magnitude = StudyRun.number(h?["largestMagnitude"]) ?? .nan
            }
        }
        self.init(directory: directory, kind: kind, setting: manifest["setting"] as? String ?? "", seed: Int(seed),
                  epochs: last.epoch, final: scores(last), best: scores(epochs[bestIndex]), bestEpoch: epochs[bestIndex].epoch,
                  gap: gap, gapFromEval: fromEval, sharpnessMean: sharp.mean, sharpnessMax: sharp.max, hessianTop: sharp.hessian,
                  hessianLargestMagnitude: sharp.magnitude)
    }
}

/// The values of one metrics.jsonl line the study uses.
struct StudyEpoch {
    var epoch: Int
    var srcc: [String: Double] = [:], plcc: [String: Double] = [:]
    var gapSRCC: Double?
}

extension StudyRun {
    /// A JSON number, or a numeric string such as "nan" (how the trainer writes non-finite values).
    static func number(_ v: Any?) -> Double? {
        if let n = v as? NSNumber { return n.doubleValue }
        if let s = v as? String { return Double(s) }
        return nil
    }

    static func object(at path: String, hint: String) throws -> [String: Any] {
        guard let data = FileManager.default.contents(atPath: path) else { throw ReportError("\(path) is missing or unreadable; \(hint)") }
        guard let obj = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw ReportError("\(path) is not a JSON object; \(hint)")
        }
        return obj
    }

    /// The last line of `path` that is a JSON object (eval output may follow other lines).
    static func lastJSONLine(at path: String) throws -> [String: Any] {
        guard let data = FileManager.default.contents(atPath: path) else { throw ReportError("\(path) is missing or unreadable") }
        for line in String(decoding: data, as: UTF8.self).split(whereSeparator: \.isNewline).reversed() {
            if let obj = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] { return obj }
        }
        throw ReportError("\(path) holds no JSON line; write it with `vqa-mpi eval --json ... > \(path)`")
    }

    /// Parses metrics.jsonl's validated epochs; each must name the sets in `sets` (else the set names are wrong).
    static func epochs(path: String, sets: [String]) throws -> [StudyEpoch] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ReportError("\(path) is missing or unreadable; pass run directories written by `vqa-mpi train`")
        }
        var out: [StudyEpoch] = []
        for (n, line) in String(decoding: data, as: UTF8.self).split(whereSeparator: \.isNewline).enumerated() {
            if line.allSatisfy(\.isWhitespace) { continue }
            guard let obj = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
                throw ReportError("\(path):\(n + 1): not a JSON object")
            }
            var e = StudyEpoch(epoch: (number(obj["epoch"]).map { Int($0) }) ?? out.count + 1)
            e.gapSRCC = number(obj["gap_srcc"])
            // Epochs between validations (train.eval_every > 1) carry no "val": nothing to score.
            guard let val = obj["val"] as? [String: Any], !val.isEmpty else { continue }
            for set in sets {
                guard let entry = val[set] as? [String: Any] else {
                    throw ReportError("\(path):\(n + 1): no validation set '\(set)'; sets present: \(val.keys.sorted().joined(separator: ", ")) (choose them with --in-domain/--shifted)")
                }
                let m = (entry["ema"] ?? entry["raw"]) as? [String: Any]
                e.srcc[set] = number(m?["srcc"]) ?? .nan
                e.plcc[set] = number(m?["plcc"]) ?? .nan
            }
            out.append(e)
        }
        if out.isEmpty { throw ReportError("\(path) has no validated epochs; did the run finish its first validation (train.eval_every)?") }
        return out
    }
}
