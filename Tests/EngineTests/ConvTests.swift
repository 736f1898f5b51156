import XCTest
@testable import Engine

/// Direct-loop convolution (the definition, in Double) used as the oracle for the fast kernels.
/// Shapes: x [N, Cin, T, H, W], w [Cout, Cin/groups, kt, kh, kw] → y [N, Cout, To, Ho, Wo].
struct NaiveConv3d {
    let xs: [Int], ws: [Int]
    let stride: (Int, Int, Int), padding: (Int, Int, Int), dilation: (Int, Int, Int), groups: Int

    var outShape: [Int] {
        func o(_ i: Int, _ k: Int, _ s: Int, _ p: Int, _ d: Int) -> Int { (i + 2 * p - d * (k - 1) - 1) / s + 1 }
        return [xs[0], ws[0], o(xs[2], ws[2], stride.0, padding.0, dilation.0),
                o(xs[3], ws[3], stride.1, padding.1, dilation.1), o(xs[4], ws[4], stride.2, padding.2, dilation.2)]
    }

    /// Calls body(yIndex, xIndex, wIndex, o) for every multiply-add with an in-bounds input.
    func visit(_ body: (Int, Int, Int, Int) -> Void) {
        let (n, cin, t, h, w) = (xs[0], xs[1], xs[2], xs[3], xs[4])
        let (cout, cg, kt, kh, kw) = (ws[0], ws[1], ws[2], ws[3], ws[4])
        let os = outShape, og = cout / groups
        for b in 0..<n { for o in 0..<cout { for z in 0..<os[2] { for y in 0..<os[3] { for x in 0..<os[4] {
            let yi = (((b * cout + o) * os[2] + z) * os[3] + y) * os[4] + x
            for c in 0..<cg { for i in 0..<kt { for j in 0..<kh { for k in 0..<kw {
                let iz = z * stride.0 - padding.0 + i * dilation.0
                let iy = y * stride.1 - padding.1 + j * dilation.1
                let ix = x * stride.2 - padding.2 + k * dilation.2
                if iz < 0 || iz >= t || iy < 0 || iy >= h || ix < 0 || ix >= w { continue }
                let ci = (o / og) * cg + c
                body(yi, (((b * cin + ci) * t + iz) * h + iy) * w + ix, (((o * cg + c) * kt + i) * kh + j) * kw + k, o)
            } } } }
        } } } } }
    }

    func forward(_ x: [Float], _ w: [Float], _ bias: [Float]?) -> [Float] {
        let os = outShape, plane = os[2] * os[3] * os[4]
        var y = [Double](repeating: 0, count: os.reduce(1, *))
        if let bias { for i in 0..<y.count { y[i] = Double(bias[(i / plane) % os[1]]) } }
        visit { yi, xi, wi, _ in y[yi] += Double(x[xi]) * Double(w[wi]) }
        return y.map { Float($0) }
    }

    func backward(_ x: [Float], _ w: [Float], _ gy: [Float]) -> (gx: [Float], gw: [Float], gb: [Float]) {
        var gx = [Double](repeating: 0, count: x.count), gw = [Double](repeating: 0, count: w.count)
        var gb = [Double](repeating: 0, count: ws[0])
        let plane = outShape[2] * outShape[3] * outShape[4]
        for i in 0..<gy.count { gb[(i / plane) % ws[0]] += Double(gy[i]) }
        visit { yi, xi, wi, _ in
            gx[xi] += Double(gy[yi]) * Double(w[wi])
            gw[wi] += Double(gy[yi]) * Double(x[xi])
        }
        return (gx.map { Float($0) }, gw.map { Float($0) }, gb.map { Float($0) })
    }
}

/// Largest |a − b| / max(1, |b|) over two equally long arrays.
func maxRelativeError(_ a: [Float], _ b: [Float]) -> Float {
    precondition(a.count == b.count, "length \(a.count) vs \(b.count)")
    var worst: Float = 0
    for i in 0..<a.count { worst = max(worst, abs(a[i] - b[i]) / max(1, abs(b[i]))) }
    return worst
}

final class ConvTests: XCTestCase {
    struct Case {
        var x: [Int], w: [Int]
        var stride = (1, 1, 1), padding = (0, 0, 0), dilation = (1, 1, 1), groups = 1
        var bias = true
    }

