// scripts/launch.sh and cluster/lib.sh: the mpirun command line for single-node, multi-node and
// Kubernetes launches (VQA_LAUNCH_PRINT), SIGTERM reaching every rank with time to checkpoint
// (real mpirun), and the Slurm helpers (time strings, hostfile slots, resume and requeue).

import Foundation
import XCTest
import TestSupport

final class LaunchScriptTests: XCTestCase {
    private var dir: URL!

    override func setUpWithError() throws { dir = try TempDir.make("vqa-launch", for: self) }

    /// The mpirun argument list launch.sh would run (launch variables not in `env` are unset).
    private func command(_ args: [String], env: [String: String] = [:]) throws -> [String] {
        let cleared = ["VQA_THREADS", "VQA_MPI_BTL", "VQA_MPI_TCP_IF", "VQA_TERM_GRACE", "OMPI_MCA_orte_default_hostfile",
                       "SLURM_JOB_ID"].filter { env[$0] == nil }
        let quoted = args.map { "'" + $0 + "'" }.joined(separator: " ")
        let r = try Repo.bash("unset \(cleared.joined(separator: " ")); VQA_LAUNCH_PRINT=1 exec scripts/launch.sh \(quoted)", env: env)
        XCTAssertEqual(r.status, 0, r.stderr)
        return r.stdout.split(separator: "\n").map(String.init)
    }

    /// Whether `seq` occurs contiguously in `list`.
    private func has(_ list: [String], _ seq: [String]) -> Bool {
        guard seq.count <= list.count else { return false }
        return (0...(list.count - seq.count)).contains { Array(list[$0..<($0 + seq.count)]) == seq }
    }

    func testSingleNodeKeepsTheFastSettings() throws {
        let c = try command(["-np", "1", "train", "--config", "configs/demo.yaml", "--out", "runs/x"])
        XCTAssertEqual(c.first, "mpirun")
        XCTAssertTrue(has(c, ["-np", "1"]), "\(c)")
        XCTAssertTrue(has(c, ["--mca", "btl", "self,vader,tcp"]), "\(c)")
        XCTAssertTrue(has(c, ["--mca", "btl_vader_single_copy_mechanism", "none"]), "\(c)")
        // Open MPI sleeps this twice after any rank fails: it is not the grace (launch.sh keeps that).
        XCTAssertTrue(has(c, ["--mca", "odls_base_sigkill_timeout", "1"]), "\(c)")
        for v in ["OMPI_ALLOW_RUN_AS_ROOT", "GLIBC_TUNABLES", "OPENBLAS_NUM_THREADS", "PATH"] {
            XCTAssertTrue(has(c, ["-x", v]), "\(v) not forwarded: \(c)")
        }
        XCTAssertEqual(Array(c.suffix(5)), ["train", "--config", "configs/demo.yaml", "--out", "runs/x"])
        XCTAssertEqual(c[c.count - 6], CLI.binary)
        XCTAssertFalse(c.contains("--oversubscribe"), "one rank always fits: \(c)")
        XCTAssertFalse(c.contains("--map-by"), "one thread per rank keeps Open MPI's default placement: \(c)")
    }

    func testOversubscribesOnlyWithoutAHostfile() throws {
        let many = String(ProcessInfo.processInfo.activeProcessorCount + 1)
        XCTAssertTrue(try command(["-np", many, "bench", "allreduce"]).contains("--oversubscribe"))
        let hosts = dir.appendingPathComponent("hosts").path
        XCTAssertFalse(try command(["-np", "64", "--hostfile", hosts, "bench", "allreduce"]).contains("--oversubscribe"))
        XCTAssertFalse(try command(["-np", "64", "-H", "a:32,b:32", "bench", "allreduce"]).contains("--oversubscribe"))
        // Kubeflow's MPIJob gives the hostfile in the environment; Slurm gives an allocation.
        XCTAssertFalse(try command(["-np", "64", "bench"], env: ["OMPI_MCA_orte_default_hostfile": hosts]).contains("--oversubscribe"))
        XCTAssertFalse(try command(["-np", "64", "bench"], env: ["SLURM_JOB_ID": "42"]).contains("--oversubscribe"))
    }

