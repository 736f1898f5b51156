// Turns a FrameReader into normalised clips: temporal indices, augmentation, spatial fragments.
//
// Shape legend: a sample is Float [clips, 3, T, H, W] (see ClipLayout); T = clipLen; H×W =
// fragmentsH·fsizeH × fragmentsW·fsizeW for fragments/SAMA, resizeH×resizeW for resize.
//
// FAST-VQA fragments (fastvqa/datasets/fusion_datasets.py, get_spatial_fragments): if either side
// is under the output size the frame is bilinearly upsampled by 1/ratio, ratio = min(h/H, w/W),
// so the limiting side becomes exactly H (or W). The grid cell of row i starts at
// min(i·(h'/fragmentsH), h' − fsizeH); a random offset in [0, h'/fragmentsH − fsizeH) (0 when the
// cell is no larger than the patch) is drawn per cell and per block of `aligned` frames, also at
// test. Deliberate difference from the upstream code: the grid is laid over the *upsampled* frame
// (upstream keeps the pre-upsampling size, so small videos only sample their top-left part), and
// upsampled values stay Float instead of being truncated to UInt8.
//
// Randomness: streams keyed by (seed, epoch, sample index, purpose) for temporal, spatial and
// augmentation choices, so a sample is identical whichever thread or rank produces it.

/// Samples normalised clips from a FrameReader (one instance per decode thread; reuses scratch).
public final class FragmentSampler {
    /// The settings this sampler applies.
    public let config: SamplerConfig
    var resampler = Resampler()
    var augmenter: Augmenter
    var offsetsH: [Int] = [], offsetsW: [Int] = []
    /// (source frame index, output slot) pairs of the streaming path, reused across samples.
    var slots: [(Int, Int)] = []

    /// A sampler for `config`; throws a MediaError naming the bad setting.
    public init(config: SamplerConfig) throws {
        try config.validate()
        self.config = config
        augmenter = Augmenter(config: config.augment)
    }

    /// Shape of one sample written by `sample` (Float [clips, 3, T, H, W]).
    public func shape(train: Bool) -> ClipShape { config.shape(train: train) }

    /// Frame indices (clips·clipLen, clip-major) for a video of `frameCount` frames.
    func frameIndices(frameCount: Int, sampleIndex: Int, epoch: Int, seed: UInt64, train: Bool) -> [Int] {
        var rng = MediaRNG(seed: seed, epoch: epoch, index: sampleIndex, purpose: .temporal)
        let clips = config.shape(train: train).clips
        switch config.temporal {
        case .fragments:
            return FragmentSampler.segmentIndices(frameCount: frameCount, framesPerSegment: config.clipLen,
                                                  segments: clips, interval: config.frameInterval,
                                                  repeats: 1, rng: &rng)
        case .tFrag:
            return FragmentSampler.segmentIndices(frameCount: frameCount, framesPerSegment: config.clipLen / config.tFrag,
                                                  segments: config.tFrag, interval: config.frameInterval,
                                                  repeats: clips, rng: &rng)
        case .uniform:
            return FragmentSampler.uniformIndices(frameCount: frameCount, count: clips * config.clipLen, train: train, rng: &rng)
        }
    }

    /// FAST-VQA FragmentSampleFrames: `repeats` times, cut the video into `segments` parts of
    /// n/segments frames; in each take `framesPerSegment` frames at `interval` from a random start
    /// in [0, part − framesPerSegment·interval) (0 if the part is too short); indices wrap mod n.
    static func segmentIndices(frameCount n: Int, framesPerSegment: Int, segments: Int, interval: Int,
                               repeats: Int, rng: inout MediaRNG) -> [Int] {
        var out: [Int] = []
        out.reserveCapacity(repeats * segments * framesPerSegment)
        let part = n / segments
        let span = framesPerSegment * interval
        for _ in 0..<repeats {
            for s in 0..<segments {
                let start = part > span ? rng.nextInt(below: part - span) : 0
                for k in 0..<framesPerSegment {
                    out.append((s * part + start + k * interval) % n)
                }
            }
        }
        return out
    }

