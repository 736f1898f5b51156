// FAST-VQA (Video Swin-T with gated relative position bias) against PyTorch: the fixture written by
// scripts/reference/fastvqa.py holds a tiny configuration's input, initial weights, forward outputs,
// losses and every gradient, plus window geometry oracles. Also: the official fast-vqa-b layout
// (names, shapes, count) and finite-difference checks of the Swin ops.

import XCTest
import Foundation
@testable import Engine

final class FastVQAParityTests: XCTestCase {
    var fixture: ParityFixture!
    var path: String { fixture.path }

    override func setUpWithError() throws { fixture = try ParityFixture("fastvqa_reference.safetensors") }

    func tensor(_ name: String) throws -> [Float] { try fixture.tensor(name) }

    /// The fixture's tiny model (scripts/reference/fastvqa.py TINY, no dropout/drop path) with its weights.
    /// The fixture pins the official non-adaptive window path (`[:N, :N]` table reads); the adaptive
    /// default is checked against the official code in OfficialFastVQAParityTests.
    func makeModel() throws -> FastVQA {
        let options = ["embed_dim": "4", "depths": "2,2,2,2", "heads": "1,2,2,4", "window": "2,4,4",
                       "frag_biases": "1,1,1,0", "head_hidden": "16", "dropout": "0", "drop_path": "0", "adaptive_window": "0"]
        let m = try ModelKind.fastVQAB.make(seed: 3, options: options) as! FastVQA
        let missing = try m.parameters.load(fixture.file, path: path, prefix: "init.")
        XCTAssertEqual(missing, [])
        return m
    }


    func testForwardLossAndEveryGradientMatchPyTorch() throws {
        let m = try makeModel()
        let tape = Tape(compute: Compute(threads: 2))
        let x = tape.constant(try tensor("input"), shape: [4, 3, 4, 32, 32])
        let features = m.backbone(tape, m.parameters, x)
        assertClose(tape.array(tape.permute(features, [0, 4, 1, 2, 3])), try tensor("act.features"), rel: 2e-5, "act.features")
        let map = m.qualityMap(tape, x)
        let scores = tape.reshape(tape.mean(map, axes: [1, 2, 3, 4]), [4])
        XCTAssertEqual(tape.shape(map), [4, 1, 2, 1, 1])
        assertClose(tape.array(map), try tensor("out.map"), rel: 2e-5, "out.map")
        assertClose(tape.array(scores), try tensor("out.scores"), rel: 2e-5, "out.scores")
        let loss = LossConfig().evaluate(predictions: tape.array(scores), labels: try tensor("labels"))
        XCTAssertEqual(loss.components[.plcc]!, Double(try tensor("loss.plcc")[0]), accuracy: 2e-5)
        XCTAssertEqual(loss.components[.rank]!, Double(try tensor("loss.rank")[0]), accuracy: 2e-5)
        XCTAssertGreaterThan(loss.components[.rank]!, 0.01, "the fixture should exercise the rank loss")
        XCTAssertEqual(loss.loss, Double(try tensor("loss.total")[0]), accuracy: 2e-5)
        m.parameters.zeroGrad()
        loss.gradient.withUnsafeBufferPointer { tape.backward(scores, seed: $0.baseAddress!) }
        var checked = 0
        for (i, info) in m.parameters.infos.enumerated() {
            let ours = Array(m.parameters.grad(i)), ref = try tensor("grad.\(info.name)")
            if info.name == "vqa_head.fc_last.bias" {
                // Both losses ignore a common shift of the scores: the true gradient is 0.
                XCTAssertEqual(ours[0], ref[0], accuracy: 1e-4, "grad.\(info.name)")
            } else {
                assertClose(ours, ref, rel: 2e-4, floor: 1e-6, "grad.\(info.name)")
            }
            checked += 1
        }
        // Every fixture gradient has a Swift parameter and vice versa.
        XCTAssertEqual(checked, fixture.file.tensors.keys.filter { $0.hasPrefix("grad.") }.count)
    }

    /// A clip whose token grids the window does not divide (3×10×10 with window 2×4×4: D/H/W padded,
    /// odd 5×5 and 3×3 merges, a clipped 3×3 window): outputs and every gradient against PyTorch.
    func testPaddedWindowsAndOddMergesMatchPyTorch() throws {
        let m = try makeModel()
        let tape = Tape(compute: Compute(threads: 2))
        let x = tape.constant(try tensor("pad.input"), shape: [2, 3, 6, 40, 40])
        let features = m.backbone(tape, m.parameters, x)
        XCTAssertEqual(tape.shape(features), [2, 3, 2, 2, 32])
        assertClose(tape.array(tape.permute(features, [0, 4, 1, 2, 3])), try tensor("pad.act.features"), rel: 2e-5, "pad.act.features")
        let map = m.qualityMap(tape, x)
        let scores = tape.reshape(tape.mean(map, axes: [1, 2, 3, 4]), [2])
        assertClose(tape.array(map), try tensor("pad.out.map"), rel: 2e-5, "pad.out.map")
        let loss = LossConfig().evaluate(predictions: tape.array(scores), labels: try tensor("pad.labels"))
        XCTAssertEqual(loss.loss, Double(try tensor("pad.loss.total")[0]), accuracy: 2e-5)
        m.parameters.zeroGrad()
        loss.gradient.withUnsafeBufferPointer { tape.backward(scores, seed: $0.baseAddress!) }
        for (i, info) in m.parameters.infos.enumerated() where info.name != "vqa_head.fc_last.bias" {
            assertClose(Array(m.parameters.grad(i)), try tensor("pad.grad.\(info.name)"), rel: 2e-4, floor: 1e-6, "pad.grad.\(info.name)")
        }
    }

