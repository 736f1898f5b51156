// libFuzzer target: YAML config text and `--set key=value` overrides → TrainConfig.resolve.
//
// Input layout: the bytes up to the first NUL are the YAML file; each further NUL-separated
// chunk (at most 4) is one `--set` argument. A thrown error is the expected outcome for bad
// input; a trap is a crash. Properties checked on success: the resolved YAML (what checkpoints
// store and `--resume` reads back) resolves to the same config, and the derived optimizer, step
// and sampler settings build.

import CFuzzDriver
import Foundation
import Training

@main
enum FuzzConfig {
    static func main() {
        exit(fuzz_run(CommandLine.argc, CommandLine.unsafeArgv) { data, size in fuzzConfig(data, size) })
    }
}

/// One libFuzzer input: 0 whatever the outcome; a broken property traps.
func fuzzConfig(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data else { return 0 }
    let parts = UnsafeBufferPointer(start: data, count: size).split(separator: 0, maxSplits: 4, omittingEmptySubsequences: false)
    guard let first = parts.first else { return 0 }
    let yaml = String(decoding: first, as: UTF8.self)
    let sets = parts.dropFirst().map { String(decoding: $0, as: UTF8.self) }
    let resolved: TrainConfig.Resolved
    do {
        resolved = try TrainConfig.resolve(yaml: yaml, source: "fuzz.yaml", sets: sets)
    } catch {
        // Rejected: TrainingError, or the MediaError/EngineError of a section validator.
        precondition(!"\(error)".isEmpty, "an error without a message")
        return 0
    }
    do {
        let again = try TrainConfig.fromStoredYAML(resolved.yaml, source: "stored")
        precondition(again == resolved.config, "stored YAML resolves to another config:\n\(resolved.yaml)")
        _ = try resolved.config.optimizerConfig()
        _ = try resolved.config.stepConfig()
        _ = try resolved.config.trainSampler()
    } catch {
        fatalError("a resolved config fails on its own stored YAML or derived settings (\(error)):\n\(resolved.yaml)")
    }
    return 0
}
