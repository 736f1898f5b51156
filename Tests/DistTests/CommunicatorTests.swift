// Solo semantics, MPI error text and launcher environment checks (no MPI initialisation here:
// the real MPI paths run in spawned processes, see MPIRunTests).

import XCTest
import CMPI
@testable import Dist

final class CommunicatorTests: XCTestCase {
    func testSoloCollectivesAreIdentity() throws {
        let c: Communicator = SoloCommunicator()
        XCTAssertEqual(c.rank, 0); XCTAssertEqual(c.size, 1); XCTAssertTrue(c.isRoot)
        var f: [Float] = [1.5, -2, 3]; var d: [Double] = [0.25, 1e300]; var q: [Int64] = [Int64.max, -7]
        try c.allReduceSum(&f, count: 3); try c.allReduceSum(&d, count: 2); try c.allReduceSum(&q, count: 2)
        XCTAssertEqual(f, [1.5, -2, 3]); XCTAssertEqual(d, [0.25, 1e300]); XCTAssertEqual(q, [Int64.max, -7])
        try c.broadcast(&f, count: 3, root: 0)
        XCTAssertEqual(f, [1.5, -2, 3])
        XCTAssertEqual(try c.broadcast([1, 2, 255] as [UInt8], root: 0), [1, 2, 255])
        XCTAssertEqual(try c.broadcast("γ=1e-4 ✓", root: 0), "γ=1e-4 ✓")
        XCTAssertEqual(try c.broadcast([Float](), root: 0), [])
        XCTAssertEqual(try c.allGather([4, 5]), [4, 5])
        XCTAssertEqual(try c.allGather([]), [])
        try c.barrier()
        let dup = try c.duplicate()
        XCTAssertTrue(dup is SoloCommunicator)
        XCTAssertFalse(dup === c)
    }

    func testSoloRejectsInvalidRootAndCount() {
        let c = SoloCommunicator()
        var f: [Float] = [1]
        XCTAssertThrowsError(try c.broadcast(&f, count: 1, root: 1)) { e in
            XCTAssertTrue("\(e)".contains("root 1") && "\(e)".contains("valid: 0...0"), "\(e)")
        }
        XCTAssertThrowsError(try c.broadcast("x", root: -1))
        XCTAssertThrowsError(try c.allReduceSum(&f, count: -1)) { e in XCTAssertTrue("\(e)".contains("negative"), "\(e)") }
    }

    func testMPIErrorCodesBecomeErrorsWithTheCallAndMPIText() throws {
        XCTAssertNoThrow(try DistError.checkMPI(MPI_SUCCESS, "MPI_Barrier"))
        XCTAssertThrowsError(try DistError.checkMPI(MPI_ERR_COUNT, "MPI_Allreduce(float) of 5 elements")) { e in
            let text = "\(e)"
            XCTAssertTrue(text.hasPrefix("MPI_Allreduce(float) of 5 elements failed: "), text)
            XCTAssertTrue(text.contains("MPI error code \(MPI_ERR_COUNT)"), text)
            // This process never initialises MPI (Open MPI would abort on MPI_Error_string).
            XCTAssertTrue(text.contains("MPI is not initialised"), text)
        }
    }
}

final class LauncherTests: XCTestCase {
    func testAnnouncedSizeAndPrecedence() throws {
        XCTAssertNil(try Launcher.announcement(in: [:]))
        XCTAssertEqual(try Launcher.announcement(in: ["OMPI_COMM_WORLD_SIZE": "4"]),
                       .init(size: 4, variable: "OMPI_COMM_WORLD_SIZE"))
        // mpirun under a Slurm allocation: the daemons' step variables must not win.
        XCTAssertEqual(try Launcher.announcement(in: ["OMPI_COMM_WORLD_SIZE": "8", "SLURM_STEP_NUM_TASKS": "2"])?.size, 8)
        XCTAssertEqual(try Launcher.announcement(in: ["PMI_SIZE": "3"])?.variable, "PMI_SIZE")
        XCTAssertEqual(try Launcher.announcement(in: ["SLURM_STEP_NUM_TASKS": "6", "SLURM_NTASKS": "12"])?.size, 6)
        // SLURM_NTASKS alone is the allocation seen by a batch script (one process), not a step.
        XCTAssertNil(try Launcher.announcement(in: ["SLURM_NTASKS": "4"]))
        XCTAssertEqual(try Launcher.announcement(in: ["SLURM_NTASKS": "4", "SLURM_STEP_ID": "0"])?.size, 4)
        XCTAssertThrowsError(try Launcher.announcement(in: ["OMPI_COMM_WORLD_SIZE": "two"])) { e in
            XCTAssertTrue("\(e)".contains("OMPI_COMM_WORLD_SIZE='two'"), "\(e)")
        }
        XCTAssertThrowsError(try Launcher.announcement(in: ["PMI_SIZE": "0"]))
    }

    func testPlainSrunSingletonsAreRefusedWithTheFix() {
        XCTAssertThrowsError(try Launcher.check(size: 1, environment: ["SLURM_STEP_NUM_TASKS": "4", "SLURM_STEP_ID": "0"])) { e in
            let text = "\(e)"
            XCTAssertTrue(text.contains("started 4 ranks") && text.contains("world of 1"), text)
            XCTAssertTrue(text.contains("srun --mpi=pmix -n 4") && text.contains("singletons"), text)
        }
        XCTAssertThrowsError(try Launcher.check(size: 2, environment: ["OMPI_COMM_WORLD_SIZE": "4"])) { e in
            XCTAssertTrue("\(e)".contains("mpirun -np 4"), "\(e)")
        }
        XCTAssertNoThrow(try Launcher.check(size: 4, environment: ["OMPI_COMM_WORLD_SIZE": "4"]))
        XCTAssertNoThrow(try Launcher.check(size: 1, environment: [:]))
        XCTAssertNoThrow(try Launcher.check(size: 3, environment: [:]))  // no launcher said otherwise
    }

    func testConnectWithoutLauncherIsSoloWithoutMPI() throws {
        XCTAssertFalse(Launcher.isLaunched([:]))
        XCTAssertTrue(Launcher.isLaunched(["PMIX_RANK": "0"]))
        XCTAssertTrue(Launcher.isLaunched(["OMPI_COMM_WORLD_RANK": "1"]))
        XCTAssertFalse(Launcher.isLaunched(["SLURM_NTASKS": "2"]))
        XCTAssertTrue(try Launcher.connect(.auto, environment: ["HOME": "/root"]) is SoloCommunicator)
        XCTAssertThrowsError(try Launcher.connect(.solo, environment: ["OMPI_COMM_WORLD_SIZE": "2"])) { e in
            XCTAssertTrue("\(e)".contains("started 2 ranks"), "\(e)")
        }
    }
}