    /// Writes one sample (Float [clips, 3, T, H, W], see `shape(train:)`) for the video behind
    /// `reader` into `into`. Throws a MediaError naming the file if frames cannot be read or are
    /// inconsistent.
    public func sample(reader: FrameReader, sampleIndex: Int, epoch: Int, seed: UInt64, train: Bool,
                       into: UnsafeMutablePointer<Float>) throws {
        let info = reader.info
        guard info.frameCount >= 1 else { throw MediaError(info.path, "no frames to sample (frame count \(info.frameCount))") }
        let indices = frameIndices(frameCount: info.frameCount, sampleIndex: sampleIndex, epoch: epoch, seed: seed, train: train)
        if let bad = indices.first(where: { $0 < 0 || $0 >= info.frameCount }) {
            throw MediaError(info.path, "frame index \(bad) outside 0..<\(info.frameCount)")
        }
        if canStream(reader, train: train), let lender = reader as? FrameVisiting {
            try sampleStreaming(lender, indices: indices, path: info.path, sampleIndex: sampleIndex, epoch: epoch,
                                seed: seed, train: train, into: into)
            return
        }
        let unique = Array(Set(indices)).sorted()
        var decoded = try reader.frames(at: unique)
        guard decoded.count == unique.count else {
            throw MediaError(info.path, "asked for \(unique.count) frames, the reader returned \(decoded.count)")
        }
        var position: [Int: Int] = [:]
        for (p, i) in unique.enumerated() { position[i] = p }
        try sample(decoded: &decoded, order: indices.map { position[$0]! }, path: info.path, sampleIndex: sampleIndex,
                   epoch: epoch, seed: seed, train: train, into: into)
    }

    /// Writes one sample from distinct decoded frames; output frame k (clip-major) is
    /// `decoded[order[k]]`. With one clip, augmentation runs in place on `decoded` (each distinct
    /// frame once, no copies); with several, each clip augments its own copies.
    func sample(decoded: inout [RGBFrame], order: [Int], path: String, sampleIndex: Int, epoch: Int, seed: UInt64,
                train: Bool, into: UnsafeMutablePointer<Float>) throws {
        let shape = config.shape(train: train)
        guard order.count == shape.clips * shape.frames else {
            throw MediaError(path, "expected \(shape.clips * shape.frames) frames, got \(order.count)")
        }
        guard let first = decoded.first, first.width >= 1, first.height >= 1 else {
            throw MediaError(path, "empty frame")
        }
        if let odd = decoded.first(where: { $0.width != first.width || $0.height != first.height }) {
            throw MediaError(path, "frame size changes inside the video (\(first.width)×\(first.height) then \(odd.width)×\(odd.height)); re-encode it at one size")
        }
        var augRNG = MediaRNG(seed: seed, epoch: epoch, index: sampleIndex, purpose: .augment)
        var spRNG = MediaRNG(seed: seed, epoch: epoch, index: sampleIndex, purpose: .spatial)
        let augmenting = train && !config.augment.ops.isEmpty
        for c in 0..<shape.clips {
            let slice = order[(c * shape.frames)..<((c + 1) * shape.frames)]
            var clip: [RGBFrame]
            if augmenting {
                let plan = augmenter.draw(width: first.width, height: first.height, rng: &augRNG)
                if shape.clips == 1 {
                    augmenter.apply(plan, to: &decoded)
                    clip = slice.map { decoded[$0] }
                } else {
                    let used = Array(Set(slice)).sorted()
                    var local = used.map { decoded[$0] }
                    augmenter.apply(plan, to: &local)
                    var at: [Int: Int] = [:]
                    for (k, u) in used.enumerated() { at[u] = k }
                    clip = slice.map { local[at[$0]!] }
                }
            } else {
                clip = slice.map { decoded[$0] }
            }
            let target = ClipTarget(base: into + c * shape.floatsPerClip, frames: shape.frames,
                                    height: shape.height, width: shape.width)
            switch config.spatial {
            case .fragments: writeFragments(clip, to: target, rng: &spRNG)
            case .sama: writeSama(clip, to: target, train: train, rng: &spRNG)
            case .resize: writeResize(clip, to: target, train: train, rng: &spRNG)
            }
        }
    }

    /// Frames per block of shared fragment offsets for a clip of `frames` frames.
    func alignedBlock(frames: Int) -> Int {
        frames == 1 ? 1 : (config.aligned == 0 ? frames : config.aligned)
    }

    /// FAST-VQA grid mini-patch sampling of one clip (see the file comment).
    func writeFragments(_ clip: [RGBFrame], to target: ClipTarget, rng: inout MediaRNG) {
        let grid = drawFragmentOffsets(width: clip[0].width, height: clip[0].height, frames: clip.count, clips: 1, rng: &rng)
        for (t, frame) in clip.enumerated() {
            frame.pixels.withUnsafeBufferPointer { px in
                writeFragmentFrame(px, width: frame.width, height: frame.height, grid: grid, offsetBase: 0, t: t, to: target)
            }
        }
    }

    /// The FAST-VQA upsample rule: (h, w) scaled by 1/ratio when ratio = min(h/minHeight,
    /// w/minWidth) < 1 (output sides floored, never below the minimum), else unchanged.
    static func upsampledSize(height h: Int, width w: Int, minHeight: Int, minWidth: Int) -> (Int, Int) {
        let ratio = min(Double(h) / Double(minHeight), Double(w) / Double(minWidth))
        guard ratio < 1 else { return (h, w) }
        let vh = max(minHeight, Int((Double(h) / ratio + 1e-9).rounded(.down)))
        let vw = max(minWidth, Int((Double(w) / ratio + 1e-9).rounded(.down)))
        return (vh, vw)
    }
}
