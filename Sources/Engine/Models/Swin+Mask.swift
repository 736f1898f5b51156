// Constant geometry of Video Swin window attention (FAST-VQA semantics): the window/shift actually
// used for a feature size, the relative position index, the shifted-window mask and the fragment
// gate. All are pure functions of the sizes; `SwinGeometryCache` memoises them per model.
//
// Shapes: feature [D, H, W] (tokens), window (wd, wh, ww), N = wd·wh·ww, nW = D/wd·H/wh·W/ww;
//         index [N·N], mask [nW, N, N], gate [nW, N, N].

/// Window and shift for a feature of `size` (Video Swin `get_window_size`): an axis no longer than
/// the window uses the whole axis as its window and is not shifted.
func swinWindow(size: [Int], window: [Int], shift: [Int]) -> (window: [Int], shift: [Int]) {
    var w = window, s = shift
    for i in 0..<3 where size[i] <= window[i] {
        w[i] = size[i]
        s[i] = 0
    }
    return (w, s)
}

/// Relative position index of a full window `full` (row = query i, column = key j), restricted to
/// the first `n` tokens as Video Swin does (`relative_position_index[:N, :N]`).
func swinRelativeIndex(full: [Int], n: Int) -> [Int32] {
    let (wd, wh, ww) = (full[0], full[1], full[2])
    let count = wd * wh * ww
    precondition(n <= count, "swinRelativeIndex: \(n) tokens exceed the window \(full)")
    func coords(_ i: Int) -> (Int, Int, Int) { (i / (wh * ww), (i / ww) % wh, i % ww) }
    var out = [Int32](repeating: 0, count: n * n)
    for i in 0..<n {
        let a = coords(i)
        for j in 0..<n {
            let b = coords(j)
            let r = (a.0 - b.0 + wd - 1) * (2 * wh - 1) * (2 * ww - 1) + (a.1 - b.1 + wh - 1) * (2 * ww - 1) + (a.2 - b.2 + ww - 1)
            out[i * n + j] = Int32(r)
        }
    }
    return out
}

/// Relative position index of the sub-window `sub` (d, h, w) ≤ `full`, read from the full window's
/// index as FAST-VQA's adaptive path does (`rpi.reshape(*full, *full)[:d, :h, :w, :d, :h, :w]`):
/// the true offsets of the sub-window's tokens, in the full table's numbering.
func swinRelativeIndex(full: [Int], sub: [Int]) -> [Int32] {
    let (wh, ww) = (full[1], full[2])
    precondition(zip(sub, full).allSatisfy { $0 >= 1 && $0 <= $1 }, "swinRelativeIndex: sub-window \(sub) exceeds the window \(full)")
    let n = sub[0] * sub[1] * sub[2]
    func coords(_ i: Int) -> (Int, Int, Int) { (i / (sub[1] * sub[2]), (i / sub[2]) % sub[1], i % sub[2]) }
    var out = [Int32](repeating: 0, count: n * n)
    for i in 0..<n {
        let a = coords(i)
        for j in 0..<n {
            let b = coords(j)
            let r = (a.0 - b.0 + full[0] - 1) * (2 * wh - 1) * (2 * ww - 1) + (a.1 - b.1 + wh - 1) * (2 * ww - 1) + (a.2 - b.2 + ww - 1)
            out[i * n + j] = Int32(r)
        }
    }
    return out
}

/// Calls body(window, token, d, h, w) for every position of a [D, H, W] grid rolled by −shift
/// (torch.roll(x, −shift)) and partitioned into windows: (d, h, w) is the source position.
private func forEachWindowToken(size: [Int], window: [Int], shift: [Int], _ body: (Int, Int, Int, Int, Int) -> Void) {
    let (nd, nh, nw) = (size[0] / window[0], size[1] / window[1], size[2] / window[2])
    let n = window[0] * window[1] * window[2]
    for a in 0..<nd { for b in 0..<nh { for c in 0..<nw {
        let win = (a * nh + b) * nw + c
        for td in 0..<window[0] { for th in 0..<window[1] { for tw in 0..<window[2] {
            let tok = (td * window[1] + th) * window[2] + tw
            let d = (a * window[0] + td + shift[0]) % size[0]
            let h = (b * window[1] + th + shift[1]) % size[1]
            let w = (c * window[2] + tw + shift[2]) % size[2]
            precondition(tok < n)
            body(win, tok, d, h, w)
        } } }
    } } }
}

