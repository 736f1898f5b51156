// The remaining scene generators: landscape pan, scrolling text, talking head, water ripples.
//
// Layout: frames are H×W×3 Float, row-major, interleaved RGB, values in 0…255 (see Synth+Content).

import Foundation
import Media

/// Smooth (ease-in/out) camera pan over a panorama, with a little hand-held shake.
struct SynthLandscapeScene: SynthRenderer {
    let width: Int, height: Int
    let pano: SynthTexture
    let travel: Float, duration: Float, shake: Float, shakeFreq: Float, direction: Float

    init(width: Int, height: Int, duration: Double, rng: inout SynthRNG) {
        self.width = width; self.height = height; self.duration = Float(duration)
        let speed = rng.uniform(25, 70)
        let pw = width + Int(speed * duration) + 16, ph = height + 16
        travel = Float(pw - width - 2); direction = rng.sign()
        shake = Float(rng.uniform(0.5, 3)); shakeFreq = Float(rng.uniform(0.7, 2.0))
        let sunset = rng.chance(0.3)
        let skyTop: SynthRGB = sunset ? SynthRGB(70, 60, 120) : SynthRGB(40, 90, Float(rng.uniform(170, 220)))
        let horizon: SynthRGB = sunset ? SynthRGB(240, 150, 90) : SynthRGB(190, 215, 235)
        let clouds = SynthTexture.noise(width: pw, height: ph, cell: rng.uniform(40, 90), octaves: 5, rng: &rng)
        let detail = SynthTexture.noise(width: pw, height: ph, cell: rng.uniform(6, 14), octaves: 3, rng: &rng)
        let layerColors: [SynthRGB] = [synthMix(horizon, SynthRGB(90, 100, 130), 0.6), SynthRGB(70, 95, 60) + rng.color(0, 30),
                                       SynthRGB(60, 110, 35) + rng.color(0, 30)]
        var ridges: [[Float]] = []
        for l in 0..<3 {
            let n = SynthTexture.noise(width: pw, height: 1, cell: rng.uniform(60, 160) / Double(l + 1), octaves: 5, rng: &rng)
            let base = Float(ph) * (0.35 + 0.17 * Float(l)), amp = Float(ph) * Float(rng.uniform(0.1, 0.25))
            ridges.append(n.pixels.map { base + amp * ($0 - 0.5) * 2 })
        }
        var p = SynthTexture(width: pw, height: ph, channels: 3)
        for y in 0..<ph {
            let sky = synthMix(skyTop, horizon, Float(y) / Float(ph) * 1.4 > 1 ? 1 : Float(y) / Float(ph) * 1.4)
            for x in 0..<pw {
                let i = y * pw + x
                var c = synthMix(sky, SynthRGB(250, 250, 250), synthSmooth(synthClamp01((clouds.pixels[i] - 0.55) * 5)))
                for l in 0..<3 where Float(y) > ridges[l][x] {
                    let depth = synthClamp01((Float(y) - ridges[l][x]) / Float(ph) * 2)
                    c = layerColors[l] * (0.8 + 0.4 * detail.pixels[i] * Float(l + 1) / 3) * (1 - 0.3 * depth)
                }
                p.pixels[3 * i] = c.x; p.pixels[3 * i + 1] = c.y; p.pixels[3 * i + 2] = c.z
            }
        }
        pano = p
    }

    func render(time: Double, into out: UnsafeMutablePointer<Float>) {
        let t = Float(time)
        let progress = duration > 0 ? (1 - cos(Float.pi * min(1, t / duration))) / 2 : 0
        let camX = 1 + travel * (direction > 0 ? progress : 1 - progress)
        let camY = 8 + shake * sin(2 * .pi * shakeFreq * t) + 0.5 * shake * sin(2 * .pi * 2.3 * shakeFreq * t + 1)
        pano.pixels.withUnsafeBufferPointer { pp in
            for y in 0..<height {
                pano.row(x: camX, y: Float(y) + camY, count: width, pp.baseAddress!, into: out + y * width * 3)
            }
        }
    }
}

/// A page of glyph-like 5×7 marks scrolling up by whole pixels, like a screen recording.
struct SynthTextScene: SynthRenderer {
    let width: Int, height: Int
    let page: SynthTexture
    let speed: Float

