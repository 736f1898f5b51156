import XCTest
@testable import Engine

final class ShapeTests: XCTestCase {
    func testReshapeInfersAndPassesGradients() {
        let x = randomArray(24, seed: 1)
        let tape = Tape()
        let y = tape.reshape(tape.constant(x, shape: [2, 3, 4]), [4, -1])
        XCTAssertEqual(tape.shape(y), [4, 6])
        XCTAssertEqual(tape.array(y), x)
        gradCheck([(x, [2, 3, 4])]) { t, v in t.mul(t.reshape(v[0], [6, 4]), t.reshape(v[0], [6, 4])) }
    }

    func testPermuteAndTransposeMatchNaive() {
        let s = [2, 3, 4, 5], p = [2, 0, 3, 1]
        let x = randomArray(120, seed: 2)
        let tape = Tape()
        let y = tape.permute(tape.constant(x, shape: s), p)
        let os = p.map { s[$0] }
        XCTAssertEqual(tape.shape(y), os)
        let out = tape.array(y)
        for i in 0..<120 {
            let o = unravel(i, os)
            var src = [Int](repeating: 0, count: 4)
            for k in 0..<4 { src[p[k]] = o[k] }
            XCTAssertEqual(out[i], x[ravel(src, s)])
        }
        gradCheck([(x, s)]) { t, v in t.permute(v[0], p) }
        let tr = tape.transpose(tape.constant(x, shape: [6, 20]), 0, -1)
        XCTAssertEqual(tape.shape(tr), [20, 6])
        for i in 0..<6 { for j in 0..<20 { XCTAssertEqual(tape.array(tr)[j * 6 + i], x[i * 20 + j]) } }
        gradCheck([(x, [2, 3, 4, 5])]) { t, v in t.transpose(v[0], 1, 3) }
    }

    func testConcatAndSliceMatchNaive() {
        let a = randomArray(2 * 3 * 4, seed: 3), b = randomArray(2 * 1 * 4, seed: 4), c = randomArray(2 * 2 * 4, seed: 5)
        let tape = Tape()
        let y = tape.concat([tape.constant(a, shape: [2, 3, 4]), tape.constant(b, shape: [2, 1, 4]), tape.constant(c, shape: [2, 2, 4])], axis: 1)
        XCTAssertEqual(tape.shape(y), [2, 6, 4])
        let out = tape.array(y)
        for n in 0..<2 { for j in 0..<6 { for k in 0..<4 {
            let want = j < 3 ? a[(n * 3 + j) * 4 + k] : j < 4 ? b[n * 4 + k] : c[(n * 2 + j - 4) * 4 + k]
            XCTAssertEqual(out[(n * 6 + j) * 4 + k], want)
        } } }
        gradCheck([(a, [2, 3, 4]), (b, [2, 1, 4]), (c, [2, 2, 4])]) { t, v in t.concat(v, axis: 1) }
        gradCheck([(a, [2, 3, 4]), (c, [2, 2, 4])]) { t, v in t.concat([v[1], v[0], v[1]], axis: -2) }
        gradCheck([(a, [2, 3, 4]), (a, [2, 3, 4])]) { t, v in t.concat(v, axis: 2) }

        let s = tape.slice(tape.constant(a, shape: [2, 3, 4]), axis: 2, start: 1, end: 3)
        XCTAssertEqual(tape.shape(s), [2, 3, 2])
        for r in 0..<6 { for k in 0..<2 { XCTAssertEqual(tape.array(s)[r * 2 + k], a[r * 4 + 1 + k]) } }
        gradCheck([(a, [2, 3, 4])]) { t, v in t.slice(v[0], axis: 1, start: 1, end: 3) }
        gradCheck([(a, [2, 3, 4])]) { t, v in t.slice(v[0], axis: 0, start: 1, end: 2) }
    }

    func testRollMatchesTorchSemantics() {
        let s = [2, 5, 4, 3]
        let x = randomArray(120, seed: 6)
        for (shifts, axes) in [([-2, 1], [1, 2]), ([3], [-1]), ([7, -3, -9], [1, 2, 3]), ([1, -1], [1, 1]), ([0], [0])] {
            let tape = Tape()
            let y = tape.array(tape.roll(tape.constant(x, shape: s), shifts: shifts, axes: axes))
            for i in 0..<120 {
                var src = unravel(i, s)  // y[idx] = x[idx − shift] (mod n) on each rolled axis
                for (sh, a) in zip(shifts, axes) { let ax = (a + 4) % 4; src[ax] = ((src[ax] - sh) % s[ax] + s[ax]) % s[ax] }
                XCTAssertEqual(y[i], x[ravel(src, s)], "roll \(shifts) \(axes)")
            }
            gradCheck([(x, s)]) { t, v in t.roll(v[0], shifts: shifts, axes: axes) }
        }
    }

