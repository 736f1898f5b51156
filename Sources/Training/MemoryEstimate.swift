// How much memory a configuration needs, estimated before any work, and the refusal when the
// machine does not have it (an allocation failure is a trap in Swift: it must never be reached).
//
// Per rank, an upper bound in bytes (B = clips per rank-batch, S = floats per sample):
//   parameters  P·4 bytes × 7 copies: weights, gradients, two optimizer moments, EMA shadow, the
//               perturbation backup (AWP/RWP) and the trainer's weight scratch (inference: 2 copies)
//   batches     (prefetch + 2)·B·S·4: the loader's pool of prefetch + 1 batches and the compact copy
//   activations B·S·4·A, A = activation bytes per input byte of the model kind, measured (below);
//               with micro-batches of M samples, M·S′·4·A, S′ = one training sample's floats or as
//               many test clips (MemoryEstimate+MicroBatch.swift)
//   runtime     a constant for code, MPI, FFmpeg and the decoders' frames
// A was calibrated from `vqa-mpi bench engine --steps 1` peak RSS at two batch sizes (the slope per
// clip, so the constant part drops out; the bench's step is AWP, two passes), 2026-12-07, then ×1.5:
//   fragnet     --frames 8 --size 224, batch 1 → 4:  147 → 305 MB, 52.6 MB/clip of 4.82 MB input: A ≈ 11 → 16
//   fast-vqa-m  --frames 4 --size 224, batch 1 → 2: 1226 → 1552 MB, 326 MB/clip of 2.41 MB: A ≈ 135 → 200
//   fast-vqa-b  --frames 4 --size 224, batch 1 → 2: 1245 → 1557 MB, 311 MB/clip: A ≈ 129 → 200
//   simplevqa   --frames 4 --size 224, batch 1 → 2: 1182 → 1403 MB, 221 MB/clip: A ≈ 92 → 140
//               (2026-12-07 after the trunk stopped keeping BN/ReLU copies and conv columns; it was
//               1748 → 2641 MB, A ≈ 370 → 560, before)
// The constant parts (147 MB for 1.1 M parameters, ≈ 900 MB for 27.6 M) stay below 7 copies of the
// parameters plus `runtimeBytes`. Unknown model names get the largest factor.
// Ranks on one node share its memory: the need is multiplied by the ranks per node
// (OMPI_COMM_WORLD_LOCAL_SIZE, else 1) and compared with MemAvailable (/proc/meminfo) or, when
// lower, the cgroup limit minus current usage.

import Foundation
import Media

/// An upper-bound estimate of the memory one configuration needs.
public struct MemoryEstimate: Sendable, Equatable {
    /// Bytes of parameters, gradients, optimizer state and copies.
    public var parameters: Int
    /// Bytes of the loader's batch buffers.
    public var batches: Int
    /// Bytes of activations kept for backward (or of one forward pass for inference).
    var activations: Int
    /// Bytes of runtime, libraries and decoders.
    public var runtime: Int
    /// Ranks on this node (the estimate is per rank; the node needs `total`).
    var ranksPerNode: Int

    /// Bytes one rank needs.
    public var perRank: Int { Self.add([parameters, batches, activations, runtime]) }
    /// Bytes the node needs for all its ranks.
    public var total: Int { perRank.multipliedReportingOverflow(by: ranksPerNode).overflow ? Int.max : perRank * ranksPerNode }

    /// Sum that saturates at Int.max instead of trapping (absurd sizes must give a message, not a trap).
    static func add(_ xs: [Int]) -> Int {
        xs.reduce(0) { a, b in let (s, o) = a.addingReportingOverflow(b); return o ? Int.max : s }
    }

    /// a·b·… saturating at Int.max (negative factors count as 0).
    public static func mul(_ xs: [Int]) -> Int {
        xs.reduce(1) { a, b in let (p, o) = a.multipliedReportingOverflow(by: max(b, 0)); return o ? Int.max : p }
    }

    /// Runtime, libraries and decoders: measured ≈ 150 MB for a small run; rounded up.
    static let runtimeBytes = 400 << 20

    /// Activation bytes kept per input byte, by model kind (bench engine slopes × 1.5).
    static func activationFactor(_ model: String) -> Int {
        switch model {
        case "fragnet": return 16
        case "fast-vqa-b", "fast-vqa-m": return 200
        case "simplevqa": return 140
        default: return 200
        }
    }

    /// Floats forwarded at once per sample of a micro-batch: a training sample, or as many test clips.
    static func floatsPerMicroSample(_ sampler: SamplerConfig) -> Int {
        let t = sampler.shape(train: true), e = sampler.shape(train: false)
        return max(mul([t.clips, 3, t.frames, t.height, t.width]), mul([t.clips, 3, e.frames, e.height, e.width]))
    }

    /// Floats per sample of `sampler`, the larger of its training and evaluation shapes, saturating.
    static func floatsPerSample(_ sampler: SamplerConfig) -> Int {
        [true, false].map { train -> Int in
            let s = sampler.shape(train: train)
            return mul([s.clips, 3, s.frames, s.height, s.width])
        }.max()!
    }