    init(width: Int, height: Int, duration: Double, rng: inout SynthRNG) {
        self.width = width; self.height = height
        speed = Float(rng.uniform(10, 45))
        let scale = 1 + rng.int(below: 2)
        let lineHeight = 9 * scale + rng.int(below: 4)
        let ph = height + Int(Double(speed) * duration) + 2 * lineHeight
        let dark = rng.chance(0.3)
        let paper: SynthRGB = dark ? SynthRGB(25, 28, 35) + rng.color(0, 20) : SynthRGB(235, 232, 222) + rng.color(-15, 15)
        let ink: SynthRGB = dark ? SynthRGB(215, 220, 210) : SynthRGB(20, 22, 30) + rng.color(0, 25)
        let accent = rng.color(40, 200)
        let glyphs: [UInt64] = (0..<48).map { _ in rng.next() & ((1 << 35) - 1) }
        var p = SynthTexture(width: width, height: ph, channels: 3)
        for i in 0..<(width * ph) { p.pixels[3 * i] = paper.x; p.pixels[3 * i + 1] = paper.y; p.pixels[3 * i + 2] = paper.z }
        let margin = 6 + rng.int(below: 10), advance = 6 * scale
        var lineTop = margin
        while lineTop + 7 * scale < ph {
            let heading = rng.chance(0.12), color = heading ? accent : ink
            var x = margin + (rng.chance(0.15) ? 4 * advance : 0)
            let lineEnd = width - margin - rng.int(below: max(1, width / 3))
            while true {
                let word = 2 + rng.int(below: 8)
                guard x + word * advance <= lineEnd else { break }
                for _ in 0..<word {
                    let g = glyphs[rng.int(below: glyphs.count)]
                    for gy in 0..<(7 * scale) {
                        for gx in 0..<(5 * scale) where (g >> UInt64((gy / scale) * 5 + gx / scale)) & 1 == 1 {
                            let i = (lineTop + gy) * width + x + gx
                            p.pixels[3 * i] = color.x; p.pixels[3 * i + 1] = color.y; p.pixels[3 * i + 2] = color.z
                        }
                    }
                    x += advance
                }
                x += advance
            }
            lineTop += lineHeight * (rng.chance(0.1) ? 2 : 1)
        }
        page = p
    }

    func render(time: Double, into out: UnsafeMutablePointer<Float>) {
        let offset = min(page.height - height, Int(speed * Float(time)))
        page.pixels.withUnsafeBufferPointer { pp in
            (out).update(from: pp.baseAddress! + offset * width * 3, count: width * height * 3)
        }
    }
}

/// A talking-head-ish figure: head, hair, eyes that blink, a mouth that opens, shoulders.
struct SynthFacesScene: SynthRenderer {
    struct Ellipse { var cx: Float, cy: Float, rx: Float, ry: Float, color: SynthRGB, shade: Float }
    let width: Int, height: Int
    let background: SynthTexture
    let skin: SynthRGB, hair: SynthRGB, shirt: SynthRGB
    let center: SIMD2<Float>, size: Float, swayFreq: Float, talkFreq: Float, blinkPhase: Float, drift: SIMD2<Float>

    init(width: Int, height: Int, rng: inout SynthRNG) {
        self.width = width; self.height = height
        let n = SynthTexture.noise(width: width + 64, height: height + 64, cell: rng.uniform(30, 70), octaves: 3, rng: &rng)
        let wall = rng.color(60, 200), shadow = wall * 0.5
        var b = SynthTexture(width: n.width, height: n.height, channels: 3)
        for i in 0..<(n.width * n.height) {
            let c = synthMix(shadow, wall, n.pixels[i])
            b.pixels[3 * i] = c.x; b.pixels[3 * i + 1] = c.y; b.pixels[3 * i + 2] = c.z
        }
        background = b
        let tone = Float(rng.uniform(0.35, 1))
        skin = synthMix(SynthRGB(90, 60, 45), SynthRGB(240, 200, 170), tone)
        hair = rng.color(10, 120); shirt = rng.color(20, 230)
        size = Float(min(width, height)) * Float(rng.uniform(0.8, 1.1))
        center = SIMD2(Float(width) * Float(rng.uniform(0.35, 0.65)), Float(height) * Float(rng.uniform(0.38, 0.5)))
        swayFreq = Float(rng.uniform(0.2, 0.6)); talkFreq = Float(rng.uniform(2.5, 4.5))
        blinkPhase = Float(rng.uniform(0, 3))
        drift = SIMD2(Float(rng.uniform(-6, 6)), Float(rng.uniform(-4, 4)))
    }

