// Micro-batches: the exact global-batch loss in the memory of a few samples.
//
// The loss (PLCC + 0.3·rank) is a function of the whole global batch, so a shard cannot be split
// into independent steps. With `StepConfig.microBatch` = m (< the shard's sample count) a pass runs
// in two rounds over the shard's micro-batches of m samples (the last may hold fewer):
//   1. forward each micro-batch with the tape not recording (no backward closures; the tape is reset
//      between micro-batches, so only one micro-batch's values are alive) → this rank's ŷ_r;
//      then the usual all-gather, global loss and dL/dŷ (DataParallelStep.pass);
//   2. for each micro-batch: forward again, recording, and back-propagate its slice of dL/dŷ; the
//      parameter gradients accumulate in the flat buffer (every op adds into it), and the bucketed
//      all-reduce is armed for the last micro-batch only, when each gradient is complete.
// Both rounds see the same dropout/drop-path masks: a mask is a pure function of (tape.seed,
// tape.step, the clip's key, the op's position on the tape), the keys come from `ClipBatch.feed`
// for the micro-batch's rows, and `reset()` restarts the op count for every micro-batch. Every
// model normalises per sample (GroupNorm, LayerNorm, frozen BatchNorm statistics) and scores each
// clip on its own, so a micro-batch's outputs are those of the same rows in the whole shard; the
// step costs one more forward per sample and keeps the activations of m samples instead of n.

import Engine

extension DataParallelStep {
    /// Samples per micro-batch for a shard of `count` samples, or nil to run the whole shard at once.
    func microBatchSize(_ count: Int) -> Int? {
        config.microBatch > 0 && config.microBatch < count ? config.microBatch : nil
    }

    /// Round 1: this rank's clip scores, forwarding `size` samples at a time without recording.
    func microForward(_ input: ClipBatch, size: Int) throws -> [Float] {
        var scores: [Float] = []
        scores.reserveCapacity(input.clipCount)
        tape.recording = false
        defer { tape.recording = true }
        for start in stride(from: 0, to: input.count, by: size) {
            tape.reset()
            let x = try input.feed(tape, model: model, samples: start..<min(start + size, input.count))
            let y = model.forward(tape, x.clips, motion: x.motion)
            scores.append(contentsOf: UnsafeBufferPointer(start: tape.value(y), count: tape.count(y)))
        }
        return scores
    }

    /// Round 2: forwards each micro-batch of `size` samples again, recording, and back-propagates its
    /// slice of `seed` (dL/dŷ of this rank's clips) into the flat gradients; the tape's parameter
    /// callback (the all-reduce, when `reduce`) runs during the last micro-batch's backward only.
    /// The forwards' seconds are added to `forwardSeconds`.
    func microBackward(_ input: ClipBatch, size: Int, seed: [Float], reduce: Bool, forwardSeconds: inout Double) throws {
        let ready = tape.onParameterGradReady
        defer { tape.onParameterGradReady = nil }
        let starts = Array(stride(from: 0, to: input.count, by: size)), clips = input.clipsPerSample
        for (k, start) in starts.enumerated() {
            let t0 = Clock.now()
            tape.reset()
            let x = try input.feed(tape, model: model, samples: start..<min(start + size, input.count))
            let y = model.forward(tape, x.clips, motion: x.motion)
            forwardSeconds += Clock.now() - t0
            tape.onParameterGradReady = reduce && k == starts.count - 1 ? ready : nil
            seed.withUnsafeBufferPointer { tape.backward(y, seed: $0.baseAddress! + start * clips) }
        }
    }
}
