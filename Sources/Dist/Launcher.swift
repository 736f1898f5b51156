// How the process was started, and the matching communicator.
//
// Supported launches: `mpirun`/`mpiexec` (Open MPI), `srun --mpi=pmix` (Slurm with PMIx), and no
// launcher at all (a world of one). A launcher announces the job size in the environment; MPI must
// agree. The classic failure is plain `srun` with Open MPI: every task initialises as its own
// singleton ("rank 0 of 1"), N copies train independently, and nothing fails. `check(size:)` turns
// that into an error.
//
// `connect(.auto)` decides: launcher variables present → MPI; none → `SoloCommunicator` without
// MPI initialisation (fast laptop runs). `.mpi` forces MPI even without a launcher (an MPI
// singleton, ~0.3 s); `.solo` never touches MPI.

import Foundation

/// Reads the launcher's environment and creates the job's communicator.
public enum Launcher {
    /// How to choose the communicator.
    public enum Mode: String, Sendable, CaseIterable {
        /// MPI when a launcher's variables are present, otherwise a world of one without MPI.
        case auto
        /// Always initialise MPI (a singleton when started without a launcher).
        case mpi
        /// Never initialise MPI; refuse if a launcher started several ranks.
        case solo
    }

    /// The job size a launcher announced, and the variable it came from.
    struct Announcement: Equatable, Sendable {
        /// Number of ranks the launcher started.
        let size: Int
        /// The environment variable that said so.
        let variable: String
    }

    /// Variables that carry the job size, most specific first. Open MPI's mpirun wins over Slurm
    /// (under an allocation mpirun starts its daemons with srun, so its ranks also see Slurm's
    /// step variables, describing the daemons). Slurm's SLURM_NTASKS alone is not used: it is also
    /// set in a batch script, which is one process.
    static let sizeVariables = ["OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "SLURM_STEP_NUM_TASKS"]
    /// Variables that show a launcher without telling the size.
    static let presenceVariables = ["OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK"]

    /// The size announced in `environment`, if any launcher variable is present.
    static func announcement(in environment: [String: String]) throws -> Announcement? {
        for name in sizeVariables {
            guard let text = environment[name] else { continue }
            guard let n = Int(text.trimmingCharacters(in: .whitespaces)), n >= 1 else {
                throw DistError("environment variable \(name)='\(text)' is not a positive rank count; "
                    + "unset it or start the job with mpirun / srun --mpi=pmix")
            }
            return Announcement(size: n, variable: name)
        }
        if environment["SLURM_STEP_ID"] != nil, let text = environment["SLURM_NTASKS"], let n = Int(text), n >= 1 {
            return Announcement(size: n, variable: "SLURM_NTASKS")
        }
        return nil
    }

    /// Whether some launcher started this process (size known or not).
    static func isLaunched(_ environment: [String: String]) -> Bool {
        (sizeVariables + presenceVariables).contains { environment[$0] != nil }
            || (environment["SLURM_STEP_ID"] != nil && environment["SLURM_NTASKS"] != nil)
    }

    /// Throws if MPI's world `size` contradicts the size the launcher announced in `environment`.
    public static func check(size: Int, environment: [String: String] = ProcessInfo.processInfo.environment) throws {
        guard let said = try announcement(in: environment), said.size != size else { return }
        var hint = "Start the job so that MPI sees every rank: `mpirun -np \(said.size) vqa-mpi ...` or, under Slurm, "
            + "`srun --mpi=pmix -n \(said.size) vqa-mpi ...`."
        if size == 1 && said.variable.hasPrefix("SLURM") {
            hint = "Plain `srun` with Open MPI starts \(said.size) separate singletons (each 'rank 0 of 1') that would "
                + "train independently. Use `srun --mpi=pmix -n \(said.size) vqa-mpi ...` (check `srun --mpi=list` "
                + "shows pmix) or `mpirun -np \(said.size) vqa-mpi ...` inside the allocation."
        }
        throw DistError("the launcher started \(said.size) ranks (\(said.variable)=\(said.size)) but MPI reports a "
            + "world of \(size). \(hint)")
    }

    /// The communicator for this process chosen by `mode` (see the file comment).
    ///
    /// For MPI the returned `MPICommunicator` owns the `MPIRuntime`: keep it until the work is done,
    /// then call `finalize()` on its runtime (or let the last reference go), on every rank.
    public static func connect(_ mode: Mode = .auto, threadsNeeded: Bool = true,
                               environment: [String: String] = ProcessInfo.processInfo.environment) throws -> Communicator {
        let launched = isLaunched(environment)
        if mode == .solo || (mode == .auto && !launched) {
            try check(size: 1, environment: environment)
            return SoloCommunicator()
        }
        let runtime = try MPIRuntime.start(threadsNeeded: threadsNeeded)
        let world = try runtime.world()
        try check(size: world.size, environment: environment)
        return world
    }
}
