// What a checkpoint's names mean, in one place: the EMA weights sit beside the raw ones under the
// "ema." prefix, the optimizer moments under "optim.", and `model_options` is a JSON object whose
// values are strings (older files and hand-made ones may hold numbers or arrays: joined with ",").

import Foundation
import Engine
import Dist

extension Checkpoint {
    /// Prefix of the EMA copy of every parameter (`ema.<name>`).
    public static let emaPrefix = "ema."
    /// Prefix of the optimizer state buffers (`optim.<slot>`).
    static let optimizerPrefix = "optim."

    /// True when the file holds EMA weights.
    public static func hasEMA(_ file: SafetensorsFile) -> Bool {
        file.tensors.keys.contains { $0.hasPrefix(emaPrefix) }
    }

    /// The prefix to load from: "ema." when `preferEMA` and the file has EMA weights, else "".
    static func weightPrefix(_ file: SafetensorsFile, preferEMA: Bool) -> String {
        preferEMA && hasEMA(file) ? emaPrefix : ""
    }

    /// The EMA weights under the parameters' own names (the file unchanged when it has none).
    static func emaAsWeights(_ file: SafetensorsFile) -> SafetensorsFile {
        guard hasEMA(file) else { return file }
        var out = file
        out.tensors = Dictionary(uniqueKeysWithValues: file.tensors.compactMap { k, v in
            k.hasPrefix(emaPrefix) ? (String(k.dropFirst(emaPrefix.count)), v) : nil
        })
        return out
    }

    /// Parses `model_options` metadata: a JSON object of strings, numbers or arrays (joined with ",").
    public static func modelOptions(json: String, path: String) throws -> [String: String] {
        guard let obj = try? JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any] else {
            throw TrainingError("\(path)", "metadata 'model_options' is not a JSON object: \(json)")
        }
        return obj.mapValues { v in
            if let a = v as? [Any] { return a.map { "\($0)" }.joined(separator: ",") }
            return "\(v)"
        }
    }

    /// The model a file was saved from (metadata `model`, `model_options`), else `fallback` with
    /// `options`; weights are not loaded.
    public static func model(for file: SafetensorsFile, path: String, fallback: String, options: [String: String]) throws -> VQAModel {
        let kind = try ModelKind.parse(file.metadata["model"] ?? fallback)
        let opts = try file.metadata["model_options"].map { try modelOptions(json: $0, path: path) } ?? options
        return try kind.make(seed: 0, options: opts)
    }
}