    func testWindowPartitionFollowsVideoSwinOrder() {
        let (b, d, h, w, c) = (2, 4, 6, 4, 3), (wd, wh, ww) = (2, 3, 2)
        let s = [b, d, h, w, c]
        let x = randomArray(s.reduce(1, *), seed: 7)
        let tape = Tape()
        let xv = tape.constant(x, shape: s)
        let win = tape.windowPartition3d(xv, window: (wd, wh, ww))
        let (nd, nh, nw) = (d / wd, h / wh, w / ww)
        XCTAssertEqual(tape.shape(win), [b * nd * nh * nw, wd * wh * ww, c])
        let out = tape.array(win)
        // window_partition: view(B, D/wd, wd, H/wh, wh, W/ww, ww, C).permute(0,1,3,5,2,4,6,7).
        for bi in 0..<b { for di in 0..<nd { for hi in 0..<nh { for wi in 0..<nw {
            let window = ((bi * nd + di) * nh + hi) * nw + wi
            for i in 0..<wd { for j in 0..<wh { for k in 0..<ww { for ch in 0..<c {
                let token = (i * wh + j) * ww + k
                let want = x[ravel([bi, di * wd + i, hi * wh + j, wi * ww + k, ch], s)]
                XCTAssertEqual(out[(window * wd * wh * ww + token) * c + ch], want)
            } } } }
        } } } }
        let back = tape.windowReverse3d(win, window: (wd, wh, ww), batch: b, depth: d, height: h, width: w)
        XCTAssertEqual(tape.shape(back), s)
        XCTAssertEqual(tape.array(back), x)
        let small = randomArray(1 * 2 * 4 * 2 * 2, seed: 8)
        gradCheck([(small, [1, 2, 4, 2, 2])]) { t, v in t.windowPartition3d(v[0], window: (1, 2, 2)) }
        gradCheck([(small, [4, 4, 2])]) { t, v in
            t.windowReverse3d(v[0], window: (1, 2, 2), batch: 1, depth: 2, height: 4, width: 2)
        }
        gradCheck([(small, [1, 2, 4, 2, 2])]) { t, v in
            t.windowReverse3d(t.windowPartition3d(v[0], window: (2, 2, 1)), window: (2, 2, 1), batch: 1, depth: 2, height: 4, width: 2)
        }
    }

    func testShapeOpsThreadedMatchSingleThread() {
        // Big enough for the multi-chunk and row-segment paths.
        let s = [2, 4, 16, 28, 24]
        let x = randomArray(s.reduce(1, *), seed: 9), seedG = randomArray(s.reduce(1, *), seed: 10)
        var results: [[Float]] = []
        for threads in [1, 3] {
            let tape = Tape(compute: Compute(threads: threads))
            let xv = tape.leaf(x, shape: s)
            let r = tape.roll(xv, shifts: [-1, -3, 5], axes: [1, 2, 3])
            let wv = tape.windowPartition3d(r, window: (2, 4, 7))
            let p = tape.permute(wv, [2, 0, 1])
            let sl = tape.slice(p, axis: 0, start: 3, end: 20)
            let cat = tape.concat([sl, tape.slice(p, axis: 0, start: 0, end: 7)], axis: 0)
            let y = tape.reshape(tape.add(cat, tape.reshape(tape.sum(cat, axes: [1]), [24, 1, 56])), s)
            seedG.withUnsafeBufferPointer { tape.backward(y, seed: $0.baseAddress!) }
            results.append(tape.array(y) + Array(UnsafeBufferPointer(start: tape.grad(xv), count: x.count)))
        }
        XCTAssertEqual(results[0], results[1])
    }

    func testOpsReuseArenaBuffersInSteadyState() {
        let tape = Tape(compute: Compute(threads: 2))
        let stats = FloatBuffer(count: 16, value: 1)
        let x = randomArray(2 * 4 * 6 * 4 * 8, seed: 11), w = randomArray(8, seed: 12)
        for step in 0..<3 {
            tape.reset()
            tape.step = UInt64(step)
            let before = tape.arena.freshAllocations
            let xv = tape.leaf(x, shape: [2, 4, 6, 4, 8]), wv = tape.leaf(w, shape: [8])
            let r = tape.roll(tape.layerNorm(xv, wv, wv), shifts: [-1, -3, -2], axes: [1, 2, 3])
            let win = tape.windowPartition3d(r, window: (2, 3, 2))
            let att = tape.softmax(tape.matmul(win, win, transB: true))
            let h = tape.dropout(tape.gelu(tape.matmul(att, win)), p: 0.2)
            let back = tape.windowReverse3d(h, window: (2, 3, 2), batch: 2, depth: 4, height: 6, width: 4)
            let cf = tape.permute(back, [0, 4, 1, 2, 3])
            let g = tape.groupNorm(cf, groups: 2, wv, nil)
            let b = tape.batchNorm(g, wv, wv, runningMean: stats.base, runningVar: stats.base + 8)
            let q = tape.div(tape.mul(b, tape.reshape(wv, [8, 1, 1, 1])), tape.addScalar(tape.square(tape.reshape(wv, [8, 1, 1, 1])), 1))
            let loss = tape.meanAll(tape.sum(tape.concat([q, tape.slice(q, axis: 1, start: 2, end: 5)], axis: 1), axes: [2]))
            tape.backward(loss)
            if step > 0 { XCTAssertEqual(tape.arena.freshAllocations, before, "step \(step) allocated") }
        }
    }
}
