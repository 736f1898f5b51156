// Controlled distortions, each driven by a level in [0, 1] (0 = absent), applied in the order a
// phone-to-platform chain would: capture (exposure fault → optical blur → sensor noise) on float
// frames, then processing (down-up rescale → bit-depth banding) on 8-bit frames, then stutter
// (repeated frames) and finally lossy compression in the encoder (Synth+Encoder.swift).
//
// Layout: float frames are H×W×3 Float (0…255), byte frames H×W×3 UInt8, both row-major RGB.
//
// Level → parameter maps (all monotone):
//   exposure e: under (sign −1) v' = 255·(v/255)^(1+1.2e)·(1−0.45e); over (+1) v' = v·(1+1.2e)+60e, clipped
//   blur b:     Gaussian, σ = 2.5·b pixels (radius ⌈3σ⌉, edges clamped)
//   noise n:    per frame, luma-correlated σ = 22·n plus per-channel σ = 8·n (0–255 units)
//   scaling s:  area down-scale by f = 1 − 0.7·s (sizes rounded to even, ≥ 16), bilinear back up
//   banding k:  quantiser step 2^(5k) per channel (k = 1 keeps 8 levels), mid-tread reconstruction
//   stutter u:  each frame repeats the previous one with probability 0.85·u (dropped capture)
//   compression c: see SynthCodec.quantiser (H.264 CRF 18…51, MPEG-4/JPEG qscale 2…31)

import Foundation
import CFFmpeg
import Media

/// One video's distortion chain, with its reusable buffers.
final class SynthDistorter {
    let video: SynthVideo
    private let width: Int, height: Int
    private let kernel: [Float]
    private var scratch: [Float]
    private let rescaler: SynthRescaler?
    private let bandLUT: [UInt8]?

    init(video: SynthVideo) throws {
        self.video = video
        width = video.width; height = video.height
        let sigma = 2.5 * video.levels[.blur]
        kernel = sigma >= 0.05 ? Self.gaussianKernel(sigma: sigma) : []
        scratch = kernel.isEmpty ? [] : Array(repeating: 0, count: width * height * 3)
        let s = video.levels[.scaling]
        if s > 0 {
            let f = 1 - 0.7 * s
            let sw = max(16, Int((Double(width) * f / 2).rounded()) * 2), sh = max(16, Int((Double(height) * f / 2).rounded()) * 2)
            rescaler = try SynthRescaler(width: width, height: height, smallWidth: sw, smallHeight: sh, file: video.file)
        } else {
            rescaler = nil
        }
        let step = pow(2, 5 * video.levels[.banding])
        bandLUT = step >= 1.5 ? (0..<256).map { v in
            UInt8(min(255, (Double(v) / step).rounded(.down) * step + step / 2)) } : nil
    }

    /// Normalised Gaussian taps for σ (radius ⌈3σ⌉).
    static func gaussianKernel(sigma: Double) -> [Float] {
        let r = Int((3 * sigma).rounded(.up))
        let taps = (-r...r).map { exp(-Double($0 * $0) / (2 * sigma * sigma)) }
        let sum = taps.reduce(0, +)
        return taps.map { Float($0 / sum) }
    }

    /// Source frame shown at each output frame: a repeat keeps the previous frame (stutter).
    static func stutterSources(frames: Int, level: Double, seed: UInt64, index: Int) -> [Int] {
        var rng = SynthRNG(seed: seed, UInt64(index), SynthPurpose.stutter.rawValue)
        var sources = [Int](repeating: 0, count: frames)
        for i in 1..<max(1, frames) { sources[i] = rng.chance(0.85 * level) ? sources[i - 1] : i }
        return sources
    }

    /// Exposure fault, blur and sensor noise on a float frame, in place; `frame` keys the noise.
    func capture(_ f: UnsafeMutablePointer<Float>, frame: Int) {
        let n = width * height * 3
        let e = Float(video.levels[.exposure])
        if e > 0 {
            if video.exposureSign < 0 {
                let gamma = 1 + 1.2 * e, gain = 255 * (1 - 0.45 * e)
                for i in 0..<n { f[i] = gain * pow(max(0, f[i]) / 255, gamma) }
            } else {
                let gain = 1 + 1.2 * e, lift = 60 * e
                for i in 0..<n { f[i] = f[i] * gain + lift }
            }
        }
        if !kernel.isEmpty { blur(f) }
        let level = Float(video.levels[.noise])
        if level > 0 {
            var rng = SynthRNG(seed: video.seed, UInt64(video.index), SynthPurpose.noise.rawValue, UInt64(frame))
            let luma = 22 * level, chroma = 8 * level
            for p in 0..<(width * height) {
                let common = luma * rng.fastGaussian(), i = 3 * p
                f[i] += common + chroma * rng.fastGaussian()
                f[i + 1] += common + chroma * rng.fastGaussian()
                f[i + 2] += common + chroma * rng.fastGaussian()
            }
        }
    }

