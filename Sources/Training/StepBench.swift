// Synthetic training workloads: the step benchmarks and the 1-vs-N-rank equivalence checks run the
// real DataParallelStep on clips and labels generated from the counter RNG, keyed by global sample
// index, so every world size sees exactly the same global batches.

import Engine
#if canImport(Glibc)
import Glibc
import Dist
#endif

/// Random clips [3, T, H, W] and labels in [1, 5], a pure function of (seed, global sample index).
public struct SyntheticWorkload: Sendable {
    /// Shape of one clip.
    public let clipShape: [Int]
    /// Seed of every sample.
    public let seed: UInt64

    public init(frames: Int, size: Int, seed: UInt64) {
        clipShape = [3, frames, size, size]
        self.seed = seed
    }

    /// Floats per clip.
    public var floatsPerClip: Int { clipShape.reduce(1, *) }

    /// Writes the clips of global samples `indices` contiguously into `buffer`.
    public func fill(_ buffer: UnsafeMutablePointer<Float>, indices: [Int], compute: Compute) {
        let per = floatsPerClip
        compute.forEach(indices.count) { k in
            var rng = CounterRNG(seed: seed, index: UInt64(indices[k]), purpose: .test)
            let p = buffer + k * per
            // A smooth per-sample brightness plus noise, so the label is learnable.
            let level = Float(label(indices[k]) - 3) * 0.4
            for i in 0..<per { p[i] = level + (rng.nextFloat() - 0.5) }
        }
    }

    /// Label of global sample `index`.
    public func label(_ index: Int) -> Float {
        var rng = CounterRNG(seed: seed ^ 0x5EED, index: UInt64(index), purpose: .test)
        return 1 + 4 * rng.nextFloat()
    }
}

/// A test-only fault to inject into a benchmark run (on the last rank).
public enum InjectedFault: Sendable, Equatable {
    /// Add 1e-3 to one weight at this step (detected by the replica checksum).
    case desync(step: Int)
    /// Exit abruptly with status 3 at this step, as a crashed rank would.
    case crash(step: Int)

    /// Parses `desync@STEP` or `crash@STEP`.
    public static func parse(_ s: String) throws -> InjectedFault {
        let parts = s.split(separator: "@")
        guard parts.count == 2, let step = Int(parts[1]), step >= 0 else {
            throw TrainingError("--inject takes desync@STEP or crash@STEP, got '\(s)'")
        }
        switch parts[0] {
        case "desync": return .desync(step: step)
        case "crash": return .crash(step: step)
        default: throw TrainingError("--inject", "unknown fault '\(parts[0])'; valid faults: desync, crash")
        }
    }
}

/// Timings of a run of training steps (medians are taken by the caller).
public struct StepBenchResult: Sendable {
    /// Per measured step: wall ms, exposed communication ms, perturbation ms.
    public var stepMs: [Double] = [], commMs: [Double] = [], perturbMs: [Double] = []
    /// Per measured step: forward (with the loss), backward and optimizer ms.
    public var forwardMs: [Double] = [], backwardMs: [Double] = [], optimizerMs: [Double] = []
    /// Per measured step: ms in the label and prediction all-gathers (waiting for the peers, mostly).
    public var gatherMs: [Double] = []
    /// Per measured step: ms writing the synthetic clips (before the step, not in `stepMs`).
    public var fillMs: [Double] = []
    /// Per measured step: CPU ms of the communication thread's all-reduces, and of the whole
    /// process (all threads; above the step's wall time when the rank uses more than one core).
    public var commThreadCPUMs: [Double] = [], processCPUMs: [Double] = []
    /// Losses of every step (warm-up included).
    public var losses: [Double] = []
    /// Arena buffers obtained from the system during the measured steps.
    public var freshAllocations = 0

    /// An empty result.
    public init() {}

    /// Per measured step: the step's time without any collective (step − gathers − exposed all-reduce).
    public var computeMs: [Double] { (0..<stepMs.count).map { stepMs[$0] - gatherMs[$0] - commMs[$0] } }
}

/// Median of `xs` (0 when empty).
public func median(_ xs: [Double]) -> Double {
    if xs.isEmpty { return 0 }
    let s = xs.sorted()
    return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
}

/// Runs ranges of training steps of one `DataParallelStep` on the synthetic workload, reusing its
/// clip buffers, so that measured blocks can be interleaved with other work (`bench step --independent`).
public final class StepBenchLoop {
    /// The step being timed.
    public let step: DataParallelStep
    let work: SyntheticWorkload
    let globalBatch: Int, per: Int
    let skip: Set<Int>
    let buffer: FloatBuffer
    let motion: FloatBuffer?

