// The Slurm batch scripts run outside Slurm: fake `squeue` (time left), `scontrol` (records the
// requeue) and, for train.sbatch, `srun` (runs one task) on PATH; a fake training binary that
// records its arguments and environment, and on SIGTERM writes last.safetensors after a delay and
// exits non-zero, as the trainer does. train-mpirun.sbatch uses the real mpirun via launch.sh.

import Foundation
import XCTest
import TestSupport

final class SlurmRecipeTests: XCTestCase {
    private var dir: URL!
    private let fm = FileManager.default

    override func setUpWithError() throws {
        dir = try TempDir.make("vqa-slurm", for: self)
        try fm.createDirectory(at: dir.appendingPathComponent("bin"), withIntermediateDirectories: true)
        try tool("squeue", "echo \"${FAKE_TIME_LEFT:-01:30}\"")
        try tool("scontrol", "echo \"$@\" >> \"\(dir.path)/scontrol.log\"")
        // One task: drop srun's own options, record them, run the program as rank 0 of 1.
        try tool("srun", """
            opts=(); while [[ "$1" == -* ]]; do opts+=("$1"); shift; done
            echo "${opts[@]}" > "\(dir.path)/srun.opts"
            OMPI_COMM_WORLD_RANK=0 exec "$@"
            """)
        try tool("train-bin", """
            r=${OMPI_COMM_WORLD_RANK:?}
            printf '%s\\n' "$@" > "\(dir.path)/args.$r"
            echo "$OPENBLAS_NUM_THREADS" > "\(dir.path)/openblas.$r"
            out=""; prev=""; for a in "$@"; do [[ "$prev" == --out ]] && out="$a"; prev="$a"; done
            trap 'sleep 2; echo checkpoint > "$out/last.safetensors"; exit 3' TERM USR2  # launch.sh relays SIGTERM as SIGUSR2
            echo $$ > "\(dir.path)/up.$r"
            while true; do sleep 0.1; done
            """)
    }

    private func tool(_ name: String, _ body: String) throws {
        let url = dir.appendingPathComponent("bin/\(name)")
        try ("#!/usr/bin/env bash\n" + body + "\n").write(to: url, atomically: true, encoding: .utf8)
        try fm.setAttributes([.posixPermissions: 0o755], ofItemAtPath: url.path)
    }

    private func up(_ rank: Int) -> URL { dir.appendingPathComponent("up.\(rank)") }