    func render(time: Double, into out: UnsafeMutablePointer<Float>) {
        let t = Float(time), s = size
        let cx = center.x + 0.05 * s * sin(2 * .pi * swayFreq * t), cy = center.y + 0.02 * s * sin(2 * .pi * 0.8 * swayFreq * t + 1)
        let blinking = (t + blinkPhase).truncatingRemainder(dividingBy: 3.1) < 0.15
        let mouthOpen = 0.008 * s + 0.035 * s * abs(sin(2 * .pi * talkFreq * t) * sin(2 * .pi * 0.7 * t + 0.5))
        let parts = [
            Ellipse(cx: cx, cy: Float(height) + 0.12 * s, rx: 0.55 * s, ry: 0.42 * s, color: shirt, shade: 0.2),
            Ellipse(cx: cx, cy: cy + 0.2 * s, rx: 0.09 * s, ry: 0.15 * s, color: skin * 0.85, shade: 0.1),
            Ellipse(cx: cx, cy: cy - 0.06 * s, rx: 0.24 * s, ry: 0.27 * s, color: hair, shade: 0.2),
            Ellipse(cx: cx, cy: cy, rx: 0.21 * s, ry: 0.27 * s, color: skin, shade: 0.3),
            Ellipse(cx: cx - 0.08 * s, cy: cy - 0.04 * s, rx: 0.03 * s, ry: blinking ? 0.004 * s : 0.02 * s, color: SynthRGB(30, 25, 25), shade: 0),
            Ellipse(cx: cx + 0.08 * s, cy: cy - 0.04 * s, rx: 0.03 * s, ry: blinking ? 0.004 * s : 0.02 * s, color: SynthRGB(30, 25, 25), shade: 0),
            Ellipse(cx: cx, cy: cy + 0.13 * s, rx: 0.06 * s, ry: mouthOpen, color: SynthRGB(110, 30, 35), shade: 0),
        ]
        let off = drift * t
        background.pixels.withUnsafeBufferPointer { bp in
            for y in 0..<height {
                background.row(x: 32 + off.x, y: Float(y) + 32 + off.y, count: width, bp.baseAddress!, into: out + y * width * 3)
            }
        }
        for e in parts {
            let xs = max(0, Int(e.cx - e.rx - 1)), xe = min(width - 1, Int(e.cx + e.rx + 1))
            let ys = max(0, Int(e.cy - e.ry - 1)), ye = min(height - 1, Int(e.cy + e.ry + 1))
            guard xs <= xe, ys <= ye else { continue }
            let rmin = min(e.rx, e.ry)
            for y in ys...ye {
                for x in xs...xe {
                    let dx = (Float(x) - e.cx) / e.rx, dy = (Float(y) - e.cy) / e.ry
                    let r2 = dx * dx + dy * dy
                    let cover = synthClamp01(0.5 - (r2.squareRoot() - 1) * rmin)
                    guard cover > 0 else { continue }
                    let c = e.color * (1 - e.shade * r2 + e.shade * 0.3 * -dx)
                    let i = (y * width + x) * 3
                    out[i] += (c.x - out[i]) * cover
                    out[i + 1] += (c.y - out[i + 1]) * cover
                    out[i + 2] += (c.z - out[i + 2]) * cover
                }
            }
        }
    }
}

/// Interfering plane and circular water waves with caustic highlights.
struct SynthRipplesScene: SynthRenderer {
    let width: Int, height: Int
    let waves: [SIMD4<Float>]   // kx, ky, omega, phase
    let drop: SIMD4<Float>      // cx, cy, k, omega
    let deep: SynthRGB, shallow: SynthRGB

    init(width: Int, height: Int, rng: inout SynthRNG) {
        self.width = width; self.height = height
        waves = (0..<4).map { _ in
            let a = rng.uniform(0, 2 * .pi), k = rng.uniform(0.03, 0.15)
            return SIMD4(Float(k * cos(a)), Float(k * sin(a)), Float(rng.uniform(1, 4)), Float(rng.uniform(0, 2 * .pi)))
        }
        drop = SIMD4(Float(rng.uniform(0, Double(width))), Float(rng.uniform(0, Double(height))),
                     Float(rng.uniform(0.08, 0.2)), Float(rng.uniform(3, 6)))
        deep = SynthRGB(10, Float(rng.uniform(40, 80)), Float(rng.uniform(70, 120)))
        shallow = SynthRGB(Float(rng.uniform(50, 110)), Float(rng.uniform(150, 200)), Float(rng.uniform(170, 210)))
    }

    func render(time: Double, into out: UnsafeMutablePointer<Float>) {
        let t = Float(time)
        for y in 0..<height {
            let fy = Float(y)
            for x in 0..<width {
                let fx = Float(x)
                var h: Float = 0
                for w in waves { h += sin(w.x * fx + w.y * fy - w.z * t + w.w) }
                let dx = fx - drop.x, dy = fy - drop.y, r = (dx * dx + dy * dy).squareRoot()
                h += 1.5 * sin(drop.z * r - drop.w * t) / (1 + r / 60)
                let v = synthClamp01(h / 10 + 0.5)
                let v2 = v * v, caustic = v2 * v2 * v2 * 160
                let c = synthMix(deep, shallow, v) + SynthRGB(caustic, caustic, caustic)
                let i = (y * width + x) * 3
                out[i] = c.x; out[i + 1] = c.y; out[i + 2] = c.z
            }
        }
    }
}
