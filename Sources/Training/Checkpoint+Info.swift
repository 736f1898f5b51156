// Verifying a parsed checkpoint: format tag, checksum, then the metadata fields. Split from
// Checkpoint.read so the same checks run on bytes in memory (the fuzz target, tests).

import Foundation
import Engine
import Dist

extension Checkpoint {
    /// Verifies the format tag and checksum of a parsed checkpoint and reads its metadata;
    /// errors name `path` and how to recover.
    public static func info(of file: SafetensorsFile, path: String) throws -> CheckpointInfo {
        let m = file.metadata
        guard m["format"] == format else {
            throw DistError("\(path): not a vqa-mpi training checkpoint (metadata format is \(m["format"] ?? "missing"), expected \(format))")
        }
        guard let want = m["checksum"].flatMap({ UInt64($0, radix: 16) }) else {
            throw DistError("\(path): checkpoint has no checksum; the file is damaged")
        }
        let got = checksum(file.tensors)
        guard got == want else {
            throw DistError("\(path): checksum mismatch (stored \(String(want, radix: 16)), computed \(String(got, radix: 16))): the checkpoint is corrupt; use an older epoch-NNN.safetensors or best.safetensors")
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
        if let s = m["model_options"], let o = try? JSONSerialization.jsonObject(with: Data(s.utf8)) as? [String: String] { info.modelOptions = o }
        if let s = m["calibration"] { info.calibration = try? JSONDecoder().decode(Logistic4.self, from: Data(s.utf8)) }
        return info
    }
}
