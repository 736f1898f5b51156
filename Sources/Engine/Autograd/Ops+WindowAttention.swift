// Fused window multi-head self-attention of Video Swin (W-MSA / SW-MSA) with FAST-VQA's gated
// relative position bias: softmax(scale·q·kᵀ + bias + mask)·v for every (window, head), read
// straight from the qkv linear's output and written as heads-merged rows for `proj`. Nothing of
// size [B·nW, h, N, N] outlives the op: scores and probabilities live in a workspace of a few
// (window, head) tasks, and backward recomputes them (one extra q·kᵀ GEMM per task, ~4 % of a
// fast-vqa-b step) instead of keeping ~1 GB of probabilities per clip, as memory-efficient
// attention implementations do.
// Threads: one (window, head) task per `Compute` item, all of its GEMMs, bias, softmax and table
// scatter on that worker with OpenBLAS single-threaded (N = 392, d = 32 GEMMs are too small to
// split well across threads; whole tasks are not). The bias tables are read through the index
// once per call into [h, N, N] (`DenseBias`, ≤ 15 MB for fast-vqa-b), not once per task.
//
// Shapes: qkv [B·nW, N, 3C], last axis laid out [3, h, d] (q, k, v of head h at columns s·C + h·d)
//         tables [L, h], index [N·N], gate/mask patterns as in `WindowBiasGeometry` (windows fastest)
//         → y [B·nW, N, C] (head h at columns h·d).
//         Task t = (window row b·nW + w, head h):  S = scale·Q Kᵀ + B[w, h] + M[w]  [N, N],
//         P = softmax over rows of S, Y = P V.
//         Backward: dV = Pᵀ dY, dP = dY Vᵀ, dS = P ∘ (dP − rowsum(dP ∘ P)), dQ = scale·dS K,
//         dK = scale·dSᵀ Q, dR[idx(i,j), h] += Σ dS·g, dF[idx(i,j), h] += Σ dS·(1 − g).

extension Tape {
    /// Fused Video Swin window attention over `qkv` [B·nW, N, 3C] (the qkv linear's output):
    /// softmax(scale·q·kᵀ + bias + mask)·v per window and head → [B·nW, N, C] with heads merged.
    /// The bias and mask are those of `windowBias` (gated by `geometry` when `fragment` is given).
    /// Saves no attention matrix: backward recomputes the probabilities.
    func windowAttention(_ qkv: Var, heads: Int, scale: Float, relative: Var, fragment: Var?,
                                geometry g: WindowBiasGeometry) -> Var {
        windowAttention(qkv, heads: heads, scale: scale, relative: relative, fragment: fragment, geometry: g, groupTasks: nil)
    }

