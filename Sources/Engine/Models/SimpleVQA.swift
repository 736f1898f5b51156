// SimpleVQA (Sun et al., ACM MM 2022, "A Deep Learning based No-reference Quality Assessment Model
// for UGC Videos"): a 2-D ResNet applied to frames sampled at ~1 fps, global mean and standard
// deviation pooling of several stages, optional precomputed motion (SlowFast) features per frame,
// a two-layer linear regressor per frame and the average over frames.
//
// Facts (read from sunwei925/SimpleVQA model/UGC_BVQA_model.py, utils.py, train.sh):
// - Trunk: torchvision ResNet-50 (ImageNet weights), frames [B·T, 3, H, W]; training resizes to 520
//   and crops 448×448 (random in training, centre at test); KoNViD-1k/LSVQ read 8 frames (1 per s).
// - Spatial feature per frame: avgpool and global_std_pool2d (torch.std, unbiased: divides by
//   H'·W' − 1) of layer2, layer3 and layer4, concatenated as (avg2, std2, avg3, std3, avg4, std4):
//   2·(512 + 1024 + 2048) = 7168 for ResNet-50. `pool_stages=1,2,3,4` adds layer1 (7680).
// - Motion feature per frame: SlowFast R50 slow (2048) + fast (256) pathway features of the
//   1-s chunk around the frame, extracted offline (2304), concatenated after the spatial feature.
//   Read from disk by MotionFeatures and carried next to the clips by the loader (docs/motion-features.md).
// - Regressor `quality`: Linear(F, 128) → Linear(128, 1) with no activation between (as published);
//   per-frame scores are averaged over T.
// - Loss: L1 + rank (utils.py L1RankLoss): LossKind.l1 + LossKind.simpleRank.
// BatchNorm uses frozen (eval) statistics in training too, as when fine-tuning a pretrained ResNet:
// no batch statistics anywhere, so 1 rank and N ranks compute the same function of the global batch.
//
// Shapes (depth 50, 8 frames of 448², no motion):
//   clips [N, 3, T, 448, 448] → frames [N·T, 3, 448, 448] → stages [N·T, C_i, H_i, W_i]
//   → features [N·T, 7168] (+ motion [N, T, D] as [N·T, D]) → quality.0 → [N·T, 128] → quality.1
//   → [N·T, 1] → [N, T] → mean over T → scores [N]

/// The SimpleVQA model (`simplevqa`; PyTorch twin in scripts/reference/simplevqa.py).
final class SimpleVQA: VQAModel {
    /// Trunk, pooling, motion and head configuration.
    struct Config: Sendable, Equatable {
        /// The ResNet trunk.
        var resnet = ResNetConfig()
        /// Stages (1-based, layer1…layer4) whose mean and std are pooled (published: 2, 3, 4).
        var poolStages = [2, 3, 4]
        /// Width of the precomputed motion feature per frame (0: spatial features only; SlowFast: 2304).
        var motionDim = 0
        /// Hidden width of the regressor.
        var headHidden = 128

        init() {}

        /// Reads `depth` (18|34|50|101|152), `width` (base channels, 64), `pool_stages` (e.g. 2,3,4),
        /// `motion_dim`, `head_hidden` from string options.
        init(options: [String: String]) throws {
            let valid = ["depth", "width", "pool_stages", "motion_dim", "head_hidden"]
            for k in options.keys.sorted() where !valid.contains(k) {
                throw EngineError("simplevqa: unknown option '\(k)'; valid options: \(valid.joined(separator: ", "))")
            }
            func int(_ key: String, min: Int) throws -> Int? {
                guard let v = options[key] else { return nil }
                guard let i = Int(v), i >= min else { throw EngineError("simplevqa: \(key) needs an integer ≥ \(min), got '\(v)'") }
                return i
            }
            if let v = try int("depth", min: 1) { resnet.depth = v }
            if let v = try int("width", min: 1) { resnet.baseWidth = v }
            if let v = try int("motion_dim", min: 0) { motionDim = v }
            if let v = try int("head_hidden", min: 1) { headHidden = v }
            if let v = options["pool_stages"] {
                let parts = v.split(separator: ",").map { Int($0.filter { $0 != " " }) }
                guard !parts.isEmpty, parts.allSatisfy({ ($0 ?? 0) >= 1 && ($0 ?? 0) <= 4 }) else {
                    throw EngineError("simplevqa: pool_stages needs stage numbers from 1 to 4 separated by commas, got '\(v)'")
                }
                poolStages = Array(Set(parts.map { $0! })).sorted()
            }
            try resnet.validate()
        }

        /// Width of the per-frame spatial feature (mean and std of every pooled stage).
        var spatialDim: Int { poolStages.reduce(0) { $0 + 2 * resnet.stageChannels($1 - 1) } }
    }

