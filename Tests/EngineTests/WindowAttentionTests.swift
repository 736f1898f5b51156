// The fused Swin window attention (`Tape.windowAttention`) against its op-by-op twin
// (`SwinAttention.unfused`: permute, slice, matmul, windowBias, softmax, matmul) and against
// finite differences, on odd shapes (odd head dim, windows clipped by the feature, several window
// patterns), with and without the fragment gate and the shift mask.

import XCTest
@testable import Engine

final class WindowAttentionTests: XCTestCase {
    /// A small attention problem: `batch` samples of a [2, 6, 3] feature in 2×3×3 windows (N = 18,
    /// nW = 2), `heads` heads of dimension 3, tables of the `full` window.
    struct Case {
        let geometry: WindowBiasGeometry
        let batch: Int, heads: Int, rows: Int
        var n: Int { geometry.tokens }
        var windowRows: Int { batch * geometry.windows }
        var qkvShape: [Int] { [windowRows, n, 3 * heads * 3] }
        var qkvCount: Int { qkvShape.reduce(1, *) }
        var scale: Float { Float(1 / Double(3).squareRoot()) }

        init(batch: Int = 2, heads: Int = 3, shifted: Bool, gated: Bool, full: [Int] = [2, 3, 3]) {
            let size = [2, 6, 3], window = [2, 3, 3]
            geometry = SwinGeometryCache().geometry(size: size, window: window, shift: shifted ? [1, 1, 1] : [0, 0, 0],
                                                    full: full, gated: gated, fragments: [1, 3, 3])
            self.batch = batch
            self.heads = heads
            rows = (2 * full[0] - 1) * (2 * full[1] - 1) * (2 * full[2] - 1)
        }
    }

    /// Forward output and the gradients of (qkv, relative, fragment) under the objective Σ y·r.
    func run(_ c: Case, fused: Bool, groupTasks: Int? = nil, threads: Int = 2) -> [[Float]] {
        let tape = Tape(compute: Compute(threads: threads))
        let qkv = tape.leaf(randomArray(c.qkvCount, seed: 21, scale: 2), shape: c.qkvShape)
        let r = tape.leaf(randomArray(c.rows * c.heads, seed: 22), shape: [c.rows, c.heads])
        let f = c.geometry.hasGate ? tape.leaf(randomArray(c.rows * c.heads, seed: 23), shape: [c.rows, c.heads]) : nil
        let y = fused
            ? tape.windowAttention(qkv, heads: c.heads, scale: c.scale, relative: r, fragment: f, geometry: c.geometry, groupTasks: groupTasks)
            : SwinAttention.unfused(tape, qkv: qkv, heads: c.heads, scale: c.scale, relative: r, fragment: f, geometry: c.geometry)
        XCTAssertEqual(tape.shape(y), [c.windowRows, c.n, c.heads * 3])
        let seed = randomArray(tape.count(y), seed: 24)
        seed.withUnsafeBufferPointer { tape.backward(y, seed: $0.baseAddress!) }
        func grad(_ v: Var) -> [Float] { Array(UnsafeBufferPointer(start: tape.grad(v), count: tape.count(v))) }
        return [tape.array(y), grad(qkv), grad(r)] + (f.map { [grad($0)] } ?? [])
    }

    func testMatchesUnfusedTwinWithAndWithoutGateAndMask() {
        for shifted in [false, true] {
            for gated in [false, true] {
                for full in [[2, 3, 3], [3, 4, 4]] {  // tables of the window itself, or of a larger configured window
                    let c = Case(shifted: shifted, gated: gated, full: full)
                    XCTAssertEqual(c.geometry.maskPatterns != nil, shifted)
                    let fused = run(c, fused: true), twin = run(c, fused: false)
                    XCTAssertEqual(fused.count, twin.count)
                    for (k, what) in ["y", "dqkv", "drelative", "dfragment"].prefix(fused.count).enumerated() {
                        assertClose(fused[k], twin[k], rel: 2e-5, floor: 1e-3, "shifted \(shifted) gated \(gated) full \(full): \(what)")
                    }
                    XCTAssert(fused[2].contains { $0 != 0 }, "relative table gradient is all zero")
                }
            }
        }
    }