    /// Starts a batch script as sbatch would (environment of the job), returns the process.
    private func start(_ script: String, tasks: Int, cpus: Int, restarts: Int, extra: [String: String] = [:]) throws -> TestProcess {
        for r in 0..<tasks { try? fm.removeItem(at: up(r)) }
        var env: [String: String] = [:]
        env["PATH"] = dir.appendingPathComponent("bin").path + ":" + (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin")
        env["SLURM_JOB_ID"] = "4242"; env["SLURM_JOB_NAME"] = "vqa"; env["SLURM_NTASKS"] = "\(tasks)"
        env["SLURM_CPUS_PER_TASK"] = "\(cpus)"; env["SLURM_RESTART_COUNT"] = "\(restarts)"
        env["SLURM_SUBMIT_DIR"] = Repo.root.path
        env["VQA_CONFIG"] = "configs/demo.yaml"; env["VQA_RUNS"] = dir.appendingPathComponent("runs").path
        env["VQA_MPI_BIN"] = dir.appendingPathComponent("bin/train-bin").path; env["VQA_MPI_BTL"] = "self,vader"
        // mpirun outside a real allocation: keep Open MPI's Slurm components out of the way.
        env["OMPI_MCA_ras"] = "^slurm"; env["OMPI_MCA_plm"] = "^slurm"; env["OMPI_MCA_ess"] = "^slurm"
        env["OMPI_MCA_rmaps_base_oversubscribe"] = "1"
        // The fake checkpoint takes 2 s, well within the grace.
        env["VQA_TERM_GRACE"] = "6"
        for (k, v) in extra { env[k] = v }
        // VQA_THREADS, VQA_OUT, VQA_ARGS and VQA_MPI_TCP_IF of the calling shell must not reach the script.
        let p = try TestProcess("/bin/bash", [Repo.root.appendingPathComponent("cluster/slurm/\(script)").path],
                                env: env, unset: ["VQA_THREADS", "VQA_OUT", "VQA_ARGS", "VQA_MPI_TCP_IF"])
        _ = p.waitFor(timeout: 30) { (0..<tasks).allSatisfy { fm.fileExists(atPath: up($0).path) } }
        XCTAssertTrue((0..<tasks).allSatisfy { fm.fileExists(atPath: up($0).path) }, "\(script): ranks did not start")
        return p
    }

    private var out: URL { dir.appendingPathComponent("runs/vqa-4242") }
    private func args(_ r: Int) throws -> [String] {
        try String(contentsOf: dir.appendingPathComponent("args.\(r)"), encoding: .utf8).split(separator: "\n").map(String.init)
    }
    private func requeues() -> [String] {
        ((try? String(contentsOf: dir.appendingPathComponent("scontrol.log"), encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
    }

    func testSrunScriptCheckpointsAtTheLimitRequeuesAndResumes() throws {
        var p = try start("train.sbatch", tasks: 1, cpus: 3, restarts: 0)
        // --signal=TERM@120 signals the job step (the ranks), not the batch shell.
        let pid = try XCTUnwrap(Int32(String(contentsOf: up(0), encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)))
        kill(pid, SIGTERM)
        XCTAssertEqual(p.finish().status, 0, "a requeued job ends cleanly")
        XCTAssertEqual(requeues(), ["requeue 4242"])
        XCTAssertTrue(fm.fileExists(atPath: out.appendingPathComponent("last.safetensors").path))
        let opts = try String(contentsOf: dir.appendingPathComponent("srun.opts"), encoding: .utf8)
        XCTAssertTrue(opts.contains("--mpi=pmix") && opts.contains("--cpu-bind=cores"), opts)
        XCTAssertTrue(opts.split(separator: " ").contains("--cpus-per-task=3"), "srun must get the cores per rank explicitly: \(opts)")
        XCTAssertEqual(try String(contentsOf: dir.appendingPathComponent("openblas.0"), encoding: .utf8), "3\n")
        let first = try args(0)
        XCTAssertEqual(Array(first.prefix(3)), ["train", "--config", "configs/demo.yaml"])
        XCTAssertTrue(first.contains("--threads") && first[first.firstIndex(of: "--threads")! + 1] == "3", "\(first)")
        XCTAssertFalse(first.contains("--resume"), "nothing to resume yet: \(first)")

        // The requeued job finds the checkpoint and resumes; a failure far from the limit is not requeued.
        p = try start("train.sbatch", tasks: 1, cpus: 3, restarts: 1, extra: ["FAKE_TIME_LEFT": "5:00:00", "VQA_ARGS": "--set train.epochs=2"])
        XCTAssertEqual(Array(try args(0).suffix(3)), ["--resume", "--set", "train.epochs=2"])
        kill(try XCTUnwrap(Int32(String(contentsOf: up(0), encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines))), SIGTERM)
        XCTAssertEqual(p.finish().status, 3, "the training's own status is kept")
        XCTAssertEqual(requeues(), ["requeue 4242"], "no second requeue with 5 hours left")
    }

    func testMpirunScriptForwardsSIGTERMAndRequeues() throws {
        var p = try start("train-mpirun.sbatch", tasks: 2, cpus: 1, restarts: 0)
        // --signal=B:TERM@120 signals the batch shell, which forwards it to mpirun and the ranks.
        kill(p.pid, SIGTERM)
        XCTAssertEqual(p.finish().status, 0)
        XCTAssertEqual(requeues(), ["requeue 4242"])
        XCTAssertEqual(try String(contentsOf: out.appendingPathComponent("last.safetensors"), encoding: .utf8), "checkpoint\n")
        XCTAssertEqual(try args(1).first, "train")
        XCTAssertFalse(try args(1).contains("--resume"))

        p = try start("train-mpirun.sbatch", tasks: 2, cpus: 1, restarts: 20)
        XCTAssertEqual(try args(0).last, "--resume")
        XCTAssertEqual(try args(1).last, "--resume")
        kill(p.pid, SIGTERM)
        XCTAssertNotEqual(p.finish().status, 0, "VQA_MAX_REQUEUES (20) reached: the failure is reported")
        XCTAssertEqual(requeues(), ["requeue 4242"])
    }
}
