// `vqa-mpi train --dump-batches FILE`: a debug record of exactly what the trainer fed the model, for
// an outside oracle (scripts/reference/train_oracle.py replays it in PyTorch).
//
// Shapes: per rank, `x` Float [steps, B, clips, 3, T, H, W] (the step's compacted clips, as passed to
// DataParallelStep; slots past `count[s]` are zero), `labels` [steps, B], `index` I64 [steps, B]
// (entry index into the label file, −1 for an empty slot), `count` I64 [steps]. Rank 0's file also
// holds `start.<parameter>` (the weights before the first step, after the broadcast), `lr` [steps]
// (the scheduled LR of each step), `loss` [steps] (the global-batch training loss of the clean pass),
// `applied` I64 [steps] and `global_pred` / `global_label` [steps, G] (the step's global predictions
// and labels in rank order). Every rank's file holds `end.<parameter>` and, with EMA,
// `end_ema.<parameter>`: that rank's weights when training ended (the replicas must agree; the
// tests compare every rank's with a one-process run). Metadata: model, model_options (JSON
// object), config (the resolved YAML), steps_per_epoch, rank, world_size. Rank r > 0 writes FILE
// with `.rank<r>` before the extension.
//
// Everything is kept in memory and written when training ends: meant for short runs (e.g.
// `--epochs 1`, `--max-steps N`); one quick-recipe step of 16 clips of 3×2×128×128 is 3 MB.

import Foundation
import Engine
import Media
import Dist

/// Accumulates this rank's batches (and on rank 0 the step results) and writes them as safetensors.
final class BatchDump {
    let path: String
    let perSample: Int, capacity: Int, sampleShape: [Int]
    var x: [Float] = [], labels: [Float] = [], index: [Int64] = [], count: [Int64] = []
    var lr: [Float] = [], loss: [Float] = [], applied: [Int64] = []
    var globalPred: [Float] = [], globalLabel: [Float] = []
    var globalWidth = 0
    var start: [String: SafetensorsTensor] = [:], end: [String: SafetensorsTensor] = [:]

    /// The file rank `rank` writes for the user's `path`: `path` itself on rank 0, else `stem.rank<r>.ext`.
    static func rankPath(_ path: String, rank: Int) -> String {
        guard rank > 0 else { return path }
        let ns = path as NSString
        let ext = ns.pathExtension
        return ext.isEmpty ? "\(path).rank\(rank)" : "\(ns.deletingPathExtension).rank\(rank).\(ext)"
    }

    init(path: String, rank: Int, batch: Int, sampleShape: [Int]) {
        self.path = BatchDump.rankPath(path, rank: rank)
        capacity = batch
        self.sampleShape = sampleShape
        perSample = sampleShape.reduce(1, *)
    }

    /// Records one step: the samples of `batch` (clips, labels, entry indices), its LR and result.
    func record(_ batch: ClipBatch, lr stepLR: Float, result r: StepResult) throws {
        let n = batch.count
        let g = r.predictions.count
        if globalWidth == 0 { globalWidth = g }
        // A short global batch (failed samples) is padded with NaN so the array stays rectangular.
        guard g <= globalWidth else {
            throw TrainingError("--dump-batches", "the step's global batch grew from \(globalWidth) to \(g) samples; dump a run whose first step is complete")
        }
        x += UnsafeBufferPointer(start: batch.clips, count: n * perSample)
        x += repeatElement(0, count: (capacity - n) * perSample)
        labels += batch.labels + repeatElement(0, count: capacity - n)
        index += batch.indices.map(Int64.init) + repeatElement(-1, count: capacity - n)
        count.append(Int64(n))
        lr.append(stepLR); loss.append(Float(r.loss)); applied.append(r.applied ? 1 : 0)
        globalPred += r.predictions + repeatElement(.nan, count: globalWidth - g)
        globalLabel += r.labels + repeatElement(.nan, count: globalWidth - r.labels.count)
    }

    /// Writes the file (every rank its own).
    func write(model: String, options: [String: String], config: String, stepsPerEpoch: Int, rank: Int, worldSize: Int) throws {
        let steps = count.count
        var t: [String: SafetensorsTensor] = [
            "x": SafetensorsTensor(floats: x, shape: [steps, capacity] + sampleShape),
            "labels": SafetensorsTensor(floats: labels, shape: [steps, capacity]),
            "index": SafetensorsTensor(int64s: index, shape: [steps, capacity]),
            "count": SafetensorsTensor(int64s: count, shape: [steps]),
        ]
        if rank == 0 {
            t["lr"] = SafetensorsTensor(floats: lr, shape: [steps])
            t["loss"] = SafetensorsTensor(floats: loss, shape: [steps])
            t["applied"] = SafetensorsTensor(int64s: applied, shape: [steps])
            t["global_pred"] = SafetensorsTensor(floats: globalPred, shape: [steps, globalWidth])
            t["global_label"] = SafetensorsTensor(floats: globalLabel, shape: [steps, globalWidth])
            t.merge(start) { a, _ in a }
        }
        t.merge(end) { a, _ in a }
        let enc = JSONEncoder()
        enc.outputFormatting = .sortedKeys
        let opts = String(decoding: try enc.encode(options), as: UTF8.self)
        try SafetensorsFile(tensors: t, metadata: ["model": model, "model_options": opts, "rank": "\(rank)",
                                                   "world_size": "\(worldSize)", "config": config, "steps_per_epoch": "\(stepsPerEpoch)", "generator": "vqa-mpi train --dump-batches"])
            .write(to: path)
    }
}

extension Trainer {
    /// Starts the batch dump when asked (rank 0 also keeps the starting weights).
    func startDump() {
        guard let p = options.dumpBatches else { return }
        let s = trainLoader.sampleShape
        let d = BatchDump(path: p, rank: comm.rank, batch: batchPerRank, sampleShape: [s.clips, ClipLayout.channels, s.frames, s.height, s.width])
        if isRoot { d.start = model.parameters.safetensors(prefix: "start.") }
        dump = d
    }

    /// Writes the batch dump, if any.
    func finishDump() throws {
        guard let d = dump else { return }
        d.end = model.parameters.safetensors(prefix: "end.")
        if let e = step.ema { d.end.merge(model.parameters.safetensors(from: e.shadow, prefix: "end_ema.")) { a, _ in a } }
        try d.write(model: config.model.name.rawValue, options: config.model.options, config: configYAML, stepsPerEpoch: trainLoader.stepsPerEpoch, rank: comm.rank, worldSize: comm.size)
        say("wrote the batch dump \(options.dumpBatches!) (\(d.count.count) steps)")
    }
}
