// Video Swin window attention (W-MSA / SW-MSA) with FAST-VQA's gated relative position bias.
//
// Shapes: x [B·nW, N, C] → qkv [B·nW, N, 3C] → (q, k, v of h heads, d = C/h: per window and head
//         softmax(q·kᵀ/√d + bias + mask)·v, fused in `windowAttention`) [B·nW, N, C] → proj.

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

    /// Attention over windows `x` [B·nW, N, C] with the bias/mask/gate of `geometry` (one fused op
    /// between the two linears; `unfusedAttention` is its op-by-op twin).
    func callAsFunction(_ t: Tape, _ p: ParameterStore, _ x: Var, geometry g: WindowBiasGeometry) -> Var {
        let qkv = t.linear(x, t.parameter(p, qkvWeight), qkvBias.map { t.parameter(p, $0) })
        let o = t.windowAttention(qkv, heads: heads, scale: scale, relative: t.parameter(p, relativeTable),
                                  fragment: fragmentTable.map { t.parameter(p, $0) }, geometry: g)
        return t.linear(o, t.parameter(p, projWeight), t.parameter(p, projBias))
    }

    /// 1/√(C/h), applied to the scores.
    var scale: Float { Float(1 / Double(dim / heads).squareRoot()) }

    /// The same attention from separate ops (permute, slice, matmul, `windowBias`, softmax): the
    /// naive twin of `windowAttention` in tests. Keeps every [B·nW, h, N, N] intermediate.
    func unfusedAttention(_ t: Tape, qkv: Var, relative: Var, fragment: Var?, geometry g: WindowBiasGeometry) -> Var {
        Self.unfused(t, qkv: qkv, heads: heads, scale: scale, relative: relative, fragment: fragment, geometry: g)
    }

    /// `unfusedAttention` for any head count and scale.
    static func unfused(_ t: Tape, qkv: Var, heads: Int, scale: Float, relative: Var, fragment: Var?, geometry g: WindowBiasGeometry) -> Var {
        let s = t.shape(qkv)
        let (bw, n, c) = (s[0], s[1], s[2] / 3)
        let hd = c / heads
        // [B·nW, N, 3, h, d] → [3, B·nW, h, N, d]
        let split = t.permuteView(qkv, view: [bw, n, 3, heads, hd], [2, 0, 3, 1, 4], "swin.qkv")
        let part = bw * heads * n * hd
        func slot(_ i: Int) -> Var { t.reshape(t.slice(t.reshape(split, [3, part]), axis: 0, start: i, end: i + 1), [bw, heads, n, hd]) }
        var attn = t.matmul(t.mulScalar(slot(0), scale), slot(1), transB: true)
        attn = t.softmax(t.windowBias(attn, relative: relative, fragment: fragment, geometry: g), axis: -1)
        let o = t.matmul(attn, slot(2))  // [B·nW, h, N, d]
        return t.permuteView(o, view: [bw, heads, n, hd], [0, 2, 1, 3], resultShape: [bw, n, c], "swin.heads")
    }

    /// FLOPs of one window attention over `tokens` tokens in windows of `n` tokens.
    func flops(tokens: Int, windowTokens n: Int) -> Double {
        let t = Double(tokens), c = Double(dim)
        return 2 * t * c * 3 * c + 2 * 2 * t * Double(n) * c + 2 * t * c * c
    }
}
