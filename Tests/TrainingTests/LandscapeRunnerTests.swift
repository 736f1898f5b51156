// The landscape runner against independent plain forwards, finite differences of its gradient,
// and its output files (CSV shapes, SVG that parses as XML, JSON). `vqa-mpi landscape` under
// mpirun -np 2 against one rank: LandscapeMPITests.

import XCTest
import Foundation
@testable import Dist
import Engine
import Media
@testable import Training
import TestSupport

final class LandscapeRunnerTests: XCTestCase {
    static let options = ["widths": "8,8,16,16", "head_hidden": "8"]
    let clipShape = [3, 4, 32, 32]

    func tinyNet(seed: UInt64) throws -> VQAModel { try ModelKind.fragnet.make(seed: seed, options: Self.options) }

    /// `n` samples of `clips` random clips each, with labels, on a solo communicator.
    func data(samples n: Int, clips: Int = 1) throws -> LandscapeData {
        var rng = CounterRNG(seed: 4, purpose: .test)
        let floats = (0..<(n * clips * clipShape.reduce(1, *))).map { _ in rng.nextGaussian() }
        let labels = (0..<n).map { _ in 1 + 4 * rng.nextFloat() }
        return try LandscapeData(clips: floats, clipShape: clipShape, clipsPerSample: clips, localLabels: labels, comm: SoloCommunicator())
    }

    /// Loss and SRCC with one plain forward over every clip at once (no runner code).
    func plainLoss(_ model: VQAModel, _ d: LandscapeData) -> (Double, Double) {
        let tape = Tape()
        tape.training = false
        let n = d.labels.count * d.clipsPerSample
        let x = tape.input(shape: [n] + d.clipShape)
        tape.value(x).update(from: d.clips.base, count: tape.count(x))
        let scores = tape.array(model.forward(tape, x))
        let preds = (0..<d.labels.count).map { s in (0..<d.clipsPerSample).map { scores[s * d.clipsPerSample + $0] }.reduce(0, +) / Float(d.clipsPerSample) }
        return (LossConfig().evaluate(predictions: preds, labels: d.labels).loss,
                Metrics.srcc(preds.map(Double.init), d.labels.map(Double.init)))
    }

    func config(dims: Int = 1) -> LandscapeConfig {
        var c = LandscapeConfig()
        c.dims = dims; c.points = 3; c.directions = 2; c.hessianIterations = 2; c.batchSize = 3; c.seed = 9
        return c
    }

    func testLossAtZeroAndAtOneEqualPlainForward() throws {
        let model = try tinyNet(seed: 1), d = try data(samples: 7, clips: 2)
        let before = model.parameters.values.toArray()
        let runner = try LandscapeRunner(model: model, data: d, comm: SoloCommunicator(), config: config(), compute: Compute())
        let r = try runner.run(checkpoint: "a")
        XCTAssertEqual(model.parameters.values.toArray(), before, "weights must be restored")
        XCTAssertEqual(r.points.map(\.alpha), [-1, 0, 1])
        let (l0, s0) = plainLoss(model, d)
        XCTAssertEqual(r.points[1].loss, l0, accuracy: 1e-6 * max(1, abs(l0)))
        XCTAssertEqual(r.points[1].srcc, s0, accuracy: 1e-9)
        XCTAssertEqual(r.sharpness.loss, l0, accuracy: 1e-6 * max(1, abs(l0)))
        // α = 1: the weights plus the filter-normalised direction 0, built independently.
        let dir = LandscapeDirection.make(store: model.parameters, seed: 9, family: .axis, index: 0)
        let v = model.parameters.values
        for i in 0..<v.count { v.base[i] += dir.base[i] }
        let (l1, _) = plainLoss(model, d)
        XCTAssertEqual(r.points[2].loss, l1, accuracy: 1e-5 * max(1, abs(l1)))
        XCTAssertNotEqual(r.points[2].loss, r.points[1].loss)
        XCTAssertEqual(r.sharpness.rises.count, 2)
        XCTAssertEqual(r.sharpness.maxRise, r.sharpness.rises.max()!)
        XCTAssertEqual(r.sharpness.hessian?.magnitudeRun.iterations, 2)
    }

