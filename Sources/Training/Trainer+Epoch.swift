// One training epoch: batches from the sharded loader (invalid samples compacted away), the
// data-parallel step with the scheduled LR, train-set metrics from the step's global predictions,
// then validation (EMA and raw weights; every eval_every epochs and after the last), the epoch record and checkpoints (Trainer+Report).
//
// Shapes: a loader batch is [B, clips, 3, T, H, W] (+ motion features [B, clips, T, D]); its valid
// samples are compacted into a ClipBatch [n, clips, 3, T, H, W] = n·clips clips of [3, T, H, W]
// (+ [n·clips, T, D]) for the step (each clip carries its sample's label; its dropout stream is keyed
// by index·clips + clip). The observer set at construction (TrainingObserver) sees every batch first.

import Foundation
import Engine
import Media
import Dist

/// Seconds spent per phase of an epoch.
struct TimeSplit: Codable, Sendable, Equatable {
    var decodeWait = 0.0, forward = 0.0, backward = 0.0, communication = 0.0, perturbation = 0.0, optimizer = 0.0
    var evaluation = 0.0, total = 0.0
    enum CodingKeys: String, CodingKey {
        case forward, backward, communication, perturbation, optimizer, evaluation, total
        case decodeWait = "decode_wait"
    }
}

extension Trainer {
    /// The LR schedule over the whole run.
    func schedule() -> LRSchedule {
        if config.schedule.kind == .constant { return .constant }
        return .fastVQA(warmupEpochs: config.schedule.warmupEpochs, epochs: config.train.epochs - config.train.linearProbeEpochs,
                        linearProbeEpochs: config.train.linearProbeEpochs, iterationsPerEpoch: trainLoader.stepsPerEpoch)
    }

    /// Trains `epoch` (0-based) from the recorded sampler position; returns false when max_steps
    /// stopped it before its end. Evaluates, records and checkpoints either way.
    func runEpoch(_ epoch: Int) throws -> Bool {
        let epochStart = Clock.now()
        let steps = trainLoader.stepsPerEpoch
        let sched = schedule()
        var time = TimeSplit()
        var preds: [Float] = [], labels: [Float] = []
        var lossSum = 0.0, lossCount = 0, skipped = 0, lastLR: Float = 0
        var riseSum = 0.0, riseCount = 0
        trainLoader.start(epoch: epoch)
        var first = 0
        if info.samplerEpoch == epoch && info.samplerStep > 0 {
            // Mid-epoch resume: replay the deterministic loader to the saved position.
            for _ in 0..<info.samplerStep { _ = try trainLoader.next() }
            first = info.samplerStep
        }
        info.samplerEpoch = epoch
        progress.begin()
        var completed = true
        for s in first..<steps {
            if stepLimitReached { completed = false; break }
            let t0 = Clock.now()
            guard let b = try trainLoader.next() else { break }
            time.decodeWait += Clock.now() - t0
            // Slots that only repeat an entry to fill the last global batch are dropped, as a
            // single process with a smaller last batch (PyTorch's DataLoader) would train.
            var batch = compactor.batch(b, dropPadding: true)
            if let o = observer {
                // The last rank that holds entries in this step (the dropped padding of an epoch's
                // last batch can leave the last ranks without any).
                let holder = min(comm.size - 1, max(0, trainEntries.count - 1 - s * comm.size * batchPerRank) / batchPerRank)
                batch = o.input(batch, globalStep: info.step, rank: comm.rank, lastRankWithSamples: holder)
            }
            let lr = sched.learningRate(base: Float(config.optimizer.lr), iteration: info.step)
            lastLR = lr
            let r = try step.step(batch, lr: lr, epoch: epoch, step: info.step, seed: UInt64(config.train.seed))
            try dump?.record(batch, lr: lr, result: r)
            time.forward += r.forwardSeconds; time.backward += r.backwardSeconds; time.communication += r.commSeconds
            time.perturbation += r.perturbSeconds; time.optimizer += r.optimizerSeconds
            info.step += 1
            info.samplerStep = s + 1
            if r.applied {
                lossSum += r.loss; lossCount += 1
                if let p = r.perturbedLoss, p.isFinite { riseSum += p - r.loss; riseCount += 1 }
                preds += r.predictions; labels += r.labels
                nonfiniteStreak = 0
            } else {
                skipped += 1
                try noteSkipped(r, epoch: epoch, index: s, steps: steps, lr: lr)
            }
            if config.train.checksumEvery > 0 && info.step % config.train.checksumEvery == 0 { try step.verifyReplicas() }
            progress.update(epoch: epoch, step: s, total: steps, count: r.labels.count, loss: r.loss, lr: lr)
            // Preemption agreed in this step: stop here unless the epoch is complete anyway (then its
            // checkpoint at the end of the epoch serves, see finishEpoch).
            if r.stopSignal != 0 && s + 1 < steps { try preempt(signal: r.stopSignal, epoch: epoch, index: s, steps: steps) }
        }
        if info.samplerStep >= steps { completed = true }
        let rate = progress.rate
        info.optimizerSteps = step.optimizer.stepCount
        if completed { info.epoch = epoch + 1; info.samplerEpoch = epoch + 1; info.samplerStep = 0 }
        let t1 = Clock.now()
        // Validation every eval_every epochs, after the last one and whenever training stops early.
        let lastEpoch = !completed || stepLimitReached || epoch + 1 >= config.train.epochs
        let val = try lastEpoch || (epoch + 1) % config.train.evalEvery == 0 ? evaluateValidation() : [:]
        time.evaluation = Clock.now() - t1
        time.total = Clock.now() - epochStart
        var rec = EpochRecord(epoch: epoch + 1, complete: completed, globalStep: info.step, lr: Double(lastLR),
                              trainLoss: lossCount > 0 ? lossSum / Double(lossCount) : .nan, skippedSteps: skipped,
                              samplesPerSecond: rate, time: time)
        rec.train = preds.count >= 2 ? MetricRecord(QualityReport(predictions: preds, labels: labels)) : nil
        rec.val = val
        rec.perturbedLossRise = riseCount > 0 ? riseSum / Double(riseCount) : nil
        if let first = valSets.first?.name, let t = rec.train, let v = val[first]?["ema"] ?? val[first]?["raw"] {
            rec.gapSRCC = t.srcc - v.srcc
            rec.gapPLCC = t.plcc - v.plcc
        }
        try finishEpoch(rec)
        try stopOnUnreadableValidation(val, epoch: epoch + 1)
        return completed
    }

