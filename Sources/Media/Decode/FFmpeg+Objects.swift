// One owning class per FFmpeg object (format context, codec context, frame, packet, scaler);
// each frees its object in `deinit`, so no error path can leak or double-free.

import CFFmpeg
import CFFmpegShim
#if canImport(Glibc)
import Glibc
#endif

/// FFmpeg logs to stderr by default; we report problems ourselves, once, as MediaErrors.
/// Set VQA_FFMPEG_LOG=1 to see FFmpeg's own error messages while debugging a file.
enum FFmpegLogging {
    static let configured: Void = {
        let verbose = getenv("VQA_FFMPEG_LOG").map { String(cString: $0) != "0" } ?? false
        ffshim_set_log_level(verbose ? AV_LOG_ERROR : AV_LOG_QUIET)
    }()
}

/// Refuses a path that is missing, a directory or empty, before FFmpeg sees it.
func checkReadableFile(_ path: String) throws {
    var st = stat()
    if stat(path, &st) != 0 {
        let e = errno
        throw MediaError(path, pathCause(path, errno: e))
    }
    if (st.st_mode & S_IFMT) == S_IFDIR { throw MediaError(path, "is a directory, not a video or image file") }
    if st.st_size == 0 { throw MediaError(path, "file is empty (0 bytes)") }
}

/// An opened demuxer (AVFormatContext), closed in deinit.
final class FormatInput {
    let ctx: UnsafeMutablePointer<AVFormatContext>
    let path: String

    /// Opens the container; the caller then calls `findStreamInfo()`.
    init(path: String) throws {
        _ = FFmpegLogging.configured
        try checkReadableFile(path)
        var p: UnsafeMutablePointer<AVFormatContext>? = nil
        try ffCheck(avformat_open_input(&p, path, nil, nil), path, "opening")
        guard let p else { throw MediaError(path, "opening: FFmpeg returned no context") }
        ctx = p
        self.path = path
    }

    deinit {
        var p: UnsafeMutablePointer<AVFormatContext>? = ctx
        avformat_close_input(&p)
    }

    /// Reads stream parameters, decoding a little if the container needs it; the probing
    /// decoders refuse frames above `maxPixels` (AVCodecContext max_pixels), so an absurd
    /// header cannot make this allocate gigabytes.
    func findStreamInfo(maxPixels: Int) throws {
        let n = Int(ctx.pointee.nb_streams)
        var options = [OpaquePointer?](repeating: nil, count: max(n, 1))
        for i in 0..<n { av_dict_set_int(&options[i], "max_pixels", Int64(min(maxPixels, Int(Int32.max))), 0) }
        defer { for i in 0..<n { av_dict_free(&options[i]) } }
        try ffCheck(avformat_find_stream_info(ctx, &options), path, "reading stream information")
    }

    func stream(_ i: Int32) -> UnsafeMutablePointer<AVStream> { ctx.pointee.streams[Int(i)]! }

    /// Demuxer name, e.g. "mov,mp4,m4a,3gp,3g2,mj2", "matroska,webm", "image2", "png_pipe".
    var formatName: String { ctx.pointee.iformat.map { String(cString: $0.pointee.name) } ?? "" }

    /// "audio (aac), subtitle (mov_text)": what the file contains, for error messages.
    var streamSummary: String {
        let n = Int(ctx.pointee.nb_streams)
        if n == 0 { return "no streams" }
        return (0..<n).map { i -> String in
            let par = ctx.pointee.streams[i]!.pointee.codecpar!.pointee
            let type = av_get_media_type_string(par.codec_type).map { String(cString: $0) } ?? "unknown"
            if par.codec_id == AV_CODEC_ID_NONE {
                let tag = (0..<4).map { UInt8(truncatingIfNeeded: par.codec_tag >> (8 * UInt32($0))) }
                let printable = tag.allSatisfy { $0 >= 32 && $0 < 127 }
                return "\(type) (unknown codec\(printable ? ", fourcc " + String(decoding: tag, as: UTF8.self) : ""))"
            }
            return "\(type) (\(String(cString: avcodec_get_name(par.codec_id))))"
        }.joined(separator: ", ")
    }
}

/// An opened decoder (AVCodecContext), freed in deinit.
final class CodecContext {
    let ctx: UnsafeMutablePointer<AVCodecContext>

    /// Allocates and opens a decoder for `stream` with `threads` threads (frame + slice threading),
    /// refusing frames above `maxPixels`.
    init(codec: UnsafePointer<AVCodec>, stream: UnsafeMutablePointer<AVStream>, threads: Int, maxPixels: Int, path: String) throws {
        guard let c = avcodec_alloc_context3(codec) else { throw MediaError(path, "out of memory allocating a decoder") }
        ctx = c
        try ffCheck(avcodec_parameters_to_context(c, stream.pointee.codecpar), path, "configuring the decoder")
        c.pointee.pkt_timebase = stream.pointee.time_base
        c.pointee.thread_count = Int32(max(1, threads))
        c.pointee.thread_type = FF_THREAD_FRAME | FF_THREAD_SLICE
        c.pointee.max_pixels = Int64(min(maxPixels, Int(Int32.max)))
        try ffCheck(avcodec_open2(c, codec, nil), path, "opening the \(String(cString: codec.pointee.name)) decoder")
    }

