// Rebuilding a scoring model from a checkpoint (eval and score): model kind and options, sampler
// and calibration from its metadata, EMA or raw weights.

import Engine
import Media
import Dist

/// A model ready to score, with what the checkpoint says about its inputs and output scale.
public struct ScoringModel {
    public let model: VQAModel
    /// The sampler the model was trained with (test clips are used for scoring).
    public let sampler: SamplerConfig
    /// Raw → training-MOS mapping, when the checkpoint has one.
    public let calibration: Logistic4?
    /// "ema" or "raw": which weights were loaded.
    public let weights: String
    /// The per-rank batch used during training (a sensible scoring batch).
    public let batchPerRank: Int
}

extension Checkpoint {
    /// Loads `path` for scoring: EMA weights when `ema` is nil or true and present, else raw ones.
    /// Plain safetensors files (no vqa-mpi metadata) need `fallbackModel`.
    public static func scoringModel(path: String, ema: Bool?, fallbackModel: String = "fragnet", worldSize: Int = 1) throws -> ScoringModel {
        let (file, info) = try readWeights(path: path)
        var config = TrainConfig()
        if let i = info, !i.config.isEmpty { config = try TrainConfig.fromStoredYAML(i.config, source: "\(path) (stored config)") }
        let name = info?.model ?? fallbackModel
        let model = try ModelKind.parse(name).make(seed: 0, options: info?.modelOptions ?? [:])
        let hasEMA = hasEMA(file)
        if ema == true && !hasEMA { throw TrainingError("\(path)", "has no EMA weights (trained with train.ema 0); use --raw") }
        let useEMA = (ema ?? true) && hasEMA
        let plain = info == nil ? "not a vqa-mpi checkpoint (no training metadata), and " : ""
        let hint = "pass a checkpoint written by `vqa-mpi train`, or a converted file whose tensor names and shapes match the model (scripts/convert)"
        let missing: [String]
        do { missing = try model.parameters.load(file, path: path, prefix: useEMA ? emaPrefix : "", allowMissing: true) } catch {
            throw TrainingError("\(path)", "\(plain)its tensors do not fit the \(name) model: \(reason(error)); \(hint)")
        }
        if !missing.isEmpty {
            throw TrainingError("\(path)", "\(plain)it lacks \(missing.count) of the \(model.parameters.infos.count) tensors of the \(name) model, e.g. \(missing.prefix(3).joined(separator: ", ")); \(hint)")
        }
        return ScoringModel(model: model, sampler: config.data.train.sampler, calibration: info?.calibration,
                            weights: useEMA ? "ema" : "raw", batchPerRank: max(1, config.train.batchSize / max(worldSize, 1)))
    }
}
