// The Video Swin-T backbone of FAST-VQA ("swin_tiny_grpb": Swin with gated relative position bias).
//
// Facts (read from VQAssessment/FAST-VQA-and-FasterVQA fastvqa/models/swin_backbone.py, head.py,
// evaluator.py; SwinTransformer/Video-Swin-Transformer mmaction/models/backbones/swin_transformer.py):
// - patch_embed: Conv3d 3→96, kernel = stride = (2, 4, 4), bias; then LayerNorm(96) (patch_norm=True,
//   applied channel-last). pos_drop p = 0.
// - 4 stages ("layers"), depths 2-2-6-2, heads 3-6-12-24, dims 96-192-384-768, window (8, 7, 7),
//   MLP ratio 4 (fc1 C→4C, exact GELU, fc2 4C→C), qkv bias, scale head_dim^−0.5 applied to q.
//   Block i of a stage is shifted by window//2 = (4, 3, 3) when i is odd. Per feature size, an axis no
//   longer than the window uses the whole axis and is not shifted (get_window_size): at 32×224×224
//   the last stage (16×7×7) runs 8×7×7 windows without spatial shift.
// - Adaptive window (the official default, `SwinTransformer3D.forward(adaptive_window_size=True)`):
//   the window used in every stage is rescaled to the clip, w_i = ⌊window_i · input_i / base_i⌋ with
//   base_x_size (32, 224, 224) (T, H, W in frames and pixels), then clipped per axis as above; the
//   shift stays the configured window//2 (an axis whose shift is not smaller than its rescaled window
//   is labelled by compute_mask's slice order: the last region wins). Both bias tables keep the
//   configured window's size and are read as the sub-window rpi[:d, :h, :w, :d, :h, :w] of the
//   window actually used (true relative offsets). At the configured clip (fast-vqa-b and FasterVQA
//   32×224×224) this is the plain path; at 20×160×160 fast-vqa-b runs 5×5×5 windows (shift 4,3,3);
//   FAST-VQA-M (window 4×4×4, 16×128×128 clips) runs 2×2×2 windows with shift 2 (a whole window:
//   the same attention as unshifted); FasterVQA-MT (16 frames) runs 4×7×7 and FasterVQA-MS (160²)
//   8×5×5. Where ⌊window·input/base⌋ is 0 (fast-vqa-b on fewer than 4 frames or 32 pixels) the
//   official code fails (a zero window); here that axis uses a window of 1.
//   Option adaptive_window=0 is the official non-adaptive path: the configured window clipped per
//   axis, both tables read as relative_position_index[:N, :N] (the first N tokens of the full
//   window in raster order, which for a window clipped in H or W are not its true offsets).
// - Block: x += attn(norm1 x) (roll by −shift, window partition, attention, reverse, roll back);
//   x += mlp(norm2 x); stochastic depth rates linspace(0, 0.1, 12) over the 12 blocks (train only).
// - Attention logits + relative position bias: table [(2·8−1)(2·7−1)(2·7−1) = 2535, heads], index
//   idx(i, j) = (Δd+7)·13·13 + (Δh+6)·13 + (Δw+6) with Δ = coord_i − coord_j, read as
//   index[:N, :N] for a window of N tokens. Shifted blocks add the Video Swin mask (−100 between
//   tokens from different regions of the rolled grid; compute_mask, labels 0..26).
// - Gated fragment bias (layers 0-2, frag_biases [T, T, T, F]): a second table
//   `fragment_position_bias_table` (zeros at init) with the same index; every token gets a fragment
//   coordinate from a (1, wh, ww) grid (the window actually used: `fragments=(1,) + window_size[1:]`,
//   (1, 7, 7) for fast-vqa-b) stretched over the padded feature by nearest interpolation
//   (floor(i·7/Hp)), rolled and partitioned like the tokens; g(i, j) = Σ|f_j − f_i| (L1, not 0/1);
//   bias = R[idx]·g + F[idx]·(1 − g). Layers without the table add R[idx] (ungated).
// - Padding (forward_part1): after norm1, D/H/W are zero-padded at the end to multiples of the window;
//   mask and gate are built on the padded grid; the padded tokens attend (no extra mask) and are
//   cropped after the reverse roll. PatchMerging pads an odd H or W by one at the end. So any clip
//   with T divisible by 2 and H, W by 4 runs (e.g. 16×160×160, whose 40×40 stage-0 grid pads to 42).
// - PatchMerging after stages 0-2: cat(x[0::2, 0::2], x[1::2, 0::2], x[0::2, 1::2], x[1::2, 1::2])
//   over (H, W) → LayerNorm(4C) → Linear(4C → 2C, no bias); T is never downsampled.
// - Final LayerNorm(768) → feature [N, 768, T/2, H/32, W/32] (32×224×224 → [N, 768, 16, 7, 7]).
// - VQAHead: dropout(0.5) → Conv3d 768→64 1×1×1 → GELU → dropout(0.5) → Conv3d 64→1 → quality map;
//   score = mean of the map over (T, H, W).
// - Init (no pretrained): Linear trunc_normal(std 0.02), bias 0; LayerNorm 1/0; relative tables
//   trunc_normal(0.02); fragment tables 0; convs PyTorch default.
// - state_dict names: backbone.patch_embed.proj.{weight,bias}, backbone.patch_embed.norm.*,
//   backbone.layers.{i}.blocks.{j}.{norm1, attn.relative_position_bias_table,
//   attn.fragment_position_bias_table, attn.qkv, attn.proj, norm2, mlp.fc1, mlp.fc2},
//   backbone.layers.{i}.downsample.{reduction.weight, norm}, backbone.norm.*, vqa_head.fc_hid.*,
//   vqa_head.fc_last.* (official FAST-VQA checkpoints: `fragments_backbone.` instead of `backbone.`,
//   under "state_dict"; buffers relative_position_index are not parameters).
// - Parameter count: fast-vqa-b 28,127,901 (backbone 28,078,620 incl. the 10 fragment tables of stages 0-2, each
//   2535·heads); fast-vqa-m (window 4×4×4, no fragment tables) 27,597,255.
// FAST-VQA-M ("swin_tiny_grpb_m"): window (4, 4, 4), frag_biases all False, 16×128×128 clips.