    func testThreadsPerRankBindCoresUnlessPlacementIsGiven() throws {
        let c = try command(["-np", "2", "--hostfile", "h", "train"], env: ["VQA_THREADS": "8"])
        XCTAssertTrue(has(c, ["--map-by", "slot:PE=8", "--bind-to", "core"]), "\(c)")
        XCTAssertTrue(has(c, ["-x", "OPENBLAS_NUM_THREADS"]) && has(c, ["-x", "VQA_THREADS"]), "\(c)")
        let k8s = try command(["-np", "4", "--hostfile", "h", "--bind-to", "none", "train"], env: ["VQA_THREADS": "16"])
        XCTAssertTrue(has(k8s, ["--bind-to", "none"]) && !k8s.contains("--map-by"), "\(k8s)")
        let mapped = try command(["-np", "4", "--hostfile", "h", "--map-by", "ppr:1:socket:PE=16", "train"], env: ["VQA_THREADS": "16"])
        XCTAssertTrue(has(mapped, ["--map-by", "ppr:1:socket:PE=16"]) && !mapped.contains("slot:PE=16"), "\(mapped)")
    }

    func testMultiNodeTransportAndForwarding() throws {
        let c = try command(["-np", "4", "--hostfile", "h", "--npernode", "2", "-x", "MY_SETTING", "--mca", "plm_rsh_agent", "ssh",
                             "--report-bindings", "train", "--out", "o"],
                            env: ["VQA_MPI_BTL": "self,vader,openib", "VQA_MPI_TCP_IF": "10.0.0.0/8", "VQA_EXTRA": "1"])
        XCTAssertTrue(has(c, ["--mca", "btl", "self,vader,openib"]), "\(c)")
        XCTAssertTrue(has(c, ["--mca", "btl_tcp_if_include", "10.0.0.0/8"]) && has(c, ["--mca", "oob_tcp_if_include", "10.0.0.0/8"]), "\(c)")
        XCTAssertTrue(has(c, ["--npernode", "2"]) && has(c, ["--mca", "plm_rsh_agent", "ssh"]) && c.contains("--report-bindings"), "\(c)")
        XCTAssertTrue(has(c, ["-x", "MY_SETTING"]) && has(c, ["-x", "VQA_EXTRA"]) && has(c, ["-x", "VQA_MPI_TCP_IF"]), "\(c)")
        // Options after the subcommand belong to vqa-mpi, not to mpirun.
        XCTAssertEqual(Array(c.suffix(3)), ["train", "--out", "o"])
        let late = try command(["-np", "2", "bench", "step", "--bind-to", "x"])
        XCTAssertEqual(Array(late.suffix(4)), ["bench", "step", "--bind-to", "x"])
        XCTAssertFalse(Array(late.dropLast(4)).contains("--bind-to"))
    }

    func testBadLauncherArgumentsAreRejectedWithUsage() throws {
        for (args, words) in [(["--frob", "train"], "unknown launcher option"), (["-np", "zero", "train"], "positive integer"),
                              (["-np", "2"], "usage"), (["-np"], "needs a value")] {
            let r = try Repo.bash("VQA_LAUNCH_PRINT=1 exec scripts/launch.sh " + args.joined(separator: " "))
            XCTAssertEqual(r.status, 2, "\(args): \(r.stdout)")
            XCTAssertTrue(r.stderr.contains(words), "\(args): \(r.stderr)")
        }
        let r = try Repo.bash("VQA_THREADS=0 VQA_LAUNCH_PRINT=1 exec scripts/launch.sh -np 1 train")
        XCTAssertEqual(r.status, 2)
        XCTAssertTrue(r.stderr.contains("VQA_THREADS"), r.stderr)
    }

