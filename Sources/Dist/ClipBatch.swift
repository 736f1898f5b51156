// The one model input of training, evaluation and landscapes: a shard's readable samples, compacted,
// with their labels, sample indices and motion features, and the one way they enter a tape.
//
// Shapes: `count` samples × `clipsPerSample` clips of `clipShape` [3, T, H, W] at `clips`
// (= [count·clips, 3, T, H, W], the engine's clip batch); motion features [count·clips, T, D] at
// `motion` (D = `motionWidth`, nil without). Clip k of sample s is row s·clips + k; it carries its
// sample's label and the dropout key index·clips + k. A sample's score is the mean of its clips'.

import Engine
import Media

/// A shard of samples as the model takes them: clips (and motion features) of the kept samples, contiguous.
public struct ClipBatch {
    /// One clip's shape [3, T, H, W].
    public let clipShape: [Int]
    /// Clips per sample.
    public let clipsPerSample: Int
    /// Float [count·clipsPerSample, 3, T, H, W]; valid while the memory it points into is (a loader batch or a compactor).
    public let clips: UnsafeMutablePointer<Float>
    /// Float [count·clipsPerSample, T, motionWidth], nil without motion features.
    public let motion: UnsafeMutablePointer<Float>?
    /// Motion features per frame (0 without).
    public let motionWidth: Int
    /// Label of each sample.
    public let labels: [Float]
    /// Global index of each sample (dataset entry or synthetic sample): keys its dropout streams.
    public let indices: [Int]

    /// A batch over `labels.count` samples already laid out at `clips` (and `motion`).
    public init(clipShape: [Int], clipsPerSample: Int = 1, clips: UnsafeMutablePointer<Float>, motion: UnsafeMutablePointer<Float>? = nil,
                motionWidth: Int = 0, labels: [Float], indices: [Int]) {
        precondition(labels.count == indices.count, "ClipBatch: \(labels.count) labels for \(indices.count) indices")
        self.clipShape = clipShape; self.clipsPerSample = clipsPerSample; self.clips = clips
        self.motion = motion; self.motionWidth = motion == nil ? 0 : motionWidth
        self.labels = labels; self.indices = indices
    }

    /// Samples in the batch.
    public var count: Int { labels.count }
    /// Clips in the batch (the model's batch dimension).
    public var clipCount: Int { count * clipsPerSample }
    /// Floats per clip.
    var floatsPerClip: Int { clipShape.reduce(1, *) }
    /// Motion floats per clip (T·D).
    var motionPerClip: Int { clipShape[1] * motionWidth }
    /// Each clip's label (its sample's), clip order.
    var clipLabels: [Float] { labels.flatMap { Array(repeating: $0, count: clipsPerSample) } }
    /// Each clip's dropout key: sample index · clipsPerSample + clip.
    var clipKeys: [UInt64] {
        indices.flatMap { i in (0..<clipsPerSample).map { UInt64(i) &* UInt64(clipsPerSample) &+ UInt64($0) } }
    }

    /// Writes samples `samples` (default: all) as tape inputs, clips [n·clips, 3, T, H, W] and, when
    /// `model` takes them, motion features [n·clips, T, D], and sets the tape's dropout keys to the
    /// clips' keys; throws when the features do not fit the model.
    public func feed(_ tape: Tape, model: VQAModel, samples: Range<Int>? = nil) throws -> (clips: Var, motion: Var?) {
        let r = samples ?? 0..<count
        return try feed(tape, model: model, clips: r.lowerBound * clipsPerSample..<r.upperBound * clipsPerSample)
    }

    /// Writes clips `clips` (rows of the clip batch, possibly part of a sample's clips) as `feed` does.
    func feed(_ tape: Tape, model: VQAModel, clips range: Range<Int>) throws -> (clips: Var, motion: Var?) {
        let n = range.count, first = range.lowerBound
        guard motionWidth == model.motionDim else {
            throw DistError(model.motionDim == 0
                ? "motion features given to \(model.name), which takes none (motion_dim=0); drop the motion features or use a model with motion_dim > 0"
                : "\(model.name) takes \(model.motionDim) motion features per frame (motion_dim), but the input has \(motionWidth); configure the model's motion features for the data (data.train.motion_features, --motion-features)")
        }
        tape.sampleKeys = Array(clipKeys[first..<first + n])
        let x = tape.input(shape: [n] + clipShape)
        tape.value(x).update(from: clips + first * floatsPerClip, count: n * floatsPerClip)
        guard let m = motion else { return (x, nil) }
        let v = tape.input(shape: [n, clipShape[1], motionWidth])
        tape.value(v).update(from: m + first * motionPerClip, count: n * motionPerClip)
        return (x, v)
    }

    /// Per-sample scores: the mean of each sample's `clips` clip scores (`scores` holds n·clips).
    public static func sampleScores(_ scores: UnsafePointer<Float>, samples n: Int, clips: Int) -> [Float] {
        (0..<n).map { s in
            var sum: Float = 0
            for j in 0..<clips { sum += scores[s * clips + j] }
            return sum / Float(clips)
        }
    }

    /// The gradient of the clip scores from that of the sample scores (the backward of `sampleScores`):
    /// each clip of sample s gets `sampleGradient[s] / clips`.
    public static func clipGradient(_ sampleGradient: ArraySlice<Float>, clips: Int) -> [Float] {
        sampleGradient.flatMap { Array(repeating: $0 / Float(clips), count: clips) }
    }
}

/// Compacts loader batches into ClipBatches, reusing its buffers (allocated on first need, grown only).
public final class ClipCompactor {
    var clips: FloatBuffer?, motion: FloatBuffer?

    /// A compactor with no buffers yet.
    public init() {}

    /// The readable samples of `b` (and, with `dropPadding`, not the padding of the last global batch):
    /// `b`'s own memory when every slot is kept, else a compacted copy (valid until the next call).
    public func batch(_ b: SampleBatch, dropPadding: Bool) -> ClipBatch {
        let keep = (0..<b.capacity).filter { b.valid[$0] && !(dropPadding && b.padding[$0]) }
        let shape = b.sampleShape
        var x = b.data, m = b.features
        if keep.count != b.capacity {
            let per = shape.floatsPerSample, mper = b.featureFloatsPerSample
            x = Self.grow(&clips, b.capacity * per).base
            for (j, i) in keep.enumerated() { (x + j * per).update(from: b.sample(i), count: per) }
            if b.features != nil {
                let mb = Self.grow(&motion, b.capacity * mper).base
                for (j, i) in keep.enumerated() { (mb + j * mper).update(from: b.sampleFeatures(i)!, count: mper) }
                m = mb
            }
        }
        return ClipBatch(clipShape: [ClipLayout.channels, shape.frames, shape.height, shape.width], clipsPerSample: shape.clips,
                         clips: x, motion: m, motionWidth: b.featureWidth, labels: keep.map { b.labels[$0] }, indices: keep.map { b.indices[$0] })
    }

    /// `buffer`, replaced by one of `count` floats when smaller.
    static func grow(_ buffer: inout FloatBuffer?, _ count: Int) -> FloatBuffer {
        if let b = buffer, b.count >= count { return b }
        let b = FloatBuffer(count: max(count, 1))
        buffer = b
        return b
    }
}
