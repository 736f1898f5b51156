// Sampling variants beyond FAST-VQA-B: uniform frames, SAMA multi-scale fragments, resize view.
//
// Shape legend: a clip is T frames of h×w RGB in, Float [3, T, H, W] out (see ClipLayout).
//
// SAMA (VQA-Generalization sama/fastvqa/datasets/fusion_datasets.py, get_spatial_sama_fragments):
// ratio = min(h/H, w/W). If ratio < 1 the frame is first upsampled to round(h/ratio)×round(w/ratio)
// and every scale is 1; otherwise the scales are linspace(1, 1/ratio, samaScales), so the frames go
// from native resolution down to the size whose short side fits the output. Each group of
// T/samaScales consecutive frames (2 for 32 frames and 16 scales) uses the next scale, cycling.
// The frame at scale s is round(h·s)×round(w·s); the FAST-VQA grid is laid on it and each cell's
// offset is ⌊u·(cell − fsize)⌋ with u uniform in [0, 1) per cell and per aligned block in training,
// u = 0.5 at test.

extension FragmentSampler {
    /// `count` frames spread evenly: the centre (test) or a random point (training) of each of
    /// `count` equal segments of the video, clamped to the last frame.
    static func uniformIndices(frameCount n: Int, count: Int, train: Bool, rng: inout MediaRNG) -> [Int] {
        let segment = Double(n) / Double(count)
        return (0..<count).map { k in
            let u = train ? rng.nextDouble() : 0.5
            return min(n - 1, Int((Double(k) + u) * segment))
        }
    }

    /// linspace(a, b, count) as numpy computes it (count = 1 gives [a]).
    static func linspace(_ a: Double, _ b: Double, _ count: Int) -> [Double] {
        guard count > 1 else { return [a] }
        let step = (b - a) / Double(count - 1)
        return (0..<count).map { $0 == count - 1 ? b : a + Double($0) * step }
    }

    /// SAMA multi-scale fragments of one clip (see the file comment).
    func writeSama(_ clip: [RGBFrame], to target: ClipTarget, train: Bool, rng: inout MediaRNG) {
        let fh = config.fragmentsH, fw = config.fragmentsW, ph = config.fsizeH, pw = config.fsizeW
        let h = clip[0].height, w = clip[0].width
        let ratio = min(Double(h) / Double(fh * ph), Double(w) / Double(fw * pw))
        var baseH = h, baseW = w
        var scales: [Double]
        if ratio < 1 {
            baseH = Int((Double(h) / ratio).rounded(.toNearestOrEven))
            baseW = Int((Double(w) / ratio).rounded(.toNearestOrEven))
            scales = Array(repeating: 1, count: config.samaScales)
        } else {
            scales = FragmentSampler.linspace(1, 1 / ratio, config.samaScales)
        }
        let block = alignedBlock(frames: clip.count)
        let blocks = clip.count / block
        var fractions: [(Double, Double)] = []
        fractions.reserveCapacity(blocks * fh * fw)
        for _ in 0..<(blocks * fh * fw) {
            fractions.append(train ? (rng.nextDouble(), rng.nextDouble()) : (0.5, 0.5))
        }
        let framesPerScale = max(1, clip.count / config.samaScales)
        let rect = PixelRect(x: 0, y: 0, width: w, height: h)
        for (t, frame) in clip.enumerated() {
            let s = scales[(t / framesPerScale) % scales.count]
            let vh = max(ph * fh, Int((Double(baseH) * s).rounded(.toNearestOrEven)))
            let vw = max(pw * fw, Int((Double(baseW) * s).rounded(.toNearestOrEven)))
            let cellH = vh / fh, cellW = vw / fw
            let o = (t / block) * fh * fw
            for i in 0..<fh {
                let gy = min(cellH * i, vh - ph)
                for j in 0..<fw {
                    let gx = min(cellW * j, vw - pw)
                    let (uh, uw) = fractions[o + i * fw + j]
                    let dy = Int(uh * Double(max(0, cellH - ph)))
                    let dx = Int(uw * Double(max(0, cellW - pw)))
                    resampler.write(frame, rect: rect, virtualWidth: vw, virtualHeight: vh,
                                    windowX: min(gx + dx, vw - pw), windowY: min(gy + dy, vh - ph),
                                    width: pw, height: ph, to: target, t: t, x: j * pw, y: i * ph)
                }
            }
        }
    }

    /// Resize view of one clip: the whole frame (or, with keepAspectRatio, the largest region of
    /// the output aspect ratio, centred at test and at one random position per clip in training)
    /// bilinearly resized to resizeH×resizeW.
    func writeResize(_ clip: [RGBFrame], to target: ClipTarget, train: Bool, rng: inout MediaRNG) {
        let h = clip[0].height, w = clip[0].width
        let oh = config.resizeH, ow = config.resizeW
        var rect = PixelRect(x: 0, y: 0, width: w, height: h)
        if config.keepAspectRatio {
            // Largest rw×rh with rw/rh = ow/oh inside w×h.
            if w * oh > h * ow {
                rect.width = max(1, min(w, (h * ow) / oh))
            } else {
                rect.height = max(1, min(h, (w * oh) / ow))
            }
            let spareX = w - rect.width, spareY = h - rect.height
            rect.x = train ? rng.nextInt(below: spareX + 1) : spareX / 2
            rect.y = train ? rng.nextInt(below: spareY + 1) : spareY / 2
        }
        for (t, frame) in clip.enumerated() {
            resampler.write(frame, rect: rect, virtualWidth: ow, virtualHeight: oh, windowX: 0, windowY: 0,
                            width: ow, height: oh, to: target, t: t, x: 0, y: 0)
        }
    }
}
