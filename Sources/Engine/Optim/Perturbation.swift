// Adversarial (AWP) and random (RWP) weight perturbation with the seed code's exact semantics
// (XinliYue/VQA-Generalization fastvqa/train.py, class WP), over the flat parameter buffer.
//
// Shapes: per selected tensor w [n], direction d [n] (the all-reduced gradient, or N(0,1) noise).
//   if ‖d‖ ≠ 0 and finite:  δ = γ · d/(‖d‖+ε) · (‖w‖+ε);  w′ = clamp(w+δ, w−γ|w|, w+γ|w|)
// Norms are Frobenius norms over the whole tensor (layer-wise), accumulated in Double.
// The seed code skips only NaN norms; we also skip infinite ones (δ would be NaN).

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Weight perturbation kind.
public enum PerturbationKind: String, Sendable, Codable, CaseIterable {
    /// Adversarial: along the gradient at the clean weights.
    case awp
    /// Random: along N(0,1) noise from the shared counter RNG (identical on every rank).
    case rwp
}

/// Which parameter tensors are perturbed.
public enum PerturbationSelection: String, Sendable, Codable, CaseIterable {
    /// Names ending in "weight" (the seed code tests `"weight" in name`): every linear/conv weight
    /// plus norm and head weights; biases and relative/fragment position-bias tables are excluded.
    case weightNamed
    /// As `weightNamed`, restricted to tensors with more than one dimension (Wu et al. 2020).
    case ndimAbove1
}

/// Settings of AWP/RWP.
public struct PerturbationConfig: Sendable, Equatable, Codable {
    /// AWP or RWP.
    public var kind: PerturbationKind
    /// Relative size γ (seed default 1e-4); 0 disables the perturbation.
    public var gamma: Float
    /// Tensor selection rule.
    public var select: PerturbationSelection
    /// ε added to both norms (seed code: 1e-6).
    public var eps: Float

    /// The seed code's γ, the default of `vqa-mpi train` and of this configuration.
    public static let defaultGamma = 1e-4

    /// A perturbation configuration with the seed code's defaults.
    public init(kind: PerturbationKind = .awp, gamma: Float = Float(defaultGamma), select: PerturbationSelection = .weightNamed,
                eps: Float = 1e-6) {
        self.kind = kind; self.gamma = gamma; self.select = select; self.eps = eps
    }

    /// Whether the parameter `info` is perturbed under this configuration.
    public func selects(_ info: ParameterInfo) -> Bool {
        guard info.name.hasSuffix("weight") else { return false }
        switch select {
        case .weightNamed: return true
        case .ndimAbove1: return info.shape.count > 1
        }
    }
}

/// Perturbs the selected weights in place and restores them bit for bit afterwards.
public final class WeightPerturbation {
    /// The configuration.
    public let config: PerturbationConfig
    /// Indices (in ParameterStore.infos) of the selected tensors.
    let selected: [Int]
    /// Indices of the tensors actually moved by the last `perturb` (others had a zero or
    /// non-finite direction norm).
    private(set) var lastPerturbed: [Int] = []
    let backup: FloatBuffer
    let backupOffsets: [Int]
    let noise: FloatBuffer
    let compute: Compute
    private var saved = false

    /// Noise is drawn in blocks of this many elements, each from its own counter-RNG stream,
    /// so it is independent of the thread count.
    static let noiseBlock = 8192

    /// Prepares backup (and, for RWP, noise) buffers for the selected tensors of `store`; `trains`
    /// narrows the selection to the tensors being trained (the seed code perturbs only parameters
    /// with `requires_grad`, so a backbone frozen for a linear probe stays where it is).
    public init(config: PerturbationConfig, store: ParameterStore, compute: Compute = Compute(),
                trains: (ParameterInfo) -> Bool = { _ in true }) {
        self.config = config
        self.compute = compute
        selected = store.infos.indices.filter { config.selects(store.infos[$0]) && trains(store.infos[$0]) }
        var offsets: [Int] = [], total = 0, largest = 0
        for i in selected {
            offsets.append(total)
            total += store.infos[i].count
            largest = max(largest, store.infos[i].count)
        }
        backupOffsets = offsets
        backup = FloatBuffer(count: total)
        noise = FloatBuffer(count: config.kind == .rwp ? largest : 0)
    }