    func testPadEndAndCropEndGradients() {
        let x = randomArray(2 * 3 * 2, seed: 21)
        gradCheck([(x, [2, 3, 2])]) { t, v in t.mul(t.padEnd(v[0], to: [3, 4, 2]), t.constant(randomArray(24, seed: 22), shape: [3, 4, 2])) }
        gradCheck([(randomArray(24, seed: 23), [3, 4, 2])]) { t, v in t.cropEnd(v[0], to: [2, 3, 1]) }
        let tape = Tape()
        let y = tape.array(tape.padEnd(tape.constant(x, shape: [2, 3, 2]), to: [3, 4, 2]))
        for a in 0..<3 { for b in 0..<4 { for c in 0..<2 {
            XCTAssertEqual(y[(a * 4 + b) * 2 + c], a < 2 && b < 3 ? x[(a * 3 + b) * 2 + c] : 0)
        } } }
    }

    /// Windows sharing a gate or mask pattern share its storage; the expansion is unchanged.
    func testWindowGeometryDeduplicatesPatterns() {
        let size = [16, 56, 56], win = [8, 7, 7], shift = [4, 3, 3]
        let g = SwinGeometryCache().geometry(size: size, window: win, shift: shift, full: win, gated: true, fragments: [1, 7, 7])
        XCTAssertEqual(g.windows, 128)
        XCTAssertLessThanOrEqual(g.maskPatterns!.count / (392 * 392), 8)
        XCTAssertLessThan(g.gatePatterns!.count / (392 * 392), 128)
        let dense = swinFragmentGate(size: size, window: win, shift: shift, fragments: [1, 7, 7])
        let denseMask = swinShiftMask(size: size, window: win, shift: shift)
        let nn = 392 * 392
        for w in [0, 1, 9, 63, 127] {
            XCTAssertEqual(Array(g.gatePatterns![(Int(g.gateOf[w]) * nn)..<((Int(g.gateOf[w]) + 1) * nn)]), Array(dense[(w * nn)..<((w + 1) * nn)]))
            XCTAssertEqual(Array(g.maskPatterns![(Int(g.maskOf[w]) * nn)..<((Int(g.maskOf[w]) + 1) * nn)]), Array(denseMask[(w * nn)..<((w + 1) * nn)]))
        }
    }

    func testWindowGeometryMatchesPyTorch() throws {
        let (size, window, shift) = ([4, 8, 8], [2, 4, 4], [1, 2, 2])
        XCTAssertEqual(swinShiftMask(size: size, window: window, shift: shift), try tensor("geom.mask"))
        XCTAssertEqual(swinFragmentGate(size: size, window: window, shift: shift, fragments: [1, 7, 7]), try tensor("geom.gate"))
        XCTAssertEqual(swinRelativeIndex(full: window, n: 32).map(Float.init), try tensor("geom.index"))
        // Clipping: an axis no longer than the window is taken whole and not shifted.
        let (w, s) = swinWindow(size: [16, 7, 7], window: [8, 7, 7], shift: [4, 3, 3])
        XCTAssertEqual(w, [8, 7, 7]); XCTAssertEqual(s, [4, 0, 0])
    }

