// Lint of the cluster recipes and configs: every shell script parses (bash -n), every YAML under
// cluster/ and configs/ loads, every config resolves with `train --dry-run`, the container runs
// scripts/setup.sh and installs no unlisted package, the batch scripts carry the flags
// cluster/README.md promises, and the MPIJob refers to files that exist.

import Foundation
import XCTest
import Yams
import TestSupport

extension Repo {
    /// Every document of a YAML stream (split at `---` lines), each loaded strictly by Yams.
    static func yamlDocuments(_ text: String) throws -> [Any?] {
        var docs: [String] = [], current: [Substring] = []
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.trimmingCharacters(in: .whitespaces) == "---" { docs.append(current.joined(separator: "\n")); current = [] } else { current.append(line) }
        }
        docs.append(current.joined(separator: "\n"))
        return try docs.filter { d in d.split(separator: "\n").contains { !$0.trimmingCharacters(in: .whitespaces).isEmpty && !$0.hasPrefix("#") } }
            .map { try Yams.load(yaml: $0) }
    }
}

/// Checks that the container recipe installs what scripts/setup.sh installs and nothing unlisted.
enum ContainerPackages {
    /// The packages in setup.sh's `PKGS=(...)` array.
    static func setupPackages(_ setup: String) -> [String] {
        guard let start = setup.range(of: "PKGS=(") else { return [] }
        let rest = setup[start.upperBound...]
        guard let end = rest.firstIndex(of: ")") else { return [] }
        return rest[..<end].split(whereSeparator: { $0.isWhitespace }).map(String.init)
    }

    /// Build stages of a Containerfile: the lines from each FROM to the next, continuation lines joined.
    static func stages(_ file: String) -> [[String]] {
        var stages: [[String]] = [], line = ""
        for raw in file.split(separator: "\n", omittingEmptySubsequences: false) {
            let t = raw.trimmingCharacters(in: .whitespaces)
            if t.hasPrefix("#") && line.isEmpty {
                if !stages.isEmpty { stages[stages.count - 1].append(t) }
                continue
            }
            line += (line.isEmpty ? "" : " ") + (t.hasSuffix("\\") ? String(t.dropLast()) : t)
            if t.hasSuffix("\\") { continue }
            if line.uppercased().hasPrefix("FROM ") { stages.append([]) }
            if !stages.isEmpty { stages[stages.count - 1].append(line) }
            line = ""
        }
        return stages
    }

    /// Package names after `apt-get install` in one joined instruction (options and `&&` tails skipped).
    static func installed(_ instruction: String) -> [String] {
        var out: [String] = []
        for part in instruction.components(separatedBy: "&&") {
            guard let r = part.range(of: "apt-get install") else { continue }
            out += part[r.upperBound...].split(whereSeparator: { $0.isWhitespace }).map(String.init).filter { !$0.hasPrefix("-") }
        }
        return out
    }

    /// Packages declared in `# container-only: a b c` comment lines of a stage.
    static func declared(_ stage: [String]) -> Set<String> {
        var s = Set<String>()
        for l in stage where l.hasPrefix("# container-only:") {
            s.formUnion(l.dropFirst("# container-only:".count).split(whereSeparator: { $0.isWhitespace }).map(String.init))
        }
        return s
    }

    /// Every disagreement between setup.sh and the Containerfile, as sentences (empty: in step).
    static func problems(setup: String, containerfile: String) -> [String] {
        let pkgs = Set(setupPackages(setup))
        var out: [String] = []
        if pkgs.isEmpty { out.append("setup.sh: no PKGS=(...) list found") }
        let st = stages(containerfile)
        guard st.count >= 2 else { return out + ["Containerfile: expected a build and a runtime stage, found \(st.count)"] }
        let build = st[0]
        if !build.contains(where: { $0.hasPrefix("RUN ") && $0.contains("scripts/setup.sh") }) {
            out.append("Containerfile: the build stage does not run scripts/setup.sh")
        }
        for (i, stage) in st.enumerated() {
            let declared = declared(stage)
            let installs = stage.filter { $0.hasPrefix("RUN ") }.flatMap(installed)
            let runtimeListed = i > 0 && stage.contains { $0.contains("runtime-packages.txt") && $0.contains("apt-get install") }
            for p in installs where !pkgs.contains(p) && !declared.contains(p) {
                out.append("Containerfile stage \(i + 1): installs \(p), which is neither in scripts/setup.sh nor declared container-only; add it to setup.sh (or declare why the container alone needs it)")
            }
            for p in declared.intersection(pkgs) {
                out.append("Containerfile stage \(i + 1): \(p) is declared container-only but setup.sh installs it too")
            }
            for p in declared where !installs.contains(p) {
                out.append("Containerfile stage \(i + 1): \(p) is declared container-only but not installed")
            }
            if i > 0 && !runtimeListed { out.append("Containerfile stage \(i + 1): does not install runtime-packages.txt") }
        }
        return out
    }
}

