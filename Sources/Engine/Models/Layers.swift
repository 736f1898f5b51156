// Layers: each declares its parameters plainly in a ParameterStore and applies an op on a Tape.
//
// Shapes: Conv3d x [N, Cin, T, H, W] → [N, Cout, T', H', W']; GroupNorm over [N, C, ...].

/// A 3-D convolution with bias (PyTorch nn.Conv3d layout and default initialisation).
struct Conv3dLayer {
    /// Parameter indices in the store.
    let weight: Int, bias: Int?
    let stride: (Int, Int, Int), padding: (Int, Int, Int)

    /// Declares `name.weight` [cout, cin, kt, kh, kw] and `name.bias` [cout].
    init(_ store: ParameterStore, _ name: String, cin: Int, cout: Int, kernel: (Int, Int, Int),
                stride: (Int, Int, Int) = (1, 1, 1), padding: (Int, Int, Int) = (0, 0, 0),
                bias: Bool = true, group: String = "backbone") {
        let fanIn = cin * kernel.0 * kernel.1 * kernel.2
        weight = store.declare("\(name).weight", shape: [cout, cin, kernel.0, kernel.1, kernel.2],
                               initializer: .kaimingUniform(fanIn: fanIn), group: group)
        self.bias = bias ? store.declare("\(name).bias", shape: [cout], initializer: .kaimingUniform(fanIn: fanIn), group: group) : nil
        self.stride = stride
        self.padding = padding
    }

    /// Applies the convolution.
    func callAsFunction(_ t: Tape, _ store: ParameterStore, _ x: Var) -> Var {
        t.conv3d(x, t.parameter(store, weight), bias.map { t.parameter(store, $0) }, stride: stride, padding: padding)
    }

    /// Multiply-adds ×2 for one output volume of `outElems` positions per output channel.
    func flops(_ store: ParameterStore, outPositions: Int) -> Double {
        let s = store.infos[weight].shape
        return 2 * Double(outPositions) * Double(s[0]) * Double(s[1] * s[2] * s[3] * s[4])
    }
}

/// Group normalisation with affine weight and bias (nn.GroupNorm, eps 1e-5).
struct GroupNormLayer {
    /// Parameter indices in the store.
    let weight: Int, bias: Int
    let groups: Int

    /// Declares `name.weight` (ones) and `name.bias` (zeros) of `channels`.
    init(_ store: ParameterStore, _ name: String, groups: Int, channels: Int, group: String = "backbone") {
        precondition(channels % groups == 0, "\(name): \(channels) channels are not divisible into \(groups) groups")
        weight = store.declare("\(name).weight", shape: [channels], initializer: .ones, group: group)
        bias = store.declare("\(name).bias", shape: [channels], initializer: .zeros, group: group)
        self.groups = groups
    }

    /// Applies the normalisation.
    func callAsFunction(_ t: Tape, _ store: ParameterStore, _ x: Var) -> Var {
        t.groupNorm(x, groups: groups, t.parameter(store, weight), t.parameter(store, bias))
    }
}

/// FAST-VQA's regression head: 1×1×1 convolutions cin → hidden → 1 (`fc_hid`, `fc_last`, group "head").
struct VQAHeadLayers {
    /// The hidden and the output convolution.
    let fcHid: Conv3dLayer, fcLast: Conv3dLayer

    /// Declares `prefix.fc_hid` [hidden, cin, 1, 1, 1] and `prefix.fc_last` [1, hidden, 1, 1, 1] with biases.
    init(_ store: ParameterStore, _ prefix: String, cin: Int, hidden: Int) {
        fcHid = Conv3dLayer(store, "\(prefix).fc_hid", cin: cin, cout: hidden, kernel: (1, 1, 1), group: "head")
        fcLast = Conv3dLayer(store, "\(prefix).fc_last", cin: hidden, cout: 1, kernel: (1, 1, 1), group: "head")
    }

    /// Indices of the four head tensors (re-initialised when fine-tuning).
    var parameters: [Int] { [fcHid.weight, fcHid.bias!, fcLast.weight, fcLast.bias!] }

    /// One score per clip: the mean of the quality map [N, 1, ...] over every axis but N.
    static func score(_ t: Tape, _ map: Var) -> Var {
        let s = t.shape(map)
        return t.reshape(t.mean(map, axes: Array(1..<s.count), keepDims: false), [s[0]])
    }
}
