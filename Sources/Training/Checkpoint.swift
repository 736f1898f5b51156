// Training checkpoints in safetensors: model tensors under their names, `ema.<name>`, optimizer
// state `optim.<key>` (flat buffers, shape [flatCount]) and string metadata (config YAML, epoch,
// step, optimizer step count, seed, sampler position, best metric, calibration, model, checksum).
// The checksum (format /2) is FNV-1a 64 over every tensor's name, dtype, shape and bytes in name
// order, then every metadata entry but `checksum` itself in key order: a flipped bit anywhere that
// changes behaviour — the format tag, the epoch, the stored config, the calibration — is caught on
// load, and the file is rejected with its name instead of resuming or scoring on garbage.

import Foundation
import Engine
import Dist

/// What a checkpoint records besides tensors.
public struct CheckpointInfo: Sendable, Equatable {
    /// Model registry name and options.
    public var model = "fragnet"
    public var modelOptions: [String: String] = [:]
    /// The resolved training config (YAML).
    public var config = ""
    /// Epochs completed and optimizer steps taken (global step index of the next step).
    public var epoch = 0, step = 0, optimizerSteps = 0
    /// The run seed (every random choice is keyed by it).
    public var seed: UInt64 = 0
    /// Sampler position: the epoch the next batch comes from and the step within it.
    var samplerEpoch = 0, samplerStep = 0
    /// Best validation SRCC+PLCC so far and its epoch (−1: none).
    var bestMetric = -Double.infinity, bestEpoch = -1
    /// Raw prediction → training MOS calibration, when fitted.
    public var calibration: Logistic4?
    public init() {}
}

/// Saving and loading training checkpoints.
public enum Checkpoint {
    /// Format tag in the metadata (/2: the checksum covers the metadata too).
    public static let format = "vqa-mpi-checkpoint/2"
    /// The previous format, still read: its checksum covers the tensors only.
    static let formatTensorsOnly = "vqa-mpi-checkpoint/1"
    /// Metadata keys only vqa-mpi writes: a file with any of them is verified whatever its format tag
    /// says. `model` and `model_options` are not among them: a converted or hand-made plain file may
    /// describe its model with them (landscape, eval and score read them), and every checkpoint we
    /// write carries `checksum` and the sampler keys anyway.
    static let ownKeys: Set<String> = ["checksum", "optimizer_steps", "sampler_epoch", "sampler_step", "best_metric",
                                              "best_epoch", "calibration"]

