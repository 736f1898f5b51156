// Per-epoch reporting and files: the summary line, metrics.jsonl (rewritten atomically), the
// checkpoints (last, epoch-NNN, best) and curves.svg; after training, the score calibration.

import Foundation
import Engine
import Media
import Dist
import Reports

/// Metrics of one evaluation, as written to metrics.jsonl.
struct MetricRecord: Codable, Sendable, Equatable {
    var srcc, plcc, krcc, rmse: Double
    var plccLogistic, rmseLogistic: Double?
    var n: Int
    /// From a QualityReport.
    init(_ r: QualityReport) {
        srcc = r.srcc; plcc = r.plcc; krcc = r.krcc; rmse = r.rmse; n = r.count
        plccLogistic = r.plccLogistic.isFinite ? r.plccLogistic : nil
        rmseLogistic = r.rmseLogistic.isFinite ? r.rmseLogistic : nil
    }
    enum CodingKeys: String, CodingKey { case srcc, plcc, krcc, rmse, n, plccLogistic = "plcc_logistic", rmseLogistic = "rmse_logistic" }
}

/// One line of metrics.jsonl.
struct EpochRecord: Codable, Sendable, Equatable {
    var epoch: Int
    /// False when max_steps stopped the epoch early.
    var complete: Bool
    var globalStep: Int
    var lr: Double
    var trainLoss: Double
    var skippedSteps: Int
    var samplesPerSecond: Double
    var time: TimeSplit
    /// Train-set metrics from the steps' global predictions.
    var train: MetricRecord?
    /// Validation set → "ema"/"raw" → metrics.
    var val: [String: [String: MetricRecord]] = [:]
    /// train − test on the first validation set (EMA weights when kept).
    var gapSRCC: Double?, gapPLCC: Double?
    /// Mean loss at the perturbed weights minus the clean loss (AWP/RWP steps): how much γ matters.
    var perturbedLossRise: Double?
    /// When the epoch's record was made (ISO 8601 UTC; `time` holds the epoch's seconds per phase).
    var timestamp: String?

    init(epoch: Int, complete: Bool, globalStep: Int, lr: Double, trainLoss: Double, skippedSteps: Int,
         samplesPerSecond: Double, time: TimeSplit) {
        self.epoch = epoch; self.complete = complete; self.globalStep = globalStep; self.lr = lr; self.trainLoss = trainLoss
        self.skippedSteps = skippedSteps; self.samplesPerSecond = samplesPerSecond; self.time = time
        timestamp = Progress.timestamp()
    }
    enum CodingKeys: String, CodingKey {
        case epoch, complete, lr, train, val, time
        case globalStep = "global_step", trainLoss = "train_loss", skippedSteps = "skipped_steps"
        case samplesPerSecond = "samples_per_second", gapSRCC = "gap_srcc", gapPLCC = "gap_plcc"
        case perturbedLossRise = "perturbed_loss_rise", timestamp
    }
}

