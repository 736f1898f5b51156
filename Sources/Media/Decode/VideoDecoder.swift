// FFmpeg-backed FrameReader: any container/codec the linked FFmpeg supports, still images as
// one-frame videos, frames delivered as packed RGB24 identical to `ffmpeg -pix_fmt rgb24`,
// including the CLI's autorotation by the stream's display matrix (VideoDecoder+Rotation).
//
// Frame index: the position of a frame in presentation order among the frames the decoder
// outputs, counting from 0 at the start of the stream. Decoding from the start, index = how many
// frames came out before. After a seek, a frame's index is the rank of its timestamp (frame pts,
// else best_effort_timestamp) in the sorted pts of the stream's packets (see VideoDecoder+Seek),
// which equals the sequential count for well-formed streams; the tests check that both agree.
//
// Frame count (`info.frameCount`): the container's nb_frames when present (mp4, mov, avi);
// otherwise (mkv, webm, ...) the number of video packets found by a demux-only pass at open. It
// is corrected to the number of frames actually produced when a decode reaches the end of the
// stream and that number differs.

import CFFmpeg
import CFFmpegShim

/// A borrowed RGB24 frame, valid only inside the callback that receives it.
public struct RGBView {
    /// Frame width in pixels.
    public let width: Int
    /// Frame height in pixels.
    public let height: Int
    /// Bytes per row (width·3: rows are packed).
    public let stride: Int
    /// height·stride bytes, RGB order.
    public let pixels: UnsafeBufferPointer<UInt8>
}

/// Counters of work done, for benchmarks and tests.
public struct DecodeStats: Sendable, Equatable {
    /// Frames the decoder produced.
    public var framesDecoded = 0
    /// Frames converted to RGB24.
    var framesConverted = 0
    /// Seeks to a keyframe (av_seek_frame).
    var seeks = 0
    /// Rewinds to the start (reopening the file) for backward requests that cannot seek.
    var rewinds = 0
    /// Packets the decoder rejected as broken and skipped.
    var skippedPackets = 0
}

/// Decodes a video or image file with FFmpeg into RGB24 frames by index (see the file header).
public final class VideoDecoder: FrameReader {
    /// Facts about the file; `frameCount` may be corrected after a decode reaches the end.
    public private(set) var info: VideoInfo
    /// Work counters.
    public internal(set) var stats = DecodeStats()

    let path: String
    let threads: Int
    let maxPixels: Int
    var input: FormatInput
    var codec: CodecContext
    var streamIndex: Int32
    let packet = PacketBox()
    let frame = FrameBox()
    let scaler = RGBScaler()
    var rgb: [UInt8] = []
    /// The display rotation the ffmpeg CLI would apply (see VideoDecoder+Rotation) and its buffer.
    let rotation: DisplayRotation
    var rotated: [UInt8] = []

    /// Index the next decoded frame gets when no timestamp lookup applies.
    var nextIndex = 0
    /// True once the flush packet has been sent; true `ended` once the decoder returned EOF.
    var flushed = false
    var ended = false
    /// True when the current position is the start of the stream (fresh open or rewind).
    var atStart = true
    /// The first read error that cut the stream short, for the message if a frame is missing.
    var readError: Int32? = nil
    var consecutiveErrors = 0
    /// The packet pts table for seeking (nil until needed, or when the stream has no usable pts).
    var table: PTSTable? = nil
    var tableScanned = false
    var seekUsable = true
    /// True after a seek until the next rewind; `lookupMissed` when a frame's pts was not in the table.
    var seekedSinceStart = false
    var lookupMissed = false
    /// The keyframe of the last seek: reading on from wherever that seek landed, never seek to it again.
    var lastSeekKeyframe: Int? = nil

