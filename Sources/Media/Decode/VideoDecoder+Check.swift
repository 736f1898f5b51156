// The one rule for whether a file is readable, shared by `vqa-mpi check-dataset` and the loader
// that train/eval/score use, so that what one accepts the other accepts too.
//
// Both open the file with VideoDecoder and decode frames chosen from the header's frame count
// (check-dataset: the first and the last; the loader: the sampled ones) with the same `decode`.
// A stream that ends early is judged once, in VideoDecoder.missingFrame, by FrameCountRule: a
// frame or two short of the header (edit lists, a B-frame delay, a rounded duration) corrects the
// count and `withFrameCountCorrection` repeats the read with it; more than that is a truncated
// file and is unreadable for both. An mp4/mov whose index (moov, at the front with faststart)
// points past the end of the file is refused when it is opened (`truncationProblem`), before any
// frame is chosen: otherwise the loader would accept or skip it depending on which frames an epoch
// happens to sample.

import CFFmpeg
import CFFmpegShim

/// When a stream that ends cleanly before its announced frame count is still a whole video.
enum FrameCountRule {
    /// True when `produced` frames (at least one) fall short of `announced` by at most
    /// max(2, 2 % of announced): a header off by a frame or two, not a truncated file.
    static func tolerates(produced: Int, announced: Int) -> Bool {
        produced > 0 && produced < announced && announced - produced <= max(2, announced / 50)
    }
}

/// Runs `body`, a read of frames chosen from `reader.info.frameCount`; if that read failed
/// because the stream ended a tolerated frame or two early (the reader then corrected its count,
/// see FrameCountRule), runs it once more with the corrected count. Other errors are rethrown.
func withFrameCountCorrection<T>(_ reader: FrameReader, _ body: () throws -> T) throws -> T {
    let announced = reader.info.frameCount
    do {
        return try body()
    } catch {
        guard reader.info.frameCount < announced else { throw error }
        return try body()
    }
}

/// Opens `path` as the loader does and decodes its first and last frame; returns the file's
/// facts (frame count corrected when tolerated) or throws a MediaError naming the file.
public func checkReadable(path: String, maxPixels: Int = 4096 * 4096) throws -> VideoInfo {
    let decoder = try VideoDecoder(path: path, threads: 1, maxPixels: maxPixels)
    try withFrameCountCorrection(decoder) {
        try decoder.decode(indices: [0, decoder.info.frameCount - 1]) { _, _ in }
    }
    return decoder.info
}

/// Why an mp4/mov file is truncated, or nil: its sample index (the moov box, which faststart puts
/// before the data) lists samples that end past the end of the file.
func truncationProblem(_ input: FormatInput, _ index: Int32) -> String? {
    guard input.formatName.hasPrefix("mov,"), let pb = input.ctx.pointee.pb else { return nil }
    let fileSize = avio_size(pb)
    let st = input.stream(index)
    let n = avformat_index_get_entries_count(st)
    guard fileSize > 0, n > 0 else { return nil }
    var end: Int64 = 0, beyond = 0
    for i in 0..<n {
        guard let e = avformat_index_get_entry(st, i) else { continue }
        let last = e.pointee.pos + Int64(e.pointee.size)
        end = max(end, last)
        if last > fileSize { beyond += 1 }
    }
    guard end > fileSize else { return nil }
    return "file truncated: its index lists \(n) frames ending at byte \(end), but the file has only \(fileSize) bytes "
        + "(\(beyond) frames missing); copy or download it again"
}
