import Dist
// Where a data-parallel step's time goes, rank by rank: what `bench step` reports to explain its
// scaling. Each rank's step is compute (everything but collectives) plus time inside collectives;
// a collective costs a rank that arrives last only its own transfer, while an earlier rank also
// waits for the slower peer. So, per step, the minimum over ranks of the time in collectives is
// the floor the collectives cost, and the excess of each rank over it is straggler wait.

/// Every rank's median timings of a step benchmark and the per-step synchronisation figures,
/// identical on every rank (built with one collective).
public struct StepScalingReport: Sendable {
    /// Names of the per-rank medians, in the order of each row of `perRank`.
    public static let keys = ["step_ms", "compute_ms", "forward_ms", "backward_ms", "optimizer_ms", "gather_ms",
                              "comm_exposed_ms", "comm_thread_cpu_ms", "fill_ms", "process_cpu_ms",
                              "independent_step_ms", "independent_compute_ms", "independent_process_cpu_ms"]
    /// How many of `keys` come from the data-parallel steps (the rest from the independent ones).
    public static let dataParallelKeys = 10
    /// Per rank, the medians named by `keys` (the independent ones 0 without an independent run).
    public let perRank: [[Double]]
    /// Median over steps of the minimum over ranks of the ms in collectives (gathers + exposed all-reduce).
    public let collectiveFloorMs: Double
    /// Median over steps of the mean over ranks of the ms in collectives beyond that floor.
    public let stragglerWaitMs: Double
    /// Samples per second of all ranks training alone at once (Σ over ranks of clips / median step), if measured.
    public let independentSamplesPerS: Double?

    /// Gathers `result` (and `independent`, the same ranks training alone) from every rank; a
    /// collective: every rank calls it with the same number of measured steps.
    public init(comm: Communicator, result: StepBenchResult, independent: StepBenchResult?, samplesPerRank: Int) throws {
        let mine = [median(result.stepMs), median(result.computeMs), median(result.forwardMs), median(result.backwardMs),
                    median(result.optimizerMs), median(result.gatherMs), median(result.commMs), median(result.commThreadCPUMs),
                    median(result.fillMs), median(result.processCPUMs),
                    median(independent?.stepMs ?? []), median(independent?.computeMs ?? []), median(independent?.processCPUMs ?? [])]
        let collective = (0..<result.stepMs.count).map { result.gatherMs[$0] + result.commMs[$0] }
        let row = mine.count + collective.count
        var slots = [Double](repeating: 0, count: row * comm.size)
        for (k, v) in (mine + collective).enumerated() { slots[comm.rank * row + k] = v }
        try slots.withUnsafeMutableBufferPointer { try comm.allReduceSum($0.baseAddress!, count: $0.count) }
        let rows = (0..<comm.size).map { Array(slots[($0 * row)..<(($0 + 1) * row)]) }
        perRank = rows.map { Array($0.prefix(mine.count)) }
        (collectiveFloorMs, stragglerWaitMs) = Self.synchronisation(rows.map { Array($0.dropFirst(mine.count)) })
        independentSamplesPerS = independent == nil ? nil
            : perRank.map { Double(samplesPerRank) / max($0[Self.dataParallelKeys] / 1000, 1e-12) }.reduce(0, +)
    }

    /// (floor, wait) from the ms each rank spent in collectives per step (`collectiveMs[rank][step]`):
    /// the medians over steps of the minimum over ranks, and of the mean excess over that minimum.
    static func synchronisation(_ collectiveMs: [[Double]]) -> (floor: Double, wait: Double) {
        guard let steps = collectiveMs.first?.count, steps > 0 else { return (0, 0) }
        var floors: [Double] = [], waits: [Double] = []
        for s in 0..<steps {
            let xs = collectiveMs.map { $0[s] }
            let lo = xs.min()!
            floors.append(lo)
            waits.append(xs.map { $0 - lo }.reduce(0, +) / Double(xs.count))
        }
        return (median(floors), median(waits))
    }

    /// The maximum over ranks of the median named `key` (the slowest rank sets the pace).
    public func maxOverRanks(_ key: String) -> Double {
        guard let k = Self.keys.firstIndex(of: key) else { return 0 }
        return perRank.map { $0[k] }.max() ?? 0
    }
}
