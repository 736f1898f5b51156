// Procedural moving content: six scene generators that render a frame at time t into a float RGB
// buffer. Scenes are built once per video from its own random stream (seed, index, .content), so
// content is independent of the distortion levels and quality must be judged from the distortions.
//
// Layout: frames are H×W×3 Float, row-major, interleaved RGB, values in 0…255 (clipped later).
// Textures (SynthTexture) use the same layout and are sampled bilinearly, row by row, with wrap-around.

import Foundation
import Media

/// The procedural scene generators.
public enum SynthContent: String, CaseIterable, Sendable {
    /// Textured gradient background with bouncing discs, rings and spinning striped boxes.
    case shapes
    /// Two parallax layers of scrolling, swaying leaf-like noise.
    case foliage
    /// Smooth, slightly shaky camera pan over a panorama of sky, clouds, mountains and grass.
    case landscape
    /// A scrolling page of glyph-like high-frequency marks (screen recording, subtitles).
    case text
    /// A talking-head-ish figure: swaying head and shoulders, blinking eyes, moving mouth.
    case faces
    /// Interfering water waves with caustic highlights.
    case ripples
}

extension SynthContent {
    /// Parses a comma-separated list of generator names (`foliage,text`), or throws an error
    /// listing the valid names; duplicates are kept (they weight the uniform draw).
    public static func list(_ text: String) throws -> [SynthContent] {
        let names = text.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        return try names.map { name in
            guard let c = SynthContent(rawValue: name) else {
                throw SynthError("unknown content generator '\(name)' in --contents '\(text)'; valid: \(allCases.map(\.rawValue).joined(separator: ", "))")
            }
            return c
        }
    }
}

typealias SynthRGB = SIMD3<Float>

/// Something that draws a frame at a time (seconds) into an H×W×3 float buffer.
protocol SynthRenderer {
    func render(time: Double, into out: UnsafeMutablePointer<Float>)
}

/// A float RGB (or one-channel) image with wrap-around bilinear sampling.
struct SynthTexture {
    let width: Int, height: Int, channels: Int
    var pixels: [Float]

    init(width: Int, height: Int, channels: Int) {
        self.width = width; self.height = height; self.channels = channels
        pixels = Array(repeating: 0, count: width * height * channels)
    }

    /// Periodic fractal value noise in [0, 1]: `octaves` lattices, the first with `cell`-pixel
    /// cells, each next one twice as fine and half as strong, smoothstep-interpolated.
    static func noise(width: Int, height: Int, cell: Double, octaves: Int, rng: inout SynthRNG) -> SynthTexture {
        var t = SynthTexture(width: width, height: height, channels: 1)
        var amplitude: Float = 1, total: Float = 0
        for o in 0..<octaves {
            let c = max(1.0, cell / Double(1 << o))
            let gw = max(1, Int((Double(width) / c).rounded())), gh = max(1, Int((Double(height) / c).rounded()))
            let lattice = (0..<(gw * gh)).map { _ in Float(rng.uniform()) }
            let sx = Float(gw) / Float(width), sy = Float(gh) / Float(height)
            t.pixels.withUnsafeMutableBufferPointer { p in
                lattice.withUnsafeBufferPointer { l in
                    for y in 0..<height {
                        let fy = Float(y) * sy, y0 = Int(fy), ty = synthSmooth(fy - Float(y0))
                        let r0 = (y0 % gh) * gw, r1 = ((y0 + 1) % gh) * gw
                        for x in 0..<width {
                            let fx = Float(x) * sx, x0 = Int(fx), tx = synthSmooth(fx - Float(x0))
                            let c0 = x0 % gw, c1 = (x0 + 1) % gw
                            let top = l[r0 + c0] + (l[r0 + c1] - l[r0 + c0]) * tx
                            let bottom = l[r1 + c0] + (l[r1 + c1] - l[r1 + c0]) * tx
                            p[y * width + x] += amplitude * (top + (bottom - top) * ty)
                        }
                    }
                }
            }
            total += amplitude
            amplitude *= 0.5
        }
        for i in t.pixels.indices { t.pixels[i] /= total }
        return t
    }

    /// One output row of `count` pixels sampled bilinearly (with wrap-around) along a horizontal
    /// line starting at (x, y), written as count×channels floats to `out`. Same result as
    /// `sample` per pixel, without per-pixel division.
    func row(x: Float, y: Float, count: Int, _ p: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>) {
        let fx = x.rounded(.down), fy = y.rounded(.down)
        let tx = x - fx, ty = y - fy
        var xa = Int(fx) % width; if xa < 0 { xa += width }
        var y0 = Int(fy) % height; if y0 < 0 { y0 += height }
        let y1 = y0 + 1 == height ? 0 : y0 + 1
        let r0 = p + y0 * width * channels, r1 = p + y1 * width * channels
        let w00 = (1 - tx) * (1 - ty), w01 = tx * (1 - ty), w10 = (1 - tx) * ty, w11 = tx * ty
        for i in 0..<count {
            let xb = xa + 1 == width ? 0 : xa + 1
            let a = xa * channels, b = xb * channels, o = i * channels
            for k in 0..<channels {
                out[o + k] = w00 * r0[a + k] + w01 * r0[b + k] + w10 * r1[a + k] + w11 * r1[b + k]
            }
            xa = xb
        }
    }
}

