// Linear layers and (batched) matrix products on sgemm.
//
// Shapes: x [..., In], weight [Out, In] (PyTorch layout), bias [Out] → y [..., Out].
//         matmul a [B..., M, K] · b [B..., K, N] → [B..., M, N] (transposes optional).

extension Tape {
    /// y = x · Wᵀ + b over the last dimension of `x` (PyTorch `nn.Linear`).
    public func linear(_ x: Var, _ weight: Var, _ bias: Var?) -> Var {
        let xs = shape(x), ws = shape(weight)
        precondition(ws.count == 2 && xs.last == ws[1], "linear: input \(xs) does not match weight \(ws)")
        let inF = ws[1], outF = ws[0], rows = count(x) / inF
        var ys = xs; ys[ys.count - 1] = outF
        let needs = anyNeedsGrad(x, weight) || (bias.map { needsGrad($0) } ?? false)
        let (y, yp) = output(shape: ys, needsGrad: needs)
        let xp = value(x), wp = value(weight)
        if let b = bias {
            let bp = value(b)
            for r in 0..<rows { (yp + r * outF).update(from: bp, count: outF) }
        }
        BLAS.gemm(transB: true, m: rows, n: outF, k: inF, a: xp, lda: inF, b: wp, ldb: inF,
                  beta: bias == nil ? 0 : 1, c: yp, ldc: outF)
        setBackward(y) { t in
            let gy = t.grad(y)
            if t.needsGrad(x) {
                BLAS.gemm(m: rows, n: inF, k: outF, a: gy, lda: outF, b: wp, ldb: inF, beta: 1, c: t.grad(x), ldc: inF)
            }
            if t.needsGrad(weight) {
                BLAS.gemm(transA: true, m: outF, n: inF, k: rows, a: gy, lda: outF, b: xp, ldb: inF,
                          beta: 1, c: t.grad(weight), ldc: inF)
            }
            if let b = bias, t.needsGrad(b) {
                let gb = t.grad(b)
                for r in 0..<rows { let row = gy + r * outF; for j in 0..<outF { gb[j] += row[j] } }
            }
        }
        return y
    }

    /// Batched matrix product over leading dimensions: op(a)[M×K] · op(b)[K×N] for every batch
    /// index. `a` and `b` must have the same leading dimensions.
    func matmul(_ a: Var, _ b: Var, transA: Bool = false, transB: Bool = false) -> Var {
        let asz = shape(a), bsz = shape(b)
        precondition(asz.count >= 2 && bsz.count == asz.count && Array(asz.dropLast(2)) == Array(bsz.dropLast(2)),
                     "matmul: batch shapes differ: \(asz) vs \(bsz)")
        let ar = asz[asz.count - 2], ac = asz[asz.count - 1], br = bsz[bsz.count - 2], bc = bsz[bsz.count - 1]
        let m = transA ? ac : ar, k = transA ? ar : ac, n = transB ? br : bc
        precondition((transB ? bc : br) == k, "matmul: inner dimensions differ: \(asz) vs \(bsz)")
        let batch = asz.dropLast(2).reduce(1, *)
        let (y, yp) = output(shape: Array(asz.dropLast(2)) + [m, n], needsGrad: anyNeedsGrad(a, b))
        let ap = value(a), bp = value(b)
        let aStride = ar * ac, bStride = br * bc, yStride = m * n
        for i in 0..<batch {
            BLAS.gemm(transA: transA, transB: transB, m: m, n: n, k: k, a: ap + i * aStride, lda: ac,
                      b: bp + i * bStride, ldb: bc, c: yp + i * yStride, ldc: n)
        }
        setBackward(y) { t in
            let gy = t.grad(y)
            if t.needsGrad(a) {
                let ga = t.grad(a)
                for i in 0..<batch {
                    let g = gy + i * yStride, bb = bp + i * bStride, out = ga + i * aStride
                    if !transA {  // dA[M×K] = dY · op(B)ᵀ
                        BLAS.gemm(transB: !transB, m: m, n: k, k: n, a: g, lda: n, b: bb, ldb: bc, beta: 1, c: out, ldc: ac)
                    } else {      // dA[K×M] = op(B) · dYᵀ
                        BLAS.gemm(transA: transB, transB: true, m: k, n: m, k: n, a: bb, lda: bc, b: g, ldb: n, beta: 1, c: out, ldc: ac)
                    }
                }
            }
            if t.needsGrad(b) {
                let gb = t.grad(b)
                for i in 0..<batch {
                    let g = gy + i * yStride, aa = ap + i * aStride, out = gb + i * bStride
                    if !transB {  // dB[K×N] = op(A)ᵀ · dY
                        BLAS.gemm(transA: !transA, m: k, n: n, k: m, a: aa, lda: ac, b: g, ldb: n, beta: 1, c: out, ldc: bc)
                    } else {      // dB[N×K] = dYᵀ · op(A)
                        BLAS.gemm(transA: true, transB: transA, m: n, n: k, k: m, a: g, lda: n, b: aa, ldb: ac, beta: 1, c: out, ldc: bc)
                    }
                }
            }
        }
        return y
    }
}