/// Video Swin `compute_mask`: −100 between tokens of a shifted window that came from different
/// regions of the unshifted grid, 0 otherwise. Regions are labelled on the *shifted* grid.
func swinShiftMask(size: [Int], window: [Int], shift: [Int]) -> [Float] {
    // Label of a position along one axis, in compute_mask's slice order (a later slice overwrites):
    // [0, n−ws) → 0, [n−ws, n−ss) → 1, [n−ss, n) → 2. An unshifted axis (ss = 0) has one region (the
    // last slice covers the whole axis); with ss ≥ ws (an adaptive window no larger than the shift)
    // region 1 is empty and [n−ss, n) is 2.
    func region(_ i: Int, _ axis: Int) -> Int {
        let n = size[axis], ws = window[axis], ss = shift[axis]
        if ss == 0 { return 2 }
        return i >= n - ss ? 2 : (i >= n - ws ? 1 : 0)
    }
    let n = window[0] * window[1] * window[2]
    let nW = (size[0] / window[0]) * (size[1] / window[1]) * (size[2] / window[2])
    var labels = [Int](repeating: 0, count: nW * n)
    // The mask is built on the grid as laid out after the roll, so partition without shifting.
    forEachWindowToken(size: size, window: window, shift: [0, 0, 0]) { win, tok, d, h, w in
        labels[win * n + tok] = region(d, 0) * 9 + region(h, 1) * 3 + region(w, 2)
    }
    var mask = [Float](repeating: 0, count: nW * n * n)
    for win in 0..<nW {
        for i in 0..<n {
            for j in 0..<n where labels[win * n + i] != labels[win * n + j] { mask[(win * n + i) * n + j] = -100 }
        }
    }
    return mask
}

/// FAST-VQA's fragment gate (`global_position_index` summed by `fmask.abs().sum(-1)`): each token's
/// fragment coordinate is its position in a `fragments` grid stretched over [D, H, W] by nearest
/// interpolation (floor(i·F/n)); after the roll by −shift and the window partition,
/// g[w, i, j] = Σ_axes |f_j − f_i| (0 inside one fragment).
func swinFragmentGate(size: [Int], window: [Int], shift: [Int], fragments: [Int]) -> [Float] {
    let n = window[0] * window[1] * window[2]
    let nW = (size[0] / window[0]) * (size[1] / window[1]) * (size[2] / window[2])
    var coords = [Int](repeating: 0, count: nW * n * 3)
    forEachWindowToken(size: size, window: window, shift: shift) { win, tok, d, h, w in
        let base = (win * n + tok) * 3
        coords[base] = d * fragments[0] / size[0]
        coords[base + 1] = h * fragments[1] / size[1]
        coords[base + 2] = w * fragments[2] / size[2]
    }
    var gate = [Float](repeating: 0, count: nW * n * n)
    for win in 0..<nW {
        for i in 0..<n {
            let a = (win * n + i) * 3
            for j in 0..<n {
                let b = (win * n + j) * 3
                gate[(win * n + i) * n + j] = Float(abs(coords[b] - coords[a]) + abs(coords[b + 1] - coords[a + 1]) + abs(coords[b + 2] - coords[a + 2]))
            }
        }
    }
    return gate
}

/// Memoised window-bias geometries keyed by (feature size, window, shift, table window, gated).
final class SwinGeometryCache {
    private struct Key: Hashable { let size: [Int], window: [Int], shift: [Int], full: [Int], gated: Bool, fragments: [Int], subWindow: Bool }
    private var entries: [Key: WindowBiasGeometry] = [:]

    /// The geometry of one block: `size` the (unpadded, window-divisible) feature [D, H, W],
    /// `window`/`shift` already clipped by `swinWindow`, `full` the configured window (table size);
    /// `subWindow` reads the tables as the sub-window `window` of `full` (adaptive path), else `[:N, :N]`.
    func geometry(size: [Int], window: [Int], shift: [Int], full: [Int], gated: Bool, fragments: [Int],
                  subWindow: Bool = false) -> WindowBiasGeometry {
        let key = Key(size: size, window: window, shift: shift, full: full, gated: gated, fragments: fragments, subWindow: subWindow)
        if let g = entries[key] { return g }
        let n = window[0] * window[1] * window[2]
        let nW = (size[0] / window[0]) * (size[1] / window[1]) * (size[2] / window[2])
        let shifted = shift.contains { $0 > 0 }
        let g = WindowBiasGeometry(tokens: n, windows: nW, index: subWindow ? swinRelativeIndex(full: full, sub: window) : swinRelativeIndex(full: full, n: n),
                                   gate: gated ? swinFragmentGate(size: size, window: window, shift: shift, fragments: fragments) : nil,
                                   mask: shifted ? swinShiftMask(size: size, window: window, shift: shift) : nil)
        entries[key] = g
        return g
    }
}