/// Video Swin backbone configuration.
struct SwinConfig: Sendable, Equatable {
    /// Channels after the patch embedding (stage i has embedDim·2^i).
    var embedDim = 96
    /// Blocks per stage.
    var depths = [2, 2, 6, 2]
    /// Attention heads per stage.
    var heads = [3, 6, 12, 24]
    /// Attention window (wd, wh, ww) in tokens.
    var window = [8, 7, 7]
    /// Patch size (pt, ph, pw) of the embedding conv.
    var patch = [2, 4, 4]
    /// Stages with a gated fragment position bias table.
    var fragmentBias = [true, true, true, false]
    /// MLP hidden width as a multiple of the block width.
    var mlpRatio = 4
    /// Largest stochastic-depth rate (linear over the blocks; training only).
    var dropPathRate: Float = 0.1
    /// Rescale the window to the clip (official default; see the facts above).
    var adaptiveWindow = true
    /// The clip size (T, H, W) at which the adaptive window equals `window` (official base_x_size).
    var baseSize = [32, 224, 224]

    init() {}

    /// Width of the backbone output.
    var outDim: Int { embedDim << (depths.count - 1) }

    /// The window every stage starts from for a T×H×W clip: rescaled to the clip (adaptive, never
    /// below 1) or the configured one; each block then clips it to its feature size.
    func stageWindow(frames: Int, height: Int, width: Int) -> [Int] {
        guard adaptiveWindow else { return window }
        return zip(zip(window, [frames, height, width]), baseSize).map { max(1, $0.0 * $0.1 / $1) }
    }

    func validate() throws {
        let n = depths.count
        guard n >= 1, heads.count == n, fragmentBias.count == n else {
            throw EngineError("swin: depths (\(depths)), heads (\(heads)) and frag_biases (\(fragmentBias)) need one entry per stage")
        }
        guard window.count == 3, patch.count == 3, baseSize.count == 3,
              (window + patch + depths + baseSize).allSatisfy({ $0 > 0 }), embedDim > 0, mlpRatio > 0 else {
            throw EngineError("swin: window, patch and base_size need 3 positive integers, depths/embed_dim/mlp_ratio positive")
        }
        for (i, h) in heads.enumerated() where h <= 0 || (embedDim << i) % h != 0 {
            throw EngineError("swin: stage \(i) width \(embedDim << i) is not divisible by \(h) heads")
        }
        guard dropPathRate >= 0, dropPathRate < 1 else { throw EngineError("swin: drop_path must be in [0, 1), got \(dropPathRate)") }
    }
}

/// The Video Swin backbone (see the facts above): clips [N, 3, T, H, W] → features
/// [N, T/pt, H/(ph·2^(S−1)), W/(pw·2^(S−1)), C_out], channel-last.
final class SwinBackbone {
    struct Stage { let blocks: [SwinBlock]; let merge: SwinPatchMerging? }

