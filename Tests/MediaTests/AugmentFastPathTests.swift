// The table-driven colour ops and the tabulated rotation against naive per-pixel twins written
// straight from the torchvision formulas (float32 blends, trunc grey, round-half-even blur).

import XCTest
@testable import Media

final class AugmentFastPathTests: XCTestCase {
    func frame(_ w: Int, _ h: Int, seed: UInt64) -> RGBFrame {
        var rng = MediaRNG(seed: seed, purpose: .test)
        return RGBFrame(width: w, height: h, pixels: (0..<(w * h * 3)).map { _ in UInt8(rng.nextInt(below: 256)) })
    }

    func mix(_ a: Float, _ b: Float, _ k: Float) -> UInt8 { UInt8(min(255, max(0, k * a + (1 - k) * b))) }
    func grey(_ p: [UInt8], _ i: Int) -> UInt8 {
        let r: Double = 0.2989 * Double(p[i])
        let g: Double = 0.587 * Double(p[i + 1])
        let b: Double = 0.114 * Double(p[i + 2])
        return UInt8(r + g + b)
    }

    func naive(_ op: TrivialOp, _ m: Double, _ f: RGBFrame) -> [UInt8] {
        let p = f.pixels, k = Float(1 + m), w = f.width, h = f.height
        var out = p
        switch op {
        case .brightness: out = p.map { mix(Float($0), 0, k) }
        case .contrast:
            var total = 0.0
            for i in stride(from: 0, to: p.count, by: 3) { total += Double(grey(p, i)) }
            let mean = Float(total / Double(w * h))
            out = p.map { mix(Float($0), mean, k) }
        case .saturation:
            for i in stride(from: 0, to: p.count, by: 3) {
                let g = Float(grey(p, i))
                for c in 0..<3 { out[i + c] = mix(Float(p[i + c]), g, k) }
            }
        case .sharpness:
            for y in 1..<(h - 1) {
                for x in 1..<(w - 1) {
                    for c in 0..<3 {
                        var s = 0
                        for dy in -1...1 { for dx in -1...1 { s += Int(p[((y + dy) * w + x + dx) * 3 + c]) * (dx == 0 && dy == 0 ? 5 : 1) } }
                        let blur = (Double(s) / 13).rounded(.toNearestOrEven)
                        out[(y * w + x) * 3 + c] = mix(Float(p[(y * w + x) * 3 + c]), Float(blur), k)
                    }
                }
            }
        case .solarize: out = p.map { Double($0) >= m ? 255 - $0 : $0 }
        case .rotate:
            let a = m * Double.pi / 180, cs = cos(a), sn = sin(a), cx = Double(w) / 2, cy = Double(h) / 2
            for y in 0..<h {
                for x in 0..<w {
                    let dx = Double(x) + 0.5 - cx, dy = Double(y) + 0.5 - cy
                    let ix = Int((cx + cs * dx - sn * dy).rounded(.down)), iy = Int((cy + sn * dx + cs * dy).rounded(.down))
                    for c in 0..<3 {
                        out[(y * w + x) * 3 + c] = ix >= 0 && ix < w && iy >= 0 && iy < h ? p[(iy * w + ix) * 3 + c] : 0
                    }
                }
            }
        default: XCTFail("no twin for \(op)")
        }
        return out
    }

    func testFastColourOpsAndRotationEqualTheirNaiveTwins() {
        var scratch: [UInt8] = []
        let cases: [(TrivialOp, [Double])] = [
            (.brightness, [-0.99, -0.3, 0.5, 0.99]), (.contrast, [-0.7, 0.4, 0.99]), (.saturation, [-1, -0.5, 0.8]),
            (.sharpness, [-0.99, 0.6]), (.solarize, [0, 0.5, 127.5, 128, 254.9, 255, 300]), (.rotate, [-135, -30, 7.5, 90]),
        ]
        for (seed, (w, h)) in [(1, (37, 23)), (2, (64, 48))].map({ (UInt64($0.0), $0.1) }) {
            let base = frame(w, h, seed: seed)
            for (op, magnitudes) in cases {
                for m in magnitudes {
                    var f = base
                    PixelOps.trivial(op, magnitude: m, frame: &f, scratch: &scratch)
                    XCTAssertEqual(f.pixels, naive(op, m, base), "\(op) \(m) on \(w)x\(h)")
                }
            }
        }
    }
}
