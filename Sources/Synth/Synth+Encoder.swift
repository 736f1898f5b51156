// Encoding synthetic frames with libavcodec + libavformat: H.264 (libx264) in MP4 when the encoder
// is present, else MPEG-4 part 2; one-frame JPEG images through the mjpeg encoder. RGB24 frames are
// converted by swscale (BT.601, limited range for video, full range for JPEG).
//
// Timestamps: encoder time base = fpsDen/fpsNum, frame i has pts i; packets are rescaled to the
// stream time base the MP4 muxer picks. The muxer runs bit-exact (no version strings) and every
// encoder runs on one thread, so equal inputs give equal bytes.

import Foundation
import CFFmpeg
import CFFmpegShim
import Media

/// Turns a negative FFmpeg return code into a MediaError naming the file and the step.
@discardableResult
private func synthCheck(_ code: Int32, _ path: String, _ step: String) throws -> Int32 {
    guard code < 0 else { return code }
    var buf = [CChar](repeating: 0, count: 256)
    ffshim_strerror(code, &buf, buf.count)
    let text = String(decoding: buf.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    throw MediaError(path, "\(step) failed: \(text) (FFmpeg error \(code))")
}

/// Bytes of zeroed slack after every RGB24 buffer that swscale reads. swscale's SIMD input
/// converters load whole vectors and so read past the last pixel of a line (valgrind: 16-byte loads
/// ending 4 bytes after a 64×48×3 buffer with FFmpeg 5.1 on AVX2; wider on other CPUs); FFmpeg's
/// own buffers carry such padding. Without it the last row reads heap bytes another allocation owns
/// (at small frame sizes malloc's free-list pointers, which differ per run with ASLR), and the
/// encoded bytes stopped being a function of the seed.
let synthSwscalePadding = 64

/// The encoders the generator can use.
public enum SynthCodec: String, Sendable, CaseIterable {
    /// H.264 through libx264 (CRF rate control).
    case h264
    /// MPEG-4 part 2, FFmpeg's native encoder (fixed qscale); the fallback without libx264.
    case mpeg4
    /// JPEG images (fixed qscale).
    case mjpeg

    /// libavcodec's name of the encoder.
    public var encoderName: String {
        switch self {
        case .h264: "libx264"
        case .mpeg4: "mpeg4"
        case .mjpeg: "mjpeg"
        }
    }

    /// True when this FFmpeg build has the encoder.
    var isAvailable: Bool { avcodec_find_encoder_by_name(encoderName) != nil }

    /// The best video encoder available: libx264 if present, else mpeg4.
    static var bestVideo: SynthCodec { SynthCodec.h264.isAvailable ? .h264 : .mpeg4 }

    /// The quantiser for a compression level in [0, 1]: H.264 CRF 18 + 33·c (18…51),
    /// MPEG-4 / JPEG qscale 2 + 29·c (2…31), rounded to 0.01 (CRF) or to an integer (qscale).
    func quantiser(_ level: Double) -> Double {
        switch self {
        case .h264: ((18 + 33 * level) * 100).rounded() / 100
        case .mpeg4, .mjpeg: (2 + 29 * level).rounded()
        }
    }
}

/// Owns the codec context, frame, packet and converter shared by the video and image encoders.
private final class SynthCodecState {
    let path: String
    var codec: UnsafeMutablePointer<AVCodecContext>?
    var frame: UnsafeMutablePointer<AVFrame>?
    var packet: UnsafeMutablePointer<AVPacket>?
    var sws: OpaquePointer?

    init(path: String, kind: SynthCodec, width: Int, height: Int, fpsNum: Int, fpsDen: Int,
         compression: Double, globalHeader: Bool) throws {
        self.path = path
        guard let encoder = avcodec_find_encoder_by_name(kind.encoderName) else {
            throw MediaError(path, "this FFmpeg build has no '\(kind.encoderName)' encoder; install an FFmpeg with it or pick another codec")
        }
        guard let ctx = avcodec_alloc_context3(encoder), let f = av_frame_alloc(), let p = av_packet_alloc() else {
            throw MediaError(path, "out of memory allocating the \(kind.encoderName) encoder")
        }
        codec = ctx; frame = f; packet = p
        let full = kind == .mjpeg
        ctx.pointee.width = Int32(width)
        ctx.pointee.height = Int32(height)
        ctx.pointee.pix_fmt = AV_PIX_FMT_YUV420P
        ctx.pointee.color_range = full ? AVCOL_RANGE_JPEG : AVCOL_RANGE_MPEG
        ctx.pointee.colorspace = AVCOL_SPC_SMPTE170M
        ctx.pointee.time_base = AVRational(num: Int32(max(1, fpsDen)), den: Int32(max(1, fpsNum)))
        ctx.pointee.framerate = AVRational(num: Int32(max(1, fpsNum)), den: Int32(max(1, fpsDen)))
        ctx.pointee.gop_size = Int32(max(1, 2 * fpsNum / max(1, fpsDen)))
        ctx.pointee.thread_count = 1
        ctx.pointee.log_level_offset = 8   // the encoder's info lines (x264's SEI banner) become verbose
        if globalHeader { ctx.pointee.flags |= Int32(AV_CODEC_FLAG_GLOBAL_HEADER) }
        var options: OpaquePointer? = nil
        defer { av_dict_free(&options) }
        let q = kind.quantiser(compression)
        switch kind {
        case .h264:
            av_dict_set(&options, "preset", "veryfast", 0)
            av_dict_set(&options, "crf", String(q), 0)
            av_dict_set(&options, "x264-params", "log=0", 0)   // x264's own log: errors only
        case .mpeg4, .mjpeg:
            ctx.pointee.flags |= Int32(AV_CODEC_FLAG_QSCALE) | Int32(AV_CODEC_FLAG_BITEXACT)
            ctx.pointee.global_quality = Int32(q) * FF_QP2LAMBDA
        }
        try synthCheck(avcodec_open2(ctx, encoder, &options), path, "opening the \(kind.encoderName) encoder")
        f.pointee.format = AV_PIX_FMT_YUV420P.rawValue
        f.pointee.width = Int32(width)
        f.pointee.height = Int32(height)
        f.pointee.color_range = ctx.pointee.color_range
        f.pointee.colorspace = ctx.pointee.colorspace
        try synthCheck(av_frame_get_buffer(f, 0), path, "allocating a \(width)×\(height) frame")
        guard let s = sws_getContext(Int32(width), Int32(height), AV_PIX_FMT_RGB24, Int32(width), Int32(height),
                                     AV_PIX_FMT_YUV420P, SWS_BILINEAR | SWS_ACCURATE_RND, nil, nil, nil) else {
            throw MediaError(path, "swscale cannot convert RGB24 to yuv420p at \(width)×\(height)")
        }
        sws = s
        let table = sws_getCoefficients(SWS_CS_ITU601)
        sws_setColorspaceDetails(s, table, 1, table, full ? 1 : 0, 0, 1 << 16, 1 << 16)
    }

    deinit {
        sws_freeContext(sws)
        av_frame_free(&frame)
        av_packet_free(&packet)
        avcodec_free_context(&codec)
    }

    /// Converts one RGB24 frame into the encoder's frame, stamps it and sends it. `rgb` holds
    /// H×W×3 bytes followed by `synthSwscalePadding` readable bytes.
    func send(rgb: UnsafePointer<UInt8>, pts: Int64) throws {
        guard let f = frame, let ctx = codec else { return }
        try synthCheck(av_frame_make_writable(f), path, "making the frame writable")
        clearPadding(f)
        let src: [UnsafePointer<UInt8>?] = [rgb, nil, nil, nil]
        let srcStride: [Int32] = [Int32(ctx.pointee.width * 3), 0, 0, 0]
        let dst: [UnsafeMutablePointer<UInt8>?] = [f.pointee.data.0, f.pointee.data.1, f.pointee.data.2, nil]
        let dstStride: [Int32] = [f.pointee.linesize.0, f.pointee.linesize.1, f.pointee.linesize.2, 0]
        let rows = sws_scale(sws, src, srcStride, 0, ctx.pointee.height, dst, dstStride)
        guard rows == ctx.pointee.height else { throw MediaError(path, "swscale converted \(rows) of \(ctx.pointee.height) rows") }
        f.pointee.pts = pts
        f.pointee.quality = ctx.pointee.global_quality
        try synthCheck(avcodec_send_frame(ctx, f), path, "sending frame \(pts) to the encoder")
    }

    /// Zeroes every byte of the frame's planes, so the alignment padding beyond the visible width
    /// and height (never written by swscale, left uninitialised by the buffer pool) cannot reach
    /// an encoder whose SIMD copies read whole aligned rows.
    private func clearPadding(_ f: UnsafeMutablePointer<AVFrame>) {
        for buffer in [f.pointee.buf.0, f.pointee.buf.1, f.pointee.buf.2, f.pointee.buf.3] {
            guard let b = buffer, let data = b.pointee.data else { continue }
            memset(data, 0, Int(b.pointee.size))
        }
    }

    /// Signals end of stream to the encoder.
    func flush() throws { try synthCheck(avcodec_send_frame(codec, nil), path, "flushing the encoder") }

    /// Calls `body` with every packet the encoder has ready (the packet is unreferenced after).
    func drain(_ body: (UnsafeMutablePointer<AVPacket>) throws -> Void) throws {
        guard let ctx = codec, let p = packet else { return }
        while true {
            let r = avcodec_receive_packet(ctx, p)
            if r == ffshim_averror(EAGAIN) || r == ffshim_averror_eof() { return }
            try synthCheck(r, path, "receiving a packet from the encoder")
            defer { av_packet_unref(p) }
            try body(p)
        }
    }
}

/// Owns an MP4 muxer context and, once opened, its output file.
private final class SynthMuxer {
    let context: UnsafeMutablePointer<AVFormatContext>
    var fileOpen = false

    init(path: String) throws {
        var fmt: UnsafeMutablePointer<AVFormatContext>? = nil
        try synthCheck(avformat_alloc_output_context2(&fmt, nil, "mp4", path), path, "creating the mp4 muxer")
        guard let fmt else { throw MediaError(path, "creating the mp4 muxer returned nothing") }
        context = fmt
    }

    deinit {
        if fileOpen { avio_closep(&context.pointee.pb) }
        avformat_free_context(context)
    }
}

/// Writes an MP4 file frame by frame; call `finish()` to flush the encoder and write the trailer.
final class SynthVideoEncoder {
    private let path: String
    private let muxer: SynthMuxer
    private let stream: UnsafeMutablePointer<AVStream>
    private let state: SynthCodecState
    private var nextPts: Int64 = 0

    init(path: String, codec kind: SynthCodec, width: Int, height: Int, fpsNum: Int, fpsDen: Int, compression: Double) throws {
        let muxer = try SynthMuxer(path: path)
        let fmt = muxer.context
        guard let st = avformat_new_stream(fmt, nil) else { throw MediaError(path, "out of memory adding a video stream") }
        let globalHeader = (fmt.pointee.oformat.pointee.flags & AVFMT_GLOBALHEADER) != 0
        let state = try SynthCodecState(path: path, kind: kind, width: width, height: height, fpsNum: fpsNum, fpsDen: fpsDen,
                                        compression: compression, globalHeader: globalHeader)
        self.path = path; self.muxer = muxer; self.stream = st; self.state = state
        let ctx = state.codec!
        try synthCheck(avcodec_parameters_from_context(st.pointee.codecpar, ctx), path, "copying encoder parameters to the stream")
        st.pointee.time_base = ctx.pointee.time_base
        st.pointee.avg_frame_rate = ctx.pointee.framerate
        st.pointee.r_frame_rate = ctx.pointee.framerate
        fmt.pointee.flags |= AVFMT_FLAG_BITEXACT
        try synthCheck(avio_open(&fmt.pointee.pb, path, AVIO_FLAG_WRITE), path, "opening the file for writing")
        muxer.fileOpen = true
        try synthCheck(avformat_write_header(fmt, nil), path, "writing the mp4 header")
    }

    /// Encodes one H×W×3 RGB24 frame as the next frame of the video.
    func encode(rgb: UnsafePointer<UInt8>) throws {
        try state.send(rgb: rgb, pts: nextPts)
        nextPts += 1
        try writePackets()
    }

    /// Flushes the encoder, writes the trailer and closes the file.
    func finish() throws {
        try state.flush()
        try writePackets()
        try synthCheck(av_write_trailer(muxer.context), path, "writing the mp4 trailer")
        if muxer.fileOpen {
            muxer.fileOpen = false
            try synthCheck(avio_closep(&muxer.context.pointee.pb), path, "closing the file")
        }
    }

    private func writePackets() throws {
        let tb = state.codec!.pointee.time_base
        try state.drain { p in
            av_packet_rescale_ts(p, tb, stream.pointee.time_base)
            p.pointee.stream_index = stream.pointee.index
            try synthCheck(av_interleaved_write_frame(muxer.context, p), path, "writing a packet")
        }
    }
}

/// Encodes one RGB24 frame as a baseline JPEG file.
enum SynthImageEncoder {
    /// Writes `rgb` (H×W×3, then `synthSwscalePadding` readable bytes) to `path` as JPEG with qscale from the compression level.
    static func writeJPEG(path: String, rgb: UnsafePointer<UInt8>, width: Int, height: Int, compression: Double) throws {
        let state = try SynthCodecState(path: path, kind: .mjpeg, width: width, height: height, fpsNum: 1, fpsDen: 1,
                                        compression: compression, globalHeader: false)
        try state.send(rgb: rgb, pts: 0)
        try state.flush()
        var bytes = Data()
        try state.drain { p in bytes.append(p.pointee.data, count: Int(p.pointee.size)) }
        guard !bytes.isEmpty else { throw MediaError(path, "the JPEG encoder produced no data") }
        do { try bytes.write(to: URL(fileURLWithPath: path)) } catch {
            throw MediaError(path, "cannot write the image: \(error.localizedDescription)")
        }
    }
}
