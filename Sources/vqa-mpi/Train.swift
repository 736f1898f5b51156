// `vqa-mpi train`: resolves the configuration (defaults ← --config ← --set ← flags), then trains on
// one process or under mpirun (rank 0 prints and writes files). SIGTERM/SIGINT stop the run at the
// next step boundary with a checkpoint and exit status 143/130 (docs/faults.md).

import ArgumentParser
import Foundation
import Dist
import Engine
import Training

struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train a quality model (data-parallel under mpirun), with none|l2|aug|rwp|awp regularization.",
        discussion: "Writes OUT/last.safetensors, OUT/best.safetensors (with --val-labels), OUT/metrics.jsonl and OUT/curves.svg. An OUT that already holds a run is refused unless --resume continues it or --overwrite moves it aside; OUT/.lock keeps a second train out while one runs. Flags override --config and --set." + "\n" + TrainHelp.catalogue
    )

    @Option(help: "Model: \(ModelKind.allCases.map(\.rawValue).joined(separator: ", ")) (default \(TrainConfig().model.name); see below).") var model: String?
    @Option(name: .customLong("model-option"), help: "Model option key=value (repeatable), e.g. widths=8,8,16,16 (model.options.KEY).") var modelOptions: [String] = []
    @Option(name: .customLong("train-labels"), help: "Training label file.") var trainLabels: String?
    @Option(name: .customLong("data-root"), help: "Directory label paths are relative to (train and val).") var dataRoot: String?
    @Option(name: .customLong("val-labels"), help: "Validation label file (repeatable; the first selects best.safetensors).") var valLabels: [String] = []
    @Option(name: .customLong("motion-features"), help: "simplevqa motion features for train and --val-labels: a directory of <relative path>.npy or a .safetensors file.") var motionFeatures: String?
    @Option(help: "Epochs.") var epochs: Int?
    @Option(name: .customLong("max-steps"), help: "Stop after this many optimizer steps in total.") var maxSteps: Int?
    @Option(name: .customLong("batch-size"), help: "GLOBAL batch size (divided evenly over the ranks).") var batchSize: Int?
    @Option(name: .customLong("micro-batch"), help: "Samples per micro-batch of each rank's batch, with the loss of the whole global batch (train.micro_batch): whole (default) or a divisor of the per-rank batch; less memory, one more forward pass per sample.") var microBatch: String?
    @Option(help: "Seed of every random choice.") var seed: Int?
    @Option(help: "\(Regularizer.allCases.map(\.rawValue).joined(separator: " | ")) (default \(TrainConfig().regularization.kind); see below).") var regularizer: String?
    @Option(help: "AWP/RWP perturbation size γ.") var gamma: Double?
    @OptionGroup var runtime: RuntimeOptions
    @Option(name: .customLong("collective-timeout"), help: "Seconds a rank waits in a collective for the others before the job is aborted naming the missing ranks (train.collective_timeout, default 300; 0: forever).") var collectiveTimeout: Double?
    @Option(help: "Output directory.") var out: String?
    @Flag(help: "Continue from OUT/last.safetensors exactly.") var resume = false
    @Flag(help: "Start over in an OUT that holds a run: its files (last, best, epoch-NNN, metrics.jsonl, curves.svg) are moved into OUT/previous-<UTC time>/, not deleted.") var overwrite = false
    @Option(name: .customLong("init-from"), help: "Fine-tune from this checkpoint (matching tensors; head re-initialised).") var initFrom: String?
    @Option(help: "YAML config file (one; override keys with --set).") var config: [String] = []
    @Option(name: .customLong("set"), help: "Override any config key: --set train.epochs=3 (repeatable).") var sets: [String] = []
    @Option(name: .customLong("dump-batches"), help: "Debug: write every training batch, the starting and (every rank's) final weights and each step's LR, loss and global predictions to this safetensors file (rank r > 0: FILE.rank<r>); for short runs (scripts/reference/train_oracle.py).") var dumpBatches: String?
    @Flag(name: .customLong("dry-run"), help: "Print the resolved configuration (YAML) and exit.") var dryRun = false
    @Flag(name: .customLong("allow-overlap"), help: "Train even when a validation set shares files with the training labels (warned with the count).") var allowOverlap = false

    func validate() throws {
        if out == nil && !dryRun { throw ValidationError("--out DIR is required (where checkpoints and metrics go)") }
        if resume && overwrite { throw ValidationError("--resume and --overwrite exclude each other: resume continues OUT's run, overwrite moves it aside and starts a new one") }
        if config.count > 1 {
            throw ValidationError("--config is given \(config.count) times (\(config.joined(separator: ", "))); pass one file (a later one would replace the earlier), and override single keys with --set key=value")
        }
        for o in modelOptions where !o.contains("=") || o.hasPrefix("=") {
            throw ValidationError("--model-option takes key=value, got '\(o)'")
        }
        if resume && initFrom != nil { throw ValidationError("--resume and --init-from exclude each other: resume continues OUT's run, init-from starts a new one") }
    }

    /// CLI flags as dotted config keys.
    func flags() -> [(String, Any)] {
        var f: [(String, Any)] = []
        if let v = model { f.append(("model.name", v)) }
        for o in modelOptions {
            let kv = o.split(separator: "=", maxSplits: 1).map(String.init)
            f.append(("model.options.\(kv[0])", kv.count > 1 ? kv[1] : ""))
        }
        if let v = trainLabels { f.append(("data.train.labels", v)) }
        if let v = dataRoot { f.append(("data.train.data_root", v)) }
        if let v = motionFeatures { f.append(("data.train.motion_features", v)) }
        if !valLabels.isEmpty {
            f.append(("data.val", valLabels.map { p -> [String: Any] in
                ["name": ((p as NSString).lastPathComponent as NSString).deletingPathExtension, "labels": p, "data_root": dataRoot ?? "",
                 "motion_features": motionFeatures ?? ""]
            }))
        }
        if let v = epochs { f.append(("train.epochs", v)) }
        if let v = maxSteps { f.append(("train.max_steps", v)) }
        if let v = batchSize { f.append(("train.batch_size", v)) }
        if let v = microBatch { f.append(("train.micro_batch", v)) }
        if let v = seed { f.append(("train.seed", v)) }
        if let v = regularizer { f.append(("regularization.kind", v)) }
        if let v = gamma {
            let kinds = regularizer.map { $0 == "rwp" ? ["rwp"] : $0 == "awp" ? ["awp"] : ["awp", "rwp"] } ?? ["awp", "rwp"]
            for k in kinds { f.append(("regularization.\(k).gamma", v)) }
        }
        if let v = collectiveTimeout { f.append(("train.collective_timeout", v)) }
        if let v = runtime.threads { f.append(("train.threads", v)) }
        if let v = runtime.decodeThreads { f.append(("train.decode_threads", v)) }
        return f
    }

    func run() throws {
        let resolved: TrainConfig.Resolved
        do { resolved = try TrainConfig.load(path: config.first, sets: sets, flags: flags()) } catch {
            // A broken config is a usage error (exit 64), in one line naming the file or key.
            FileHandle.standardError.write(Data("error: \(error)\n".utf8))
            throw ExitCode.validationFailure
        }
        if dryRun { print(resolved.yaml, terminator: ""); return }
        let comm = try Launcher.connect(.auto)
        do { try resolved.config.checkMicroBatch(ranks: comm.size) } catch {  // before OUT is touched
            if comm.isRoot { FileHandle.standardError.write(Data("error: \(error)\n".utf8)) }
            throw ExitCode.validationFailure
        }
        var overlap: [(name: String, count: Int, first: String)] = []
        do { overlap = try TrainValOverlap.find(resolved.config) } catch {
            if comm.isRoot { FileHandle.standardError.write(Data("error: \(error)\n".utf8)) }
            throw ExitCode(1)
        }
        if !overlap.isEmpty {
            let text = TrainValOverlap.describe(overlap, resolved.config)
            if comm.isRoot {
                FileHandle.standardError.write(Data((allowOverlap ? "warning: \(text)\n"
                    : "error: \(text)\nvalidation files that are also trained on inflate the metrics and the best checkpoint's choice; remove them from one side, or pass --allow-overlap to train anyway\n").utf8))
            }
            if !allowOverlap { throw ExitCode(1) }
        }
        // Rank 0 checks and locks OUT before any work; every rank stops together if it refuses.
        var runDir: RunDirectory?
        var refusal = ""
        if comm.isRoot { do { runDir = try RunDirectory(path: out!, resume: resume, overwrite: overwrite) } catch { refusal = "\(error)" } }
        refusal = try comm.broadcast(refusal, root: 0)
        if !refusal.isEmpty {
            if comm.isRoot { FileHandle.standardError.write(Data("error: \(refusal)\n".utf8)) }
            throw ExitCode(1)
        }
        if let d = runDir?.movedTo { print("--overwrite: moved the previous run's files into \(d)") }
        var options = TrainOptions(outDir: out!)
        options.resume = resume
        if let from = initFrom {  // --overwrite may have moved it: rank 0 tells every rank where it is now
            let moved = runDir?.moved.first { URL(fileURLWithPath: $0.key).standardized == URL(fileURLWithPath: from).standardized }?.value
            options.initFrom = try comm.broadcast(moved ?? from, root: 0)
        }
        options.dumpBatches = dumpBatches
        let preemption = PreemptionSignal()
        options.stopSignal = { preemption.pending }
        var stopped: TrainingStopped?
        try collective(comm) {
            do {
                let faults = try FaultInjector.from(environment: ProcessInfo.processInfo.environment)
                let trainer = try Trainer(resolved: resolved, options: options, comm: comm, observer: faults)
                try trainer.run()
            } catch let s as TrainingStopped {
                stopped = s  // every rank stopped together: no abort, a clean exit with its status
            }
        }
        withExtendedLifetime(runDir) {}  // the lock on OUT is held until training has ended
        if let s = stopped {
            if comm.isRoot { FileHandle.standardError.write(Data("\(s.exitCode == 1 ? "error" : "stopped"): \(s.message)\n".utf8)) }
            throw ExitCode(s.exitCode)
        }
    }
}
