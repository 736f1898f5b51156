// Raw sgemm throughput: the baseline every engine benchmark is compared with.

#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

/// Measures raw cblas_sgemm GFLOP/s on one shape (median of several repetitions).
public enum SgemmProbe {
    /// Median GFLOP/s of C[m×n] = A[m×k]·B[k×n] over `reps` runs after one warm-up.
    public static func gflops(m: Int, n: Int, k: Int, reps: Int = 7) -> Double {
        let a = FloatBuffer(count: m * k, value: 0.5), b = FloatBuffer(count: k * n, value: 0.25)
        let c = FloatBuffer(count: m * n)
        var times: [Double] = []
        for r in 0...reps {
            let t0 = Clock.now()
            BLAS.gemm(m: m, n: n, k: k, a: a.base, lda: k, b: b.base, ldb: n, c: c.base, ldc: n)
            if r > 0 { times.append(Clock.now() - t0) }
        }
        times.sort()
        return 2 * Double(m) * Double(n) * Double(k) / times[times.count / 2] / 1e9
    }
}
