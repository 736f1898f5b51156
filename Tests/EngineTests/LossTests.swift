import XCTest
@testable import Engine

final class LossTests: XCTestCase {
    /// Central differences of a Double loss at every element.
    func finiteDifferences(_ f: ([Double]) -> Double, at p: [Double], h: Double = 1e-6) -> [Double] {
        (0..<p.count).map { i in
            var a = p, b = p
            a[i] += h; b[i] -= h
            return (f(a) - f(b)) / (2 * h)
        }
    }

    func assertClose(_ a: [Double], _ b: [Double], tolerance: Double, _ what: String,
                     file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.count, b.count, what, file: file, line: line)
        for i in 0..<min(a.count, b.count) {
            XCTAssertEqual(a[i], b[i], accuracy: tolerance * max(1, abs(b[i])), "\(what) element \(i)", file: file, line: line)
        }
    }

    // Labels with ties (3.0 twice, 1.5 twice) and distinct predictions.
    let labels: [Double] = [3.0, 1.5, 4.2, 3.0, 2.2, 1.5, 4.9, 0.7]
    let preds: [Double] = [0.31, -0.42, 0.95, 0.12, -0.05, 0.27, 0.64, -0.88]

    func testPlccGradientMatchesFiniteDifferences() {
        let (_, g) = Losses.plcc(preds, labels)
        let fd = finiteDifferences({ Losses.plcc($0, labels).0 }, at: preds)
        assertClose(g, fd, tolerance: 1e-7, "plcc dL/dŷ")
        // Ties in the predictions too (the loss is smooth there).
        let tied = [0.5, 0.5, 0.9, -0.2, 0.5, 0.1, 0.9, 0.0]
        assertClose(Losses.plcc(tied, labels).1, finiteDifferences({ Losses.plcc($0, labels).0 }, at: tied),
                    tolerance: 1e-7, "plcc with tied predictions")
    }

    func testPlccKnownValues() {
        // Perfectly linear: z-scores equal, ρ = 1, loss ≈ 0 (up to the 1e-8 ε).
        let y = [1.0, 2.0, 4.0, 3.0, 5.0]
        XCTAssertEqual(Losses.plcc(y.map { 2 * $0 + 7 }, y).0, 0, accuracy: 1e-12)
        // Reversed: a = −b, ρ = −1, loss = (mean(4b²)/4 + 0)/2 = 0.5.
        XCTAssertEqual(Losses.plcc(y.map { -$0 }, y).0, 0.5, accuracy: 1e-7)
        // Hand computation for N = 2: a = b = (−1, 1) → 0; a = −b → 0.5.
        XCTAssertEqual(Losses.plcc([0, 1], [5, 9]).0, 0, accuracy: 1e-7)
        XCTAssertEqual(Losses.plcc([1, 0], [5, 9]).0, 0.5, accuracy: 1e-7)
    }

    func testRankGradientMatchesFiniteDifferences() {
        let (_, g) = Losses.rank(preds, labels)
        let fd = finiteDifferences({ Losses.rank($0, labels).0 }, at: preds)
        assertClose(g, fd, tolerance: 1e-7, "rank dL/dŷ")
        // Tied predictions for samples with tied labels are smooth (sign(0) = 0 kills the pair).
        var tied = preds
        tied[3] = tied[0]  // labels[0] == labels[3]
        assertClose(Losses.rank(tied, labels).1, finiteDifferences({ Losses.rank($0, labels).0 }, at: tied),
                    tolerance: 1e-7, "rank with tied predictions on tied labels")
    }

    func testRankKnownValueAndAutogradConventionsAtKinks() {
        // y = 1,2,3 with ŷ = 3,2,1: r = {1,2,1} both ways, Σ = 8, max 2: L = 8/3/2/3.
        XCTAssertEqual(Losses.rank([3, 2, 1], [1, 2, 3]).0, 8.0 / 18, accuracy: 1e-15)
        // Correct order: every r = 0, loss 0, gradient 0.
        let ordered = Losses.rank([0.1, 0.2, 0.3], [1, 2, 3])
        XCTAssertEqual(ordered.0, 0)
        XCTAssertEqual(ordered.1, [0, 0, 0])
        // ŷ = (0.5, 0.5, 0.2), y = (1, 2, 3): the pair (0,1) sits on relu's kink (no gradient, as
        // PyTorch), and four entries tie at the maximum 0.3 (torch.max splits its gradient evenly).
        // Active pairs (0,2), (1,2), (2,0), (2,1) each carry g = c/1.3 − c·1.2/1.3²/4, c = 1/6.
        let (loss, grad) = Losses.rank([0.5, 0.5, 0.2], [1, 2, 3])
        let c = 1.0 / 6, g = c / 1.3 - c * 1.2 / (1.3 * 1.3) / 4
        XCTAssertEqual(loss, 1.2 * c / 1.3, accuracy: 1e-12)
        assertClose(grad, [2 * g, 2 * g, -4 * g], tolerance: 1e-12, "rank at ties")
        // Along a direction that keeps the tie structure the loss is differentiable: check it.
        let h = 1e-7
        let fd = (Losses.rank([0.5 + h, 0.5 + h, 0.2], [1, 2, 3]).0 - Losses.rank([0.5 - h, 0.5 - h, 0.2], [1, 2, 3]).0) / (2 * h)
        XCTAssertEqual(grad[0] + grad[1], fd, accuracy: 1e-7)
    }

    func testMseAndL1() {
        let p = [1.0, 2.0, 0.5], y = [0.0, 2.5, 0.5]
        XCTAssertEqual(Losses.mse(p, y).0, (1 + 0.25 + 0) / 3, accuracy: 1e-15)
        assertClose(Losses.mse(p, y).1, finiteDifferences({ Losses.mse($0, y).0 }, at: p), tolerance: 1e-8, "mse")
        XCTAssertEqual(Losses.l1(p, y).0, (1 + 0.5) / 3, accuracy: 1e-15)
        XCTAssertEqual(Losses.l1(p, y).1, [1.0 / 3, -1.0 / 3, 0], "L1 gradient is 0 where ŷ = y, as torch.sign")
    }

    func testWeightedTotalAndFloatInterface() {
        let config = LossConfig(weights: [.plcc: 1, .rank: 0.3, .mse: 0.5])
        let r = config.evaluate(predictions: preds.map(Float.init), labels: labels.map(Float.init))
        // The Float interface converts exactly to Double first; compare with the Double terms.
        let p = preds.map { Double(Float($0)) }, y = labels.map { Double(Float($0)) }
        let (lp, gp) = Losses.plcc(p, y), (lr, gr) = Losses.rank(p, y), (lm, gm) = Losses.mse(p, y)
        XCTAssertEqual(r.components[.plcc]!, lp, accuracy: 1e-15)
        XCTAssertEqual(r.components[.rank]!, lr, accuracy: 1e-15)
        XCTAssertEqual(r.components[.mse]!, lm, accuracy: 1e-15)
        XCTAssertNil(r.components[.l1])
        XCTAssertEqual(r.loss, lp + 0.3 * lr + 0.5 * lm, accuracy: 1e-14)
        for i in 0..<p.count {
            XCTAssertEqual(Double(r.gradient[i]), gp[i] + 0.3 * gr[i] + 0.5 * gm[i], accuracy: 1e-7)
        }
        XCTAssertEqual(LossConfig.fastVQA.weights, [.plcc: 1, .rank: 0.3])
    }

    func testSliceOfGlobalGradientEqualsFullGradient() {
        // What DataParallelStep relies on: rank r back-propagates its slice of the GLOBAL dL/dŷ
        // through its own samples; the parameter gradients summed over ranks equal the gradient of
        // the global-batch loss. Model ŷ_i = w·x_i + b (d = 3); shards [3, 0, 5] (a rank may be empty).
        let d = 3, n = labels.count
        let x = randomArray(n * d, seed: 21), w = randomArray(d, seed: 22), b: [Float] = [0.1]
        let y = labels.map(Float.init)
        func predictions(_ w: [Double], _ b: Double) -> [Double] {
            (0..<n).map { i in (0..<d).reduce(b) { $0 + w[$1] * Double(x[i * d + $1]) } }
        }
        let ŷ = predictions(w.map(Double.init), Double(b[0])).map(Float.init)
        let global = LossConfig.fastVQA.evaluate(predictions: ŷ, labels: y).gradient
        var summed = [Float](repeating: 0, count: d + 1), start = 0
        for size in [3, 0, 5] {
            defer { start += size }
            guard size > 0 else { continue }
            let tape = Tape()
            let xs = tape.constant(Array(x[start * d..<(start + size) * d]), shape: [size, d])
            let wv = tape.leaf(w, shape: [1, d]), bv = tape.leaf(b, shape: [1])
            let out = tape.linear(xs, wv, bv)
            Array(global[start..<start + size]).withUnsafeBufferPointer { tape.backward(out, seed: $0.baseAddress!) }
            for k in 0..<d { summed[k] += tape.grad(wv)[k] }
            summed[d] += tape.grad(bv)[0]
        }
        XCTAssertEqual(start, n)
        // Oracle: central differences of the global loss in Double with respect to (w, b).
        let fd = finiteDifferences({ p in
            LossConfig.fastVQA.evaluate(predictions: predictions(Array(p[0..<d]), p[d]).map(Float.init), labels: y).loss
        }, at: w.map(Double.init) + [Double(b[0])], h: 1e-3)
        assertClose(summed.map(Double.init), fd, tolerance: 2e-4, "Σ over shards of the sliced global gradient vs d(global loss)/d(w, b)")
        // A rank computing the loss of its own shard instead would get another gradient.
        let half = LossConfig.fastVQA.evaluate(predictions: Array(ŷ[0..<4]), labels: Array(y[0..<4])).gradient
        XCTAssertGreaterThan(zip(global[0..<4], half).map { abs($0 - $1) }.max()!, 1e-3)
    }

    func testDegenerateBatchesGiveNoNaN() {
        // N = 1: both FAST-VQA terms are defined as 0 with zero gradient.
        let one = LossConfig.fastVQA.evaluate(predictions: [0.7], labels: [3.2])
        XCTAssertEqual(one.loss, 0)
        XCTAssertEqual(one.gradient, [0])
        // Constant predictions (σ̂ = 0): finite loss and gradient, as autograd masks std's gradient.
        let flat = LossConfig.fastVQA.evaluate(predictions: [0.5, 0.5, 0.5, 0.5], labels: [1, 2, 3, 4])
        XCTAssertTrue(flat.loss.isFinite)
        // a = 0: (mean(b²)/4 + mean(b²)/4)/2 with mean(b²) = σ²/(σ+1e-8)² ≈ 1.
        XCTAssertEqual(flat.components[.plcc]!, 0.25, accuracy: 1e-7)
        XCTAssertTrue(flat.gradient.allSatisfy { $0.isFinite })
        // Constant labels: b = 0, finite everything.
        let flatY = LossConfig.fastVQA.evaluate(predictions: [0.1, 0.5, 0.3], labels: [2, 2, 2])
        XCTAssertTrue(flatY.loss.isFinite && flatY.gradient.allSatisfy { $0.isFinite })
        // Empty batch.
        XCTAssertEqual(LossConfig.fastVQA.evaluate(predictions: [], labels: []).loss, 0)
    }
}

