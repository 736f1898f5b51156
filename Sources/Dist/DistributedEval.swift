// Distributed scoring: every rank scores its shard of a dataset (the Loader with train: false,
// test clips averaged), the (index, score) pairs are all-gathered and put back in dataset order,
// so the metrics cover the whole set exactly as one process would compute them.
//
// Shapes: a loader batch is [B, clips, 3, T, H, W] (+ motion [B, clips, T, D]); its valid,
// non-padding samples are compacted into a ClipBatch [n·clips, 3, T, H, W] (+ [n·clips, T, D]),
// scored as n·clips clips → [n·clips], and averaged per sample → [n] (ClipBatch.sampleScores).

import Engine
import Media

/// Scores datasets with one model replica per rank.
public final class DistributedEval {
    let comm: Communicator
    let model: VQAModel
    let tape: Tape
    /// Reused compaction buffers.
    let compactor = ClipCompactor()
    /// Clips forwarded at once (0: a whole loader batch): bounds the memory of multi-clip test
    /// samples; scores are the same, each clip is scored on its own.
    public var clipsPerForward = 0
    /// Clip scores of the current batch when it is forwarded in pieces.
    private var clipScores: [Float] = []

    /// An evaluator on `comm`; `tape` may be the training step's (it is reset per batch).
    public init(model: VQAModel, comm: Communicator, tape: Tape) {
        self.model = model; self.comm = comm; self.tape = tape
    }

    /// A test-mode loader over `entries` for this rank (no shuffle, failures never abort).
    /// `features` adds per-frame motion features (a sample whose features cannot be read is skipped).
    public static func loader(entries: [LabelEntry], sampler: SamplerConfig, comm: Communicator, batchPerRank: Int,
                              decodeThreads: Int, failures: FailureLog = FailureLog(), features: FrameFeatureSource? = nil) throws -> Loader {
        try Loader(entries: entries, sampler: sampler, rank: comm.rank, worldSize: comm.size, batchSizePerRank: batchPerRank,
                   seed: 0, shuffle: false, train: false, decodeThreads: decodeThreads, maxFailureFraction: 1,
                   failures: failures, features: features, open: { try VideoDecoder(path: $0, threads: 1) })
    }

    /// Scores every entry of `loader` (collective): one score per entry in dataset order, nil where
    /// the input could not be read.
    public func predict(_ loader: Loader) throws -> [Float?] {
        let wasTraining = tape.training
        tape.training = false
        defer { tape.training = wasTraining }
        var indices: [Float] = [], scores: [Float] = []
        loader.start(epoch: 0)
        while let b = try loader.next() {
            let batch = compactor.batch(b, dropPadding: true)
            if batch.count == 0 { continue }
            indices += batch.indices.map(Float.init)
            if clipsPerForward > 0 && clipsPerForward < batch.clipCount {
                clipScores.removeAll(keepingCapacity: true)
                for start in stride(from: 0, to: batch.clipCount, by: clipsPerForward) {
                    tape.reset()
                    let x = try batch.feed(tape, model: model, clips: start..<min(start + clipsPerForward, batch.clipCount))
                    let out = model.forward(tape, x.clips, motion: x.motion)
                    clipScores.append(contentsOf: UnsafeBufferPointer(start: tape.value(out), count: tape.count(out)))
                }
                scores += clipScores.withUnsafeBufferPointer { ClipBatch.sampleScores($0.baseAddress!, samples: batch.count, clips: batch.clipsPerSample) }
                continue
            }
            tape.reset()
            let x = try batch.feed(tape, model: model)
            let out = model.forward(tape, x.clips, motion: x.motion)
            scores += ClipBatch.sampleScores(tape.value(out), samples: batch.count, clips: batch.clipsPerSample)
        }
        let allIdx = try comm.allGather(indices), allScores = try comm.allGather(scores)
        var result = [Float?](repeating: nil, count: loader.entries.count)
        for (k, i) in allIdx.enumerated() { result[Int(i)] = allScores[k] }
        return result
    }

    /// Metrics over the readable entries (nil with fewer than 2).
    public static func report(_ predictions: [Float?], entries: [LabelEntry]) -> QualityReport? {
        var p: [Double] = [], y: [Double] = []
        for (i, v) in predictions.enumerated() { if let v { p.append(Double(v)); y.append(entries[i].mos) } }
        return p.count >= 2 ? QualityReport(predictions: p, labels: y) : nil
    }
}
