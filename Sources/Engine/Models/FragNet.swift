// fragnet: a small fragment-based 3-D convolutional VQA network, sized to train on a few CPU cores.
//
// Shapes (defaults, one 8×224×224 FAST-VQA fragment clip):
//   x [N, 3, T, 224, 224]
//   stem.conv  k(2,4,4) s(2,4,4)         → [N, 24, T/2, 56, 56]   (patchify: never crosses a 32×32 fragment)
//   stages.0   down k3 s(1,2,2) + block  → [N, 48, T/2, 28, 28]
//   stages.1                               → [N, 96, T/2, 14, 14]
//   stages.2                               → [N, 192, T/2, 7, 7]   (one position per fragment)
//   head: 1×1×1 conv 192→64, GELU, dropout, 1×1×1 conv 64→1 → quality map [N, 1, T/2, 7, 7]
//   score = mean of the map over (T, H, W) → [N]
// Every stage: down = Conv3d → GroupNorm → GELU; block = Conv3d(1,3,3) → GroupNorm → GELU; out = down + block.
// Option norm=none drops every GroupNorm (Conv3d → GELU), keeping the features' global energy
// (noise, blur and blocking levels) that per-sample normalisation divides away.
// No batch statistics anywhere, so 1 rank and N ranks compute the same function of the global batch.

/// The fragnet model (see the shape legend above; PyTorch twin in scripts/reference/fragnet.py).
final class FragNet: VQAModel {
    /// Width, depth and regularisation knobs.
    struct Config: Sendable, Equatable {
        /// Channels of the stem and the three stages.
        var widths: [Int] = [24, 48, 96, 192]
        /// Hidden channels of the head.
        var headHidden = 64
        /// GroupNorm groups.
        var groups = 4
        /// Dropout before the last head layer (training only).
        var dropout: Float = 0.5
        /// Per-sample GroupNorm after every convolution (`norm=group`, the default) or none (`norm=none`).
        var groupNorm = true

        init() {}

        /// Reads `widths=24,48,96,192`, `head_hidden`, `groups`, `dropout`, `norm=group|none` from string options.
        init(options: [String: String]) throws {
            let valid = ["widths", "head_hidden", "groups", "dropout", "norm"]
            for k in options.keys where !valid.contains(k) {
                throw EngineError("fragnet: unknown option '\(k)'; valid options: \(valid.joined(separator: ", "))")
            }
            if let w = options["widths"] {
                let v = w.split(separator: ",").compactMap { Int($0.filter { $0 != " " }) }
                guard v.count == 4, v.allSatisfy({ $0 > 0 }) else { throw EngineError("fragnet: widths needs 4 positive integers, got '\(w)'") }
                widths = v
            }
            if let h = options["head_hidden"] { guard let v = Int(h), v > 0 else { throw EngineError("fragnet: head_hidden must be a positive integer, got '\(h)'") }; headHidden = v }
            if let g = options["groups"] { guard let v = Int(g), v > 0 else { throw EngineError("fragnet: groups must be a positive integer, got '\(g)'") }; groups = v }
            if let d = options["dropout"] { guard let v = Float(d), v >= 0, v < 1 else { throw EngineError("fragnet: dropout must be in [0, 1), got '\(d)'") }; dropout = v }
            if let n = options["norm"] {
                guard n == "group" || n == "none" else { throw EngineError("fragnet: norm must be 'group' or 'none', got '\(n)'") }
                groupNorm = n == "group"
            }
            for w in widths where groupNorm && w % groups != 0 {
                throw EngineError("fragnet: width \(w) is not divisible by groups=\(groups)")
            }
        }
    }

    struct Stage {
        let down: Conv3dLayer, downNorm: GroupNormLayer?, block: Conv3dLayer, blockNorm: GroupNormLayer?
    }

    let name = "fragnet"
    let parameters = ParameterStore()
    let config: Config
    let stem: Conv3dLayer, stemNorm: GroupNormLayer?
    let stages: [Stage]
    let head: VQAHeadLayers