    let name = "simplevqa"
    let parameters = ParameterStore()
    let config: Config
    let trunk: ResNet2D
    let fc1: LinearLayer, fc2: LinearLayer

    /// Builds SimpleVQA and initialises it from `seed` (torchvision-style trunk, PyTorch-default linears).
    init(config: Config = Config(), seed: UInt64) throws {
        try config.resnet.validate()
        self.config = config
        let p = parameters
        trunk = ResNet2D(p, prefix: "", config: config.resnet)
        let features = config.spatialDim + config.motionDim
        fc1 = LinearLayer(p, "quality.0", features, config.headHidden, initializer: .kaimingUniform(fanIn: features),
                          biasInitializer: .kaimingUniform(fanIn: features), group: "head")
        fc2 = LinearLayer(p, "quality.1", config.headHidden, 1, initializer: .kaimingUniform(fanIn: config.headHidden),
                          biasInitializer: .kaimingUniform(fanIn: config.headHidden), group: "head")
        p.allocate()
        p.initialize(seed: seed)
    }

    var headParameters: [Int] { [fc1.weight, fc1.bias!, fc2.weight, fc2.bias!] }

    var motionDim: Int { config.motionDim }

    /// Per-frame features [N·T, spatialDim] of clips [N, 3, T, H, W].
    func spatialFeatures(_ t: Tape, _ clips: Var) -> Var {
        let s = t.shape(clips)
        precondition(s.count == 5 && s[1] == 3, "simplevqa expects clips [N, 3, T, H, W], got \(s)")
        precondition(s[3] >= 32 && s[4] >= 32, "simplevqa needs frames of at least 32×32 pixels, got \(s[3])×\(s[4])")
        let frames = t.reshape(t.permute(clips, [0, 2, 1, 3, 4]), [s[0] * s[2], 3, s[3], s[4]])
        let stages = trunk(t, parameters, frames)
        let parts = config.poolStages.map { k -> Var in
            let ys = t.shape(stages[k - 1])
            precondition(ys[2] * ys[3] > 1, "simplevqa: stage \(k) is 1×1 for \(s[3])×\(s[4]) frames; its standard deviation is undefined — use larger frames")
            // [B, 2C]: avg then torch.std (unbiased); the 1e-12 only matters where the std is 0, where torch's gradient is NaN.
            return t.meanStdPool(stages[k - 1], eps: 1e-12)
        }
        return t.concat(parts, axis: 1)
    }

    /// Per-frame scores [N, T] of clips [N, 3, T, H, W] with motion features [N, T, motionDim]
    /// (required when `config.motionDim > 0`, else nil).
    func frameScores(_ t: Tape, _ clips: Var, motion: Var?) -> Var {
        let s = t.shape(clips)
        var f = spatialFeatures(t, clips)
        if config.motionDim > 0 {
            guard let m = motion else {
                preconditionFailure("simplevqa: motion_dim=\(config.motionDim) needs motion features [N, T, \(config.motionDim)]; pass them to forward(_:_:motion:) or set motion_dim=0")
            }
            precondition(t.shape(m) == [s[0], s[2], config.motionDim],
                         "simplevqa: motion features must be [N, T, D] = \([s[0], s[2], config.motionDim]), got \(t.shape(m))")
            f = t.concat([f, t.reshape(m, [s[0] * s[2], config.motionDim])], axis: 1)
        } else {
            precondition(motion == nil, "simplevqa: motion features given but motion_dim=0; set motion_dim to their width")
        }
        let q = fc2(t, parameters, fc1(t, parameters, f))   // [N·T, 1]
        return t.reshape(q, [s[0], s[2]])
    }

    /// Scores [N] (mean over frames) of clips with optional motion features [N, T, motionDim].
    func forward(_ t: Tape, _ clips: Var, motion: Var?) -> Var {
        t.mean(frameScores(t, clips, motion: motion), axes: [1])
    }

    func forward(_ t: Tape, _ clips: Var) -> Var { forward(t, clips, motion: nil) }

    func forwardFlops(frames: Int, height: Int, width: Int) -> Double {
        let convs = trunk.convolutions(height: height, width: width).reduce(0) { $0 + $1.0.flops(parameters, outPositions: $1.1) }
        let head = 2 * Double(config.spatialDim + config.motionDim) * Double(config.headHidden) + 2 * Double(config.headHidden)
        return Double(frames) * (convs + head)
    }

    func dominantGEMM(batch: Int, frames: Int, height: Int, width: Int) -> (m: Int, n: Int, k: Int) {
        let convs = trunk.convolutions(height: height, width: width)
        let (layer, pos) = convs.max { $0.0.flops(parameters, outPositions: $0.1) < $1.0.flops(parameters, outPositions: $1.1) }!
        let s = parameters.infos[layer.weight].shape
        return (s[0], batch * frames * pos, s[1] * s[2] * s[3])
    }
}