final class ClusterLintTests: XCTestCase {
    func testEveryShellScriptParses() throws {
        let scripts = Repo.files(under: "scripts", suffixes: [".sh"]) + Repo.files(under: "cluster", suffixes: [".sh", ".sbatch"])
        for expected in ["scripts/launch.sh", "scripts/setup.sh", "cluster/slurm/train.sbatch", "cluster/slurm/train-mpirun.sbatch",
                         "cluster/lib.sh", "cluster/k8s/launcher.sh", "cluster/k8s/worker.sh", "cluster/runtime-deps.sh"] {
            XCTAssertTrue(scripts.contains(expected), "\(expected) not found among \(scripts)")
        }
        for s in scripts {
            let r = try CLI.run("/bin/bash", ["-n", Repo.root.appendingPathComponent(s).path])
            XCTAssertEqual(r.status, 0, "\(s): \(r.stderr)")
        }
        // bash -n itself must reject a broken script (the check can fail).
        let broken = try TempDir.make("cluster-lint", for: self).appendingPathComponent("broken.sh")
        try "if true; then echo\n".write(to: broken, atomically: true, encoding: .utf8)
        XCTAssertNotEqual(try CLI.run("/bin/bash", ["-n", broken.path]).status, 0)
    }

    func testEveryYAMLLoads() throws {
        let files = Repo.files(under: "cluster", suffixes: [".yaml", ".yml"]) + Repo.files(under: "configs", suffixes: [".yaml", ".yml"])
        XCTAssertTrue(files.contains("cluster/k8s/mpijob.yaml") && files.contains("configs/lsvq.yaml"), "\(files)")
        for f in files {
            var docs: [Any?] = []
            XCTAssertNoThrow(docs = try Repo.yamlDocuments(Repo.text(f)), f)
            XCTAssertFalse(docs.isEmpty, "\(f): no YAML document")
            for d in docs { XCTAssertNotNil(d as? [String: Any], "\(f): a document is not a mapping") }
        }
        XCTAssertThrowsError(try Repo.yamlDocuments("a: 1\n---\nb: [1, 2\nc: 3\n"), "broken YAML must be rejected")
        XCTAssertEqual(try Repo.yamlDocuments("a: 1\n---\nb: 2\n").count, 2)
    }

    func testEveryConfigResolvesWithDryRun() throws {
        let configs = Repo.files(under: "configs", suffixes: [".yaml"])
        XCTAssertGreaterThanOrEqual(configs.count, 4, "\(configs)")
        for c in configs {
            let r = try CLI.vqa(["train", "--config", Repo.root.appendingPathComponent(c).path, "--dry-run"])
            XCTAssertEqual(r.status, 0, "\(c): \(r.stderr)")
            let resolved = try XCTUnwrap(try Yams.load(yaml: r.stdout) as? [String: Any], "\(c): \(r.stdout)")
            XCTAssertNotNil((resolved["model"] as? [String: Any])?["name"] as? String, "\(c): \(r.stdout)")
            XCTAssertNotNil(resolved["train"] as? [String: Any], "\(c): \(r.stdout)")
        }
        let bad = try TempDir.make("cluster-lint", for: self).appendingPathComponent("bad.yaml")
        try "model: {name: fragnet}\ntrain: {epochz: 3}\n".write(to: bad, atomically: true, encoding: .utf8)
        XCTAssertNotEqual(try CLI.vqa(["train", "--config", bad.path, "--dry-run"]).status, 0, "an unknown key must fail the dry run")
    }

