// Header-level facts about a video or image file, and the stream selection shared with VideoDecoder.

import CFFmpeg
import CFFmpegShim

/// Reads a file's header and returns its facts without decoding frames (fast).
/// The frame count is the container's when it stores one (mp4/mov/avi), otherwise an estimate
/// duration·fps (mkv/webm); `VideoDecoder` counts exactly. Throws a MediaError naming the file.
/// Streams whose header size exceeds `maxPixels` (width·height) are refused. Width and height are
/// as displayed: swapped when a display matrix rotates the picture by 90 or 270 degrees.
public func probe(path: String, maxPixels: Int = 4096 * 4096) throws -> VideoInfo {
    let input = try FormatInput(path: path)
    try input.findStreamInfo(maxPixels: maxPixels)
    let (index, _) = try selectVideoStream(input, maxPixels: maxPixels)
    return headerInfo(input, index)
}

/// The best video stream (av_find_best_stream) and its decoder; audio and other streams are ignored.
func selectVideoStream(_ input: FormatInput, maxPixels: Int) throws -> (Int32, UnsafePointer<AVCodec>) {
    let path = input.path
    var decoder: UnsafePointer<AVCodec>? = nil
    let index = av_find_best_stream(input.ctx, AVMEDIA_TYPE_VIDEO, -1, -1, &decoder, 0)
    if index == FFCode.streamNotFound {
        throw MediaError(path, "no video stream (the file contains: \(input.streamSummary))")
    }
    if index == FFCode.decoderNotFound {
        throw MediaError(path, "unsupported codec: the linked FFmpeg has no decoder for the video stream "
                         + "(\(input.streamSummary)); re-encode it, e.g. ffmpeg -i IN -c:v libx264 OUT.mp4")
    }
    try ffCheck(index, path, "selecting the video stream")
    guard let decoder else { throw MediaError(path, "no decoder for the video stream (\(input.streamSummary))") }
    let par = input.stream(index).pointee.codecpar.pointee
    if par.width <= 0 || par.height <= 0 {
        throw MediaError(path, "video stream has no usable frame size (\(par.width)x\(par.height)): the header is "
                         + "damaged, or its frames exceed the limit of \(maxPixels) pixels")
    }
    let pixels = Int(par.width) * Int(par.height)
    if pixels > maxPixels {
        throw MediaError(path, "frame size \(par.width)x\(par.height) (\(pixels) pixels) exceeds the limit of "
                         + "\(maxPixels) pixels; raise maxPixels or downscale the file")
    }
    return (index, decoder)
}

/// True for single-image demuxers (image2 on one file, png_pipe, jpeg_pipe, webp_pipe, bmp_pipe...).
func isStillImage(_ input: FormatInput) -> Bool {
    let name = input.formatName
    return name == "image2" || name.hasSuffix("_pipe")
}

/// VideoInfo from the header: frame count from nb_frames, else round(duration·fps); width and
/// height as displayed (swapped for a 90/270-degree display rotation).
func headerInfo(_ input: FormatInput, _ index: Int32) -> VideoInfo {
    var info = storedInfo(input, index)
    if DisplayRotation.of(input.stream(index)).swapsSides { swap(&info.width, &info.height) }
    return info
}

/// VideoInfo from the header with the stored (coded) width and height.
private func storedInfo(_ input: FormatInput, _ index: Int32) -> VideoInfo {
    let st = input.stream(index).pointee
    let par = st.codecpar.pointee
    let codec = String(cString: avcodec_get_name(par.codec_id))
    if isStillImage(input) {
        return VideoInfo(path: input.path, frameCount: 1, fps: 0, duration: 0,
                         width: Int(par.width), height: Int(par.height), codec: codec)
    }
    func rate(_ r: AVRational) -> Double { r.num > 0 && r.den > 0 ? Double(r.num) / Double(r.den) : 0 }
    var fps = rate(st.avg_frame_rate)
    if fps == 0 { fps = rate(st.r_frame_rate) }
    var duration = 0.0
    if st.duration != FFCode.noPTS && st.duration > 0 {
        duration = Double(st.duration) * rate(st.time_base)
    } else if input.ctx.pointee.duration != FFCode.noPTS && input.ctx.pointee.duration > 0 {
        duration = Double(input.ctx.pointee.duration) / Double(AV_TIME_BASE)
    }
    var count = Int(st.nb_frames)
    if count <= 0 { count = Int((duration * fps).rounded()) }
    if duration == 0 && fps > 0 { duration = Double(count) / fps }
    return VideoInfo(path: input.path, frameCount: max(count, 1), fps: fps, duration: duration,
                     width: Int(par.width), height: Int(par.height), codec: codec)
}
