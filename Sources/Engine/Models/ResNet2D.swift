// ResNet (He et al., 2016) as torchvision builds it (v1.5: the stride sits on the 3×3 conv of a
// bottleneck), 2-D, with frozen BatchNorm; used per frame by SimpleVQA.
//
// Shapes (depth 50, base width 64, one 448×448 frame; depth 18/34 has 64-128-256-512 channels):
//   x [B, 3, 448, 448]
//   conv1 7×7 s2 p3 (no bias) → bn1 → ReLU          → [B, 64, 224, 224]
//   maxpool 3×3 s2 p1                              → [B, 64, 112, 112]
//   layer1 (3 blocks)                              → [B, 256, 112, 112]
//   layer2 (4 blocks, first stride 2)              → [B, 512, 56, 56]
//   layer3 (6 blocks, first stride 2)              → [B, 1024, 28, 28]
//   layer4 (3 blocks, first stride 2)              → [B, 2048, 14, 14]
// BasicBlock (18, 34): conv3×3(s) → bn1 → ReLU → conv3×3 → bn2; + shortcut; ReLU.
// Bottleneck (50, 101, 152): conv1×1 → bn1 → ReLU → conv3×3(s) → bn2 → ReLU → conv1×1 (×4) → bn3;
//   + shortcut; ReLU. Shortcut = `downsample.0` conv1×1(s) + `downsample.1` bn when the stride or
//   the width changes, else the identity.
// state_dict names are torchvision's: conv1.weight, bn1.{weight,bias,running_mean,running_var},
// layer{i}.{j}.conv{k}.weight, layer{i}.{j}.bn{k}.*, layer{i}.{j}.downsample.{0,1}.* (the fc layer
// and num_batches_tracked are not used).
// Init (no pretrained weights): convs He-uniform over fan_out (the variance of torchvision's
// kaiming_normal_(mode="fan_out", nonlinearity="relu")), BN weight 1, bias 0, running mean 0, var 1.

/// A 2-D convolution without bias (torchvision ResNet layout, `name.weight` [cout, cin, k, k]);
/// it always runs with the BatchNorm after it folded in (`FrozenBatchNorm2dLayer`).
struct Conv2dLayer {
    let weight: Int
    let stride: Int, padding: Int, kernel: Int

    init(_ store: ParameterStore, _ name: String, cin: Int, cout: Int, kernel: Int, stride: Int = 1, padding: Int = 0) {
        let fanOut = cout * kernel * kernel
        weight = store.declare("\(name).weight", shape: [cout, cin, kernel, kernel],
                               initializer: .uniform((6 / Float(fanOut)).squareRoot()))
        self.stride = stride
        self.padding = padding
        self.kernel = kernel
    }

    /// FLOPs (multiply-add = 2) for `outPositions` output pixels.
    func flops(_ p: ParameterStore, outPositions: Int) -> Double {
        let s = p.infos[weight].shape
        return 2 * Double(outPositions) * Double(s[0] * s[1] * s[2] * s[3])
    }
}

/// BatchNorm2d with frozen statistics: the running mean and variance (group
/// `OptimizerConfig.frozenGroup`, never updated) always normalise, in training too; weight and bias train.
/// Memory: each conv → BN (→ ReLU) keeps one activation (the ReLUs run in place, and the block's
/// add + ReLU overwrites the last BN output), as torchvision with inplace ReLUs, and less than
/// PyTorch's F.relu trunk in scripts/reference/simplevqa.py, which keeps conv and ReLU outputs.
struct FrozenBatchNorm2dLayer {
    let weight: Int, bias: Int, runningMean: Int, runningVar: Int

    init(_ store: ParameterStore, _ name: String, channels: Int) {
        weight = store.declare("\(name).weight", shape: [channels], initializer: .ones)
        bias = store.declare("\(name).bias", shape: [channels], initializer: .zeros)
        runningMean = store.declare("\(name).running_mean", shape: [channels], initializer: .zeros, group: OptimizerConfig.frozenGroup)
        runningVar = store.declare("\(name).running_var", shape: [channels], initializer: .ones, group: OptimizerConfig.frozenGroup)
    }