    func testFastVQABHasTheOfficialLayout() throws {
        let m = try ModelKind.parse("fast-vqa-b").make(seed: 1) as! FastVQA
        let p = m.parameters
        XCTAssertEqual(p.parameterCount, 28_127_901)
        func shape(_ n: String) -> [Int]? { p.index(of: n).map { p.infos[$0].shape } }
        XCTAssertEqual(shape("backbone.patch_embed.proj.weight"), [96, 3, 2, 4, 4])
        XCTAssertEqual(shape("backbone.patch_embed.norm.weight"), [96])
        XCTAssertEqual(shape("backbone.layers.0.blocks.0.attn.relative_position_bias_table"), [2535, 3])
        XCTAssertEqual(shape("backbone.layers.2.blocks.5.attn.fragment_position_bias_table"), [2535, 12])
        XCTAssertNil(shape("backbone.layers.3.blocks.0.attn.fragment_position_bias_table"))
        XCTAssertEqual(shape("backbone.layers.0.blocks.1.attn.qkv.weight"), [288, 96])
        XCTAssertEqual(shape("backbone.layers.3.blocks.1.mlp.fc1.weight"), [3072, 768])
        XCTAssertEqual(shape("backbone.layers.2.downsample.reduction.weight"), [768, 1536])
        XCTAssertNil(shape("backbone.layers.3.downsample.reduction.weight"))
        XCTAssertEqual(shape("backbone.norm.weight"), [768])
        XCTAssertEqual(shape("vqa_head.fc_hid.weight"), [64, 768, 1, 1, 1])
        XCTAssertEqual(shape("vqa_head.fc_last.weight"), [1, 64, 1, 1, 1])
        XCTAssertEqual(p.infos.count, 4 + 12 * 13 + 10 + 3 * 3 + 2 + 4)  // 10 fragment tables: blocks of stages 0-2
        XCTAssertEqual(m.headParameters.map { p.infos[$0].group }, ["head", "head", "head", "head"])
        XCTAssertEqual(p.infos.filter { $0.group == "head" }.count, 4)
        // AWP perturbs names ending in "weight": never the bias tables.
        XCTAssert(p.infos.filter { $0.name.hasSuffix("_table") }.allSatisfy { !$0.name.hasSuffix("weight") })
        let mm = try ModelKind.fastVQAM.make(seed: 1)
        XCTAssertEqual(mm.parameters.parameterCount, 27_597_255)
        XCTAssertEqual(mm.name, "fast-vqa-m")
        XCTAssertThrowsError(try ModelKind.fastVQAB.make(seed: 1, options: ["heads": "5,6,12,24"]))
        XCTAssertThrowsError(try ModelKind.fastVQAB.make(seed: 1, options: ["windw": "8,7,7"]))
    }

    func testWindowBiasGradients() {
        // 2 samples × 2 windows, 2 heads, N = 4 tokens of a 1×2×2 window; table 1·3·3 = 9 rows.
        let n = 4, nW = 2, heads = 2
        let index = swinRelativeIndex(full: [1, 2, 2], n: n)
        let gate = randomArray(nW * n * n, seed: 5).map { abs($0) * 3 }
        let mask = (0..<(nW * n * n)).map { $0 % 3 == 0 ? Float(-100) : 0 }
        let geo = WindowBiasGeometry(tokens: n, windows: nW, index: index, gate: gate, mask: mask)
        let logits = randomArray(2 * nW * heads * n * n, seed: 6), r = randomArray(9 * heads, seed: 7), f = randomArray(9 * heads, seed: 8)
        gradCheck([(logits, [2 * nW, heads, n, n]), (r, [9, heads]), (f, [9, heads])]) { t, v in
            t.windowBias(v[0], relative: v[1], fragment: v[2], geometry: geo)
        }
        let plain = WindowBiasGeometry(tokens: n, windows: nW, index: index, gate: nil, mask: nil)
        gradCheck([(logits, [2 * nW, heads, n, n]), (r, [9, heads])]) { t, v in
            t.windowBias(v[0], relative: v[1], fragment: nil, geometry: plain)
        }
        // Naive twin of the gated forward.
        let tape = Tape()
        let y = tape.array(tape.windowBias(tape.constant(logits, shape: [2 * nW, heads, n, n]), relative: tape.constant(r, shape: [9, heads]),
                                           fragment: tape.constant(f, shape: [9, heads]), geometry: geo))
        for b in 0..<2 { for w in 0..<nW { for h in 0..<heads { for i in 0..<n { for j in 0..<n {
            let at = (((b * nW + w) * heads + h) * n + i) * n + j, gi = (w * n + i) * n + j, row = Int(index[i * n + j]) * heads + h
            let want = logits[at] + (r[row] * gate[gi] + f[row] * (1 - gate[gi])) + mask[gi]
            XCTAssertEqual(y[at], want, accuracy: 1e-5)
        } } } } }
    }

    func testDropPathScalesWholeSamples() {
        let x = randomArray(4 * 6, seed: 9)
        let tape = Tape()
        tape.training = true
        tape.seed = 11
        tape.sampleKeys = [10, 11, 12, 13]
        var kept = 0
        for _ in 0..<8 {
            tape.step += 1
            tape.reset()
            let y = tape.array(tape.dropPath(tape.constant(x, shape: [4, 6]), p: 0.5))
            for r in 0..<4 {
                let ratios = (0..<6).map { y[r * 6 + $0] / x[r * 6 + $0] }
                XCTAssert(ratios.allSatisfy { abs($0 - 2) < 1e-6 } || ratios.allSatisfy { $0 == 0 }, "row \(r): \(ratios)")
                if ratios[0] != 0 { kept += 1 }
            }
        }
        XCTAssert(kept > 4 && kept < 28, "kept \(kept) of 32 samples at p = 0.5")
        tape.training = false
        tape.reset()
        XCTAssertEqual(tape.array(tape.dropPath(tape.constant(x, shape: [4, 6]), p: 0.5)), x)
    }
}
