// What the trainer does when something goes wrong (docs/faults.md):
// - preemption: a stop signal agreed at a step boundary → rank 0 saves, every rank exits 128 + signal;
// - a failed checkpoint save → warning, retried at the next save, stop after train.max_failed_saves
//   failures in a row (the previous files stay intact: the writer is atomic);
// - non-finite steps → skipped on every rank, reported with diagnostics, stop after
//   train.max_nonfinite_steps in a row;
// - --resume → the newest checkpoint that reads and verifies: last, kept epoch-NNN (newest first), best.
// Every decision that ends the run is taken collectively, so all ranks throw `TrainingStopped`
// together and exit cleanly instead of one rank aborting the job.

import Foundation
import Engine
import Dist

/// A run that stopped early on purpose (preempted, diverged, cannot save); every rank throws it together.
public struct TrainingStopped: Error, CustomStringConvertible, Sendable {
    /// Process exit status: 128 + signal number after preemption (143 SIGTERM, 130 SIGINT), else 1.
    public let exitCode: Int32
    /// What happened, where the state was saved and how to continue.
    public let message: String
    public var description: String { message }
}

extension Trainer {
    /// A warning on rank 0's standard error.
    func warn(_ s: String) {
        if isRoot { FileHandle.standardError.write(Data("warning: \(s)\n".utf8)) }
    }

    /// Rank 0: saves last.safetensors (then the epoch file and best when asked); throws the first failure.
    func saveCheckpoints(epochFile: Int?, best: Bool) throws {
        let limit = observer?.willSaveCheckpoint() ?? Int.max
        let file = Checkpoint.make(store: model.parameters, ema: step.ema, optimizer: step.optimizer, info: info)
        try Checkpoint.save(file, to: lastPath, byteLimit: limit)
        lastSaved = (info.epoch, info.step)
        let dir = options.outDir as NSString
        if let e = epochFile {
            try Checkpoint.save(file, to: dir.appendingPathComponent(String(format: "epoch-%03d.safetensors", e)))
            if !config.train.keepEpochs {
                // Every older epoch file beyond keep_last (saves are save_every epochs apart), not only
                // the one that just fell out: a process killed between the save above and this removal
                // left one behind.
                let names = (try? FileManager.default.contentsOfDirectory(atPath: options.outDir)) ?? []
                for n in names where RunDirectory.isRunFile(n) && n.hasPrefix("epoch-") {
                    if let k = Int(n.dropFirst(6).dropLast(12)), k <= e - config.train.keepLast * config.train.saveEvery {
                        try? FileManager.default.removeItem(atPath: dir.appendingPathComponent(n))
                    }
                }
            }
        }
        if best { try Checkpoint.save(file, to: bestPath) }
    }

    /// What last.safetensors holds, for messages after a failed save.
    var lastSavedDescription: String {
        lastSaved.map { "\(lastPath) still holds epoch \($0.epoch), global step \($0.step) (intact)" } ?? "no intact \(lastPath) was written by this run yet (older checkpoints in \(options.outDir) are untouched)"
    }

    /// Collective, after rank 0's save attempt (`saveError` nil: saved): agrees on the outcome and on
    /// any pending stop signal, applies the retry policy, and throws `TrainingStopped` when the run
    /// must end (preempted, or too many failed saves). Returns whether the save failed.
    @discardableResult
    func agreeAfterSave(_ saveError: String?, at position: String, signal known: Int32 = 0) throws -> Bool {
        let local = options.stopSignal?() ?? 0
        let g = try comm.allGather([saveError == nil ? 0 : 1, Float(known != 0 ? known : local)])
        let failed = g[0] != 0
        var sig: Int32 = 0
        for i in stride(from: 1, to: g.count, by: 2) where g[i] != 0 { sig = Int32(g[i]); break }
        failedSaves = failed ? failedSaves + 1 : 0
        if sig != 0 {
            let outcome = failed ? "the checkpoint could NOT be saved (\(saveError ?? "failed on rank 0")); \(lastSavedDescription); --resume continues from there"
                                 : "saved \(lastPath); continue with the same command plus --resume"
            throw TrainingStopped(exitCode: 128 + sig, message: "preempted by \(PreemptionSignal.name(sig)) \(position): \(outcome)")
        }
        if failed {
            let limit = config.train.maxFailedSaves
            let why = saveError ?? "failed on rank 0"
            if failedSaves >= limit {
                throw TrainingStopped(exitCode: 1, message: "\(failedSaves) checkpoint saves failed in a row (train.max_failed_saves \(limit)), the last \(position): \(why); \(lastSavedDescription). Free space or fix the output directory, then continue with --resume")
            }
            warn("checkpoint NOT saved \(position): \(why); \(lastSavedDescription). Training goes on and retries at the next save; the run stops after \(limit) failed saves in a row (\(failedSaves) so far)")
        }
        return failed
    }

    /// Collective: the stop signal any rank has received (0: none), agreed at an epoch end without a save.
    func agreedStopSignal() throws -> Int32 {
        let g = try comm.allGather([Float(options.stopSignal?() ?? 0)])
        return Int32(g.first { $0 != 0 } ?? 0)
    }

    /// Mid-epoch stop on an agreed signal: rank 0 saves last.safetensors (with the sampler position),
    /// then every rank throws `TrainingStopped`.
    func preempt(signal: Int32, epoch: Int, index s: Int, steps: Int) throws -> Never {
        info.optimizerSteps = step.optimizer.stepCount
        var err: String?
        if isRoot { do { try saveCheckpoints(epochFile: nil, best: false) } catch { err = "\(error)" } }
        try agreeAfterSave(err, at: "at epoch \(epoch + 1), step \(s + 1)/\(steps) (global step \(info.step))", signal: signal)
        throw TrainingStopped(exitCode: 128 + signal, message: "preempted by \(PreemptionSignal.name(signal))")
    }

