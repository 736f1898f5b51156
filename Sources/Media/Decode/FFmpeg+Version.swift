// The FFmpeg libraries this process linked (for `vqa-mpi --version`).

import CFFmpeg

/// Versions of the linked FFmpeg libraries.
public enum FFmpegVersion {
    /// FFmpeg's release string (av_version_info) and the libavformat/libavcodec/libavutil/libswscale
    /// versions, e.g. "6.1.1 (libavformat 60.16.100, libavcodec 60.31.102, ...)".
    public static var text: String {
        func v(_ n: UInt32) -> String { "\(n >> 16).\((n >> 8) & 0xff).\(n & 0xff)" }
        let release = av_version_info().map { String(cString: $0) } ?? "unknown"
        return "\(release) (libavformat \(v(avformat_version())), libavcodec \(v(avcodec_version())), libavutil \(v(avutil_version())), libswscale \(v(swscale_version())))"
    }
}