    /// A validation set that produced no metrics (fewer than 2 samples could be read) cannot
    /// select best.safetensors: every rank stops together with status 1 after the epoch's
    /// checkpoint (last.safetensors), naming the set, instead of finishing without a best file.
    func stopOnUnreadableValidation(_ val: [String: [String: MetricRecord]], epoch: Int) throws {
        guard let i = valSets.firstIndex(where: { v in val[v.name].map { $0["raw"] == nil } ?? false }) else { return }
        // With data.split on, valSets[0] is the split's test side (of data.train.labels).
        let j = i - (config.data.split.enabled ? 1 : 0)
        let v = valSets[i], labels = j < 0 ? config.data.train.labels : config.data.val[j].labels
        let root = j < 0 ? config.data.train.dataRoot : config.data.val[j].dataRoot
        throw TrainingStopped(exitCode: 1, message: "validation set '\(v.name)' (\(labels)): fewer than 2 of its \(v.entries.count) samples could be read (see the warnings above), so it has no SRCC/PLCC and best.safetensors was not written; "
            + "\(lastSavedDescription). Check the files with vqa-mpi check-dataset --labels \(labels)\(root.isEmpty ? "" : " --data-root \(root)"), fix or drop them, then continue with --resume")
    }

    /// Every validation set with EMA weights (when kept) and raw weights (collective).
    func evaluateValidation() throws -> [String: [String: MetricRecord]] {
        var out: [String: [String: MetricRecord]] = [:]
        for v in valSets {
            var m: [String: MetricRecord] = [:]
            if let e = step.ema {
                try withWeights(e.shadow) { m["ema"] = DistributedEval.report(try evaluator.predict(v.loader), entries: v.entries).map(MetricRecord.init) }
            }
            m["raw"] = DistributedEval.report(try evaluator.predict(v.loader), entries: v.entries).map(MetricRecord.init)
            out[v.name] = m
        }
        return out
    }

    /// Runs `body` with `weights` in the model, then puts the training weights back.
    func withWeights(_ weights: FloatBuffer, _ body: () throws -> Void) throws {
        let values = model.parameters.values
        weightScratch.copy(from: values)
        values.copy(from: weights)
        defer { values.copy(from: weightScratch) }
        try body()
    }
}