@inline(__always) func synthSmooth(_ t: Float) -> Float { t * t * (3 - 2 * t) }
@inline(__always) func synthClamp01(_ v: Float) -> Float { min(1, max(0, v)) }
@inline(__always) func synthMix(_ a: SynthRGB, _ b: SynthRGB, _ t: Float) -> SynthRGB { a + (b - a) * t }

extension SynthRNG {
    /// A random colour with channels in lo…hi (0–255).
    mutating func color(_ lo: Double = 20, _ hi: Double = 235) -> SynthRGB {
        SynthRGB(Float(uniform(lo, hi)), Float(uniform(lo, hi)), Float(uniform(lo, hi)))
    }
    /// ±1 with equal odds.
    mutating func sign() -> Float { chance(0.5) ? 1 : -1 }
}

enum SynthScenes {
    /// Builds the scene for `content` at a frame size; `duration` (s) sizes pans and scrolls.
    static func make(_ content: SynthContent, width: Int, height: Int, duration: Double,
                     rng: inout SynthRNG) -> any SynthRenderer {
        switch content {
        case .shapes: SynthShapesScene(width: width, height: height, rng: &rng)
        case .foliage: SynthFoliageScene(width: width, height: height, rng: &rng)
        case .landscape: SynthLandscapeScene(width: width, height: height, duration: duration, rng: &rng)
        case .text: SynthTextScene(width: width, height: height, duration: duration, rng: &rng)
        case .faces: SynthFacesScene(width: width, height: height, rng: &rng)
        case .ripples: SynthRipplesScene(width: width, height: height, rng: &rng)
        }
    }
}

/// Textured rotating gradient plus bouncing discs, rings and spinning striped boxes.
struct SynthShapesScene: SynthRenderer {
    struct Shape { var kind: Int; var color: SynthRGB; var r: Float; var p0: SIMD2<Float>; var v: SIMD2<Float>; var spin: Float }
    let width: Int, height: Int
    let c0: SynthRGB, c1: SynthRGB, angle0: Float, omega: Float, drift: SIMD2<Float>
    let texture: SynthTexture
    let shapes: [Shape]

    init(width: Int, height: Int, rng: inout SynthRNG) {
        self.width = width; self.height = height
        c0 = rng.color(); c1 = rng.color(); angle0 = Float(rng.uniform(0, 2 * .pi)); omega = Float(rng.uniform(-0.4, 0.4))
        drift = SIMD2(Float(rng.uniform(-20, 20)), Float(rng.uniform(-20, 20)))
        texture = .noise(width: width, height: height, cell: rng.uniform(12, 40), octaves: 4, rng: &rng)
        let m = Float(min(width, height))
        shapes = (0..<(3 + rng.int(below: 4))).map { _ in
            Shape(kind: rng.int(below: 3), color: rng.color(10, 245), r: m * Float(rng.uniform(0.06, 0.2)),
                  p0: SIMD2(Float(rng.uniform(0, Double(width))), Float(rng.uniform(0, Double(height)))),
                  v: SIMD2(rng.sign() * Float(rng.uniform(20, 90)), rng.sign() * Float(rng.uniform(15, 70))),
                  spin: Float(rng.uniform(-2, 2)))
        }
    }

    /// Position bouncing between lo and hi (a triangle wave).
    static func bounce(_ x: Float, _ lo: Float, _ hi: Float) -> Float {
        let span = max(hi - lo, 1), u = (x - lo).truncatingRemainder(dividingBy: 2 * span)
        let w = u < 0 ? u + 2 * span : u
        return lo + (w < span ? w : 2 * span - w)
    }

