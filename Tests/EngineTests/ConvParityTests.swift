import Foundation
import XCTest
@testable import Engine

/// conv3d against PyTorch: the `fragnet` reference fixture (scripts/reference) stores the input,
/// initial weights and every block's activation. Each block is recomputed here from the fixture's
/// previous activation with the Engine convolutions and a float64 GroupNorm + exact GELU.
final class ConvParityTests: XCTestCase {
    func groupNormGelu(_ x: [Float], shape s: [Int], gamma: [Float], beta: [Float], groups: Int = 4) -> [Float] {
        let c = s[1], plane = s[2...].reduce(1, *), per = c / groups * plane
        var y = [Float](repeating: 0, count: x.count)
        for n in 0..<s[0] {
            for g in 0..<groups {
                let base = (n * c + g * (c / groups)) * plane
                let seg = x[base..<base + per].map { Double($0) }
                let mean = seg.reduce(0, +) / Double(per)
                let v = seg.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(per)
                for i in 0..<per {
                    let ch = g * (c / groups) + i / plane
                    let z = (seg[i] - mean) / (v + 1e-5).squareRoot() * Double(gamma[ch]) + Double(beta[ch])
                    y[base + i] = Float(0.5 * z * (1 + erf(z / 2.0.squareRoot())))
                }
            }
        }
        return y
    }

    func testConvMatchesPyTorchFragnetActivations() throws {
        let f = try ParityFixture("fragnet_reference.safetensors")
        func t(_ name: String) throws -> (shape: [Int], values: [Float]) {
            guard let v = f.file.tensors[name] else { throw EngineError("fixture lacks \(name)") }
            return (v.shape, try v.floats())
        }
        let tape = Tape(compute: Compute(threads: 2))
        func conv(_ x: (shape: [Int], values: [Float]), _ p: String, stride: (Int, Int, Int) = (1, 1, 1),
                  padding: (Int, Int, Int) = (0, 0, 0)) throws -> (shape: [Int], values: [Float]) {
            let w = try t("init.\(p).weight"), b = try t("init.\(p).bias")
            let y = tape.conv3d(tape.constant(x.values, shape: x.shape), tape.constant(w.values, shape: w.shape),
                                tape.constant(b.values, shape: b.shape), stride: stride, padding: padding)
            return (tape.shape(y), tape.array(y))
        }
        func norm(_ x: (shape: [Int], values: [Float]), _ p: String) throws -> [Float] {
            groupNormGelu(x.values, shape: x.shape, gamma: try t("init.\(p).weight").values, beta: try t("init.\(p).bias").values)
        }
        func check(_ got: [Float], _ name: String) throws {
            let ref = try t(name).values
            XCTAssertEqual(got.count, ref.count, name)
            let scale = max(1, ref.map(abs).max() ?? 0)
            let worst = zip(got, ref).map { abs($0 - $1) }.max() ?? 0
            XCTAssertLessThan(worst / scale, 2e-5, "\(name): max abs error \(worst)")
        }
        // Stem: patchify conv (2,4,4) with stride = kernel.
        try check(try norm(try conv(try t("input"), "stem.conv", stride: (2, 4, 4)), "stem.norm"), "act.stem")
        // Stages: 3×3×3 stride (1,2,2) pad 1, then 1×3×3 pad (0,1,1), residual.
        var prev = "act.stem"
        for i in 0..<3 {
            let down = try conv(try t(prev), "stages.\(i).down", stride: (1, 2, 2), padding: (1, 1, 1))
            let d = try norm(down, "stages.\(i).down_norm")
            let blk = try conv((down.shape, d), "stages.\(i).block.conv", padding: (0, 1, 1))
            let b = try norm(blk, "stages.\(i).block.norm")
            try check(zip(d, b).map { $0 + $1 }, "act.stages.\(i)")
            prev = "act.stages.\(i)"
        }
        // Head: pointwise convs.
        let hid = try conv(try t("act.stages.2"), "head.fc_hid")
        try check(hid.values.map { v in Float(0.5 * Double(v) * (1 + erf(Double(v) / 2.0.squareRoot()))) }, "act.head.hid")
        try check(try conv(try t("act.head.hid"), "head.fc_last").values, "out.map")
    }
}
