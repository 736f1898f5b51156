// Parameters: one flat Float buffer for values and one for gradients; every parameter is a named
// view (PyTorch state_dict names, e.g. "stages.0.conv.weight"). Optimizers, all-reduce,
// perturbations and checkpoints operate on the flat buffers, as llm.c does.

/// How a parameter is initialised.
public enum ParameterInit: Sendable, Equatable {
    case zeros, ones
    case constant(Float)
    /// U(-bound, bound).
    case uniform(Float)
    /// N(0, std²) truncated to ±2 std (timm's trunc_normal_).
    case truncatedNormal(Float)
    /// PyTorch's default for conv/linear weights: U(±1/sqrt(fanIn)) (kaiming_uniform with a=√5).
    case kaimingUniform(fanIn: Int)
}

/// One named parameter: a view into the flat buffers.
public struct ParameterInfo: Sendable, Equatable {
    /// Dotted PyTorch-style name.
    public let name: String
    /// Shape, row-major.
    public let shape: [Int]
    /// Offset of the first element in the flat buffers.
    public let offset: Int
    /// Number of elements.
    public var count: Int { shape.reduce(1, *) }
    /// Initialiser used by `initialize(seed:)`.
    let initializer: ParameterInit
    /// Learning-rate group ("backbone" or "head" by default).
    let group: String
}

/// Flat parameter and gradient buffers with named views.
public final class ParameterStore {
    /// Parameters in declaration order (the forward order of the model).
    public private(set) var infos: [ParameterInfo] = []
    private var byName: [String: Int] = [:]
    private var total = 0
    private var storage: FloatBuffer?
    private var gradStorage: FloatBuffer?

    public init() {}

    /// Declares a parameter before `allocate()`; returns its index.
    @discardableResult
    func declare(_ name: String, shape: [Int], initializer: ParameterInit, group: String = "backbone") -> Int {
        precondition(storage == nil, "declare \(name): parameters are already allocated")
        precondition(byName[name] == nil, "duplicate parameter name \(name)")
        let info = ParameterInfo(name: name, shape: shape, offset: total, initializer: initializer, group: group)
        // Keep every tensor 16-float aligned so vector kernels and buckets start on cache lines.
        total += (info.count + 15) & ~15
        byName[name] = infos.count
        infos.append(info)
        return infos.count - 1
    }

    /// Allocates the flat buffers (values zero) once all parameters are declared.
    public func allocate() {
        precondition(storage == nil, "parameters are already allocated")
        storage = FloatBuffer(count: total)
        gradStorage = FloatBuffer(count: total)
    }

    /// Total floats in the flat buffers (including alignment padding, which stays zero).
    public var flatCount: Int { total }
    /// Number of real parameters (without padding).
    public var parameterCount: Int { infos.reduce(0) { $0 + $1.count } }

    /// The flat value buffer.
    public var values: FloatBuffer { guard let s = storage else { fatalError("parameters not allocated") }; return s }
    /// The flat gradient buffer.
    public var grads: FloatBuffer { guard let g = gradStorage else { fatalError("parameters not allocated") }; return g }

    /// Index of the parameter called `name`.
    public func index(of name: String) -> Int? { byName[name] }

    /// Values of parameter `i`.
    public func value(_ i: Int) -> UnsafeMutableBufferPointer<Float> {
        UnsafeMutableBufferPointer(start: values.base + infos[i].offset, count: infos[i].count)
    }

    /// Gradient of parameter `i`.
    public func grad(_ i: Int) -> UnsafeMutableBufferPointer<Float> {
        UnsafeMutableBufferPointer(start: grads.base + infos[i].offset, count: infos[i].count)
    }

    /// Sets every gradient to zero.
    public func zeroGrad() { grads.fill(0) }

    /// Initialises every parameter from its initializer with the counter RNG (seed, index).
    public func initialize(seed: UInt64) {
        for (i, info) in infos.enumerated() { initialize(i, info.initializer, seed: seed) }
    }

    /// Re-initialises parameter `i` (used for a fresh head when fine-tuning).
    public func initialize(_ i: Int, _ how: ParameterInit, seed: UInt64) {
        let v = value(i)
        var rng = CounterRNG(seed: seed, index: UInt64(i), purpose: .parameterInit)
        switch how {
        case .zeros: v.update(repeating: 0)
        case .ones: v.update(repeating: 1)
        case .constant(let c): v.update(repeating: c)
        case .uniform(let b):
            for j in 0..<v.count { v[j] = (rng.nextFloat() * 2 - 1) * b }
        case .kaimingUniform(let fanIn):
            let b = 1 / Float(max(fanIn, 1)).squareRoot()
            for j in 0..<v.count { v[j] = (rng.nextFloat() * 2 - 1) * b }
        case .truncatedNormal(let std):
            for j in 0..<v.count {
                var z = rng.nextGaussian()
                while abs(z) > 2 { z = rng.nextGaussian() }
                v[j] = z * std
            }
        }
    }
}
