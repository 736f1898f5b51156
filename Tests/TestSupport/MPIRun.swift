// The one mpirun command line of the tests. Everything Open MPI needs is on it (no OMPI_MCA_*
// variable from scripts/test.sh or the shell is inherited: TestProcess drops OMPI_*, PMIX_*, PMI_*
// and SLURM_*), so a test runs the same from scripts/test.sh, a bare `swift test`, or inside a job.

import Foundation

/// `mpirun` invocations of the binary under test (or another program).
public enum MPIRun {
    /// The flags for `np` ranks on this machine: oversubscription allowed (tests run more ranks
    /// than this machine has cores), shared-memory transport without CMA single-copy (containers
    /// forbid it), root allowed (containers), then `extra` (e.g. `--mca odls_base_sigkill_timeout 5`).
    public static func flags(_ np: Int, extra: [String] = []) -> [String] {
        ["-np", "\(np)", "--oversubscribe", "--allow-run-as-root",
         "--mca", "btl", "self,vader", "--mca", "btl_vader_single_copy_mechanism", "none"] + extra
    }

    /// The full argument list after `mpirun` for `program args`.
    public static func arguments(_ np: Int, program: String, _ args: [String], extraFlags: [String] = []) -> [String] {
        flags(np, extra: extraFlags) + [program] + args
    }

    /// Runs `mpirun -np N … vqa-mpi args` to the end. mpirun missing: skipped locally, a failure
    /// when CI=true; the binary missing: a failure.
    public static func vqa(_ np: Int, _ args: [String], extraFlags: [String] = [], env: [String: String] = [:],
                           timeout: Double? = nil) throws -> ProcessResult {
        let mpirun = try requireTool("mpirun")
        return try TestProcess.run(mpirun, arguments(np, program: try CLI.requireBinary(), args, extraFlags: extraFlags),
                                   env: env, timeout: timeout)
    }

    /// Starts `mpirun -np N … vqa-mpi args` in the background (output in `logPrefix.out/.err`).
    public static func start(_ np: Int, _ args: [String], extraFlags: [String] = [], env: [String: String] = [:],
                             logPrefix: String? = nil) throws -> TestProcess {
        let mpirun = try requireTool("mpirun")
        return try TestProcess(mpirun, arguments(np, program: try CLI.requireBinary(), args, extraFlags: extraFlags),
                               env: env, logPrefix: logPrefix)
    }
}
