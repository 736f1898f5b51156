// Video Swin transformer block and patch merging, channel-last.
//
// Shapes: block x [B, D, H, W, C] → [B, D, H, W, C]:
//           x = x + dropPath(roll⁻¹(windowReverse(attn(windowPartition(roll(norm1(x), −shift))))))
//           x = x + dropPath(fc2(gelu(fc1(norm2(x)))))          (fc1 C→4C, fc2 4C→C)
//         merging x [B, D, H, W, C] → cat(x[:, :, 0::2, 0::2], x[:, :, 1::2, 0::2], x[:, :, 0::2, 1::2],
//           x[:, :, 1::2, 1::2]) [B, D, H/2, W/2, 4C] → LayerNorm(4C) → Linear(4C→2C, no bias).

/// A LayerNorm with affine weight (ones) and bias (zeros), eps 1e-5.
struct LayerNormLayer {
    let weight: Int, bias: Int
    init(_ store: ParameterStore, _ name: String, _ ch: Int, group: String = "backbone") {
        weight = store.declare("\(name).weight", shape: [ch], initializer: .ones, group: group)
        bias = store.declare("\(name).bias", shape: [ch], initializer: .zeros, group: group)
    }
    func callAsFunction(_ t: Tape, _ p: ParameterStore, _ x: Var) -> Var {
        t.layerNorm(x, t.parameter(p, weight), t.parameter(p, bias))
    }
}

/// A linear layer (default: trunc-normal 0.02 weight, zero bias: Video Swin's init).
struct LinearLayer {
    let weight: Int, bias: Int?
    init(_ store: ParameterStore, _ name: String, _ cin: Int, _ cout: Int, bias: Bool = true,
         initializer: ParameterInit = .truncatedNormal(0.02), biasInitializer: ParameterInit = .zeros, group: String = "backbone") {
        weight = store.declare("\(name).weight", shape: [cout, cin], initializer: initializer, group: group)
        self.bias = bias ? store.declare("\(name).bias", shape: [cout], initializer: biasInitializer, group: group) : nil
    }
    func callAsFunction(_ t: Tape, _ p: ParameterStore, _ x: Var) -> Var {
        t.linear(x, t.parameter(p, weight), bias.map { t.parameter(p, $0) })
    }
}

/// One Swin block (`SwinTransformerBlock3D`).
struct SwinBlock {
    let norm1: LayerNormLayer, attn: SwinAttention, norm2: LayerNormLayer, fc1: LinearLayer, fc2: LinearLayer
    let window: [Int], shift: [Int], dropPath: Float, gated: Bool, mlpHidden: Int

    init(_ store: ParameterStore, _ prefix: String, dim: Int, heads: Int, window: [Int], shifted: Bool,
         mlpRatio: Int, fragmentBias: Bool, dropPath: Float) {
        norm1 = LayerNormLayer(store, "\(prefix).norm1", dim)
        attn = SwinAttention(store, "\(prefix).attn", dim: dim, heads: heads, window: window, fragmentBias: fragmentBias, qkvBias: true)
        norm2 = LayerNormLayer(store, "\(prefix).norm2", dim)
        fc1 = LinearLayer(store, "\(prefix).mlp.fc1", dim, dim * mlpRatio)
        fc2 = LinearLayer(store, "\(prefix).mlp.fc2", dim * mlpRatio, dim)
        self.window = window
        self.shift = shifted ? window.map { $0 / 2 } : [0, 0, 0]
        self.dropPath = dropPath
        gated = fragmentBias
        mlpHidden = dim * mlpRatio
    }

    /// The window and shift used on a [D, H, W] feature when the stage starts from `base` (the
    /// configured window, or its adaptive rescaling; SwinBackbone.stageWindow).
    func geometry(_ size: [Int], base: [Int]) -> (window: [Int], shift: [Int]) { swinWindow(size: size, window: base, shift: shift) }