    /// `windowAttention` processing `groupTasks` (window, head) tasks per workspace (default: as
    /// many as fit in `WindowAttentionKernel.workspaceFloats`); tests vary it.
    func windowAttention(_ qkv: Var, heads: Int, scale: Float, relative: Var, fragment: Var?,
                         geometry g: WindowBiasGeometry, groupTasks: Int?) -> Var {
        let s = shape(qkv), n = g.tokens, nW = g.windows
        precondition(heads > 0 && s.count == 3 && s[1] == n && s[2] % (3 * heads) == 0 && s[0] % nW == 0,
                     "windowAttention: qkv \(s) is not [B·\(nW), \(n), 3·C] with C divisible by \(heads) heads")
        let rs = checkBiasTables("windowAttention", relative: relative, fragment: fragment, heads: heads, geometry: g)
        let dim = s[2] / 3, rows = rs[0], tasks = s[0] * heads, nn = n * n
        let group = max(1, min(tasks, groupTasks ?? WindowAttentionKernel.workspaceFloats / nn))
        let inputs = [qkv, relative] + (fragment.map { [$0] } ?? [])
        let (y, yp) = output(shape: [s[0], n, dim], needsGrad: anyNeedsGrad(inputs))
        let xp = value(qkv), rp = value(relative), fp = fragment.map { value($0) }, c = compute
        func withKernel(_ body: (WindowAttentionKernel) -> Void) {
            withOptionalPointer(g.index) { idx in
            withOptionalPointer(fp == nil ? nil : g.gatePatterns) { gp in withOptionalPointer(fp == nil ? nil : g.gateOf) { gOf in
            withOptionalPointer(g.maskPatterns) { mp in withOptionalPointer(g.maskPatterns == nil ? nil : g.maskOf) { mOf in
                body(WindowAttentionKernel(n: n, heads: heads, dim: dim, windows: nW, scale: scale, qkv: xp, index: idx!,
                                           relative: rp, fragment: fp, gate: gp, gateOf: gOf, mask: mp, maskOf: mOf))
            } } } } }
        }
        let p = arena.takeReusable(group * nn)
        let dense = DenseBias(arena: arena, heads: heads, nn: nn, fragment: fp != nil)
        withKernel { k in
            k.fillDenseBias(dense, compute: c)
            BLAS.singleThreaded {
                for lo in stride(from: 0, to: tasks, by: group) {
                    let range = lo..<min(tasks, lo + group)
                    c.forEachItem(range.count) { _, i in
                        let task = range.lowerBound + i
                        k.probabilities(task: task, into: p + i * nn, dense: dense)
                        BLAS.gemm(m: n, n: k.headDim, k: n, a: p + i * nn, lda: n, b: k.v(task), ldb: k.ld, c: yp + k.rowOffset(task), ldc: dim)
                    }
                }
            }
        }
        dense.release(arena)
        arena.release(p)
        setBackward(y) { t in
            let gx = t.needsGrad(qkv) ? t.grad(qkv) : nil
            let gr = t.needsGrad(relative) ? t.grad(relative) : nil
            let gf = fragment.flatMap { t.needsGrad($0) ? t.grad($0) : nil }
            let gy = t.grad(y), arena = t.arena
            let p = arena.takeReusable(group * nn), dp = arena.takeReusable(group * nn)
            // Table gradients: one partial table column per task, summed in task order afterwards, so
            // the result does not depend on the thread count.
            let partR = gr == nil ? nil : arena.takeReusable(tasks * rows)
            let partF = gf == nil ? nil : arena.takeReusable(tasks * rows)
            let dense = DenseBias(arena: arena, heads: heads, nn: nn, fragment: fp != nil)
            withKernel { k in
                let ld = k.ld
                k.fillDenseBias(dense, compute: c)
                BLAS.singleThreaded {
                    for lo in stride(from: 0, to: tasks, by: group) {
                        let range = lo..<min(tasks, lo + group)
                        // One task per item, all of its GEMMs single-threaded: the tasks write
                        // disjoint rows of gx and their own table column, so the result does not
                        // depend on which worker runs a task.
                        c.forEachItem(range.count) { _, i in
                            let task = range.lowerBound + i, pt = p + i * nn, ds = dp + i * nn
                            let dy = gy + k.rowOffset(task)
                            k.probabilities(task: task, into: pt, dense: dense)
                            if let gx {  // dV += Pᵀ dY
                                BLAS.gemm(transA: true, m: n, n: k.headDim, k: n, a: pt, lda: n, b: dy, ldb: dim,
                                          beta: 1, c: gx + k.vOffset(task), ldc: ld)
                            }
                            // dP = dY Vᵀ, then dS in place
                            BLAS.gemm(transB: true, m: n, n: n, k: k.headDim, a: dy, lda: dim, b: k.v(task), ldb: ld, c: ds, ldc: n)
                            k.softmaxBackward(rows: n, p: pt, dp: ds)
                            if partR != nil || partF != nil {
                                k.scatterTableGradient(task: task, ds: ds, rows: rows, intoRelative: partR, fragment: partF)
                            }
                            if let gx {  // dQ += scale·dS K, dK += scale·dSᵀ Q
                                BLAS.gemm(m: n, n: k.headDim, k: n, alpha: k.scale, a: ds, lda: n, b: k.key(task), ldb: ld,
                                          beta: 1, c: gx + k.qOffset(task), ldc: ld)
                                BLAS.gemm(transA: true, m: n, n: k.headDim, k: n, alpha: k.scale, a: ds, lda: n, b: k.q(task), ldb: ld,
                                          beta: 1, c: gx + k.qOffset(task) + dim, ldc: ld)
                            }
                        }
                    }
                }
            }
            for (grad, part) in [(gr, partR), (gf, partF)] {
                guard let grad, let part else { continue }
                c.forEach(heads) { h in
                    for task in stride(from: h, to: tasks, by: heads) {
                        let src = part + task * rows
                        for r in 0..<rows { grad[r * heads + h] += src[r] }
                    }
                }
            }
            dense.release(arena)
            for buffer in [p, dp, partR, partF] { if let buffer { arena.release(buffer) } }
        }
        return y
    }
}

/// Pointers and sizes of one `windowAttention` call, and its per-task kernels.
struct WindowAttentionKernel {
    /// Floats of the score workspace (tasks per group = this / N²): 8 MB.
    static let workspaceFloats = 1 << 21

    let n: Int, heads: Int, dim: Int, windows: Int
    let scale: Float
    let qkv: UnsafePointer<Float>
    let index: UnsafePointer<Int32>
    let relative: UnsafePointer<Float>, fragment: UnsafePointer<Float>?
    let gate: UnsafePointer<Float>?, gateOf: UnsafePointer<Int32>?
    let mask: UnsafePointer<Float>?, maskOf: UnsafePointer<Int32>?

