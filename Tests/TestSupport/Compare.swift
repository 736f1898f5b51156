// Comparison of weight maps shared by the distribution and trainer-level tests.

/// Largest per-tensor relative difference max|a−b| / max|a| over the tensors of both maps,
/// skipping `except`; infinity (naming the tensor) when the key sets differ, a shape differs or
/// there is nothing to compare.
public func relativeDifference(_ a: [String: [Float]], _ b: [String: [Float]], except: Set<String> = []) -> (Float, String) {
    let ka = Set(a.keys).subtracting(except), kb = Set(b.keys).subtracting(except)
    guard !ka.isEmpty else { return (.infinity, "no tensors to compare") }
    guard ka == kb else { return (.infinity, "key sets differ: \(ka.symmetricDifference(kb).sorted().prefix(5))") }
    var worst: (Float, String) = (0, "")
    for name in ka.sorted() {
        let x = a[name]!, y = b[name]!
        guard x.count == y.count else { return (.infinity, "\(name): \(x.count) vs \(y.count) values") }
        let scale = max(x.map(abs).max() ?? 0, 1e-12)
        let d = (zip(x, y).map { abs($0 - $1) }.max() ?? 0) / scale
        if !(d <= worst.0) { worst = (d, name) }
    }
    return worst
}
