// Distributed scoring: every rank scores its shard of a dataset (the Loader with train: false,
// test clips averaged), the (index, score) pairs are all-gathered and put back in dataset order,
// so the metrics cover the whole set exactly as one process would compute them.
//
// Shapes: a loader batch is [B, clips, 3, T, H, W] (+ motion [B, clips, T, D]); its valid,
// non-padding samples are compacted into [n·clips, 3, T, H, W] (+ [n·clips, T, D]), scored as
// n·clips clips → [n·clips], and averaged per sample → [n].

import Engine
import Media

/// Scores datasets with one model replica per rank.
public final class DistributedEval {
    let comm: Communicator
    let model: VQAModel
    let tape: Tape
    /// Reused compaction buffers for clips and motion features (grown on demand only).
    var scratch: FloatBuffer?, motionScratch: FloatBuffer?

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
        let shape = loader.sampleShape
        let perSample = shape.floatsPerSample
        var indices: [Float] = [], scores: [Float] = []
        loader.start(epoch: 0)
        while let b = try loader.next() {
            let keep = (0..<b.capacity).filter { b.valid[$0] && !b.padding[$0] }
            if keep.isEmpty { continue }
            let need = keep.count * perSample
            if scratch == nil || scratch!.count < need { scratch = FloatBuffer(count: b.capacity * perSample) }
            for (j, i) in keep.enumerated() { (scratch!.base + j * perSample).update(from: b.sample(i), count: perSample) }
            tape.reset()
            let x = tape.input(shape: [keep.count * shape.clips, ClipLayout.channels, shape.frames, shape.height, shape.width])
            tape.value(x).update(from: scratch!.base, count: need)
            var motion: Var? = nil
            if model.motionDim > 0 {
                guard b.featureWidth == model.motionDim else {
                    throw DistError("\(model.name) takes \(model.motionDim) motion features per frame (motion_dim), but the loader gives \(b.featureWidth); pass the model's motion features (--motion-features)")
                }
                let per = b.featureFloatsPerSample
                if motionScratch == nil || motionScratch!.count < keep.count * per { motionScratch = FloatBuffer(count: b.capacity * per) }
                for (j, i) in keep.enumerated() { (motionScratch!.base + j * per).update(from: b.sampleFeatures(i)!, count: per) }
                motion = tape.input(shape: [keep.count * shape.clips, shape.frames, model.motionDim])
                tape.value(motion!).update(from: motionScratch!.base, count: keep.count * per)
            }
            let out = tape.array(model.forward(tape, x, motion: motion))
            for (j, i) in keep.enumerated() {
                var s: Float = 0
                for c in 0..<shape.clips { s += out[j * shape.clips + c] }
                indices.append(Float(b.indices[i]))
                scores.append(s / Float(shape.clips))
            }
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