    /// Video Swin / FAST-VQA `forward_part1` + `forward_part2`: after norm1 the feature is zero-padded at
    /// the end of D, H, W to multiples of the window; the shift mask and the fragment gate (a
    /// (1, wh, ww) grid, `fragments=(1,) + window_size[1:]`) are built on the padded grid; padded
    /// tokens take part in attention as in the reference and are cropped afterwards.
    /// `window` is the stage's starting window (SwinBackbone.stageWindow); `subWindowIndex` reads the
    /// bias tables as the sub-window of the configured one (adaptive path) instead of `[:N, :N]`.
    func callAsFunction(_ t: Tape, _ p: ParameterStore, _ x: Var, window base: [Int], subWindowIndex: Bool,
                        cache: SwinGeometryCache) -> Var {
        let s = t.shape(x)
        let (b, size, c) = (s[0], Array(s[1...3]), s[4])
        let (win, sh) = geometry(size, base: base)
        let padded: [Int] = zip(size, win).map { (n: Int, k: Int) -> Int in (n + k - 1) / k * k }
        let g = cache.geometry(size: padded, window: win, shift: sh, full: window, gated: gated, fragments: [1, win[1], win[2]],
                               subWindow: subWindowIndex)
        let shifted = sh.contains { $0 > 0 }
        var h = t.padEnd(norm1(t, p, x), to: [b] + padded + [c])
        if shifted { h = t.roll(h, shifts: sh.map { -$0 }, axes: [1, 2, 3]) }
        h = t.windowPartition3d(h, window: (win[0], win[1], win[2]))
        h = attn(t, p, h, geometry: g)
        h = t.windowReverse3d(h, window: (win[0], win[1], win[2]), batch: b, depth: padded[0], height: padded[1], width: padded[2])
        if shifted { h = t.roll(h, shifts: sh, axes: [1, 2, 3]) }
        h = t.cropEnd(h, to: [b] + size + [c])
        var y = t.add(x, t.dropPath(h, p: dropPath))
        let m = fc2(t, p, t.gelu(fc1(t, p, norm2(t, p, y))))
        y = t.add(y, t.dropPath(m, p: dropPath))
        precondition(t.shape(y) == [b] + size + [c])
        return y
    }

    func flops(_ size: [Int], window base: [Int]) -> Double {
        let (win, _) = geometry(size, base: base)
        let tokens = size.reduce(1, *), c = Double(attn.dim)
        let paddedTokens: Int = zip(size, win).map { (n: Int, k: Int) -> Int in (n + k - 1) / k * k }.reduce(1, *)
        let hidden = Double(mlpHidden)
        return attn.flops(tokens: paddedTokens, windowTokens: win.reduce(1, *)) + 2 * 2 * Double(tokens) * c * hidden
    }
}

/// Patch merging (`PatchMerging`): 2×2 spatial neighbours concatenated, normalised, reduced.
struct SwinPatchMerging {
    let reduction: LinearLayer, norm: LayerNormLayer
    let dim: Int

    /// Declares `prefix.reduction.weight` [2C, 4C] then `prefix.norm` (4C), in state_dict order.
    init(_ store: ParameterStore, _ prefix: String, dim: Int) {
        reduction = LinearLayer(store, "\(prefix).reduction", 4 * dim, 2 * dim, bias: false)
        norm = LayerNormLayer(store, "\(prefix).norm", 4 * dim)
        self.dim = dim
    }

    func callAsFunction(_ t: Tape, _ p: ParameterStore, _ x: Var) -> Var {
        var x = x
        let s0 = t.shape(x)
        // An odd H or W is zero-padded by one row/column at the end (FAST-VQA PatchMerging).
        let evenH: Int = s0[2] + s0[2] % 2, evenW: Int = s0[3] + s0[3] % 2
        x = t.padEnd(x, to: [s0[0], s0[1], evenH, evenW, s0[4]])
        let s = t.shape(x)
        let (b, d, h, w, c) = (s[0], s[1], s[2], s[3], s[4])
        // [B, D, H/2, hOff, W/2, wOff, C] → [B, D, H/2, W/2, wOff, hOff, C]: channel block k = hOff + 2·wOff.
        let cat = t.permuteView(x, view: [b, d, h / 2, 2, w / 2, 2, c], [0, 1, 2, 4, 5, 3, 6],
                                resultShape: [b, d, h / 2, w / 2, 4 * c], "swin.merge")
        return reduction(t, p, norm(t, p, cat))
    }

    func flops(_ size: [Int]) -> Double {
        let outTokens: Int = size[0] * ((size[1] + 1) / 2) * ((size[2] + 1) / 2)
        let perToken: Double = 2 * Double(4 * dim) * Double(2 * dim)
        return Double(outTokens) * perToken
    }
}
