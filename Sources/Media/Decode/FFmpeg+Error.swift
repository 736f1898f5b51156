// The one place FFmpeg return codes become MediaErrors naming the file, with a reason a user can act on.

import CFFmpeg
import CFFmpegShim
#if canImport(Glibc)
import Glibc
#endif

/// FFmpeg error codes Swift cannot import (FFERRTAG macros), computed once.
enum FFCode {
    /// FFERRTAG(a, b, c, d) = -(a | b<<8 | c<<16 | d<<24).
    static func tag(_ a: UInt32, _ b: UInt32, _ c: UInt32, _ d: UInt32) -> Int32 {
        -Int32(bitPattern: a | (b << 8) | (c << 16) | (d << 24))
    }
    static let invalidData = tag(0x49, 0x4E, 0x44, 0x41)          // 'I','N','D','A'
    static let decoderNotFound = tag(0xF8, 0x44, 0x45, 0x43)      // 0xF8,'D','E','C'
    static let demuxerNotFound = tag(0xF8, 0x44, 0x45, 0x4D)      // 0xF8,'D','E','M'
    static let streamNotFound = tag(0xF8, 0x53, 0x54, 0x52)       // 0xF8,'S','T','R'
    static let eof = ffshim_averror_eof()
    static let again = ffshim_averror(EAGAIN)
    static let noPTS = ffshim_nopts_value()
}

/// FFmpeg's own text for `code` ("Invalid data found when processing input").
func ffmpegMessage(_ code: Int32) -> String {
    var buf = [CChar](repeating: 0, count: 256)
    ffshim_strerror(code, &buf, buf.count)
    let n = buf.firstIndex(of: 0) ?? buf.count
    return String(decoding: buf[..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

/// Turns a negative FFmpeg return code into a MediaError for `path`; returns non-negative codes.
/// `doing` says what was attempted ("opening", "reading packets", ...), so the reason reads
/// "opening: not a recognised video or image file (Invalid data found when processing input)".
@discardableResult
func ffCheck(_ code: Int32, _ path: String, _ doing: String) throws -> Int32 {
    if code >= 0 { return code }
    throw ffError(code, path, doing)
}

/// The MediaError for a negative FFmpeg return code (see `ffCheck`).
func ffError(_ code: Int32, _ path: String, _ doing: String) -> MediaError {
    let text = ffmpegMessage(code)
    let hint: String
    switch code {
    case FFCode.invalidData:
        hint = "not a recognised video or image file, or its data is corrupt"
    case FFCode.decoderNotFound:
        hint = "no decoder for this codec in the linked FFmpeg; re-encode it (e.g. ffmpeg -i IN -c:v libx264 OUT.mp4)"
    case FFCode.demuxerNotFound:
        hint = "container format not supported by the linked FFmpeg"
    case FFCode.streamNotFound:
        hint = "the file has no video stream"
    case FFCode.eof:
        hint = "unexpected end of file (truncated?)"
    case ffshim_averror(ENOENT):
        hint = "file not found; check the path and --data-root"
    case ffshim_averror(EACCES), ffshim_averror(EPERM):
        hint = "permission denied; check the file's permissions"
    case ffshim_averror(ENOMEM):
        hint = "out of memory"
    case ffshim_averror(EIO):
        hint = "I/O error while reading the file"
    default:
        // The file exists and is readable (checkReadableFile ran first), so an errno-style code from
        // the demuxer (EBUSY, EINVAL, ...) describes the header, not the file system: a y4m
        // declaring W100000 H100000 gets "Device or resource busy".
        if doing == "opening" {
            return MediaError(path, "opening: the demuxer rejected the file's header: it is damaged or declares an impossible "
                              + "stream (e.g. an absurd frame size); re-encode the file (FFmpeg said '\(text)', code \(code))")
        }
        hint = "FFmpeg error"
    }
    return MediaError(path, "\(doing): \(hint) (\(text), code \(code))")
}
