// The model interface the trainer, evaluator and benches use, and the registry of models.

/// A quality model: parameters in one flat store, a forward pass from clips to one score per clip.
public protocol VQAModel: AnyObject {
    /// Registry name (e.g. "fragnet").
    var name: String { get }
    /// All parameters, in forward order.
    var parameters: ParameterStore { get }
    /// Scores [N] for clips [N, 3, T, H, W]; the quality map is averaged over (T, H, W).
    func forward(_ t: Tape, _ clips: Var) -> Var
    /// FLOPs of one forward pass over one clip of `frames`×`height`×`width` (multiply-add = 2).
    func forwardFlops(frames: Int, height: Int, width: Int) -> Double
    /// Parameter indices of the regression head (re-initialised when fine-tuning).
    var headParameters: [Int] { get }
    /// The model's largest convolution or matrix product as one GEMM (M, N, K) for a batch: the
    /// raw-sgemm baseline the engine bench compares with.
    func dominantGEMM(batch: Int, frames: Int, height: Int, width: Int) -> (m: Int, n: Int, k: Int)
    /// Width D of the precomputed per-frame motion features the model needs (0: none).
    var motionDim: Int { get }
    /// Scores [N] for clips [N, 3, T, H, W] with motion features [N, T, motionDim] (nil when motionDim is 0).
    func forward(_ t: Tape, _ clips: Var, motion: Var?) -> Var
}

extension VQAModel {
    /// A generic conv-as-GEMM shape (64 output channels, 50176 positions, 576 = 64·3·3 inputs).
    public func dominantGEMM(batch: Int, frames: Int, height: Int, width: Int) -> (m: Int, n: Int, k: Int) { (64, 50_176, 576) }
    /// No motion features.
    public var motionDim: Int { 0 }
    /// The clip-only forward; motion features must be nil.
    public func forward(_ t: Tape, _ clips: Var, motion: Var?) -> Var {
        precondition(motion == nil, "\(name) takes no motion features; remove motion_features from the data settings")
        return forward(t, clips)
    }
}

/// Models the engine can build.
public enum ModelKind: String, CaseIterable, Sendable, Codable {
    case fragnet
    case fastVQAB = "fast-vqa-b", fastVQAM = "fast-vqa-m"
    case simpleVQA = "simplevqa"

    /// Builds the model with its default configuration and parameters initialised from `seed`.
    public func make(seed: UInt64, options: [String: String] = [:]) throws -> VQAModel {
        switch self {
        case .fragnet: return try FragNet(config: FragNet.Config(options: options), seed: seed)
        case .fastVQAB: return try FastVQA(name: rawValue, config: .init(base: .fastVQAB, options: options), seed: seed)
        case .fastVQAM: return try FastVQA(name: rawValue, config: .init(base: .fastVQAM, options: options), seed: seed)
        case .simpleVQA: return try SimpleVQA(config: SimpleVQA.Config(options: options), seed: seed)
        }
    }

    /// Checks `options` as `make` does (unknown names, values, architecture constraints) without
    /// allocating parameters; throws the same error `make` would.
    public func validate(options: [String: String]) throws {
        switch self {
        case .fragnet: _ = try FragNet.Config(options: options)
        case .fastVQAB: try FastVQA.Config(base: .fastVQAB, options: options).swin.validate()
        case .fastVQAM: try FastVQA.Config(base: .fastVQAM, options: options).swin.validate()
        case .simpleVQA: try SimpleVQA.Config(options: options).resnet.validate()
        }
    }

    /// Parses a model name, listing the valid ones on failure.
    public static func parse(_ s: String) throws -> ModelKind {
        guard let k = ModelKind(rawValue: s) else {
            throw EngineError("unknown model '\(s)'; valid models: \(allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return k
    }
}