    let config: SwinConfig
    let patchConv: Conv3dLayer, patchNorm: LayerNormLayer
    let stages: [Stage]
    let norm: LayerNormLayer
    let cache = SwinGeometryCache()

    /// Declares every backbone parameter under `prefix` (e.g. "backbone"), in state_dict order.
    init(_ store: ParameterStore, prefix: String, config: SwinConfig) {
        self.config = config
        let c = config
        patchConv = Conv3dLayer(store, "\(prefix).patch_embed.proj", cin: 3, cout: c.embedDim,
                                kernel: (c.patch[0], c.patch[1], c.patch[2]), stride: (c.patch[0], c.patch[1], c.patch[2]))
        patchNorm = LayerNormLayer(store, "\(prefix).patch_embed.norm", c.embedDim)
        let total = c.depths.reduce(0, +)
        // torch.linspace(0, rate, total) in float32.
        let rates: [Float] = (0..<total).map { total > 1 ? c.dropPathRate * Float($0) / Float(total - 1) : 0 }
        var k = 0
        var built: [Stage] = []
        for (i, depth) in c.depths.enumerated() {
            let dim = c.embedDim << i
            let blocks = (0..<depth).map { j -> SwinBlock in
                defer { k += 1 }
                return SwinBlock(store, "\(prefix).layers.\(i).blocks.\(j)", dim: dim, heads: c.heads[i], window: c.window,
                                 shifted: j % 2 == 1, mlpRatio: c.mlpRatio, fragmentBias: c.fragmentBias[i], dropPath: rates[k])
            }
            let merge = i < c.depths.count - 1 ? SwinPatchMerging(store, "\(prefix).layers.\(i).downsample", dim: dim) : nil
            built.append(Stage(blocks: blocks, merge: merge))
        }
        stages = built
        norm = LayerNormLayer(store, "\(prefix).norm", c.outDim)
    }

    /// Token grid [D, H, W] after the patch embedding of a T×H×W clip.
    func tokenGrid(frames: Int, height: Int, width: Int) -> [Int] {
        [frames / config.patch[0], height / config.patch[1], width / config.patch[2]]
    }

    /// The window every stage starts from for a T×H×W clip (SwinConfig.stageWindow).
    func stageWindow(frames: Int, height: Int, width: Int) -> [Int] { config.stageWindow(frames: frames, height: height, width: width) }

    /// Features [N, D, H', W', C_out] (after the final LayerNorm) of clips [N, 3, T, H, W].
    func callAsFunction(_ t: Tape, _ p: ParameterStore, _ clips: Var) -> Var {
        stageOutputs(t, p, clips).last!
    }

    /// The output of every stage (channel-last, after its patch merging, as the official
    /// BasicLayer returns it), then the features after the final LayerNorm.
    func stageOutputs(_ t: Tape, _ p: ParameterStore, _ clips: Var) -> [Var] {
        let s = t.shape(clips)
        let pt = config.patch
        precondition(s.count == 5 && s[1] == 3, "fast-vqa expects clips [N, 3, T, H, W], got \(s)")
        precondition(s[2] % pt[0] == 0 && s[3] % pt[1] == 0 && s[4] % pt[2] == 0,
                     "fast-vqa needs T divisible by \(pt[0]) and H, W by \(pt[1]) (got \(s)); sample e.g. 32×224×224 fragments")
        let window = stageWindow(frames: s[2], height: s[3], width: s[4])
        var x = patchConv(t, p, clips)                 // [N, C, D, H, W]
        x = patchNorm(t, p, t.permute(x, [0, 2, 3, 4, 1]))  // channel-last
        var outs: [Var] = []
        for st in stages {
            for blk in st.blocks { x = blk(t, p, x, window: window, subWindowIndex: config.adaptiveWindow, cache: cache) }
            if let m = st.merge { x = m(t, p, x) }
            outs.append(x)
        }
        return outs + [norm(t, p, x)]
    }

    /// FLOPs of one forward pass over a T×H×W clip.
    func flops(frames: Int, height: Int, width: Int) -> Double {
        let window = stageWindow(frames: frames, height: height, width: width)
        var size = tokenGrid(frames: frames, height: height, width: width)
        let tokens = Double(size.reduce(1, *))
        var f = 2 * tokens * Double(config.embedDim * 3 * config.patch.reduce(1, *))
        for st in stages {
            for blk in st.blocks { f += blk.flops(size, window: window) }
            if let m = st.merge { f += m.flops(size); size = [size[0], (size[1] + 1) / 2, (size[2] + 1) / 2] }
        }
        return f
    }
}
