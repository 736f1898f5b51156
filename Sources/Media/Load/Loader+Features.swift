// Per-frame side features that travel with a sample through the loader (SimpleVQA's precomputed
// motion features). Media knows nothing of their file format: a FrameFeatureSource (Dist wires one
// over Engine's MotionFeatures) writes them for the frames the sampler chose.
//
// Shape legend: per sample Float [clips, T, D] (clip-major like the frames, D = width), next to the
// sample's clips [clips, 3, T, H, W]; a batch holds [B, clips, T, D].
// Alignment: sampled frame f of a video of N frames has its centre at fraction (f + 0.5)/N of the
// video; the source maps that fraction to its own time axis (e.g. chunk ⌊p·C⌋ of C chunks).

/// Writes the per-frame side features of one video (e.g. precomputed motion features).
public protocol FrameFeatureSource: Sendable {
    /// Features per frame (D).
    var width: Int { get }
    /// Writes Float [positions.count, width] for the video at `path` (the loader entry's path),
    /// where positions[k] ∈ [0, 1) is the centre of sampled frame k as a fraction of the video.
    /// Throws an error naming the feature file and the reason when they cannot be read.
    func write(path: String, positions: [Double], into: UnsafeMutablePointer<Float>) throws
}

extension FragmentSampler {
    /// Centres of `frameIndices` as fractions of a video of `frameCount` frames, in [0, 1).
    public static func framePositions(_ frameIndices: [Int], frameCount: Int) -> [Double] {
        frameIndices.map { (Double($0) + 0.5) / Double(max(frameCount, 1)) }
    }
}

extension SampleBatch {
    /// Floats of one sample's features [clips, T, D] (0 without a feature source).
    public var featureFloatsPerSample: Int { sampleShape.clips * sampleShape.frames * featureWidth }
    /// The features [clips, T, D] of slot `i` (nil without a feature source).
    public func sampleFeatures(_ i: Int) -> UnsafeMutablePointer<Float>? {
        features.map { $0 + i * featureFloatsPerSample }
    }
}
