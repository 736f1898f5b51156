// Zero-copy sampling: a FrameVisiting source lends each needed frame once, in ascending index
// order, as a borrowed RGBView; the sampler writes every fragment that frame feeds straight into
// the output, so no frame is copied into an array.
//
// Shape legend: output Float [clips, 3, T, H, W] (see ClipLayout); a frame is h×w×3 packed RGB24.
//
// Used for FAST-VQA fragments when no augmentation runs (test, or training without ops). The
// random draws are made in the same order as the array path (all offsets of clip 0, then clip 1,
// ...; the spatial stream is consumed by nothing else), so both paths write identical floats; the
// tests compare them.

/// A frame source that can lend frames without copying them.
protocol FrameVisiting: FrameReader {
    /// Calls `body(index, frame)` once per distinct index of `indices`, in ascending order, with a
    /// view valid only during the call. Throws a MediaError naming the file on failure.
    func decode(indices: [Int], _ body: (Int, RGBView) throws -> Void) throws
}

extension VideoDecoder: FrameVisiting {}

extension FragmentSampler {
    /// True when `sample` can stream frames from `reader` instead of copying them.
    func canStream(_ reader: FrameReader, train: Bool) -> Bool {
        reader is FrameVisiting && config.spatial == .fragments && !(train && !config.augment.ops.isEmpty)
    }

    /// Writes one fragments sample from a lending source (see the file comment). `indices` are the
    /// clip-major frame indices, already range-checked.
    func sampleStreaming(_ reader: FrameVisiting, indices: [Int], path: String, sampleIndex: Int, epoch: Int,
                         seed: UInt64, train: Bool, into: UnsafeMutablePointer<Float>) throws {
        let shape = config.shape(train: train)
        guard indices.count == shape.clips * shape.frames else {
            throw MediaError(path, "expected \(shape.clips * shape.frames) frames, got \(indices.count)")
        }
        // Output slots sorted by source index, walked alongside the ascending visits.
        slots.removeAll(keepingCapacity: true)
        for (k, i) in indices.enumerated() { slots.append((i, k)) }
        slots.sort { $0.0 != $1.0 ? $0.0 < $1.0 : $0.1 < $1.1 }
        var spRNG = MediaRNG(seed: seed, epoch: epoch, index: sampleIndex, purpose: .spatial)
        var size: (w: Int, h: Int)? = nil
        var grid = FragmentGrid(vh: 0, vw: 0, block: 1)
        var cursor = 0
        try reader.decode(indices: indices) { index, view in
            if let s = size {
                if s.w != view.width || s.h != view.height {
                    throw MediaError(path, "frame size changes inside the video (\(s.w)×\(s.h) then \(view.width)×\(view.height)); re-encode it at one size")
                }
            } else {
                guard view.width >= 1, view.height >= 1 else { throw MediaError(path, "empty frame") }
                size = (view.width, view.height)
                grid = drawFragmentOffsets(width: view.width, height: view.height, frames: shape.frames,
                                           clips: shape.clips, rng: &spRNG)
            }
            while cursor < slots.count && slots[cursor].0 < index { cursor += 1 }
            while cursor < slots.count && slots[cursor].0 == index {
                let k = slots[cursor].1
                let c = k / shape.frames, t = k % shape.frames
                let target = ClipTarget(base: into + c * shape.floatsPerClip, frames: shape.frames,
                                        height: shape.height, width: shape.width)
                writeFragmentFrame(view.pixels, width: view.width, height: view.height, grid: grid,
                                   offsetBase: c * (shape.frames / grid.block) * config.fragmentsH * config.fragmentsW,
                                   t: t, to: target)
                cursor += 1
            }
        }
        guard size != nil, cursor == slots.count else {
            throw MediaError(path, "the reader lent \(cursor) of \(slots.count) requested frames")
        }
    }

    /// Draws the fragment offsets of `clips` clips of `frames` frames into offsetsH/offsetsW, in the
    /// order writeFragments draws them, and returns the grid geometry.
    func drawFragmentOffsets(width w: Int, height h: Int, frames: Int, clips: Int, rng: inout MediaRNG) -> FragmentGrid {
        let fh = config.fragmentsH, fw = config.fragmentsW, ph = config.fsizeH, pw = config.fsizeW
        let (vh, vw) = FragmentSampler.upsampledSize(height: h, width: w, minHeight: fh * ph, minWidth: fw * pw)
        let cellH = vh / fh, cellW = vw / fw
        let block = alignedBlock(frames: frames)
        offsetsH.removeAll(keepingCapacity: true); offsetsW.removeAll(keepingCapacity: true)
        for _ in 0..<(clips * (frames / block) * fh * fw) {
            offsetsH.append(cellH > ph ? rng.nextInt(below: cellH - ph) : 0)
            offsetsW.append(cellW > pw ? rng.nextInt(below: cellW - pw) : 0)
        }
        return FragmentGrid(vh: vh, vw: vw, block: block)
    }

    /// Writes the fragments of frame t of one clip from packed pixels; the clip's offsets start at
    /// `offsetBase` in offsetsH/offsetsW.
    func writeFragmentFrame(_ px: UnsafeBufferPointer<UInt8>, width w: Int, height h: Int, grid: FragmentGrid,
                            offsetBase: Int, t: Int, to target: ClipTarget) {
        let fh = config.fragmentsH, fw = config.fragmentsW, ph = config.fsizeH, pw = config.fsizeW
        let cellH = grid.vh / fh, cellW = grid.vw / fw
        let rect = PixelRect(x: 0, y: 0, width: w, height: h)
        let o = offsetBase + (t / grid.block) * fh * fw
        for i in 0..<fh {
            let gy = min(cellH * i, grid.vh - ph)
            for j in 0..<fw {
                let gx = min(cellW * j, grid.vw - pw)
                resampler.write(px, frameWidth: w, rect: rect, virtualWidth: grid.vw, virtualHeight: grid.vh,
                                windowX: gx + offsetsW[o + i * fw + j], windowY: gy + offsetsH[o + i * fw + j],
                                width: pw, height: ph, to: target, t: t, x: j * pw, y: i * ph)
            }
        }
    }
}

/// Geometry of a fragment grid on one video: the (maybe upsampled) virtual size and the number of
/// frames sharing one set of offsets.
struct FragmentGrid {
    var vh: Int, vw: Int, block: Int
}