    func testGradientMatchesFiniteDifferenceOfTheSubsetLoss() throws {
        let model = try tinyNet(seed: 2), d = try data(samples: 6)
        let ev = LandscapeEvaluator(model: model, data: d, comm: SoloCommunicator(), config: config(), compute: Compute())
        let store = model.parameters
        let g = FloatBuffer(count: store.flatCount)
        try ev.gradient(into: g.base)
        // One mini-batch (one recorded forward) gives the same gradient as three re-forwarded ones.
        var whole = config(); whole.batchSize = 8
        let g1 = FloatBuffer(count: store.flatCount)
        let loss1 = try LandscapeEvaluator(model: model, data: d, comm: SoloCommunicator(), config: whole, compute: Compute()).gradient(into: g1.base)
        XCTAssertEqual(loss1, try ev.evaluate().loss, accuracy: 1e-6)
        for i in 0..<g.count { XCTAssertEqual(g1.base[i], g.base[i], accuracy: 1e-4 * max(1, abs(g.base[i]))) }
        let dir = LandscapeDirection.make(store: store, seed: 1, family: .sharpness, index: 0, includeBiasAndNorm: true)
        var analytic = 0.0
        for i in 0..<g.count { analytic += Double(g.base[i]) * Double(dir.base[i]) }
        let w = store.values.toArray(), h: Float = 1e-3
        func loss(at a: Float) throws -> Double {
            for i in 0..<w.count { store.values.base[i] = w[i] + a * dir.base[i] }
            return try ev.evaluate().loss
        }
        let numeric = (try loss(at: h) - loss(at: -h)) / Double(2 * h)
        XCTAssertEqual(analytic, numeric, accuracy: 0.03 * max(abs(numeric), 1e-3), "analytic \(analytic) numeric \(numeric)")
    }

    func testOutputFiles() throws {
        let model = try tinyNet(seed: 3), d = try data(samples: 5)
        let dir = try TempDir.make("landscape-out", for: self)
        for dims in [1, 2] {
            var c = config(dims: dims); c.hessianIterations = 0
            let runner = try LandscapeRunner(model: model, data: d, comm: SoloCommunicator(), config: c, compute: Compute())
            let results = [try runner.run(checkpoint: "first"), try runner.run(checkpoint: "second,quoted")]
            try LandscapeResult.write(results, config: c, to: dir.path)
            let csv = try String(contentsOf: dir.appendingPathComponent("landscape.csv"), encoding: .utf8)
            let lines = csv.split(separator: "\n")
            XCTAssertEqual(String(lines[0]), dims == 1 ? "checkpoint,alpha,loss,srcc" : "checkpoint,alpha,beta,loss,srcc")
            XCTAssertEqual(lines.count, 1 + 2 * (dims == 1 ? 3 : 9))
            XCTAssertTrue(lines[lines.count - 1].hasPrefix("\"second,quoted\","))
            for l in lines.dropFirst() {
                let numbers = l.split(separator: ",").suffix(dims == 1 ? 3 : 4)
                XCTAssertTrue(numbers.allSatisfy { Double($0) != nil }, String(l))
            }
            try assertParsesAsXML(dir.appendingPathComponent("landscape.svg"))
            let json = try JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent("sharpness.json"))) as? [String: Any]
            let cps = json?["checkpoints"] as? [[String: Any]]
            XCTAssertEqual(cps?.count, 2)
            XCTAssertEqual((cps?[0]["rises"] as? [Double])?.count, 2)
            XCTAssertNil(cps?[0]["hessian"])
        }
    }

    func testSubsetIsASeededPermutationPrefix() {
        let entries = (0..<20).map { LabelEntry(path: "v\($0).mp4", mos: Double($0)) }
        let a = LandscapeData.subset(entries, count: 6, seed: 1)
        XCTAssertEqual(a, LandscapeData.subset(entries, count: 6, seed: 1))
        XCTAssertEqual(a.count, 6)
        XCTAssertEqual(Set(a.map(\.path)).count, 6)
        XCTAssertNotEqual(a, LandscapeData.subset(entries, count: 6, seed: 2))
        XCTAssertEqual(Array(LandscapeData.subset(entries, count: 10, seed: 1).prefix(6)), a)
        XCTAssertEqual(Set(LandscapeData.subset(entries, count: 0, seed: 1).map(\.path)), Set(entries.map(\.path)))
        XCTAssertEqual(LandscapeData.subset(entries, count: 50, seed: 1).count, 20)
    }
}