    func testFiniteDifferences() {
        for (shifted, gated) in [(false, false), (true, true), (true, false)] {
            let c = Case(batch: 1, heads: 2, shifted: shifted, gated: gated)
            var inputs = [(randomArray(c.qkvCount, seed: 31, scale: 2), c.qkvShape), (randomArray(c.rows * c.heads, seed: 32), [c.rows, c.heads])]
            if gated { inputs.append((randomArray(c.rows * c.heads, seed: 33), [c.rows, c.heads])) }
            gradCheck(inputs, eps: 1e-2) { t, v in
                t.windowAttention(v[0], heads: c.heads, scale: c.scale, relative: v[1], fragment: gated ? v[2] : nil, geometry: c.geometry)
            }
        }
    }

    func testResultDoesNotDependOnGroupingOrThreads() {
        let c = Case(shifted: true, gated: true)  // 2 samples × 2 windows × 3 heads = 12 tasks
        let reference = run(c, fused: true, groupTasks: nil, threads: 1)
        for (group, threads) in [(5, 1), (1, 3), (12, 2), (7, 4)] {
            XCTAssertEqual(run(c, fused: true, groupTasks: group, threads: threads), reference, "\(group) tasks per group, \(threads) threads")
        }
    }

    func testOnlyTablesNeedGradients() {
        // A frozen input (constant qkv): only the table gradients flow, equal to the full run's.
        let c = Case(shifted: true, gated: true)
        let full = run(c, fused: true)
        let tape = Tape(compute: Compute(threads: 2))
        let qkv = tape.constant(randomArray(c.qkvCount, seed: 21, scale: 2), shape: c.qkvShape)
        let r = tape.leaf(randomArray(c.rows * c.heads, seed: 22), shape: [c.rows, c.heads])
        let f = tape.leaf(randomArray(c.rows * c.heads, seed: 23), shape: [c.rows, c.heads])
        let y = tape.windowAttention(qkv, heads: c.heads, scale: c.scale, relative: r, fragment: f, geometry: c.geometry)
        randomArray(tape.count(y), seed: 24).withUnsafeBufferPointer { tape.backward(y, seed: $0.baseAddress!) }
        XCTAssertNil(tape.gradIfPresent(qkv))
        XCTAssertEqual(Array(UnsafeBufferPointer(start: tape.grad(r), count: tape.count(r))), full[2])
        XCTAssertEqual(Array(UnsafeBufferPointer(start: tape.grad(f), count: tape.count(f))), full[3])
    }

    func testRecordsNoAttentionMatrix() {
        // Only the output [B·nW, N, C] is a node; the [B·nW, h, N, N] scores stay in a workspace
        // that is reused by the next call.
        let c = Case(shifted: true, gated: true)
        let tape = Tape()
        let qkv = tape.leaf(randomArray(c.qkvCount, seed: 21), shape: c.qkvShape)
        let r = tape.leaf(randomArray(c.rows * c.heads, seed: 22), shape: [c.rows, c.heads])
        let before = tape.nodes.count
        var y = tape.windowAttention(qkv, heads: c.heads, scale: c.scale, relative: r, fragment: nil, geometry: c.geometry)
        XCTAssertEqual(tape.nodes.count, before + 1)
        let reserved = tape.arena.reservedFloats
        for _ in 0..<3 {
            y = tape.windowAttention(tape.concat([y, y, y], axis: 2), heads: c.heads, scale: c.scale, relative: r, fragment: nil, geometry: c.geometry)
        }
        let perCall = c.qkvCount + c.qkvCount / 3  // concat + output
        XCTAssertLessThanOrEqual(tape.arena.reservedFloats - reserved, 3 * Int(Double(perCall) * 1.2))
    }
}
