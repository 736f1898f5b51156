// Thin row-major wrappers over OpenBLAS cblas_sgemm.

import COpenBLAS

/// Row-major single-precision GEMM and OpenBLAS thread control.
public enum BLAS {
    /// C[M×N] = alpha · op(A)[M×K] · op(B)[K×N] + beta · C, all row-major.
    @inline(__always)
    static func gemm(transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int,
                            alpha: Float = 1, a: UnsafePointer<Float>, lda: Int,
                            b: UnsafePointer<Float>, ldb: Int,
                            beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int) {
        if m == 0 || n == 0 { return }
        if k == 0 {
            if beta == 0 { for i in 0..<m { (c + i * ldc).update(repeating: 0, count: n) } }
            else if beta != 1 { for i in 0..<m { for j in 0..<n { c[i * ldc + j] *= beta } } }
            return
        }
        cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                    Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }

    /// Runs `body` with OpenBLAS on one thread and restores the previous count afterwards: for
    /// kernels that split their GEMMs across their own `Compute` workers (one pool of threads,
    /// no OpenBLAS workers spinning beside it). Call it from one thread at a time.
    static func singleThreaded<R>(_ body: () throws -> R) rethrows -> R {
        let previous = openblas_get_num_threads()
        if previous > 1 { openblas_set_num_threads(1) }
        defer { if previous > 1 { openblas_set_num_threads(previous) } }
        return try body()
    }

    /// Sets the number of OpenBLAS threads.
    public static func setThreads(_ n: Int) { openblas_set_num_threads(Int32(max(1, n))) }

    /// The OpenBLAS kernel family in use (e.g. "Haswell").
    public static var coreName: String {
        guard let p = openblas_get_corename() else { return "unknown" }
        return String(cString: p)
    }
}