    /// Names of the parameter tensors whose gradient holds a NaN or infinity.
    func nonfiniteGradientTensors() -> [String] {
        let store = model.parameters
        return store.infos.indices.compactMap { i in store.grad(i).contains { !$0.isFinite } ? store.infos[i].name : nil }
    }

    /// After a step skipped on every rank (`info.step` already counts it): a warning with
    /// diagnostics, or, after train.max_nonfinite_steps in a row, a saved checkpoint and a stop.
    func noteSkipped(_ r: StepResult, epoch: Int, index s: Int, steps: Int, lr: Float) throws {
        let global = info.step - 1
        nonfiniteStreak += 1
        if nonfiniteStreak == 1 { nonfiniteFirst = global }
        let limit = config.train.maxNonfiniteSteps
        let stop = limit > 0 && nonfiniteStreak >= limit
        guard isRoot || stop else { return }
        let bad = isRoot ? nonfiniteGradientTensors() : []
        let total = model.parameters.infos.count
        var detail = "global step \(global) (epoch \(epoch + 1), step \(s + 1)/\(steps)): loss \(r.loss)"
        if let p = r.perturbedLoss { detail += ", loss at the perturbed weights \(p)" }
        detail += String(format: ", lr %.4g", Double(lr))
        detail += bad.isEmpty ? ", all gradients finite" : ", non-finite gradients in \(bad.count) of \(total) tensors: " + bad.prefix(8).joined(separator: ", ") + (bad.count > 8 ? " and \(bad.count - 8) more" : "")
        guard stop else {
            warn("step skipped on every rank, no update applied: \(detail) (\(nonfiniteStreak) in a row; the run stops at \(limit), train.max_nonfinite_steps)")
            return
        }
        info.optimizerSteps = step.optimizer.stepCount
        var saved = "saved them with the data position in \(lastPath)"
        if isRoot { do { try saveCheckpoints(epochFile: nil, best: false) } catch { saved = "could not save them (\(error)); \(lastSavedDescription)" } }
        try comm.barrier()
        throw TrainingStopped(exitCode: 1, message: "training stopped: \(nonfiniteStreak) non-finite steps in a row (train.max_nonfinite_steps \(limit)), global steps \(nonfiniteFirst)–\(global). Last one: \(detail). "
            + "No update was applied at these steps, so the weights are finite; \(saved). Lower optimizer.lr, set optimizer.clip_norm, or check the data (vqa-mpi check-dataset), then continue with --resume (the new config's settings apply)")
    }

    /// --resume candidates, newest state first: last, the kept epoch-NNN files (highest first), best.
    func resumeCandidates() -> [String] {
        let dir = options.outDir as NSString
        let names = (try? FileManager.default.contentsOfDirectory(atPath: options.outDir)) ?? []
        let epochs = names.compactMap { n -> (Int, String)? in
            guard n.hasPrefix("epoch-"), n.hasSuffix(".safetensors"), let e = Int(n.dropFirst(6).dropLast(12)) else { return nil }
            return (e, dir.appendingPathComponent(n))
        }.sorted { $0.0 > $1.0 }.map(\.1)
        return ([lastPath] + epochs + [bestPath]).filter { FileManager.default.fileExists(atPath: $0) }
    }

    /// The checkpoint --resume continues from: rank 0 takes the first candidate that reads and
    /// verifies (warning about each damaged one) and tells the others, who read the same file.
    func resumeCheckpoint() throws -> (path: String, file: SafetensorsFile, info: CheckpointInfo) {
        var chosen: (String, SafetensorsFile, CheckpointInfo)?
        var problems: [String] = []
        if isRoot {
            for p in resumeCandidates() {
                do { let r = try Checkpoint.read(path: p); chosen = (p, r.file, r.info); break } catch { problems.append("\(error)") }
            }
        }
        let path = try comm.broadcast(chosen?.0 ?? "", root: 0)
        guard !path.isEmpty else {
            if !isRoot { throw TrainingError("--resume", "rank 0 found no usable checkpoint in \(options.outDir) (see its message)") }
            let listed = problems.isEmpty ? "there is no checkpoint in it (train writes last.safetensors, epoch-NNN.safetensors and best.safetensors)"
                                          : "no checkpoint in it is usable:\n  " + problems.joined(separator: "\n  ")
            throw TrainingError("--resume", "\(options.outDir): \(listed)\nStart without --resume, or with --init-from FILE to keep the weights of another checkpoint")
        }
        for p in problems { warn("\(p)\n  → resuming from \(path) instead (the newest checkpoint that verifies); the steps after it are trained again") }
        if let c = chosen { return c }
        let r = try Checkpoint.read(path: path)
        return (path, r.file, r.info)
    }

    /// Removes temporary files a killed process left while writing (`.NAME.tmp.PID`, `NAME.tmp`).
    func removeStaleTemporaries() {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: options.outDir)) ?? []
        for n in names where (n.hasPrefix(".") && n.contains(".safetensors.tmp.")) || n.hasSuffix(".jsonl.tmp") || n.hasSuffix(".svg.tmp") {
            try? FileManager.default.removeItem(atPath: (options.outDir as NSString).appendingPathComponent(n))
        }
    }
}
