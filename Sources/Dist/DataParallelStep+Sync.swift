// Replica consistency: a periodic parameter checksum across ranks detects desynchronisation.

import Engine

extension DataParallelStep {
    /// Per-rank checksums of the weights (plain and position-weighted sums in Double), gathered.
    func replicaChecksums() throws -> [(Double, Double)] {
        let v = store.values.base
        var plain = 0.0, weighted = 0.0
        for i in 0..<store.flatCount {
            let x = Double(v[i])
            plain += x
            weighted += x * Double(i % 1021 + 1)
        }
        // Each rank writes its slot of a zeroed vector; the sum over ranks is the gather.
        var slots = [Double](repeating: 0, count: 2 * comm.size)
        slots[2 * comm.rank] = plain
        slots[2 * comm.rank + 1] = weighted
        try slots.withUnsafeMutableBufferPointer { try comm.allReduceSum($0.baseAddress!, count: $0.count) }
        return (0..<comm.size).map { (slots[2 * $0], slots[2 * $0 + 1]) }
    }

    /// Throws, naming the ranks whose weights differ from rank 0's, if the replicas diverged.
    public func verifyReplicas() throws {
        let sums = try replicaChecksums()
        let bad = sums.indices.filter { sums[$0] != sums[0] }
        if !bad.isEmpty {
            throw DistError("replica desync: the weights of rank(s) \(bad.map(String.init).joined(separator: ", ")) differ from rank 0 "
                + "(checksums \(bad.map { "\(sums[$0].0)" }.joined(separator: ", ")) vs \(sums[0].0)). "
                + "Every rank must run the same binary, config and data order; restart from the last checkpoint.")
        }
    }
}