    /// The estimate for training `parameters` floats with `batchPerRank` samples of `sampler` per rank.
    public static func training(model: String, parameters: Int, sampler: SamplerConfig, batchPerRank: Int, microBatch: Int? = nil,
                                prefetch: Int = 2, environment: [String: String] = ProcessInfo.processInfo.environment) -> MemoryEstimate {
        var e = training(model: model, parameters: parameters, floatsPerSample: floatsPerSample(sampler), batchPerRank: batchPerRank,
                         microBatch: microBatch, prefetch: prefetch, environment: environment)
        if let m = microBatch, m < batchPerRank {
            // Training forwards m samples at once, validation m × train_clips clips (DistributedEval.clipsPerForward).
            e.activations = mul([m, floatsPerMicroSample(sampler), 4, activationFactor(model)])
        }
        return e
    }

    /// The estimate for training with samples of `floatsPerSample` floats (bench: no loader, prefetch 0);
    /// activations are those of `microBatch` samples (nil: the whole `batchPerRank`).
    public static func training(model: String, parameters: Int, floatsPerSample s: Int, batchPerRank: Int, microBatch: Int? = nil,
                                prefetch: Int = 2, environment: [String: String] = ProcessInfo.processInfo.environment) -> MemoryEstimate {
        MemoryEstimate(parameters: mul([parameters, 4, 7]), batches: mul([prefetch + 2, batchPerRank, s, 4]),
                       activations: mul([min(microBatch ?? batchPerRank, batchPerRank), s, 4, activationFactor(model)]), runtime: runtimeBytes,
                       ranksPerNode: ranksPerNode(environment))
    }

    /// The estimate for scoring (eval, score): two copies of the weights; activations bounded as in training.
    public static func inference(model: String, parameters: Int, sampler: SamplerConfig, batchPerRank: Int, prefetch: Int = 2,
                                 environment: [String: String] = ProcessInfo.processInfo.environment) -> MemoryEstimate {
        let s = floatsPerSample(sampler)
        return MemoryEstimate(parameters: mul([parameters, 4, 2]), batches: mul([prefetch + 2, batchPerRank, s, 4]),
                              activations: mul([batchPerRank, s, 4, activationFactor(model)]), runtime: runtimeBytes,
                              ranksPerNode: ranksPerNode(environment))
    }

    /// Ranks sharing this node (Open MPI's local size; 1 outside mpirun).
    static func ranksPerNode(_ env: [String: String]) -> Int {
        max(1, Int(env["OMPI_COMM_WORLD_LOCAL_SIZE"] ?? env["MPI_LOCALNRANKS"] ?? "") ?? 1)
    }

    /// Memory this process may still use: MemAvailable, or the cgroup (v2, else v1) limit minus its
    /// usage when that is lower; with where the figure comes from. nil when neither can be read.
    public static func available(root: String = "") -> (bytes: Int, source: String)? {
        var best: (Int, String)? = nil
        if let text = try? String(contentsOfFile: root + "/proc/meminfo", encoding: .utf8),
           let line = text.split(separator: "\n").first(where: { $0.hasPrefix("MemAvailable:") }),
           let kb = Int(line.split(separator: " ").dropFirst().first ?? "") {
            best = (kb * 1024, "MemAvailable in /proc/meminfo")
        }
        func number(_ path: String) -> Int? {
            (try? String(contentsOfFile: root + path, encoding: .utf8)).flatMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
        }
        for (limit, usage) in [("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
                               ("/sys/fs/cgroup/memory/memory.limit_in_bytes", "/sys/fs/cgroup/memory/memory.usage_in_bytes")] {
            guard let l = number(limit), l < (1 << 60) else { continue }
            let free = max(0, l - (number(usage) ?? 0))
            if best == nil || free < best!.0 { best = (free, "the cgroup memory limit (\(limit))") }
            break
        }
        return best.map { (bytes: $0.0, source: $0.1) }
    }

    /// "1.2 GB" (decimal units, as free(1) -h does not; the message says which).
    static func gb(_ bytes: Int) -> String {
        bytes == Int.max ? "more than 9 EB" : String(format: "%.1f GB", Double(bytes) / 1e9)
    }

    /// Throws when the node's need exceeds the memory available, naming both and the terms; `what`
    /// names the command and its size settings ("train: batch 16 per rank, clip 3×32×224×224").
    public func check(_ what: String, available: (bytes: Int, source: String)? = MemoryEstimate.available(),
                      advice: String = "lower the batch size, clip length or fragment size, or use more ranks on more nodes") throws {
        guard let available, total > available.bytes else { return }
        let ranks = ranksPerNode > 1 ? " × \(ranksPerNode) ranks on this node" : ""
        throw MemoryError(message: "\(what) needs about \(Self.gb(total)) of memory (per rank \(Self.gb(perRank)): activations "
            + "\(Self.gb(activations)), batch buffers \(Self.gb(batches)), parameters and optimizer \(Self.gb(parameters)), "
            + "runtime \(Self.gb(runtime))\(ranks)) but only \(Self.gb(available.bytes)) is available (\(available.source)); "
            + advice)
    }
}

/// A configuration that would not fit in memory (reported before any allocation).
public struct MemoryError: Error, CustomStringConvertible, Sendable {
    /// The whole message.
    public let message: String
    public var description: String { message }
}