extension Trainer {
    static let jsonEncoder: JSONEncoder = {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys]
        e.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return e
    }()

    func loadRecords() throws -> [EpochRecord] {
        guard let data = FileManager.default.contents(atPath: metricsPath) else { return [] }
        let d = JSONDecoder()
        d.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return try String(decoding: data, as: UTF8.self).split(separator: "\n").map {
            do { return try d.decode(EpochRecord.self, from: Data($0.utf8)) } catch {
                throw TrainingError("\(metricsPath)", "unreadable line (\(error)); remove it to resume")
            }
        }
    }

    /// Writes `text` to `path` via a temporary file, fsync and rename; a failure removes the
    /// temporary file and throws one line naming the path and the cause (e.g. a full disk).
    static func atomicWrite(_ text: String, to path: String) throws {
        let tmp = path + ".tmp"
        func fail(_ what: String, _ e: Int32) -> TrainingError {
            unlink(tmp)
            return TrainingError("\(path)", "cannot \(what): \(String(cString: strerror(e))); check the directory's permissions and free space")
        }
        let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw fail("create \(tmp)", errno) }
        let bytes = Array(text.utf8)
        var done = 0
        while done < bytes.count {
            let n = bytes[done...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { let e = n < 0 ? errno : ENOSPC; close(fd); throw fail("write \(tmp)", e) }
            done += n
        }
        guard fsync(fd) == 0 else { let e = errno; close(fd); throw fail("write \(tmp)", e) }
        guard close(fd) == 0 else { throw fail("write \(tmp)", errno) }
        guard rename(tmp, path) == 0 else { throw fail("replace it with \(tmp)", errno) }
    }

    func summary(_ r: EpochRecord) -> String {
        func f(_ v: Double?) -> String { v.map { String(format: "%.4f", $0) } ?? "-" }
        var s = "epoch \(r.epoch)\(r.complete ? "" : " (partial)")/\(config.train.epochs)  loss \(f(r.trainLoss))  train srcc \(f(r.train?.srcc)) plcc \(f(r.train?.plcc))"
        for name in valSets.map(\.name) {
            if let m = r.val[name] {
                s += "  | \(name) srcc \(f(m["ema"]?.srcc ?? m["raw"]?.srcc)) plcc \(f(m["ema"]?.plcc ?? m["raw"]?.plcc))"
                if m["ema"] != nil { s += " (raw \(f(m["raw"]?.srcc))/\(f(m["raw"]?.plcc)))" }
            }
        }
        if let g = r.gapSRCC { s += "  gap srcc \(f(g)) plcc \(f(r.gapPLCC))" }
        if let d = r.perturbedLossRise { s += String(format: "  perturbed loss +%.2g", d) }
        let t = r.time
        s += String(format: "  | %.0fs: decode %.1f fwd %.1f bwd %.1f comm %.1f perturb %.1f optim %.1f eval %.1f",
                    t.total, t.decodeWait, t.forward, t.backward, t.communication, t.perturbation, t.optimizer, t.evaluation)
        return s
    }

    /// Records the epoch, saves checkpoints (rank 0) and the curves.
    func finishEpoch(_ rec: EpochRecord) throws {
        records.append(rec)
        say(progress.linePrefix + summary(rec))
        var improved = false
        let previousBest = (info.bestMetric, info.bestEpoch)
        if let first = valSets.first?.name, let m = rec.val[first]?["ema"] ?? rec.val[first]?["raw"] {
            let score = m.srcc + m.plcc
            if score.isFinite && score > info.bestMetric { info.bestMetric = score; info.bestEpoch = rec.epoch; improved = true }
        }
        // Checkpoints every train.save_every epochs, after the last, on a new best, after a failed
        // save (the retry) and before a stop; the metrics every epoch (resume drops records past the
        // checkpoint it continues from).
        var signal: Int32 = 0
        let due = !rec.complete || rec.epoch % config.train.saveEvery == 0 || rec.epoch >= config.train.epochs || improved || failedSaves > 0
        if !due {
            signal = try agreedStopSignal()
            if signal == 0 {
                if isRoot {
                    do { try writeMetrics() } catch { warn("could not write \(metricsPath) (\(error)); it is rewritten whole at the next epoch") }
                }
                return
            }
        }
        var saveError: String?
        if isRoot {
            do {
                try writeMetrics()
                try saveCheckpoints(epochFile: rec.complete ? rec.epoch : nil, best: improved)
                try writeCurves()
            } catch { saveError = "\(error)" }
        }
        // Collective: a failed save is retried next time (or stops the run); a pending signal stops it.
        let position = rec.complete ? "at the end of epoch \(rec.epoch) (global step \(info.step))" : "in epoch \(rec.epoch) (global step \(info.step))"
        if try agreeAfterSave(saveError, at: position, signal: signal) && improved { (info.bestMetric, info.bestEpoch) = previousBest }
    }

    /// Rank 0: metrics.jsonl, every record so far, atomically.
    func writeMetrics() throws {
        try Trainer.atomicWrite(records.map { String(decoding: try Trainer.jsonEncoder.encode($0), as: UTF8.self) + "\n" }.joined(), to: metricsPath)
    }

    func writeCurves() throws {
        let first = valSets.first?.name
        let pts = records.map { r -> CurvePoint in
            let v = first.flatMap { r.val[$0]?["ema"] ?? r.val[$0]?["raw"] }
            return CurvePoint(epoch: r.epoch, trainSRCC: r.train?.srcc, trainPLCC: r.train?.plcc, testSRCC: v?.srcc, testPLCC: v?.plcc)
        }
        try Trainer.atomicWrite(CurvesSVG.render(pts, title: "\(config.model.name.rawValue), \(config.regularization.kind.rawValue): train vs \(first ?? "test")"), to: curvesPath)
    }

    /// After training: fits the raw → MOS calibration on the training set with the scoring weights
    /// (EMA when kept) of last and best, stores it in both checkpoints, writes the curves.
    func finish() throws {
        let loader = try DistributedEval.loader(entries: trainEntries, sampler: config.data.train.sampler, comm: comm,
                                                batchPerRank: batchPerRank, decodeThreads: config.train.decodeThreads,
                                                features: trainMotion)
        func calibrate() throws -> Logistic4? {
            let p = try evaluator.predict(loader)
            var x: [Double] = [], y: [Double] = []
            for (i, v) in p.enumerated() { if let v { x.append(Double(v)); y.append(trainEntries[i].mos) } }
            let (cal, note) = Logistic4.calibration(x, y); if let note { say("warning: \(note)") }; return cal
        }
        let scoring = step.ema?.shadow ?? model.parameters.values
        var cal: Logistic4? = nil
        try withWeights(scoring) { cal = try calibrate() }
        info.calibration = cal
        if isRoot {
            try Checkpoint.save(Checkpoint.make(store: model.parameters, ema: step.ema, optimizer: step.optimizer, info: info), to: lastPath,
                                byteLimit: observer?.willSaveCheckpoint() ?? Int.max)
        }
        do {
            // Every rank needs the best weights: rank 0 reads the file and broadcasts it.
            let exists = try comm.allGather([isRoot && FileManager.default.fileExists(atPath: bestPath) ? 1 : 0])[0] == 1
            if exists {
                var bytes: [UInt8] = isRoot ? Array(FileManager.default.contents(atPath: bestPath) ?? Data()) : []
                bytes = try comm.broadcast(bytes, root: 0)
                var best = try SafetensorsFile.parse(bytes, path: bestPath)
                let prefix = Checkpoint.weightPrefix(best, preferEMA: true)
                let weights = FloatBuffer(count: model.parameters.flatCount)
                try model.parameters.load(best, path: bestPath, into: weights, prefix: prefix)
                var bestCal: Logistic4? = nil
                try withWeights(weights) { bestCal = try calibrate() }
                if isRoot {
                    if let c = bestCal { best = try Checkpoint.withCalibration(best, c, path: bestPath) }
                    try Checkpoint.save(best, to: bestPath)
                }
            }
        }
        if isRoot { try writeCurves() }
        try comm.barrier()
        if let c = cal { say("calibration (raw → MOS, \(c.summary))") }
        // Only files that exist are named: best.safetensors needs a validation set that scored.
        let written = [lastPath, bestPath, metricsPath, curvesPath].filter { FileManager.default.fileExists(atPath: $0) }
        say("wrote \(written.joined(separator: ", "))" + (FileManager.default.fileExists(atPath: bestPath) || !isRoot ? ""
            : valSets.isEmpty ? " (no best.safetensors: no validation set; pass --val-labels to select one)" : " (no best.safetensors: no validation score was finite)"))
    }
}