    /// Real mpirun: SIGTERM to launch.sh reaches both ranks (relayed as SIGUSR2, which vqa-mpi
    /// treats as SIGTERM), which get time to finish a "checkpoint" (2 s, beyond Open MPI's 1 s
    /// before SIGKILL) and exit non-zero.
    func testSIGTERMGivesEveryRankTimeToCheckpoint() throws {
        let rank = dir.appendingPathComponent("rank.sh")
        try """
        #!/usr/bin/env bash
        r=${OMPI_COMM_WORLD_RANK:?}
        trap 'sleep 2; echo saved > "\(dir.path)/saved.$r"; exit 3' TERM USR2
        touch "\(dir.path)/up.$r"
        while true; do sleep 0.1; done

        """.write(to: rank, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: rank.path)
        _ = try requireTool("mpirun")
        let p = try TestProcess("/bin/bash", [Repo.root.appendingPathComponent("scripts/launch.sh").path, "-np", "2", "--oversubscribe", "run"],
                                env: ["VQA_MPI_BIN": rank.path, "VQA_MPI_BTL": "self,vader", "VQA_TERM_GRACE": "6"])
        let fm = FileManager.default
        _ = p.waitFor(timeout: 30) { (0..<2).allSatisfy { fm.fileExists(atPath: dir.appendingPathComponent("up.\($0)").path) } }
        XCTAssertTrue(fm.fileExists(atPath: dir.appendingPathComponent("up.1").path), "ranks did not start")
        kill(p.pid, SIGTERM)
        XCTAssertNotEqual(p.finish().status, 0)
        for r in 0..<2 {
            XCTAssertEqual(try? String(contentsOf: dir.appendingPathComponent("saved.\(r)"), encoding: .utf8), "saved\n", "rank \(r) was killed before its checkpoint")
        }
    }

    private func lib(_ call: String) throws -> ProcessResult { try Repo.bash("source cluster/lib.sh && " + call) }

    func testSlurmTimeStrings() throws {
        for (text, seconds) in [("1-02:03:04", 93784), ("05:07", 307), ("90", 5400), ("08:09:10", 29350), ("1-2", 93600),
                                ("2-00:30", 174600), ("UNLIMITED", -1), ("INVALID", -1), ("00:00", 0)] {
            let r = try lib("vqa_slurm_seconds '\(text)'")
            XCTAssertEqual(r.status, 0, "\(text): \(r.stderr)")
            XCTAssertEqual(r.stdout.trimmingCharacters(in: .whitespacesAndNewlines), String(seconds), text)
        }
        XCTAssertEqual(try lib("vqa_slurm_seconds 'soon'").status, 2)
    }

    func testHostfileSlotsAndResumeFlag() throws {
        let hosts = dir.appendingPathComponent("hostfile")
        try "# MPIJob\nvqa-worker-0.vqa slots=16\n\nvqa-worker-1.vqa  slots=16 max_slots=32\nlone-node\n".write(to: hosts, atomically: true, encoding: .utf8)
        XCTAssertEqual(try lib("vqa_hostfile_slots '\(hosts.path)'").stdout, "33\n")
        XCTAssertEqual(try lib("vqa_resume_flag '\(dir.path)'").stdout, "")
        try Data([1, 2, 3]).write(to: dir.appendingPathComponent("last.safetensors"))
        XCTAssertEqual(try lib("vqa_resume_flag '\(dir.path)'").stdout, "--resume\n")
    }

    func testRequeueOnlyAtTheTimeLimitWithACheckpoint() throws {
        let out = dir.path
        func decide(_ status: Int, _ left: Int, restarts: Int = 0) throws -> (Bool, String) {
            let r = try lib("vqa_should_requeue \(status) '\(out)' \(left) 300 \(restarts) 3")
            return (r.status == 0, r.stdout)
        }
        XCTAssertFalse(try decide(143, 100).0, "no checkpoint yet: a crash at start is not requeued")
        try Data([1]).write(to: dir.appendingPathComponent("last.safetensors"))
        XCTAssertTrue(try decide(143, 100).0)
        XCTAssertTrue(try decide(1, 0).1.contains("requeue 1/3"))
        XCTAssertFalse(try decide(0, 100).0, "a finished run is not requeued")
        XCTAssertFalse(try decide(1, 5000).0, "an error far from the limit is a real failure")
        XCTAssertFalse(try decide(1, -1).0, "no known limit: not requeued")
        XCTAssertFalse(try decide(143, 100, restarts: 3).0, "VQA_MAX_REQUEUES bounds the loop")
    }
}