    static let cases: [(String, Case)] = [
        ("3x3x3 stride (1,2,2) pad 1", Case(x: [2, 3, 5, 7, 6], w: [4, 3, 3, 3, 3], stride: (1, 2, 2), padding: (1, 1, 1))),
        ("groups 2, dilation 2, mixed strides", Case(x: [2, 4, 5, 6, 7], w: [6, 2, 3, 2, 3], stride: (2, 1, 2),
                                                     padding: (0, 1, 2), dilation: (2, 1, 2), groups: 2)),
        ("depthwise ×2, dilation 2", Case(x: [2, 3, 4, 7, 7], w: [6, 1, 3, 3, 3], stride: (1, 2, 2), padding: (1, 1, 1),
                                          dilation: (1, 2, 2), groups: 3)),
        ("depthwise, stride 1, no bias", Case(x: [3, 4, 3, 5, 9], w: [4, 1, 1, 3, 3], padding: (0, 1, 1), groups: 4, bias: false)),
        ("pointwise", Case(x: [3, 4, 2, 3, 5], w: [5, 4, 1, 1, 1])),
        ("pointwise groups 2", Case(x: [3, 4, 2, 3, 5], w: [6, 2, 1, 1, 1], groups: 2, bias: false)),
        // 40 input channels: dW in two column pieces (16 + 24 channels), each its own GEMM per sample.
        ("pointwise, dW in pieces", Case(x: [2, 40, 1, 3, 5], w: [7, 40, 1, 1, 1])),
        ("pointwise groups 2, dW in pieces", Case(x: [2, 80, 1, 2, 3], w: [6, 40, 1, 1, 1], groups: 2, bias: false)),
        ("1x1x1 stride 2", Case(x: [2, 3, 3, 7, 8], w: [4, 3, 1, 1, 1], stride: (1, 2, 2))),
        ("T = 1", Case(x: [2, 3, 1, 9, 8], w: [4, 3, 1, 3, 3], padding: (0, 1, 1))),
        ("kernel 5 > stride 2/3", Case(x: [1, 2, 3, 11, 10], w: [3, 2, 1, 5, 5], stride: (1, 2, 3), padding: (0, 2, 2))),
        ("large plane (per-sample GEMM)", Case(x: [2, 2, 2, 40, 40], w: [3, 2, 1, 3, 3], padding: (0, 1, 1))),
        ("large plane, stride (1,2,2), odd rows (tiles with remainder)",
         Case(x: [1, 3, 3, 93, 90], w: [4, 3, 3, 3, 3], stride: (1, 2, 2), padding: (1, 1, 1))),
        ("large plane, patchify stride = kernel (fragnet stem)",
         Case(x: [1, 3, 4, 160, 128], w: [5, 3, 2, 4, 4], stride: (2, 4, 4))),
        // Patchify direct kernel (Conv+Patchify.swift): Wo not a multiple of 16 (overlapping last
        // block), Cout not a multiple of 4, two and three samples, no bias, K = 8.
        ("patchify, Wo 19, two samples, no bias", Case(x: [2, 3, 2, 9, 76], w: [6, 3, 2, 4, 4], stride: (2, 4, 4), bias: false)),
        ("patchify k(1,2,2), Wo 17, Cout 3", Case(x: [3, 2, 3, 6, 34], w: [3, 2, 1, 2, 2], stride: (1, 2, 2))),
        ("sample blocks with remainder", Case(x: [7, 2, 10, 10, 10], w: [3, 2, 1, 3, 3], padding: (0, 1, 1))),
        ("stride 2 wide rows (vector gather/scatter)", Case(x: [2, 2, 2, 9, 41], w: [3, 2, 1, 3, 3], stride: (1, 2, 2),
                                                             padding: (0, 1, 1))),
        ("stride 2 wide rows, dilation 3", Case(x: [1, 3, 1, 6, 52], w: [2, 3, 1, 2, 4], stride: (1, 1, 2),
                                                padding: (0, 1, 3), dilation: (1, 1, 3))),
        ("stride 1, groups 2, dilation (1,2,1), asymmetric kernel (dX by convolution)",
         Case(x: [2, 4, 4, 9, 6], w: [6, 2, 3, 3, 2], padding: (1, 2, 0), dilation: (1, 2, 1), groups: 2)),
        ("stride 1, padding above d·(k−1) (dX by col2vol)", Case(x: [2, 3, 2, 5, 6], w: [4, 3, 1, 3, 3], padding: (1, 1, 1))),
        ("groups 3 without bias", Case(x: [2, 6, 3, 5, 5], w: [3, 2, 2, 2, 2], stride: (1, 1, 2), padding: (1, 0, 1), groups: 3, bias: false)),
    ]