    /// bn(conv(x)) for x [B, C, 1, H, W]: the BatchNorm folded into the convolution's weight and bias
    /// (Ops+FrozenBatchNorm.swift), so no normalisation pass runs and nothing extra is kept. Runs as
    /// a conv3d with a 1×k×k kernel (the same arithmetic as conv2d) to set its column budget.
    func callAsFunction(_ t: Tape, _ p: ParameterStore, _ conv: Conv2dLayer, _ x: Var) -> Var {
        let ws = p.infos[conv.weight].shape
        let (w, b) = t.foldFrozenBatchNorm(convWeight: t.parameter(p, conv.weight), weight: t.parameter(p, weight),
                                           bias: t.parameter(p, bias), runningMean: p.value(runningMean).baseAddress!,
                                           runningVar: p.value(runningVar).baseAddress!, eps: 1e-5,
                                           foldedShape: [ws[0], ws[1], 1, ws[2], ws[3]])
        return t.conv3d(x, w, b, stride: (1, conv.stride, conv.stride), padding: (0, conv.padding, conv.padding),
                        dilation: (1, 1, 1), groups: 1, columnBudget: ResNet2D.columnBudget)
    }
}

/// One residual block (BasicBlock or Bottleneck) with its optional downsampling shortcut.
struct ResNetBlock {
    let convs: [Conv2dLayer], norms: [FrozenBatchNorm2dLayer]
    let downsample: (Conv2dLayer, FrozenBatchNorm2dLayer)?

    init(_ store: ParameterStore, _ prefix: String, cin: Int, planes: Int, stride: Int, bottleneck: Bool) {
        let cout = bottleneck ? 4 * planes : planes
        let specs: [(cin: Int, cout: Int, k: Int, s: Int)] = bottleneck
            ? [(cin, planes, 1, 1), (planes, planes, 3, stride), (planes, cout, 1, 1)]
            : [(cin, planes, 3, stride), (planes, planes, 3, 1)]
        var c: [Conv2dLayer] = [], n: [FrozenBatchNorm2dLayer] = []
        for (i, s) in specs.enumerated() {
            c.append(Conv2dLayer(store, "\(prefix).conv\(i + 1)", cin: s.cin, cout: s.cout, kernel: s.k, stride: s.s, padding: s.k / 2))
            n.append(FrozenBatchNorm2dLayer(store, "\(prefix).bn\(i + 1)", channels: s.cout))
        }
        convs = c
        norms = n
        downsample = stride != 1 || cin != cout
            ? (Conv2dLayer(store, "\(prefix).downsample.0", cin: cin, cout: cout, kernel: 1, stride: stride),
               FrozenBatchNorm2dLayer(store, "\(prefix).downsample.1", channels: cout))
            : nil
    }

    /// The shortcut runs first, so that the last BN output is the latest node and the final
    /// add + ReLU can overwrite it; every inner ReLU overwrites its convolution's output.
    func callAsFunction(_ t: Tape, _ p: ParameterStore, _ x: Var) -> Var {
        let shortcut = downsample.map { $0.1(t, p, $0.0, x) } ?? x
        var h = x
        for i in convs.indices {
            h = norms[i](t, p, convs[i], h)
            if i < convs.count - 1 { h = t.reluInPlace(h) }
        }
        let y = t.addReluInPlace(h, shortcut)
        // The downsampled shortcut is read by nothing else (its conv's backward reads the conv's input).
        if downsample != nil { t.releaseValue(shortcut) }
        return y
    }
}

/// Depth and width of a torchvision ResNet.
struct ResNetConfig: Sendable, Equatable {
    /// 18, 34, 50, 101 or 152.
    var depth = 50
    /// Channels of the stem (torchvision: 64); stage i has base·2^i planes.
    var baseWidth = 64

    /// The valid depths.
    static let depths = [18, 34, 50, 101, 152]

    init(depth: Int = 50, baseWidth: Int = 64) {
        self.depth = depth
        self.baseWidth = baseWidth
    }

    /// Blocks per stage.
    var blocks: [Int] {
        switch depth {
        case 18: return [2, 2, 2, 2]
        case 34, 50: return [3, 4, 6, 3]
        case 101: return [3, 4, 23, 3]
        default: return [3, 8, 36, 3]
        }
    }

    /// Whether the blocks are bottlenecks (depth ≥ 50).
    var bottleneck: Bool { depth >= 50 }

    /// Output channels of stage i (0-based).
    func stageChannels(_ i: Int) -> Int { (baseWidth << i) * (bottleneck ? 4 : 1) }