    /// A loop over `step` with global batch `globalBatch` (split evenly over the step's ranks);
    /// global samples in `skip` are treated as unreadable: their rank drops them from its shard.
    public init(step: DataParallelStep, work: SyntheticWorkload, globalBatch: Int, skip: Set<Int> = []) throws {
        let size = step.comm.size
        guard globalBatch % size == 0 else {
            throw TrainingError("global batch \(globalBatch) is not divisible by \(size) ranks; use a multiple of \(size)")
        }
        self.step = step
        self.work = work
        self.globalBatch = globalBatch
        self.skip = skip
        per = globalBatch / size
        buffer = FloatBuffer(count: per * work.floatsPerClip)
        // Motion features (simplevqa with motion_dim > 0): per sample [T, D] noise keyed by its index.
        let motionPer = work.clipShape[1] * step.model.motionDim
        motion = motionPer > 0 ? FloatBuffer(count: per * motionPer) : nil
    }

    /// Runs the steps numbered `range` (the step number keys the samples and the perturbation), appending
    /// to `out` the losses, and the timings when `timed`; checks the replicas every `checksumEvery`
    /// steps; `fault` is injected on the last rank.
    public func run(_ range: Range<Int>, timed: Bool, lr: Float, checksumEvery: Int = 0, fault: InjectedFault? = nil,
                    into out: inout StepBenchResult) throws {
        let comm = step.comm, tape = step.tape, model = step.model
        let motionPer = work.clipShape[1] * model.motionDim
        let faulty = comm.rank == comm.size - 1
        let allocationsBefore = tape.arena.freshAllocations
        for s in range {
            let tf = Clock.now()
            let indices = (0..<per).map { s * globalBatch + comm.rank * per + $0 }.filter { !skip.contains($0) }
            work.fill(buffer.base, indices: indices, compute: tape.compute)
            if let m = motion {
                for (k, i) in indices.enumerated() {
                    var rng = CounterRNG(seed: work.seed ^ 0x0F10, index: UInt64(i), purpose: .test)
                    for j in 0..<motionPer { m.base[k * motionPer + j] = rng.nextFloat() - 0.5 }
                }
            }
            if faulty, case .crash(let at) = fault, at == s { exit(3) }
            if faulty, case .desync(let at) = fault, at == s { model.parameters.values.base[0] += 1e-3 }
            // Writing the clips is the benchmark's own work (training decodes instead) and is not
            // timed; without this barrier a rank's step would time its peer's longer fill as
            // straggler wait, which a world of one never sees.
            let tb = Clock.now()
            if comm.size > 1 { try comm.barrier() }
            let t0 = Clock.now(), c0 = processCPUSeconds()
            let batch = ClipBatch(clipShape: work.clipShape, clips: buffer.base, motion: motion?.base, motionWidth: model.motionDim,
                                  labels: indices.map(work.label), indices: indices)
            let r = try step.step(batch, lr: lr, epoch: 0, step: s, seed: work.seed)
            let dt = Clock.now() - t0, cpu = processCPUSeconds() - c0
            out.losses.append(r.loss)
            if timed {
                out.stepMs.append(dt * 1000)
                out.fillMs.append((tb - tf) * 1000)
                out.commMs.append(r.commSeconds * 1000)
                out.gatherMs.append(r.gatherSeconds * 1000)
                out.perturbMs.append(r.perturbSeconds * 1000)
                out.forwardMs.append(r.forwardSeconds * 1000)
                out.backwardMs.append(r.backwardSeconds * 1000)
                out.optimizerMs.append(r.optimizerSeconds * 1000)
                out.commThreadCPUMs.append(r.commThreadCPUSeconds * 1000)
                out.processCPUMs.append(cpu * 1000)
            }
            if checksumEvery > 0 && (s + 1) % checksumEvery == 0 { try step.verifyReplicas() }
        }
        if timed { out.freshAllocations += tape.arena.freshAllocations - allocationsBefore }
    }
}

extension DataParallelStep {
    /// Runs `warmup + steps` training steps on the synthetic workload with global batch
    /// `globalBatch` (split evenly over ranks); checks the replicas every `checksumEvery` steps.
    /// Global samples in `skip` are treated as unreadable: the rank drops them from its shard.
    public func benchmark(_ work: SyntheticWorkload, globalBatch: Int, steps: Int, warmup: Int, lr: Float,
                          checksumEvery: Int = 0, fault: InjectedFault? = nil, skip: Set<Int> = []) throws -> StepBenchResult {
        let loop = try StepBenchLoop(step: self, work: work, globalBatch: globalBatch, skip: skip)
        var out = StepBenchResult()
        try loop.run(0..<warmup, timed: false, lr: lr, checksumEvery: checksumEvery, fault: fault, into: &out)
        try loop.run(warmup..<(warmup + steps), timed: true, lr: lr, checksumEvery: checksumEvery, fault: fault, into: &out)
        return out
    }
}

/// CPU seconds of this process, every thread, user and system (getrusage).
func processCPUSeconds() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    let t = { (v: timeval) in Double(v.tv_sec) + Double(v.tv_usec) * 1e-6 }
    return t(usage.ru_utime) + t(usage.ru_stime)
}

/// The 1-minute load average (`/proc/loadavg`; nil where there is none): noise context for timings.
public func loadAverage() -> Double? {
    var loads = [Double](repeating: 0, count: 1)
    return getloadavg(&loads, 1) == 1 ? loads[0] : nil
}