    /// FNV-1a 64 over the tensors (name order: names, dtypes, shapes, bytes), then, unless
    /// `metadata` is nil (format /1), each metadata key and value but `checksum` (key order, each
    /// preceded by its byte count).
    public static func checksum(_ tensors: [String: SafetensorsTensor], metadata: [String: String]?) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        @inline(__always) func mix(_ b: UInt8) { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01b3 }
        func mix(count n: Int) { for i in 0..<8 { mix(UInt8(truncatingIfNeeded: n >> (8 * i))) } }
        for name in tensors.keys.sorted() {
            let t = tensors[name]!
            for b in name.utf8 { mix(b) }
            for b in t.dtype.rawValue.utf8 { mix(b) }
            for d in t.shape { mix(count: d) }
            t.data.withUnsafeBufferPointer { p in for b in p { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01b3 } }
        }
        for (key, value) in (metadata ?? [:]).sorted(by: { $0.key < $1.key }) where key != "checksum" {
            mix(count: key.utf8.count)
            for b in key.utf8 { mix(b) }
            mix(count: value.utf8.count)
            for b in value.utf8 { mix(b) }
        }
        return h
    }

    /// `file` with its checksum recomputed over its tensors and metadata (after a metadata change).
    public static func sealed(_ file: SafetensorsFile) -> SafetensorsFile {
        var out = file
        out.metadata["format"] = format
        out.metadata["checksum"] = String(checksum(out.tensors, metadata: out.metadata), radix: 16)
        return out
    }

    /// True when `metadata` was written by vqa-mpi (its format tag or any key only vqa-mpi writes).
    static func isOwn(_ metadata: [String: String]) -> Bool {
        metadata["format"].map { $0.hasPrefix("vqa-mpi") } == true || !ownKeys.isDisjoint(with: metadata.keys)
    }

    /// The checkpoint file for a model, its EMA weights and optimizer, and `info`.
    public static func make(store: ParameterStore, ema: WeightEMA?, optimizer: Optimizer?, info: CheckpointInfo) -> SafetensorsFile {
        var tensors = store.safetensors()
        if let e = ema { tensors.merge(store.safetensors(from: e.shadow, prefix: emaPrefix)) { a, _ in a } }
        if let o = optimizer {
            for (k, buf) in o.state { tensors["\(optimizerPrefix)\(k)"] = SafetensorsTensor(floats: UnsafeBufferPointer(start: buf.base, count: buf.count), shape: [buf.count]) }
        }
        var m: [String: String] = [
            "format": format, "model": info.model, "config": info.config,
            "epoch": "\(info.epoch)", "step": "\(info.step)", "optimizer_steps": "\(info.optimizerSteps)",
            "seed": "\(info.seed)", "sampler_epoch": "\(info.samplerEpoch)", "sampler_step": "\(info.samplerStep)",
            "best_metric": info.bestMetric.isFinite ? "\(info.bestMetric)" : "none", "best_epoch": "\(info.bestEpoch)",
        ]
        if let d = try? JSONSerialization.data(withJSONObject: info.modelOptions, options: [.sortedKeys]) {
            m["model_options"] = String(decoding: d, as: UTF8.self)
        }
        if let c = info.calibration, let d = try? JSONEncoder().encode(c) { m["calibration"] = String(decoding: d, as: UTF8.self) }
        if let o = optimizer, let d = try? JSONSerialization.data(withJSONObject: o.groupSteps, options: [.sortedKeys]) {
            m["optimizer_group_steps"] = String(decoding: d, as: UTF8.self)
        }
        return sealed(SafetensorsFile(tensors: tensors, metadata: m))
    }

    /// Writes `file` atomically (temporary file, fsync, rename): on failure the previous file at
    /// `path` is untouched. `byteLimit` simulates a full disk (test hook, see SafetensorsFile.write).
    public static func save(_ file: SafetensorsFile, to path: String, byteLimit: Int = .max) throws {
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try file.write(to: path, byteLimit: byteLimit)
    }

    /// Reads a checkpoint, verifying format and checksum; errors name the file and how to recover.
    public static func read(path: String) throws -> (file: SafetensorsFile, info: CheckpointInfo) {
        guard FileManager.default.fileExists(atPath: path) else {
            throw TrainingError("\(path)", "no such checkpoint; check the path (train writes DIR/last.safetensors and DIR/best.safetensors)")
        }
        let file: SafetensorsFile
        do { file = try SafetensorsFile.read(path: path) } catch {
            throw TrainingError("\(path)", "corrupt or truncated checkpoint (\(reason(error))); use an older epoch-NNN.safetensors or best.safetensors, or start without --resume")
        }
        let info = try info(of: file, path: path)
        try checkFinite(file, path: path)
        return (file, info)
    }

    /// Reads any safetensors weights file (a file carrying vqa-mpi metadata is verified as a
    /// training checkpoint whatever its format tag; a plain safetensors file, e.g. converted from
    /// PyTorch, is accepted as is). Weights that are NaN or infinite are refused either way.
    public static func readWeights(path: String) throws -> (file: SafetensorsFile, info: CheckpointInfo?) {
        guard FileManager.default.fileExists(atPath: path) else { throw TrainingError("\(path)", "no such checkpoint; check the path") }
        let file: SafetensorsFile
        do { file = try SafetensorsFile.read(path: path) } catch {
            throw TrainingError("\(path)", "corrupt, truncated or not a safetensors file (\(reason(error))); pass a checkpoint written by `vqa-mpi train`")
        }
        let info = isOwn(file.metadata) ? try info(of: file, path: path) : nil
        try checkFinite(file, path: path)
        return (file, info)
    }

    /// An error's reason without the path (the caller's message names the file once).
    static func reason(_ error: Error) -> String { (error as? SafetensorsError)?.reason ?? "\(error)" }

    /// Restores weights, EMA weights and optimizer state (exact resume).
    public static func restore(_ file: SafetensorsFile, path: String, store: ParameterStore, ema: WeightEMA?,
                               optimizer: Optimizer?, optimizerSteps: Int) throws {
        try store.load(file, path: path)
        if let e = ema {
            if hasEMA(file) { try store.load(file, path: path, into: e.shadow, prefix: emaPrefix) }
            else { e.shadow.copy(from: store.values) }
        }
        if let o = optimizer {
            for (k, buf) in o.state {
                guard let t = file.tensors["\(optimizerPrefix)\(k)"], t.shape == [buf.count] else {
                    throw TrainingError("\(path)", "optimizer state optim.\(k) is missing or has another size; was it saved with another optimizer or model? Use --init-from to start a new run from its weights")
                }
                try t.copyFloats(into: buf.buffer)
            }
            o.stepCount = optimizerSteps
            // Per-group bias-correction steps; a checkpoint from before they were recorded counted
            // every group with the global step.
            if let text = file.metadata["optimizer_group_steps"] {
                guard let d = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Int] else {
                    throw DistError("\(path): metadata optimizer_group_steps is not a JSON object of group → step count (\(text)); the file is damaged, resume from an older checkpoint")
                }
                o.groupSteps = d
            } else {
                o.groupSteps = Dictionary(uniqueKeysWithValues: o.groupNames.map { ($0, optimizerSteps) })
            }
        }
    }

    /// Fine-tuning: copies tensors whose name and shape match (the head is re-initialised by the
    /// caller); returns the names that were loaded and those skipped.
    public static func initFrom(_ file: SafetensorsFile, path: String, store: ParameterStore, skip: Set<Int>) throws -> (loaded: [String], skipped: [String]) {
        var loaded: [String] = [], skipped: [String] = []
        for (i, info) in store.infos.enumerated() {
            guard !skip.contains(i), let t = file.tensors[info.name], t.dtype == .F32, t.shape == info.shape else { skipped.append(info.name); continue }
            try t.copyFloats(into: store.value(i))
            loaded.append(info.name)
        }
        if loaded.isEmpty { throw TrainingError("\(path)", "no tensor matches the model by name and shape; is it a checkpoint of the same model?") }
        return (loaded, skipped)
    }
}
