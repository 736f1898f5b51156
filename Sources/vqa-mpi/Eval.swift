// `vqa-mpi eval`: scores a labelled set with a checkpoint (sharded under mpirun) and prints
// SRCC, PLCC, KRCC, RMSE (plus the logistic-fit variants) as a table or one JSON line.

import ArgumentParser
import Foundation
import Dist
import Engine
import Media
import Training

struct Eval: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Evaluate a checkpoint on a labelled set: SRCC, PLCC, KRCC, RMSE (sharded under mpirun)."
    )

    @Option(help: "Checkpoint (.safetensors) written by train.") var checkpoint: String
    @Option(help: "Label file.") var labels: String
    @Option(name: .customLong("data-root"), help: "Directory label paths are relative to.") var dataRoot: String?
    @Option(help: "Write path,mos,prediction CSV here (rank 0).") var predictions: String?
    @Flag(help: "Print one JSON line instead of a table.") var json = false
    @Option(name: .customLong("batch-size"), help: "Samples per rank per forward pass (default: training's).") var batchSize: Int?
    @Option(name: .customLong("motion-features"), help: "Motion features for a simplevqa model with motion_dim > 0: a directory of <relative path>.npy or a .safetensors file.") var motionFeatures: String?
    @OptionGroup var weights: WeightOptions
    @OptionGroup var runtime: RuntimeOptions

    func run() throws {
        let comm = try Launcher.connect(.auto)
        try collective(comm) {
            BLAS.setThreads(runtime.threads ?? 1)
            let m = try Checkpoint.scoringModel(path: checkpoint, ema: weights.choice, worldSize: comm.size)
            try MemoryEstimate.inference(model: m.model.name, parameters: m.model.parameters.flatCount, sampler: m.sampler, batchPerRank: batchSize ?? m.batchPerRank).check("eval (batch \(batchSize ?? m.batchPerRank) per rank)")
            let entries = try Labels.load(path: labels, dataRoot: dataRoot)
            let motion = try MotionFeatureSource.make(path: motionFeatures ?? "", model: m.model, roots: [dataRoot ?? ""],
                                                      entries: entries, what: "--motion-features")
            let loader = try DistributedEval.loader(entries: entries, sampler: m.sampler, comm: comm,
                                                    batchPerRank: batchSize ?? m.batchPerRank, decodeThreads: runtime.decodeThreads ?? 2,
                                                    features: motion)
            let eval = DistributedEval(model: m.model, comm: comm, tape: Tape(compute: Compute(threads: runtime.threads ?? 1)))
            let preds = try eval.predict(loader)
            guard comm.rank == 0 else { return }
            if let out = predictions {
                var csv = "path,mos,prediction\n"
                for (i, e) in entries.enumerated() {
                    csv += "\(csvField(e.path)),\(e.mos),\(preds[i].map { "\($0)" } ?? "")\n"
                }
                try Data(csv.utf8).write(to: URL(fileURLWithPath: out))
            }
            let failed = preds.filter { $0 == nil }.count
            guard let r = DistributedEval.report(preds, entries: entries) else {
                throw ValidationError("\(labels): fewer than 2 readable entries (\(failed) of \(entries.count) failed); nothing to evaluate")
            }
            if json {
                print(jsonLine(["srcc": jsonNumber(r.srcc), "plcc": jsonNumber(r.plcc), "krcc": jsonNumber(r.krcc),
                                "rmse": jsonNumber(r.rmse), "plcc_logistic": jsonNumber(r.plccLogistic),
                                "rmse_logistic": jsonNumber(r.rmseLogistic), "n": r.count, "failed": failed,
                                "weights": m.weights, "checkpoint": checkpoint, "labels": labels]))
            } else {
                print("checkpoint \(checkpoint) (\(m.weights) weights) on \(labels): \(r.count) scored, \(failed) unreadable")
                print(String(format: "  SRCC  %.4f\n  PLCC  %.4f   (logistic fit %.4f)\n  KRCC  %.4f\n  RMSE  %.4f   (logistic fit %.4f)",
                             r.srcc, r.plcc, r.plccLogistic, r.krcc, r.rmse, r.rmseLogistic))
            }
        }
    }
}

/// A CSV field, quoted when it holds a comma, quote or newline.
func csvField(_ s: String) -> String {
    Labels.quotedField(s)
}
