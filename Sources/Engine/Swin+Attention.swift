// Video Swin window attention (W-MSA / SW-MSA) with FAST-VQA's gated relative position bias.
//
// Shapes: x [B·nW, N, C] → qkv [B·nW, N, 3C] → q, k, v [B·nW, h, N, C/h]
//         logits q·kᵀ [B·nW, h, N, N] (+ bias + mask) → softmax → ·v → [B·nW, N, C] → proj.

/// One window-attention module: `qkv` and `proj` linears and the bias tables of one block.
struct SwinAttention {
    let qkvWeight: Int, qkvBias: Int?, projWeight: Int, projBias: Int
    let relativeTable: Int, fragmentTable: Int?
    let dim: Int, heads: Int

    /// Declares `prefix.relative_position_bias_table` [L, heads], optionally
    /// `prefix.fragment_position_bias_table`, `prefix.qkv` (C→3C) and `prefix.proj` (C→C).
    init(_ store: ParameterStore, _ prefix: String, dim: Int, heads: Int, window: [Int], fragmentBias: Bool, qkvBias: Bool) {
        precondition(dim % heads == 0, "\(prefix): dim \(dim) is not divisible by \(heads) heads")
        let rows = (2 * window[0] - 1) * (2 * window[1] - 1) * (2 * window[2] - 1)
        relativeTable = store.declare("\(prefix).relative_position_bias_table", shape: [rows, heads], initializer: .truncatedNormal(0.02))
        fragmentTable = fragmentBias ? store.declare("\(prefix).fragment_position_bias_table", shape: [rows, heads], initializer: .zeros) : nil
        qkvWeight = store.declare("\(prefix).qkv.weight", shape: [3 * dim, dim], initializer: .truncatedNormal(0.02))
        self.qkvBias = qkvBias ? store.declare("\(prefix).qkv.bias", shape: [3 * dim], initializer: .zeros) : nil
        projWeight = store.declare("\(prefix).proj.weight", shape: [dim, dim], initializer: .truncatedNormal(0.02))
        projBias = store.declare("\(prefix).proj.bias", shape: [dim], initializer: .zeros)
        self.dim = dim
        self.heads = heads
    }

    /// Attention over windows `x` [B·nW, N, C] with the bias/mask/gate of `geometry`.
    func callAsFunction(_ t: Tape, _ p: ParameterStore, _ x: Var, geometry g: WindowBiasGeometry) -> Var {
        let s = t.shape(x)
        let (bw, n, c) = (s[0], s[1], s[2])
        let hd = c / heads
        let qkv = t.linear(x, t.parameter(p, qkvWeight), qkvBias.map { t.parameter(p, $0) })
        // [B·nW, N, 3, h, d] → [3, B·nW, h, N, d]
        let split = t.permuteView(qkv, view: [bw, n, 3, heads, hd], [2, 0, 3, 1, 4], "swin.qkv")
        let part = bw * heads * n * hd
        let q = t.mulScalar(t.reshape(t.slice(t.reshape(split, [3, part]), axis: 0, start: 0, end: 1), [bw, heads, n, hd]),
                            Float(1 / Double(hd).squareRoot()))
        let k = t.reshape(t.slice(t.reshape(split, [3, part]), axis: 0, start: 1, end: 2), [bw, heads, n, hd])
        let v = t.reshape(t.slice(t.reshape(split, [3, part]), axis: 0, start: 2, end: 3), [bw, heads, n, hd])
        var attn = t.matmul(q, k, transB: true)
        attn = t.windowBias(attn, relative: t.parameter(p, relativeTable), fragment: fragmentTable.map { t.parameter(p, $0) }, geometry: g)
        attn = t.softmax(attn, axis: -1)
        let o = t.matmul(attn, v)  // [B·nW, h, N, d]
        let merged = t.permuteView(o, view: [bw, heads, n, hd], [0, 2, 1, 3], resultShape: [bw, n, c], "swin.heads")
        return t.linear(merged, t.parameter(p, projWeight), t.parameter(p, projBias))
    }

    /// FLOPs of one window attention over `tokens` tokens in windows of `n` tokens.
    func flops(tokens: Int, windowTokens n: Int) -> Double {
        let t = Double(tokens), c = Double(dim)
        return 2 * t * c * 3 * c + 2 * 2 * t * Double(n) * c + 2 * t * c * c
    }
}