    func testConv3dMatchesNaiveForwardAndBackward() {
        // Column budget 0: backward rebuilds the columns; default: forward's columns are reused.
        // Tile budget 1: one output row per tile; 10 000: a few rows, with a remainder tile (tiles
        // carry dcol → dX, and forward and dX-by-convolution of per-sample GEMMs larger than the budget).
        let column = ConvGeometry.defaultColumnBudget, tile = ConvGeometry.defaultTileBudget
        for (budget, tiles) in [(column, tile), (0, tile), (column, 1), (0, 10_000)] { for (name0, c) in Self.cases {
            let name = "\(name0), column budget \(budget), tile budget \(tiles)"
            let naive = NaiveConv3d(xs: c.x, ws: c.w, stride: c.stride, padding: c.padding, dilation: c.dilation, groups: c.groups)
            let x = randomArray(c.x.reduce(1, *), seed: 11), w = randomArray(c.w.reduce(1, *), seed: 12)
            let b = c.bias ? randomArray(c.w[0], seed: 13) : nil
            let tape = Tape(compute: Compute(threads: 2))
            let xv = tape.leaf(x, shape: c.x), wv = tape.leaf(w, shape: c.w)
            let bv = b.map { tape.leaf($0, shape: [c.w[0]]) }
            let y = tape.conv3d(xv, wv, bv, stride: c.stride, padding: c.padding, dilation: c.dilation, groups: c.groups,
                                columnBudget: budget, tileBudget: tiles)
            XCTAssertEqual(tape.shape(y), naive.outShape, name)
            XCTAssertLessThan(maxRelativeError(tape.array(y), naive.forward(x, w, b)), 1e-4, "forward: \(name)")
            let gy = randomArray(tape.count(y), seed: 14)
            gy.withUnsafeBufferPointer { tape.backward(y, seed: $0.baseAddress!) }
            let ref = naive.backward(x, w, gy)
            func grad(_ v: Var) -> [Float] { Array(UnsafeBufferPointer(start: tape.grad(v), count: tape.count(v))) }
            XCTAssertLessThan(maxRelativeError(grad(xv), ref.gx), 1e-4, "dX: \(name)")
            XCTAssertLessThan(maxRelativeError(grad(wv), ref.gw), 1e-4, "dW: \(name)")
            if let bv { XCTAssertLessThan(maxRelativeError(grad(bv), ref.gb), 1e-4, "db: \(name)") }
        } }
    }

    func testConvInputGradientOnlyAndWeightGradientOnly() {
        let c = Self.cases[0].1
        let naive = NaiveConv3d(xs: c.x, ws: c.w, stride: c.stride, padding: c.padding, dilation: c.dilation, groups: c.groups)
        let x = randomArray(c.x.reduce(1, *), seed: 15), w = randomArray(c.w.reduce(1, *), seed: 16)
        for xNeedsGrad in [true, false] {
            let tape = Tape(compute: Compute(threads: 2))
            let xv = xNeedsGrad ? tape.leaf(x, shape: c.x) : tape.constant(x, shape: c.x)
            let wv = xNeedsGrad ? tape.constant(w, shape: c.w) : tape.leaf(w, shape: c.w)
            let y = tape.conv3d(xv, wv, nil, stride: c.stride, padding: c.padding)
            let gy = randomArray(tape.count(y), seed: 17)
            tape.backward(y, seed: gy)
            let ref = naive.backward(x, w, gy)
            let v = xNeedsGrad ? xv : wv
            let got = Array(UnsafeBufferPointer(start: tape.grad(v), count: tape.count(v)))
            XCTAssertLessThan(maxRelativeError(got, xNeedsGrad ? ref.gx : ref.gw), 1e-4, "x needs grad: \(xNeedsGrad)")
        }
    }

    func testConv2dMatchesNaiveWithUnitDepth() {
        let xs = [2, 4, 9, 8], ws = [6, 2, 3, 3]
        let naive = NaiveConv3d(xs: [2, 4, 1, 9, 8], ws: [6, 2, 1, 3, 3], stride: (1, 2, 1), padding: (0, 1, 2),
                                dilation: (1, 1, 2), groups: 2)
        let x = randomArray(xs.reduce(1, *), seed: 21), w = randomArray(ws.reduce(1, *), seed: 22), b = randomArray(6, seed: 23)
        let tape = Tape()
        let xv = tape.leaf(x, shape: xs), wv = tape.leaf(w, shape: ws), bv = tape.leaf(b, shape: [6])
        let y = tape.conv2d(xv, wv, bv, stride: (2, 1), padding: (1, 2), dilation: (1, 2), groups: 2)
        let os = naive.outShape
        XCTAssertEqual(tape.shape(y), [os[0], os[1], os[3], os[4]])
        XCTAssertLessThan(maxRelativeError(tape.array(y), naive.forward(x, w, b)), 1e-4)
        let gy = randomArray(tape.count(y), seed: 24)
        gy.withUnsafeBufferPointer { tape.backward(y, seed: $0.baseAddress!) }
        let ref = naive.backward(x, w, gy)
        XCTAssertLessThan(maxRelativeError(Array(UnsafeBufferPointer(start: tape.grad(xv), count: x.count)), ref.gx), 1e-4)
        XCTAssertLessThan(maxRelativeError(Array(UnsafeBufferPointer(start: tape.grad(wv), count: w.count)), ref.gw), 1e-4)
    }