/// Losses and gradients against PyTorch autograd (float64) on FAST-VQA's loss code semantics.
final class LossTorchParityTests: XCTestCase {
    func testLossesAndGradientsMatchPyTorchAutograd() throws {
        let cases = try XCTUnwrap(loadTrainFixture()["losses"] as? [[String: Any]])
        XCTAssertGreaterThanOrEqual(cases.count, 7)
        for c in cases {
            let name = c["name"] as? String ?? "?"
            let p = try XCTUnwrap(c["predictions"] as? [Double]), y = try XCTUnwrap(c["labels"] as? [Double])
            for (key, fn) in [("plcc", Losses.plcc), ("rank", Losses.rank)] as [(String, ([Double], [Double]) -> (Double, [Double]))] {
                let ref = try XCTUnwrap(c[key] as? [String: Any])
                let refLoss = try XCTUnwrap(ref["loss"] as? Double), refGrad = try XCTUnwrap(ref["gradient"] as? [Double])
                let (loss, grad) = fn(p, y)
                XCTAssertEqual(loss, refLoss, accuracy: 1e-12, "\(name) \(key) loss")
                // Constant predictions divide by ε = 1e-8: compare relative to the gradient's size.
                let scale = max(1, refGrad.map(abs).max()!)
                for i in 0..<grad.count {
                    XCTAssertEqual(grad[i], refGrad[i], accuracy: 1e-9 * scale, "\(name) \(key) dL/dŷ[\(i)]")
                }
            }
        }
    }
}