    deinit {
        var p: UnsafeMutablePointer<AVCodecContext>? = ctx
        avcodec_free_context(&p)
    }
}

/// A reusable AVFrame, freed in deinit.
final class FrameBox {
    let ptr: UnsafeMutablePointer<AVFrame>
    init() { ptr = av_frame_alloc()! }
    deinit { var p: UnsafeMutablePointer<AVFrame>? = ptr; av_frame_free(&p) }
}

/// A reusable AVPacket, freed in deinit.
final class PacketBox {
    let ptr: UnsafeMutablePointer<AVPacket>
    init() { ptr = av_packet_alloc()! }
    deinit { var p: UnsafeMutablePointer<AVPacket>? = ptr; av_packet_free(&p) }
}

/// Converts decoded frames to packed RGB24 at native size, byte-identical to
/// `ffmpeg -i F -pix_fmt rgb24`: the CLI's auto-inserted scale filter uses sws flags "bicubic"
/// (the fftools default sws_flags) and, per frame, sets the input matrix from the frame's
/// colorspace (BT.601 when unspecified or unknown) and the input range from the frame's
/// color_range when specified (vf_scale's in_color_matrix=auto, in_range=auto). The context is
/// rebuilt when size, pixel format, colorspace or range change. Freed in deinit.
final class RGBScaler {
    private var sws: OpaquePointer? = nil
    private var key: [Int32] = []

    deinit { sws_freeContext(sws) }

    /// Writes frame as RGB24 rows of `stride` bytes into `dst` (height·stride bytes).
    func convert(_ frame: UnsafeMutablePointer<AVFrame>, into dst: UnsafeMutablePointer<UInt8>, stride: Int, path: String) throws {
        let f = frame.pointee
        let k: [Int32] = [f.width, f.height, f.format, Int32(f.colorspace.rawValue), Int32(f.color_range.rawValue)]
        if k != key || sws == nil {
            sws_freeContext(sws)
            sws = nil
            key = []
            guard let s = sws_getContext(f.width, f.height, AVPixelFormat(rawValue: f.format), f.width, f.height,
                                         AV_PIX_FMT_RGB24, SWS_BICUBIC, nil, nil, nil) else {
                let name = av_get_pix_fmt_name(AVPixelFormat(rawValue: f.format)).map { String(cString: $0) } ?? "\(f.format)"
                throw MediaError(path, "cannot convert pixel format \(name) (\(f.width)x\(f.height)) to RGB24")
            }
            applyColorDetails(s, f)
            sws = s
            key = k
        }
        var dstPlanes: [UnsafeMutablePointer<UInt8>?] = [dst, nil, nil, nil]
        var dstStrides: [Int32] = [Int32(stride), 0, 0, 0]
        let h = withUnsafePointer(to: frame.pointee.data) { data in
            data.withMemoryRebound(to: UnsafePointer<UInt8>?.self, capacity: 8) { src in
                withUnsafePointer(to: frame.pointee.linesize) { ls in
                    ls.withMemoryRebound(to: Int32.self, capacity: 8) { srcStride in
                        sws_scale(sws, src, srcStride, 0, f.height, &dstPlanes, &dstStrides)
                    }
                }
            }
        }
        if h != f.height { throw MediaError(path, "RGB conversion produced \(h) of \(f.height) rows") }
    }

    /// Mirrors vf_scale (FFmpeg 5.1) with in_color_matrix=auto, out_color_matrix unset, ranges auto.
    private func applyColorDetails(_ s: OpaquePointer, _ f: AVFrame) {
        var invTable: UnsafeMutablePointer<Int32>? = nil, table: UnsafeMutablePointer<Int32>? = nil
        var inFull: Int32 = 0, outFull: Int32 = 0, brightness: Int32 = 0, contrast: Int32 = 0, saturation: Int32 = 0
        if sws_getColorspaceDetails(s, &invTable, &inFull, &table, &outFull, &brightness, &contrast, &saturation) < 0 {
            return // not a YUV<->RGB conversion: nothing to set
        }
        var cs = Int32(f.colorspace.rawValue)
        if cs < 1 || cs > 10 || cs == 8 { cs = Int32(AVCOL_SPC_BT470BG.rawValue) }
        let coefficients = sws_getCoefficients(cs)
        if f.color_range != AVCOL_RANGE_UNSPECIFIED { inFull = f.color_range == AVCOL_RANGE_JPEG ? 1 : 0 }
        _ = sws_setColorspaceDetails(s, coefficients, inFull, coefficients, outFull, brightness, contrast, saturation)
    }
}