    func render(time: Double, into out: UnsafeMutablePointer<Float>) {
        let t = Float(time), a = angle0 + omega * t
        let dir = SIMD2<Float>(cos(a), sin(a)), diag = Float(width + height)
        let off = drift * t
        texture.pixels.withUnsafeBufferPointer { tp in
            withUnsafeTemporaryAllocation(of: Float.self, capacity: width) { n in
                for y in 0..<height {
                    texture.row(x: off.x, y: Float(y) + off.y, count: width, tp.baseAddress!, into: n.baseAddress!)
                    let gy = dir.y * Float(y - height / 2)
                    for x in 0..<width {
                        let g = synthClamp01(0.5 + (dir.x * Float(x - width / 2) + gy) / diag)
                        let c = synthMix(c0, c1, g) * (0.75 + 0.5 * n[x])
                        let i = (y * width + x) * 3
                        out[i] = c.x; out[i + 1] = c.y; out[i + 2] = c.z
                    }
                }
            }
        }
        for s in shapes {
            let cx = Self.bounce(s.p0.x + s.v.x * t, s.r, Float(width) - s.r)
            let cy = Self.bounce(s.p0.y + s.v.y * t, s.r, Float(height) - s.r)
            let ang = s.spin * t, ca = cos(ang), sa = sin(ang)
            let ext = s.r * 1.5 + 1
            let xs = max(0, Int(cx - ext)), xe = min(width - 1, Int(cx + ext))
            let ys = max(0, Int(cy - ext)), ye = min(height - 1, Int(cy + ext))
            guard xs <= xe, ys <= ye else { continue }
            for y in ys...ye {
                for x in xs...xe {
                    let dx = Float(x) - cx, dy = Float(y) - cy
                    var cover: Float, color = s.color
                    switch s.kind {
                    case 0: cover = synthClamp01(s.r - (dx * dx + dy * dy).squareRoot() + 0.5)
                    case 1:
                        let d = abs((dx * dx + dy * dy).squareRoot() - s.r * 0.75)
                        cover = synthClamp01(s.r * 0.22 - d + 0.5)
                    default:
                        let lx = ca * dx + sa * dy, ly = -sa * dx + ca * dy
                        cover = synthClamp01(min(s.r - abs(lx), s.r * 0.7 - abs(ly)) + 0.5)
                        color *= (Int((lx + s.r) / 4) & 1) == 0 ? 1 : 0.7
                    }
                    guard cover > 0 else { continue }
                    let i = (y * width + x) * 3
                    out[i] += (color.x - out[i]) * cover
                    out[i + 1] += (color.y - out[i + 1]) * cover
                    out[i + 2] += (color.z - out[i + 2]) * cover
                }
            }
        }
    }
}

/// Two parallax layers of leaf-like noise; the near layer sways and covers the far one.
struct SynthFoliageScene: SynthRenderer {
    let width: Int, height: Int
    let back: SynthTexture, front: SynthTexture   // RGB and RGBA
    let vBack: SIMD2<Float>, vFront: SIMD2<Float>, sway: Float, swayFreq: Float

    init(width: Int, height: Int, rng: inout SynthRNG) {
        self.width = width; self.height = height
        let tw = width + 192, th = height + 128
        let hue = Float(rng.uniform(-25, 25))
        let dark = SynthRGB(20, 45 + hue, 12), mid = SynthRGB(55 + hue, 115, 30), light = SynthRGB(160, 175 + hue, 70)
        let n1 = SynthTexture.noise(width: tw, height: th, cell: rng.uniform(20, 40), octaves: 5, rng: &rng)
        var b = SynthTexture(width: tw, height: th, channels: 3)
        for i in 0..<(tw * th) {
            let v = n1.pixels[i], c = v < 0.5 ? synthMix(dark, mid, v * 2) : synthMix(mid, light, v * 2 - 1)
            b.pixels[3 * i] = c.x * 0.8; b.pixels[3 * i + 1] = c.y * 0.8; b.pixels[3 * i + 2] = c.z * 0.8
        }
        let n2 = SynthTexture.noise(width: tw, height: th, cell: rng.uniform(8, 16), octaves: 4, rng: &rng)
        let mask = SynthTexture.noise(width: tw, height: th, cell: rng.uniform(14, 28), octaves: 3, rng: &rng)
        var f = SynthTexture(width: tw, height: th, channels: 4)
        let threshold = Float(rng.uniform(0.45, 0.6))
        for i in 0..<(tw * th) {
            let v = n2.pixels[i], c = synthMix(mid, light, v) + SynthRGB(0, 20 * v, 0)
            f.pixels[4 * i] = c.x; f.pixels[4 * i + 1] = c.y; f.pixels[4 * i + 2] = c.z
            f.pixels[4 * i + 3] = synthClamp01((mask.pixels[i] - threshold) * 12 + 0.5)
        }
        back = b; front = f
        vBack = SIMD2(Float(rng.uniform(-15, 15)), Float(rng.uniform(-8, 8)))
        vFront = vBack * 2.5 + SIMD2(Float(rng.uniform(-10, 10)), 0)
        sway = Float(rng.uniform(2, 8)); swayFreq = Float(rng.uniform(0.3, 1.2))
    }

    func render(time: Double, into out: UnsafeMutablePointer<Float>) {
        let t = Float(time)
        back.pixels.withUnsafeBufferPointer { bp in
            front.pixels.withUnsafeBufferPointer { fp in
                withUnsafeTemporaryAllocation(of: Float.self, capacity: width * 4) { f in
                    for y in 0..<height {
                        let s = sway * sin(2 * .pi * swayFreq * t + Float(y) * 0.03)
                        let o = out + y * width * 3
                        back.row(x: vBack.x * t, y: Float(y) + vBack.y * t, count: width, bp.baseAddress!, into: o)
                        front.row(x: vFront.x * t + s, y: Float(y) + vFront.y * t, count: width, fp.baseAddress!, into: f.baseAddress!)
                        for x in 0..<width {
                            let a = f[4 * x + 3]
                            o[3 * x] += (f[4 * x] - o[3 * x]) * a
                            o[3 * x + 1] += (f[4 * x + 1] - o[3 * x + 1]) * a
                            o[3 * x + 2] += (f[4 * x + 2] - o[3 * x + 2]) * a
                        }
                    }
                }
            }
        }
    }
}
