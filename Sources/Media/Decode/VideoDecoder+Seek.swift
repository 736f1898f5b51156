// Seeking: the packet pts table that maps frame index <-> timestamp, the decision between reading
// on and seeking to the keyframe before a target, and rewinding to the start.
//
// Index <-> pts: a demux-only pass (no decoding) collects the pts of every video packet that the
// decoder will turn into a shown frame (packets flagged AV_PKT_FLAG_DISCARD are left out). Sorted
// ascending, the i-th pts is frame i's, since decoders output frames in presentation order, one per
// packet. Keyframe packets give the indices a decode can start from. A stream whose packets lack
// pts, or repeat one, gets no table: it is only ever decoded forward from the start (going back
// reopens the file). If a decoded frame's timestamp is not in the table after a seek, or a seek
// lands past its target, seeking is switched off for the file and decoding restarts from the start,
// so a seek can cost time but never change which pixels a given index yields.

import CFFmpeg
import CFFmpegShim

/// Sorted presentation timestamps of a stream's frames and the indices of its keyframes.
struct PTSTable {
    /// pts[i] = timestamp (stream time base) of frame i.
    let pts: [Int64]
    /// Ascending frame indices that are keyframes.
    let keyframes: [Int]

    /// The frame index whose pts is `ts`, if any.
    func index(of ts: Int64) -> Int? {
        var lo = 0, hi = pts.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if pts[mid] < ts { lo = mid + 1 } else { hi = mid }
        }
        return lo < pts.count && pts[lo] == ts ? lo : nil
    }

    /// The last keyframe index ≤ `i`.
    func keyframe(atOrBefore i: Int) -> Int? {
        var lo = 0, hi = keyframes.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if keyframes[mid] <= i { lo = mid + 1 } else { hi = mid }
        }
        return lo > 0 ? keyframes[lo - 1] : nil
    }
}

extension VideoDecoder {
    /// A gap (in frames) below which reading on is always cheaper than building a table or seeking.
    static let minSeekGap = 8
    /// Frames a seek costs beyond decoding from its keyframe (demuxer seek, decoder flush and refill).
    static let seekCostFrames = 4

    /// Demux-only pass over a second handle on the file: packet count and, when usable, the table.
    func scanPackets() throws -> (count: Int, table: PTSTable?) {
        let scan = try FormatInput(path: path)
        try scan.findStreamInfo(maxPixels: maxPixels)
        guard streamIndex < Int32(scan.ctx.pointee.nb_streams) else { return (0, nil) }
        let pkt = PacketBox()
        var stamps: [Int64] = [], keyStamps: [Int64] = []
        var usable = true
        while av_read_frame(scan.ctx, pkt.ptr) >= 0 {
            defer { av_packet_unref(pkt.ptr) }
            let p = pkt.ptr.pointee
            if p.stream_index != streamIndex || (p.flags & AV_PKT_FLAG_DISCARD) != 0 { continue }
            if p.pts == FFCode.noPTS { usable = false; stamps.append(0); continue }
            stamps.append(p.pts)
            if (p.flags & AV_PKT_FLAG_KEY) != 0 { keyStamps.append(p.pts) }
        }
        let count = stamps.count
        if !usable || count == 0 || keyStamps.isEmpty { return (count, nil) }
        stamps.sort()
        for j in 1..<count where stamps[j] == stamps[j - 1] { return (count, nil) }
        let table0 = PTSTable(pts: stamps, keyframes: [])
        let keys = keyStamps.compactMap { table0.index(of: $0) }.sorted()
        return (count, PTSTable(pts: stamps, keyframes: keys))
    }

    /// Moves the read position so that decoding forward reaches `target` cheaply; true if it seeked.
    func position(for target: Int) throws -> Bool {
        if target < nextIndex {
            if let k = try seekableKeyframe(for: target) { return try seek(toIndex: k) }
            try rewind()
            return false
        }
        if ended || target - nextIndex <= Self.minSeekGap { return false }
        if let k = try seekableKeyframe(for: target), k - nextIndex > Self.seekCostFrames, k != lastSeekKeyframe {
            return try seek(toIndex: k)
        }
        return false
    }

    /// The keyframe to seek to for `target`, building the table on first use; nil when seeking is off.
    private func seekableKeyframe(for target: Int) throws -> Int? {
        guard seekUsable else { return nil }
        if !tableScanned {
            tableScanned = true
            table = try scanPackets().table
        }
        return table?.keyframe(atOrBefore: target)
    }

    /// Seeks to keyframe `k` (av_seek_frame BACKWARD on its pts) and flushes the decoder.
    private func seek(toIndex k: Int) throws -> Bool {
        guard let table else { try rewind(); return false }
        if av_seek_frame(input.ctx, streamIndex, table.pts[k], AVSEEK_FLAG_BACKWARD) < 0 {
            seekUsable = false
            try rewind()
            return false
        }
        avcodec_flush_buffers(codec.ctx)
        flushed = false
        ended = false
        atStart = false
        seekedSinceStart = true
        nextIndex = k
        lastSeekKeyframe = k
        stats.seeks += 1
        return true
    }

    /// Reopens the file and decoder so decoding restarts at frame 0 (certain for every format).
    func rewind() throws {
        let (i, c, index) = try Self.open(path, threads: threads, maxPixels: maxPixels)
        input = i
        codec = c
        streamIndex = index
        nextIndex = 0
        flushed = false
        ended = false
        readError = nil
        consecutiveErrors = 0
        atStart = true
        seekedSinceStart = false
        lastSeekKeyframe = nil
        stats.rewinds += 1
    }

    /// A seek went wrong (landed past its target, or timestamps off the table): stop seeking in
    /// this file and restart from the beginning.
    func abandonSeeking() throws {
        seekUsable = false
        try rewind()
    }
}