    func testContainerInstallsWhatSetupInstalls() throws {
        let setup = try Repo.text("scripts/setup.sh"), containerfile = try Repo.text("cluster/Containerfile")
        XCTAssertTrue(ContainerPackages.setupPackages(setup).contains("libopenmpi-dev"))
        XCTAssertEqual(ContainerPackages.problems(setup: setup, containerfile: containerfile), [])
        // The runtime stage copies scripts/prepare, so it installs python3; the build takes BASELINE_CPU and the commit.
        let runtime = ContainerPackages.stages(containerfile).last ?? []
        XCTAssertTrue(runtime.filter { $0.hasPrefix("RUN ") }.flatMap(ContainerPackages.installed).contains("python3"), "runtime stage lacks python3")
        for must in ["ARG BASELINE_CPU=", "export VQA_MPI_BASELINE_CPU=1", "ARG VQA_MPI_COMMIT=", "vqa-mpi.commit", "vqa-mpi --version"] {
            XCTAssertTrue(containerfile.contains(must), "Containerfile lacks \(must)")
        }
        // A package added to one side only must be reported.
        let extra = containerfile.replacingOccurrences(of: "install -y -qq --no-install-recommends python3-pip",
                                                       with: "install -y -qq --no-install-recommends python3-pip libzstd-dev")
        XCTAssertNotEqual(extra, containerfile)
        XCTAssertTrue(ContainerPackages.problems(setup: setup, containerfile: extra).contains { $0.contains("libzstd-dev") })
        let declaredInSetup = setup.replacingOccurrences(of: "PKGS=(", with: "PKGS=(python3-pip ")
        XCTAssertNotEqual(declaredInSetup, setup)
        XCTAssertTrue(ContainerPackages.problems(setup: declaredInSetup, containerfile: containerfile).contains { $0.contains("python3-pip") })
        // `COPY . .` must not send build products or datasets to the builder.
        let ignored = try Repo.text(".dockerignore").split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
        for dir in [".build/", "data/", "runs/"] { XCTAssertTrue(ignored.contains(dir), ".dockerignore lacks \(dir)") }
        let noSetup = containerfile.replacingOccurrences(of: "RUN bash scripts/setup.sh", with: "RUN true")
        XCTAssertTrue(ContainerPackages.problems(setup: setup, containerfile: noSetup).contains { $0.contains("does not run scripts/setup.sh") })
        // The Swift image tag follows the toolchain the project is built with.
        let version = try Tools.which("swift").map { try CLI.run($0, ["--version"]) }
        if let version, version.status == 0, let m = version.stdout.range(of: #"Swift version (\d+\.\d+(\.\d+)?)"#, options: .regularExpression) {
            let v = version.stdout[m].replacingOccurrences(of: "Swift version ", with: "")
            XCTAssertTrue(containerfile.contains("ARG SWIFT_VERSION=\(v)"), "Containerfile should build with Swift \(v)")
        }
    }

    func testRuntimeDepsFindsPackagesAndUnpackagedLibraries() throws {
        let dest = try TempDir.newPath("rtdeps", for: self)
        let r = try Repo.bash("bash cluster/runtime-deps.sh \"$BIN\" \"$DEST\"", env: ["BIN": CLI.binary, "DEST": dest.path])
        XCTAssertEqual(r.status, 0, r.stderr)
        let pkgs = try String(contentsOf: dest.appendingPathComponent("runtime-packages.txt"), encoding: .utf8).split(separator: "\n").map(String.init)
        for prefix in ["libopenmpi", "libopenblas", "libavcodec", "libavformat", "libswscale"] {
            XCTAssertTrue(pkgs.contains { $0.hasPrefix(prefix) }, "\(prefix)* missing from \(pkgs)")
        }
        // Every listed package really is installed here (dpkg-query agrees).
        let q = try CLI.run("/usr/bin/dpkg-query", ["-W", "-f=${Status}\n"] + pkgs)
        XCTAssertEqual(q.status, 0, q.stderr)
        XCTAssertEqual(q.stdout.split(separator: "\n").filter { $0.hasSuffix("installed") }.count, pkgs.count)
        // The Swift runtime does not come from a Debian package: it is copied.
        let libs = try FileManager.default.contentsOfDirectory(atPath: dest.appendingPathComponent("lib").path)
        XCTAssertTrue(libs.contains("libswiftCore.so"), "\(libs)")
    }

