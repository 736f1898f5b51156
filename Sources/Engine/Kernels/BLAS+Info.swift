// What OpenBLAS library this process linked: its build configuration and the core kernel set it
// (for `vqa-mpi --version`; BLAS.coreName is the kernel set it picked for this CPU).

import COpenBLAS

extension BLAS {
    /// OpenBLAS's build configuration string, e.g. "OpenBLAS 0.3.26 DYNAMIC_ARCH NO_AFFINITY Haswell MAX_THREADS=64".
    public static var configuration: String { openblas_get_config().map { String(cString: $0) } ?? "unknown" }
}
