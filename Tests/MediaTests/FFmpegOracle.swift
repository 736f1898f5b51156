// The outside oracle for decoder tests: clips made by the ffmpeg CLI, its `-f framemd5` output,
// and an MD5 (RFC 1321) to hash our RGB bytes the same way.

import Foundation
import XCTest
import TestSupport

enum Oracle {
    /// Makes a clip from lavfi testsrc2 (`size`, `rate`, `frames`) with extra encoder args.
    static func clip(_ dir: URL, _ name: String, size: String = "176x144", rate: Int = 25, frames: Int = 50,
                     _ encode: [String]) throws -> String {
        let path = dir.appendingPathComponent(name).path
        // testsrc2 rounds sizes down to even: render even, then scale to the exact (maybe odd) size.
        let wh = size.split(separator: "x").compactMap { Int($0) }
        let source = "testsrc2=size=\(wh[0] + wh[0] % 2)x\(wh[1] + wh[1] % 2):rate=\(rate),scale=\(wh[0]):\(wh[1])"
        try FFmpeg.run(["-f", "lavfi", "-i", source, "-frames:v", "\(frames)"] + encode + [path])
        return path
    }

    /// MD5 per video frame from `ffmpeg -i FILE -f framemd5 -pix_fmt rgb24 -` (audio and subtitles off).
    static func frameMD5s(_ path: String) throws -> [String] {
        let out = String(decoding: try FFmpeg.output(["-i", path, "-an", "-sn", "-f", "framemd5", "-pix_fmt", "rgb24", "-"]), as: UTF8.self)
        return out.split(separator: "\n").filter { !$0.hasPrefix("#") }.compactMap { line in
            line.split(separator: ",").last.map { $0.trimmingCharacters(in: .whitespaces) }
        }
    }

    /// MD5 of `bytes` as 32 lowercase hex digits.
    static func md5(_ bytes: [UInt8]) -> String {
        var m = MD5()
        m.update(bytes)
        return m.hexDigest()
    }
}

/// RFC 1321 MD5, enough to hash frames in tests.
struct MD5 {
    private var state: (UInt32, UInt32, UInt32, UInt32) = (0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476)
    private var buffer: [UInt8] = []
    private var length: UInt64 = 0

    private static let s: [UInt32] = [7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22,
                                      5, 9, 14, 20, 5, 9, 14, 20, 5, 9, 14, 20, 5, 9, 14, 20,
                                      4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23,
                                      6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21]
    private static let k: [UInt32] = (0..<64).map { i in UInt32(truncatingIfNeeded: Int64(abs(sin(Double(i + 1))) * 4294967296.0)) }

    mutating func update(_ bytes: [UInt8]) {
        length &+= UInt64(bytes.count)
        var start = 0
        if !buffer.isEmpty {
            let need = 64 - buffer.count
            buffer += bytes.prefix(need)
            start = min(need, bytes.count)
            if buffer.count == 64 { process(buffer[...]); buffer.removeAll(keepingCapacity: true) }
        }
        while start + 64 <= bytes.count { process(bytes[start..<start + 64]); start += 64 }
        buffer += bytes[start...]
    }

    mutating func hexDigest() -> String {
        let bits = length &* 8
        var tail: [UInt8] = [0x80]
        while (buffer.count + tail.count) % 64 != 56 { tail.append(0) }
        for i in 0..<8 { tail.append(UInt8(truncatingIfNeeded: bits >> (8 * UInt64(i)))) }
        let saved = length
        update(tail)
        length = saved
        let words = [state.0, state.1, state.2, state.3]
        return words.flatMap { w in (0..<4).map { UInt8(truncatingIfNeeded: w >> (8 * UInt32($0))) } }
            .map { String(format: "%02x", $0) }.joined()
    }

    private mutating func process(_ block: ArraySlice<UInt8>) {
        let b = Array(block)
        var m = [UInt32](repeating: 0, count: 16)
        for i in 0..<16 {
            m[i] = UInt32(b[4 * i]) | UInt32(b[4 * i + 1]) << 8 | UInt32(b[4 * i + 2]) << 16 | UInt32(b[4 * i + 3]) << 24
        }
        var (a, bb, c, d) = state
        for i in 0..<64 {
            var f: UInt32, g: Int
            switch i {
            case 0..<16: f = (bb & c) | (~bb & d); g = i
            case 16..<32: f = (d & bb) | (~d & c); g = (5 * i + 1) % 16
            case 32..<48: f = bb ^ c ^ d; g = (3 * i + 5) % 16
            default: f = c ^ (bb | ~d); g = (7 * i) % 16
            }
            f = f &+ a &+ MD5.k[i] &+ m[g]
            a = d; d = c; c = bb
            bb = bb &+ ((f << MD5.s[i]) | (f >> (32 - MD5.s[i])))
        }
        state = (state.0 &+ a, state.1 &+ bb, state.2 &+ c, state.3 &+ d)
    }
}