    func testNaiveConvKnownValues() {
        // 1-channel 1×3×3 input, 1×2×2 kernel of ones, padding 0: sums of 2×2 windows (checks the oracle itself).
        let naive = NaiveConv3d(xs: [1, 1, 1, 3, 3], ws: [1, 1, 1, 2, 2], stride: (1, 1, 1), padding: (0, 0, 0),
                                dilation: (1, 1, 1), groups: 1)
        XCTAssertEqual(naive.forward([1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 1, 1, 1], [10]), [22, 26, 34, 38])
        let tape = Tape()
        let y = tape.conv2d(tape.constant([1, 2, 3, 4, 5, 6, 7, 8, 9], shape: [1, 1, 3, 3]),
                            tape.constant([1, 1, 1, 1], shape: [1, 1, 2, 2]), tape.constant([10], shape: [1]), padding: (1, 0))
        // Padding 1 on H only: rows (0,r0), (r0,r1), (r1,r2), (r2,0).
        XCTAssertEqual(tape.array(y), [13, 15, 22, 26, 34, 38, 25, 27])
    }

    func testOutputSizeRuleRejectsKernelsThatDoNotFit() {
        // PyTorch: floor((n + 2p − d(k−1) − 1)/s) + 1, an error when the dilated kernel exceeds the padded input.
        XCTAssertEqual(ConvGeometry.outSize(56, 3, 2, 1, 1), 28)
        XCTAssertEqual(ConvGeometry.outSize(7, 3, 2, 1, 2), 3)
        XCTAssertEqual(ConvGeometry.outSize(5, 2, 2, 0, 1), 2)
        XCTAssertEqual(ConvGeometry.outSize(2, 3, 2, 0, 1), 0)   // −1/2 must not round up to a valid size
        XCTAssertEqual(ConvGeometry.outSize(4, 3, 1, 0, 2), 0)
    }

    func testConvGradCheck() {
        let x = randomArray(1 * 2 * 3 * 4 * 4, seed: 31), w = randomArray(2 * 2 * 2 * 3 * 3, seed: 32), b = randomArray(2, seed: 33)
        gradCheck([(x, [1, 2, 3, 4, 4]), (w, [2, 2, 2, 3, 3]), (b, [2])]) { t, v in
            t.conv3d(v[0], v[1], v[2], stride: (1, 2, 1), padding: (1, 1, 1))
        }
        let x2 = randomArray(2 * 4 * 5 * 5, seed: 34), w2 = randomArray(4 * 2 * 3 * 3, seed: 35)
        gradCheck([(x2, [2, 4, 5, 5]), (w2, [4, 2, 3, 3])]) { t, v in
            t.conv2d(v[0], v[1], nil, stride: (2, 2), padding: (1, 1), dilation: (1, 2), groups: 2)
        }
        let wd = randomArray(6 * 1 * 2 * 3 * 3, seed: 36)
        gradCheck([(x, [1, 2, 3, 4, 4]), (wd, [6, 1, 2, 3, 3]), (randomArray(6, seed: 37), [6])]) { t, v in
            t.conv3d(v[0], v[1], v[2], stride: (1, 1, 2), padding: (0, 1, 1), groups: 2)
        }
        let wp = randomArray(3 * 2, seed: 38)
        gradCheck([(x, [1, 2, 3, 4, 4]), (wp, [3, 2, 1, 1, 1]), (randomArray(3, seed: 39), [3])]) { t, v in
            t.conv3d(v[0], v[1], v[2])
        }
    }

    func testConvReusesArenaBuffersInSteadyState() {
        let tape = Tape(compute: Compute(threads: 2))
        let store = ParameterStore()
        let wi = store.declare("conv.weight", shape: [8, 3, 3, 3, 3], initializer: .kaimingUniform(fanIn: 81))
        let dwi = store.declare("dw.weight", shape: [8, 1, 3, 3, 3], initializer: .kaimingUniform(fanIn: 27))
        store.allocate(); store.initialize(seed: 1)
        let x = randomArray(2 * 3 * 4 * 12 * 12, seed: 41)
        var before = 0
        for step in 0..<3 {
            tape.reset()
            if step > 0 { before = tape.arena.freshAllocations }
            let h = tape.conv3d(tape.leaf(x, shape: [2, 3, 4, 12, 12]), tape.parameter(store, wi), nil,
                                stride: (1, 2, 2), padding: (1, 1, 1))
            let y = tape.conv3d(h, tape.parameter(store, dwi), nil, padding: (1, 1, 1), groups: 8)
            tape.backward(y, seed: randomArray(tape.count(y), seed: 42))
            if step > 0 { XCTAssertEqual(tape.arena.freshAllocations, before, "step \(step) allocated") }
        }
    }
}