    /// Separable Gaussian blur with clamped edges: horizontal pass over an edge-padded row into
    /// scratch, vertical pass back into the frame (both as tap-outer loops that vectorise).
    private func blur(_ f: UnsafeMutablePointer<Float>) {
        let r = kernel.count / 2, w = width, h = height, stride = w * 3
        kernel.withUnsafeBufferPointer { k in
            scratch.withUnsafeMutableBufferPointer { sp in
                withUnsafeTemporaryAllocation(of: Float.self, capacity: (w + 2 * r) * 3) { padded in
                    let pad = padded.baseAddress!, s = sp.baseAddress!
                    for y in 0..<h {
                        let row = f + y * stride
                        for x in 0..<(w + 2 * r) {
                            let src = min(w - 1, max(0, x - r)) * 3
                            pad[3 * x] = row[src]; pad[3 * x + 1] = row[src + 1]; pad[3 * x + 2] = row[src + 2]
                        }
                        let o = s + y * stride
                        o.update(repeating: 0, count: stride)
                        for j in 0..<kernel.count {
                            let kj = k[j], src = pad + 3 * j
                            for i in 0..<stride { o[i] += kj * src[i] }
                        }
                    }
                    for y in 0..<h {
                        let o = f + y * stride
                        o.update(repeating: 0, count: stride)
                        for j in 0..<kernel.count {
                            let kj = k[j], src = s + min(h - 1, max(0, y + j - r)) * stride
                            for i in 0..<stride { o[i] += kj * src[i] }
                        }
                    }
                }
            }
        }
    }

    /// Rounds and clips a float frame to bytes, then applies down-up scaling and banding.
    func process(_ f: UnsafePointer<Float>, into out: UnsafeMutablePointer<UInt8>) throws {
        for i in 0..<(width * height * 3) { out[i] = UInt8(truncatingIfNeeded: Int32(min(255, max(0, f[i] + 0.5)))) }
        try rescaler?.downUp(out)
        if let lut = bandLUT {
            lut.withUnsafeBufferPointer { l in
                for i in 0..<(width * height * 3) { out[i] = l[Int(out[i])] }
            }
        }
    }
}

/// Down-up rescaling of RGB24 frames through swscale (area down, bilinear up); owns both contexts.
final class SynthRescaler {
    private let down: OpaquePointer, up: OpaquePointer
    private let width: Int, height: Int, smallWidth: Int, smallHeight: Int
    private let file: String
    private var small: [UInt8]

    init(width: Int, height: Int, smallWidth: Int, smallHeight: Int, file: String) throws {
        guard let d = sws_getContext(Int32(width), Int32(height), AV_PIX_FMT_RGB24, Int32(smallWidth), Int32(smallHeight),
                                     AV_PIX_FMT_RGB24, SWS_AREA | SWS_ACCURATE_RND, nil, nil, nil) else {
            throw MediaError(file, "swscale cannot scale RGB24 \(width)×\(height) to \(smallWidth)×\(smallHeight)")
        }
        guard let u = sws_getContext(Int32(smallWidth), Int32(smallHeight), AV_PIX_FMT_RGB24, Int32(width), Int32(height),
                                     AV_PIX_FMT_RGB24, SWS_BILINEAR | SWS_ACCURATE_RND, nil, nil, nil) else {
            sws_freeContext(d)
            throw MediaError(file, "swscale cannot scale RGB24 \(smallWidth)×\(smallHeight) to \(width)×\(height)")
        }
        down = d; up = u; self.file = file
        self.width = width; self.height = height; self.smallWidth = smallWidth; self.smallHeight = smallHeight
        small = Array(repeating: 0, count: smallWidth * smallHeight * 3 + synthSwscalePadding)
    }

    deinit {
        sws_freeContext(down)
        sws_freeContext(up)
    }

    /// Scales the frame down and back up, in place; `frame` is H×W×3 bytes followed by
    /// `synthSwscalePadding` readable bytes (swscale reads past the last pixel).
    func downUp(_ frame: UnsafeMutablePointer<UInt8>) throws {
        let full = [Int32(width * 3), 0, 0, 0], part = [Int32(smallWidth * 3), 0, 0, 0]
        let rows = small.withUnsafeMutableBufferPointer { sp in
            let s = sp.baseAddress!
            var src: [UnsafePointer<UInt8>?] = [UnsafePointer(frame), nil, nil, nil]
            var dst: [UnsafeMutablePointer<UInt8>?] = [s, nil, nil, nil]
            let down = sws_scale(down, &src, full, 0, Int32(height), &dst, part)
            src = [UnsafePointer(s), nil, nil, nil]
            dst = [frame, nil, nil, nil]
            return (down, sws_scale(up, &src, part, 0, Int32(smallHeight), &dst, full))
        }
        guard rows == (Int32(smallHeight), Int32(height)) else {
            throw MediaError(file, "swscale rescaled \(rows.0)/\(smallHeight) and \(rows.1)/\(height) rows")
        }
    }
}