    var headDim: Int { dim / heads }
    /// Row stride of qkv.
    var ld: Int { 3 * dim }
    /// Offset of task's first q element in qkv (and its gradient).
    func qOffset(_ task: Int) -> Int { (task / heads) * n * ld + (task % heads) * headDim }
    func vOffset(_ task: Int) -> Int { qOffset(task) + 2 * dim }
    /// Offset of task's first element in the output [B·nW, N, C].
    func rowOffset(_ task: Int) -> Int { (task / heads) * n * dim + (task % heads) * headDim }
    func q(_ task: Int) -> UnsafePointer<Float> { qkv + qOffset(task) }
    func key(_ task: Int) -> UnsafePointer<Float> { qkv + qOffset(task) + dim }
    func v(_ task: Int) -> UnsafePointer<Float> { qkv + vOffset(task) }

    /// The bias tables read through the index once per call: `dense.relative[h·N² + i·N + j]` =
    /// `relative[index[i·N + j], h]` (and the same for the fragment table), so the per-task loops
    /// add contiguous rows instead of gathering every score's table entry.
    func fillDenseBias(_ dense: DenseBias, compute: Compute) {
        let nn = n * n
        compute.forEach(heads) { h in
            let r = dense.relative + h * nn
            for ij in 0..<nn { r[ij] = relative[Int(index[ij]) * heads + h] }
            if let f = dense.fragment.map({ $0 + h * nn }), let fragment {
                for ij in 0..<nn { f[ij] = fragment[Int(index[ij]) * heads + h] }
            }
        }
    }

    /// Softmax probabilities of one task into the N×N block `p` (single-threaded).
    func probabilities(task: Int, into p: UnsafeMutablePointer<Float>, dense: DenseBias) {
        BLAS.gemm(transB: true, m: n, n: n, k: headDim, alpha: scale, a: q(task), lda: ld, b: key(task), ldb: ld, c: p, ldc: n)
        let w = (task / heads) % windows, h = task % heads, nn = n * n
        for row in 0..<n {
            let s = p + row * n, r = dense.relative + h * nn + row * n
            if let gate, let gateOf, let fragments = dense.fragment {
                let g = gate + Int(gateOf[w]) * nn + row * n, f = fragments + h * nn + row * n
                for j in 0..<n { s[j] = s[j] + (r[j] * g[j] + f[j] * (1 - g[j])) }
            } else {
                for j in 0..<n { s[j] = s[j] + r[j] }
            }
            if let mask, let maskOf {
                let m = mask + Int(maskOf[w]) * nn + row * n
                for j in 0..<n { s[j] = s[j] + m[j] }
            }
            Kernels.softmaxRow(s, into: s, n)
        }
    }

    /// dS = P ∘ (dP − rowsum(dP ∘ P)) in place of dP, for `rows` rows of length N (single-threaded).
    func softmaxBackward(rows: Int, p: UnsafePointer<Float>, dp: UnsafeMutablePointer<Float>) {
        for r in 0..<rows {
            let pr = p + r * n, d = dp + r * n
            let dot = Float(Kernels.dot(d, pr, n))
            for j in 0..<n { d[j] = pr[j] * (d[j] - dot) }
        }
    }

    /// Sums task's score gradient `ds` [N, N] into its own table column(s) `[task·rows, +rows)`
    /// (overwritten), split by the gate when a fragment table is present.
    func scatterTableGradient(task: Int, ds: UnsafePointer<Float>, rows: Int,
                              intoRelative partR: UnsafeMutablePointer<Float>?, fragment partF: UnsafeMutablePointer<Float>?) {
        let nn = n * n, w = (task / heads) % windows
        let pr = partR.map { $0 + task * rows }, pf = partF.map { $0 + task * rows }
        pr?.update(repeating: 0, count: rows)
        pf?.update(repeating: 0, count: rows)
        if let gate, let gateOf {
            let g = gate + Int(gateOf[w]) * nn
            for ij in 0..<nn {
                let r = Int(index[ij])
                pr?[r] += ds[ij] * g[ij]
                pf?[r] += ds[ij] * (1 - g[ij])
            }
        } else if let pr {
            for ij in 0..<nn { pr[Int(index[ij])] += ds[ij] }
        }
    }
}

/// Per-call workspace of `WindowAttentionKernel.fillDenseBias`: [heads, N, N] per table.
struct DenseBias {
    let relative: UnsafeMutablePointer<Float>
    let fragment: UnsafeMutablePointer<Float>?

    init(arena: Arena, heads: Int, nn: Int, fragment: Bool) {
        relative = arena.takeReusable(heads * nn)
        self.fragment = fragment ? arena.takeReusable(heads * nn) : nil
    }

    func release(_ arena: Arena) {
        arena.release(relative)
        if let fragment { arena.release(fragment) }
    }
}
