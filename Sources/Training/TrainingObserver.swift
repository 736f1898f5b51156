// What a Trainer lets an outside party see and change, set once at construction: every batch before
// its step and every checkpoint save. The loop itself knows nothing about faults; the test-only
// fault injector below (documented in docs/faults.md) is one such observer, built by `vqa-mpi train`
// from the environment.

import Foundation
import Engine
import Dist

/// Sees every training batch before its step and every checkpoint save of a Trainer.
public protocol TrainingObserver: AnyObject {
    /// The batch global step `globalStep` trains on, on rank `rank` (`lastRankWithSamples`: the last
    /// rank holding samples in this step): `batch` or a replacement.
    func input(_ batch: ClipBatch, globalStep: Int, rank: Int, lastRankWithSamples: Int) -> ClipBatch
    /// Called before each checkpoint save; returns the byte limit of that save (Int.max: none).
    func willSaveCheckpoint() -> Int
}

/// Test-only fault injection, read from the environment (documented in docs/faults.md).
///
/// - `VQA_MPI_TEST_INJECT_NAN=S[,S...]`: at these global steps (0-based) the first input value of the
///   last rank holding samples is NaN, so the step's loss and gradients are non-finite.
/// - `VQA_MPI_TEST_FAIL_WRITE=after:N[,times:M]`: the checkpoint saves after the first N fail like a
///   full disk (a partial temporary file, then ENOSPC); only M of them when `times` is given.
public final class FaultInjector: TrainingObserver {
    var nanSteps: Set<Int> = []
    var failAfter: Int?
    var failTimes = Int.max
    var saves = 0
    /// The poisoned copy of a batch's clips (grown on demand only).
    var poisoned: FloatBuffer?

    /// The injector the environment asks for, nil when it sets no fault variable.
    public static func from(environment env: [String: String]) throws -> FaultInjector? {
        let f = try FaultInjector(environment: env)
        return f.nanSteps.isEmpty && f.failAfter == nil ? nil : f
    }

    init(environment env: [String: String]) throws {
        if let v = env["VQA_MPI_TEST_INJECT_NAN"], !v.isEmpty {
            let steps = v.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
            guard steps.allSatisfy({ $0 != nil && $0! >= 0 }) else {
                throw TrainingError("VQA_MPI_TEST_INJECT_NAN='\(v)'", "expected global step numbers, e.g. 3,4,5 (a test hook; unset it for real runs)")
            }
            nanSteps = Set(steps.map { $0! })
        }
        if let v = env["VQA_MPI_TEST_FAIL_WRITE"], !v.isEmpty {
            var after: Int?, times: Int?
            for part in v.split(separator: ",") {
                let kv = part.split(separator: ":", maxSplits: 1).map(String.init)
                guard kv.count == 2, let n = Int(kv[1]), n >= 0, ["after", "times"].contains(kv[0]) else { after = nil; times = -1; break }
                if kv[0] == "after" { after = n } else { times = n }
            }
            guard let a = after, times.map({ $0 >= 0 }) ?? true else {
                throw TrainingError("VQA_MPI_TEST_FAIL_WRITE='\(v)'", "expected after:N or after:N,times:M (a test hook; unset it for real runs)")
            }
            failAfter = a
            failTimes = times ?? Int.max
        }
    }

    /// At a NaN step, on the last rank holding samples, a copy of `batch` whose first clip value is NaN.
    public func input(_ batch: ClipBatch, globalStep: Int, rank: Int, lastRankWithSamples: Int) -> ClipBatch {
        guard nanSteps.contains(globalStep), rank == lastRankWithSamples, batch.count > 0 else { return batch }
        let n = batch.clipCount * batch.clipShape.reduce(1, *)
        if (poisoned?.count ?? 0) < n { poisoned = FloatBuffer(count: n) }
        let copy = poisoned!
        copy.base.update(from: batch.clips, count: n)
        copy.base[0] = .nan
        return ClipBatch(clipShape: batch.clipShape, clipsPerSample: batch.clipsPerSample, clips: copy.base, motion: batch.motion,
                         motionWidth: batch.motionWidth, labels: batch.labels, indices: batch.indices)
    }

    /// The byte limit of this save: 1000 (a simulated full disk) for the failing saves, else Int.max.
    public func willSaveCheckpoint() -> Int {
        saves += 1
        guard let a = failAfter, saves > a, saves - a <= failTimes else { return Int.max }
        return 1000
    }
}