    /// Opens `path` (video or image). `threads`: decoder threads; `maxPixels`: largest
    /// width·height accepted. Throws a MediaError naming the file and the reason.
    public init(path: String, threads: Int = 1, maxPixels: Int = 4096 * 4096) throws {
        self.path = path
        self.threads = max(1, threads)
        self.maxPixels = maxPixels
        let (input, codec, index) = try Self.open(path, threads: self.threads, maxPixels: maxPixels)
        self.input = input
        self.codec = codec
        self.streamIndex = index
        rotation = DisplayRotation.of(input.stream(index))
        info = headerInfo(input, index)
        if let cut = truncationProblem(input, index) { throw MediaError(path, cut) }
        // A still image is one packet: going back to it must reopen the file, never seek (image2's
        // seek to the only frame leaves the demuxer at its end, so a second read of frame 0 found
        // "0 frames" for most JPEGs).
        if isStillImage(input) { seekUsable = false }
        let counted = input.stream(index).pointee.nb_frames > 0 || isStillImage(input)
        if !counted {
            let scan = try scanPackets()
            table = scan.table
            tableScanned = true
            if scan.count > 0 { info.frameCount = scan.count }
        }
    }

    static func open(_ path: String, threads: Int, maxPixels: Int) throws -> (FormatInput, CodecContext, Int32) {
        let input = try FormatInput(path: path)
        try input.findStreamInfo(maxPixels: maxPixels)
        let (index, decoder) = try selectVideoStream(input, maxPixels: maxPixels)
        let codec = try CodecContext(codec: decoder, stream: input.stream(index), threads: threads,
                                     maxPixels: maxPixels, path: path)
        return (input, codec, index)
    }

    /// Frames at `indices` (any order, repeats allowed) as owned RGBFrames, in the order asked.
    public func frames(at indices: [Int]) throws -> [RGBFrame] {
        var got: [Int: RGBFrame] = [:]
        try decode(indices: indices) { i, view in
            got[i] = RGBFrame(width: view.width, height: view.height, pixels: Array(view.pixels))
        }
        return indices.map { got[$0]! }
    }

    /// Decodes the distinct `indices` and calls `body(index, frame)` once each, in ascending
    /// index order, with a view into a buffer reused across frames and calls (copy what you keep).
    /// Decodes sequentially, converting only requested frames, and seeks to the keyframe before
    /// a far target when that is cheaper than reading on.
    public func decode(indices: [Int], _ body: (Int, RGBView) throws -> Void) throws {
        let wanted = Array(Set(indices)).sorted()
        if let bad = wanted.first(where: { $0 < 0 || $0 >= info.frameCount }) {
            throw MediaError(path, "frame index \(bad) is out of range 0..<\(info.frameCount)")
        }
        var k = 0
        while k < wanted.count {
            let target = wanted[k]
            _ = try position(for: target)
            guard try nextFrame() else { throw try missingFrame(target) }
            let i = currentIndex()
            if seekedSinceStart && (lookupMissed || i > target) {
                // Timestamps off the table, or a seek landed past its target: decode from the start.
                lookupMissed = false
                try abandonSeeking()
                continue
            }
            if i < target { continue }
            if i > target {
                throw MediaError(path, "frame \(target) could not be decoded (the decoder skipped from frame "
                                 + "\(target - 1) to \(i); the stream is damaged there)")
            }
            try withRGB { view in try body(i, view) }
            k += 1
        }
    }

    /// Decodes every frame from the start (converting each to RGB24 when `toRGB`) and returns
    /// the number of frames; corrects `info.frameCount` to it. Used by `bench decode`.
    @discardableResult
    public func decodeAll(toRGB: Bool) throws -> Int {
        if !atStart { try rewind() }
        var n = 0
        while try nextFrame() {
            _ = currentIndex()
            if toRGB { try withRGB { _ in } }
            n += 1
        }
        if let e = readError, n == 0 { throw ffError(e, path, "reading packets") }
        if n == 0 { throw MediaError(path, "no frame could be decoded") }
        info.frameCount = n
        return n
    }

