// `vqa-mpi score`: scores videos and images (files, folders searched recursively, or label files)
// with a checkpoint; prints path, calibrated score (training MOS scale) and raw score as CSV or
// JSON lines. Sharded under mpirun; unreadable files are reported `path: reason` and skipped.

import ArgumentParser
import Foundation
import Dist
import Engine
import Media
import Training

struct Score: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "score",
        abstract: "Score videos or images with a checkpoint: path, calibrated score, raw score."
    )

    static let extensions: Set<String> = ["mp4", "mkv", "mov", "avi", "webm", "m4v", "mpg", "mpeg", "ts", "y4m", "flv", "wmv", "3gp",
                                          "jpg", "jpeg", "png", "bmp", "webp", "tif", "tiff"]

    @Option(help: "Checkpoint (.safetensors).") var checkpoint = "runs/demo/best.safetensors"
    @Argument(help: "Files, folders (recursive) or label files.") var paths: [String]
    @Option(name: .customLong("data-root"), help: "Directory label-file paths are relative to.") var dataRoot: String?
    @Flag(help: "JSON lines instead of CSV.") var json = false
    @Option(name: .customLong("batch-size"), help: "Samples per rank per forward pass.") var batchSize = 1
    @Option(name: .customLong("motion-features"), help: "Motion features for a simplevqa model with motion_dim > 0: a directory of <relative path>.npy or a .safetensors file.") var motionFeatures: String?
    @OptionGroup var weights: WeightOptions
    @OptionGroup var runtime: RuntimeOptions

    /// Expands the arguments into entries (label files keep their order and MOS) plus each one's motion-feature key: its path relative to the folder named on the
    /// command line, a file named directly by its file name, a label file's entry relative to --data-root.
    func expanded() throws -> (entries: [LabelEntry], keys: [String: String]) {
        var out: [LabelEntry] = []
        var keys: [String: String] = [:]
        let fm = FileManager.default
        for p in paths {
            var isDir: ObjCBool = false
            guard fm.fileExists(atPath: p, isDirectory: &isDir) else { throw ValidationError(pathProblem(p) ?? "\(p): no such file or folder") }
            if isDir.boolValue {
                let files = (fm.enumerator(atPath: p)?.compactMap { $0 as? String } ?? [])
                    .filter { Score.extensions.contains(($0 as NSString).pathExtension.lowercased()) }.sorted()
                for f in files {
                    let path = (p as NSString).appendingPathComponent(f)
                    out.append(LabelEntry(path: path, mos: .nan))
                    keys[path] = f
                }
            } else if Score.extensions.contains((p as NSString).pathExtension.lowercased()) {
                out.append(LabelEntry(path: p, mos: .nan))
                keys[p] = (p as NSString).lastPathComponent
            } else {
                out += try Labels.load(path: p, dataRoot: dataRoot)
            }
        }
        if out.isEmpty { throw ValidationError("no video or image files found in \(paths.joined(separator: ", ")) (extensions: \(Score.extensions.sorted().joined(separator: ", ")))") }
        return (out, keys)
    }

    func run() throws {
        let (list, keys) = try expanded()
        let comm = try Launcher.connect(.auto)
        var nothingRead: String? = nil
        try collective(comm) {
            BLAS.setThreads(runtime.threads ?? 1)
            let m = try Checkpoint.scoringModel(path: checkpoint, ema: weights.choice, worldSize: comm.size)
            try MemoryEstimate.inference(model: m.model.name, parameters: m.model.parameters.flatCount, sampler: m.sampler, batchPerRank: batchSize).check("score (batch \(batchSize) per rank)")
            let motion = try MotionFeatureSource.make(path: motionFeatures ?? "", model: m.model, roots: [dataRoot ?? ""],
                                                      entries: list, what: "--motion-features", keys: keys)
            let loader = try DistributedEval.loader(entries: list, sampler: m.sampler, comm: comm, batchPerRank: batchSize,
                                                    decodeThreads: runtime.decodeThreads ?? 2, features: motion)
            let eval = DistributedEval(model: m.model, comm: comm, tape: Tape(compute: Compute(threads: runtime.threads ?? 1)))
            let preds = try eval.predict(loader)
            if preds.allSatisfy({ $0 == nil }) {
                let first = loader.failures.failedFiles.first.map { "; first: \($0): \(loader.failures.reason(for: $0) ?? "unreadable")" } ?? ""
                nothingRead = "none of the \(list.count) input file(s) could be read, nothing was scored\(first)"
                return
            }
            guard comm.rank == 0 else { return }
            if !json { print("path,score,raw") }
            var skipped = 0
            for (i, e) in list.enumerated() {
                guard let raw = preds[i] else { skipped += 1; continue }
                let cal = m.calibration.map { $0.apply(Double(raw)) }
                if json {
                    print(jsonLine(["path": e.path, "score": jsonNumber(cal ?? Double(raw)), "raw": Double(raw), "calibrated": cal != nil]))
                } else {
                    print("\(csvField(e.path)),\(cal.map { String(format: "%.4f", $0) } ?? String(format: "%.6f", Double(raw))),\(String(format: "%.6f", Double(raw)))")
                }
            }
            if skipped > 0 { FileHandle.standardError.write(Data("\(skipped) of \(list.count) file(s) could not be read and were skipped\n".utf8)) }
            if m.calibration == nil { FileHandle.standardError.write(Data("note: \(checkpoint) has no calibration; score = raw\n".utf8)) }
        }
        if let nothingRead {
            if comm.rank == 0 { FileHandle.standardError.write(Data("error: \(nothingRead)\n".utf8)) }
            throw ExitCode(1)
        }
    }
}
