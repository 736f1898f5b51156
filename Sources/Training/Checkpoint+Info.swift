// Verifying a parsed checkpoint: format tag, checksum, then the metadata fields; and refusing
// non-finite weights. Split from Checkpoint.read so the same checks run on bytes in memory (the
// fuzz target, tests).

import Foundation
import Engine
import Dist

extension Checkpoint {
    /// Verifies the format tag and checksum of a parsed checkpoint and reads its metadata;
    /// errors name `path` and how to recover.
    public static func info(of file: SafetensorsFile, path: String) throws -> CheckpointInfo {
        let m = file.metadata
        let tag = m["format"] ?? "missing"
        guard tag == format || tag == formatTensorsOnly else {
            let own = isOwn(m) ? "it carries vqa-mpi training metadata, so its format tag is damaged or from a newer vqa-mpi; use an older epoch-NNN.safetensors or best.safetensors" : "pass a checkpoint written by `vqa-mpi train`"
            throw TrainingError("\(path)", "not a readable vqa-mpi training checkpoint (metadata format is '\(tag)', expected \(format)): \(own)")
        }
        guard let want = m["checksum"].flatMap({ UInt64($0, radix: 16) }) else {
            throw TrainingError("\(path)", "checkpoint has no checksum; the file is damaged")
        }
        // Format /1 (before the metadata was covered): tensors only. A /2 file whose tag is flipped to
        // /1 fails here too, as its stored checksum covers the metadata.
        let got = checksum(file.tensors, metadata: tag == format ? m : nil)
        guard got == want else {
            throw TrainingError("\(path)", "checksum mismatch (stored \(String(want, radix: 16)), computed \(String(got, radix: 16))): the checkpoint's tensors or metadata are corrupt; use an older epoch-NNN.safetensors or best.safetensors")
        }
        var info = CheckpointInfo()
        info.model = m["model"] ?? "fragnet"
        info.config = m["config"] ?? ""
        func int(_ k: String) -> Int { m[k].flatMap { Int($0) } ?? 0 }
        info.epoch = int("epoch"); info.step = int("step"); info.optimizerSteps = int("optimizer_steps")
        info.samplerEpoch = int("sampler_epoch"); info.samplerStep = int("sampler_step")
        info.seed = m["seed"].flatMap { UInt64($0) } ?? 0
        info.bestMetric = m["best_metric"].flatMap { Double($0) } ?? -Double.infinity
        info.bestEpoch = m["best_epoch"].flatMap { Int($0) } ?? -1
        // Malformed options describe nothing: the file is still readable (building the model then says why it does not fit).
        if let s = m["model_options"], let o = try? modelOptions(json: s, path: path) { info.modelOptions = o }
        if let s = m["calibration"] { info.calibration = try? JSONDecoder().decode(Logistic4.self, from: Data(s.utf8)) }
        return info
    }

    /// Throws when a floating-point tensor holds a NaN or infinity, naming the first such tensor
    /// (name order) and element: such weights load silently and fail steps later.
    public static func checkFinite(_ file: SafetensorsFile, path: String) throws {
        for name in file.tensors.keys.sorted() {
            let t = file.tensors[name]!
            // A value is NaN or infinite when its exponent bits are all ones (IEEE 754, little-endian).
            let exponent: UInt64
            switch t.dtype {
            case .F16: exponent = 0x7C00
            case .BF16: exponent = 0x7F80
            case .F32: exponent = 0x7F80_0000
            case .F64: exponent = 0x7FF0_0000_0000_0000
            default: continue
            }
            let size = t.dtype.size
            let bad: Int? = t.data.withUnsafeBufferPointer { p in
                var i = 0
                while i < t.count {
                    var bits: UInt64 = 0
                    for k in 0..<size { bits |= UInt64(p[i * size + k]) << (8 * k) }
                    if bits & exponent == exponent { return i }
                    i += 1
                }
                return nil
            }
            if let i = bad {
                throw TrainingError("\(path)", "tensor '\(name)' holds a NaN or infinite value (element \(i) of \(t.count)); the weights are unusable: use an older epoch-NNN.safetensors or best.safetensors, or retrain")
            }
        }
    }

    /// A verified checkpoint `file` with `calibration` in its metadata and its checksum recomputed.
    static func withCalibration(_ file: SafetensorsFile, _ calibration: Logistic4, path: String) throws -> SafetensorsFile {
        _ = try info(of: file, path: path)
        var out = file
        if let d = try? JSONEncoder().encode(calibration) { out.metadata["calibration"] = String(decoding: d, as: UTF8.self) }
        return sealed(out)
    }
}