    /// Builds fragnet and initialises its parameters (PyTorch defaults) from `seed`.
    init(config: Config = Config(), seed: UInt64) throws {
        self.config = config
        let p = parameters, w = config.widths, g = config.groups
        func norm(_ name: String, _ channels: Int) -> GroupNormLayer? {
            config.groupNorm ? GroupNormLayer(p, name, groups: g, channels: channels) : nil
        }
        stem = Conv3dLayer(p, "stem.conv", cin: 3, cout: w[0], kernel: (2, 4, 4), stride: (2, 4, 4))
        stemNorm = norm("stem.norm", w[0])
        stages = (0..<3).map { i in
            Stage(down: Conv3dLayer(p, "stages.\(i).down", cin: w[i], cout: w[i + 1], kernel: (3, 3, 3),
                                    stride: (1, 2, 2), padding: (1, 1, 1)),
                  downNorm: norm("stages.\(i).down_norm", w[i + 1]),
                  block: Conv3dLayer(p, "stages.\(i).block.conv", cin: w[i + 1], cout: w[i + 1], kernel: (1, 3, 3),
                                     padding: (0, 1, 1)),
                  blockNorm: norm("stages.\(i).block.norm", w[i + 1]))
        }
        head = VQAHeadLayers(p, "head", cin: w[3], hidden: config.headHidden)
        p.allocate()
        p.initialize(seed: seed)
    }

    var headParameters: [Int] { head.parameters }

    /// The quality map [N, 1, T/2, H/32, W/32] before averaging.
    func qualityMap(_ t: Tape, _ x: Var) -> Var {
        let p = parameters
        let s = t.shape(x)
        precondition(s.count == 5 && s[1] == 3, "fragnet expects clips [N, 3, T, H, W], got \(s)")
        precondition(s[2] % 2 == 0 && s[3] % 32 == 0 && s[4] % 32 == 0,
                     "fragnet needs an even frame count and H, W divisible by 32, got \(s)")
        // gelu(norm(x)) as one fused op, bit-identical to t.gelu(norm(t, p, x)).
        func normGelu(_ norm: GroupNormLayer?, _ x: Var) -> Var {
            guard let norm else { return t.gelu(x) }
            return t.groupNormGelu(x, groups: norm.groups, t.parameter(p, norm.weight), t.parameter(p, norm.bias))
        }
        var h = normGelu(stemNorm, stem(t, p, x))
        for st in stages {
            let d = normGelu(st.downNorm, st.down(t, p, h))
            h = t.add(d, normGelu(st.blockNorm, st.block(t, p, d)))
        }
        var y = t.gelu(head.fcHid(t, p, h))
        if config.dropout > 0 { y = t.dropout(y, p: config.dropout) }
        return head.fcLast(t, p, y)
    }

    func forward(_ t: Tape, _ clips: Var) -> Var {
        VQAHeadLayers.score(t, qualityMap(t, clips))
    }

    /// Every convolution with its output positions per clip, in forward order.
    func convolutions(frames: Int, height: Int, width: Int) -> [(Conv3dLayer, Int)] {
        var pos = (frames / 2) * (height / 4) * (width / 4)
        var out = [(stem, pos)]
        for st in stages {
            pos /= 4
            out += [(st.down, pos), (st.block, pos)]
        }
        return out + [(head.fcHid, pos), (head.fcLast, pos)]
    }

    func forwardFlops(frames: Int, height: Int, width: Int) -> Double {
        convolutions(frames: frames, height: height, width: width).reduce(0) { $0 + $1.0.flops(parameters, outPositions: $1.1) }
    }

    func dominantGEMM(batch: Int, frames: Int, height: Int, width: Int) -> (m: Int, n: Int, k: Int) {
        let convs = convolutions(frames: frames, height: height, width: width)
        let (layer, pos) = convs.max { $0.0.flops(parameters, outPositions: $0.1) < $1.0.flops(parameters, outPositions: $1.1) }!
        let s = parameters.infos[layer.weight].shape
        return (s[0], batch * pos, s[1] * s[2] * s[3] * s[4])
    }
}