    func validate() throws {
        guard ResNetConfig.depths.contains(depth) else {
            throw EngineError("resnet: depth \(depth) is not supported; valid depths: \(ResNetConfig.depths.map(String.init).joined(separator: ", "))")
        }
        guard baseWidth > 0 else { throw EngineError("resnet: width must be positive, got \(baseWidth)") }
    }
}

/// A torchvision ResNet trunk (no avgpool/fc): frames [B, 3, H, W] → the outputs of layer1…layer4.
final class ResNet2D {
    let config: ResNetConfig
    let conv1: Conv2dLayer, bn1: FrozenBatchNorm2dLayer
    let layers: [[ResNetBlock]]

    /// Declares every parameter (torchvision names) under `prefix` ("" for none).
    init(_ store: ParameterStore, prefix: String, config: ResNetConfig) {
        self.config = config
        let pre = prefix.isEmpty ? "" : prefix + "."
        let w = config.baseWidth
        conv1 = Conv2dLayer(store, "\(pre)conv1", cin: 3, cout: w, kernel: 7, stride: 2, padding: 3)
        bn1 = FrozenBatchNorm2dLayer(store, "\(pre)bn1", channels: w)
        var cin = w
        var built: [[ResNetBlock]] = []
        for (i, n) in config.blocks.enumerated() {
            built.append((0..<n).map { j in
                defer { cin = config.stageChannels(i) }
                return ResNetBlock(store, "\(pre)layer\(i + 1).\(j)", cin: cin, planes: w << i,
                                   stride: j == 0 && i > 0 ? 2 : 1, bottleneck: config.bottleneck)
            })
        }
        layers = built
    }

    /// Columns kept from forward for the weight gradients, in floats per convolution: none. At
    /// 32 frames of 224² a ResNet-50 would keep 478 MB of them (layer3, layer4, the downsamplings);
    /// rebuilding them in backward costs one im2col per convolution.
    static let columnBudget = 0

    /// Outputs of the four stages [B, C_i, H_i, W_i] for frames [B, 3, H, W]. Inside, frames run
    /// as [B, C, 1, H, W] (see `FrozenBatchNorm2dLayer`).
    func callAsFunction(_ t: Tape, _ p: ParameterStore, _ x: Var) -> [Var] {
        let s = t.shape(x)
        precondition(s.count == 4, "resnet: frames must be [B, C, H, W], got \(s)")
        let stem = t.reluInPlace(bn1(t, p, conv1, t.reshape(x, [s[0], s[1], 1, s[2], s[3]])))
        var h = t.maxPool3d(stem, kernel: (1, 3, 3), stride: (1, 2, 2), padding: (0, 1, 1))
        var out: [Var] = []
        for layer in layers {
            for blk in layer { h = blk(t, p, h) }
            let hs = t.shape(h)
            out.append(t.reshape(h, [hs[0], hs[1], hs[3], hs[4]]))
        }
        return out
    }

    /// Every convolution with its output pixels for one H×W frame, in forward order.
    func convolutions(height: Int, width: Int) -> [(Conv2dLayer, Int)] {
        func out(_ n: Int, _ c: Conv2dLayer) -> Int { (n + 2 * c.padding - c.kernel) / c.stride + 1 }
        var h = out(height, conv1), w = out(width, conv1)
        var list = [(conv1, h * w)]
        h = (h + 2 - 3) / 2 + 1; w = (w + 2 - 3) / 2 + 1  // maxpool 3×3 s2 p1
        for layer in layers {
            for blk in layer {
                let (h0, w0) = (h, w)
                for c in blk.convs {
                    h = out(h, c); w = out(w, c)
                    list.append((c, h * w))
                }
                if let d = blk.downsample { list.append((d.0, out(h0, d.0) * out(w0, d.0))) }
            }
        }
        return list
    }

    /// Spatial size [H', W'] of every stage output for an H×W frame.
    func stageSizes(height: Int, width: Int) -> [[Int]] {
        func out(_ n: Int, _ k: Int, _ s: Int, _ pad: Int) -> Int { (n + 2 * pad - k) / s + 1 }
        var h = out(out(height, 7, 2, 3), 3, 2, 1), w = out(out(width, 7, 2, 3), 3, 2, 1)
        return (0..<4).map { i in
            if i > 0 { h = out(h, 3, 2, 1); w = out(w, 3, 2, 1) }
            return [h, w]
        }
    }
}