    /// Receives the next decoded frame into `frame`; false at the end of the stream.
    /// Broken packets are skipped (counted in stats.skippedPackets); a long run of failures throws.
    func nextFrame() throws -> Bool {
        atStart = false
        while true {
            if ended { return false }
            let r = avcodec_receive_frame(codec.ctx, frame.ptr)
            if r >= 0 {
                consecutiveErrors = 0
                stats.framesDecoded += 1
                return true
            }
            if r == FFCode.eof { ended = true; return false }
            if r != FFCode.again {
                try noteDecodeError(r)
                continue
            }
            if flushed { ended = true; return false }
            let rd = av_read_frame(input.ctx, packet.ptr)
            if rd < 0 {
                if rd != FFCode.eof && readError == nil { readError = rd }
                flushed = true
                _ = avcodec_send_packet(codec.ctx, nil)
                continue
            }
            defer { av_packet_unref(packet.ptr) }
            if packet.ptr.pointee.stream_index != streamIndex { continue }
            let s = avcodec_send_packet(codec.ctx, packet.ptr)
            if s < 0 && s != FFCode.again { try noteDecodeError(s) }
        }
    }

    private func noteDecodeError(_ code: Int32) throws {
        stats.skippedPackets += 1
        consecutiveErrors += 1
        if consecutiveErrors >= 64 {
            throw ffError(code, path, "decoding (\(consecutiveErrors) broken packets in a row, giving up)")
        }
    }

    /// The index of the frame just received (see the file header) and advances the counter.
    func currentIndex() -> Int {
        var ts = frame.ptr.pointee.pts
        if ts == FFCode.noPTS { ts = frame.ptr.pointee.best_effort_timestamp }
        let found = ts != FFCode.noPTS ? table?.index(of: ts) : nil
        if found == nil && seekedSinceStart { lookupMissed = true }
        let i = found ?? nextIndex
        nextIndex = i + 1
        return i
    }

    /// Bytes allocated after the last RGB row for converters that overshoot.
    static let rgbSlack = 64 * 3

    /// Converts the current frame into the reused RGB buffer and lends it to `body`.
    private func withRGB(_ body: (RGBView) throws -> Void) throws {
        let w = Int(frame.ptr.pointee.width), h = Int(frame.ptr.pointee.height)
        if w <= 0 || h <= 0 || w * h > maxPixels {
            throw MediaError(path, "decoded frame size \(w)x\(h) is invalid or exceeds the limit of \(maxPixels) pixels")
        }
        let n = w * h * 3
        // swscale's SIMD converters write whole vectors, up to 16 pixels past the end of a row whose
        // width is not a multiple of 16 (seen at 200×120): keep slack after the last row.
        if rgb.count < n + Self.rgbSlack { rgb = [UInt8](repeating: 0, count: n + Self.rgbSlack) }
        try rgb.withUnsafeMutableBufferPointer { buf in
            try scaler.convert(frame.ptr, into: buf.baseAddress!, stride: w * 3, path: path)
        }
        stats.framesConverted += 1
        if rotation != .none {
            if rotated.count < n { rotated = [UInt8](repeating: 0, count: n) }
            let (rw, rh) = rotation.swapsSides ? (h, w) : (w, h)
            rgb.withUnsafeBufferPointer { src in
                rotated.withUnsafeMutableBufferPointer { dst in
                    rotation.apply(src.baseAddress!, width: w, height: h, into: dst.baseAddress!)
                }
            }
            try rotated.withUnsafeBufferPointer { buf in
                try body(RGBView(width: rw, height: rh, stride: rw * 3, pixels: UnsafeBufferPointer(rebasing: buf[0..<n])))
            }
            return
        }
        try rgb.withUnsafeBufferPointer { buf in
            try body(RGBView(width: w, height: h, stride: w * 3, pixels: UnsafeBufferPointer(rebasing: buf[0..<n])))
        }
    }

    /// The error for a requested frame past the end. When the stream ended cleanly only a frame
    /// or two short of the header (`FrameCountRule.tolerates`), corrects frameCount so the caller
    /// can retry (`withFrameCountCorrection`); a larger shortfall is a truncated file.
    private func missingFrame(_ target: Int) throws -> MediaError {
        let produced = nextIndex
        if let e = readError {
            return MediaError(path, "frame \(target) could not be decoded: the stream breaks off after frame "
                              + "\(produced - 1) (\(ffmpegMessage(e)); file truncated or damaged)")
        }
        let header = info.frameCount
        if FrameCountRule.tolerates(produced: produced, announced: header) { info.frameCount = produced }
        return MediaError(path, "frame \(target) could not be decoded: the video ends after \(produced) frames "
                          + "although the header announced \(header) (file truncated or damaged)")
    }
}