    /// Saves the selected weights and moves them along `direction` (AWP: the gradient buffer with
    /// the store's layout) or along shared noise keyed by (seed, step) (RWP: pass nil).
    public func perturb(store: ParameterStore, direction: FloatBuffer?, seed: UInt64, step: UInt64) {
        precondition(!saved, "perturb called twice without restore")
        precondition(config.kind == .rwp || direction != nil, "AWP needs the gradient buffer as direction")
        if let d = direction {
            precondition(d.count == store.flatCount, "perturbation direction has \(d.count) floats, the store \(store.flatCount)")
        }
        lastPerturbed = []
        guard config.gamma != 0 else { return }  // the seed code returns early for γ = 0
        saved = true
        for (k, i) in selected.enumerated() {
            let w = store.value(i)
            let keep = UnsafeMutableBufferPointer(start: backup.base + backupOffsets[k], count: w.count)
            _ = keep.update(fromContentsOf: w)
            let dir: UnsafeMutablePointer<Float>
            switch config.kind {
            case .awp:
                dir = direction!.base + store.infos[i].offset
            case .rwp:
                fillNoise(noise.base, count: w.count, seed: seed, step: step, tensor: UInt64(i))
                dir = noise.base
            }
            if apply(w, direction: dir, original: UnsafeBufferPointer(keep)) { lastPerturbed.append(i) }
        }
    }

    /// Puts back the weights saved by the last `perturb` (exact copy).
    public func restore(store: ParameterStore) {
        guard saved else { return }
        for (k, i) in selected.enumerated() {
            let w = store.value(i)
            _ = w.update(fromContentsOf: UnsafeBufferPointer(start: backup.base + backupOffsets[k], count: w.count))
        }
        saved = false
    }

    /// One tensor: δ, add, clamp. Returns false (weights untouched) if ‖d‖ is 0 or not finite.
    func apply(_ w: UnsafeMutableBufferPointer<Float>, direction d: UnsafeMutablePointer<Float>,
               original w0: UnsafeBufferPointer<Float>) -> Bool {
        let n = w.count
        let dNorm = l2Norm(UnsafeBufferPointer(start: d, count: n), compute: compute)
        guard dNorm != 0, dNorm.isFinite else { return false }
        let wNorm = l2Norm(UnsafeBufferPointer(w), compute: compute)
        let eps = Double(config.eps), gamma = config.gamma
        let scale = Float(Double(gamma) / (dNorm + eps) * (wNorm + eps))
        let box = UncheckedBox((w.baseAddress!, d, w0.baseAddress!))
        compute.forEachChunk(n, grain: 32_768) { r in
            let (w, d, w0) = box.value
            for j in r {
                let bound = gamma * abs(w0[j])
                let moved = w0[j] + scale * d[j]
                w[j] = min(max(moved, w0[j] - bound), w0[j] + bound)
            }
        }
        return true
    }

    /// N(0,1) noise for one tensor, block b from CounterRNG(seed, epoch: step,
    /// index: tensor << 32 | b, purpose: .rwpNoise): identical on every rank and thread count.
    func fillNoise(_ out: UnsafeMutablePointer<Float>, count: Int, seed: UInt64, step: UInt64, tensor: UInt64) {
        let block = WeightPerturbation.noiseBlock
        let blocks = (count + block - 1) / block
        let box = UncheckedBox(out)
        compute.forEach(blocks) { b in
            var rng = CounterRNG(seed: seed, epoch: step, index: tensor << 32 | UInt64(b), purpose: .rwpNoise)
            let lo = b * block
            WeightPerturbation.gaussians(&rng, into: box.value + lo, count: min(count, lo + block) - lo)
        }
    }

    /// Standard normal floats by Marsaglia's polar method (both values of each accepted pair
    /// used; one log and one square root per pair, no sin/cos). Uniforms in (−1, 1) from 24 bits.
    static func gaussians(_ rng: inout CounterRNG, into out: UnsafeMutablePointer<Float>, count: Int) {
        let unit: Float = 2.0 / 16_777_216.0
        var j = 0
        while j < count {
            let u = Float(rng.nextUInt32() >> 8) * unit - 1, v = Float(rng.nextUInt32() >> 8) * unit - 1
            let s = u * u + v * v
            if s >= 1 || s == 0 { continue }
            let f = (-2 * logf(s) / s).squareRoot()
            out[j] = u * f
            if j + 1 < count { out[j + 1] = v * f }
            j += 2
        }
    }
}