    func testBatchScriptsCarryTheFlagsTheREADMEPromises() throws {
        let readme = try Repo.text("cluster/README.md")
        // README rows: | `train.sbatch` | `#SBATCH --signal=TERM@120` | why |
        var promised: [(String, String)] = []
        for line in readme.split(separator: "\n") where line.hasPrefix("| `train") {
            let cells = line.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces).trimmingCharacters(in: CharacterSet(charactersIn: "`")) }
            guard cells.count >= 2 else { continue }
            promised.append((cells[0], cells[1]))
        }
        XCTAssertGreaterThanOrEqual(promised.count, 8, "cluster/README.md lists no flags table")
        for (script, text) in promised {
            let body = try Repo.text("cluster/slurm/\(script)")
            XCTAssertTrue(body.contains(text), "cluster/slurm/\(script) lacks `\(text)` promised in cluster/README.md")
        }
        let srun = try Repo.text("cluster/slurm/train.sbatch")
        for must in ["#SBATCH --signal=TERM@120", "#SBATCH --requeue", "srun --mpi=pmix", "OPENBLAS_NUM_THREADS=\"$threads\"",
                     "threads=\"${SLURM_CPUS_PER_TASK:-1}\"", "vqa_resume_flag", "scontrol requeue",
                     "--cpus-per-task=\"$threads\"", "#SBATCH --mem=", "4 GB per rank"] {
            XCTAssertTrue(srun.contains(must), "train.sbatch lacks \(must)")
        }
        let mpirun = try Repo.text("cluster/slurm/train-mpirun.sbatch")
        for must in ["#SBATCH --signal=B:TERM@120", "scripts/launch.sh", "VQA_THREADS=\"$threads\"", "trap", "vqa_resume_flag"] {
            XCTAssertTrue(mpirun.contains(must), "train-mpirun.sbatch lacks \(must)")
        }
    }

    func testMPIJobIsWellFormedAndRefersToExistingFiles() throws {
        let docs = try Repo.yamlDocuments(Repo.text("cluster/k8s/mpijob.yaml")).compactMap { $0 as? [String: Any] }
        let pvc = try XCTUnwrap(docs.first { $0["kind"] as? String == "PersistentVolumeClaim" })
        let pvcName = try XCTUnwrap((pvc["metadata"] as? [String: Any])?["name"] as? String)
        let job = try XCTUnwrap(docs.first { $0["kind"] as? String == "MPIJob" })
        XCTAssertEqual(job["apiVersion"] as? String, "kubeflow.org/v2beta1")
        let spec = try XCTUnwrap(job["spec"] as? [String: Any])
        XCTAssertNotNil(spec["slotsPerWorker"] as? Int)
        XCTAssertEqual(spec["sshAuthMountPath"] as? String, "/root/.ssh")
        XCTAssertEqual(spec["launcherCreationPolicy"] as? String, "WaitForWorkersReady")
        XCTAssertNotNil((pvc["spec"] as? [String: Any])?["storageClassName"] as? String, "an RWX claim needs a storage class that provides it")
        let readme = try Repo.text("cluster/README.md")
        XCTAssertTrue(readme.contains("`backoffLimit` counts every launcher\nfailure, preemptions"), "cluster/README.md must say backoffLimit counts preemptions")
        XCTAssertTrue(readme.contains("storageClassName"), "cluster/README.md must name the RWX storage class")
        let replicas = try XCTUnwrap(spec["mpiReplicaSpecs"] as? [String: Any])
        for role in ["Launcher", "Worker"] {
            let r = try XCTUnwrap(replicas[role] as? [String: Any], role)
            let pod = try XCTUnwrap((r["template"] as? [String: Any])?["spec"] as? [String: Any], role)
            let c = try XCTUnwrap((pod["containers"] as? [[String: Any]])?.first, role)
            XCTAssertNotNil((c["resources"] as? [String: Any])?["limits"], "\(role): no resource limits")
            let claims = (pod["volumes"] as? [[String: Any]] ?? []).compactMap { ($0["persistentVolumeClaim"] as? [String: Any])?["claimName"] as? String }
            XCTAssertEqual(claims, [pvcName], "\(role) must mount the shared PVC")
            // Image paths under /opt/vqa-mpi map to repository files (Containerfile copies them there).
            for word in (c["command"] as? [String] ?? []) + (c["args"] as? [String] ?? []) where word.hasPrefix("/opt/vqa-mpi/") {
                let rel = String(word.dropFirst("/opt/vqa-mpi/".count))
                XCTAssertTrue(FileManager.default.fileExists(atPath: Repo.root.appendingPathComponent(rel).path), "\(role): \(word) has no \(rel)")
            }
        }
    }
}
