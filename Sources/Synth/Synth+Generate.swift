// Writing a synthetic set: renders and encodes videos in parallel (one encoder thread each), then
// writes the FAST-VQA label files and distortions.csv atomically (temporary file + rename).
//
// Output layout under DIR:
//   videos/NNNNN.mp4 (or .jpg)   the clips (images for the `images` profile)
//   labels_train.txt, labels_test.txt, labels.txt (all)
//                                `videos/NNNNN.mp4, duration, fps, MOS` (`-1, -1` for images)
//   distortions.csv              one row per video with its scene, content, levels and quantiser

import Foundation
import Media

/// Renders the frames of one planned video before compression (content, then distortions).
final class SynthPipeline {
    let video: SynthVideo
    /// Source frame shown at each output frame (stutter repeats).
    let sources: [Int]
    private let scene: any SynthRenderer
    private let distorter: SynthDistorter
    private var floats: [Float]

    init(video: SynthVideo) throws {
        self.video = video
        var rng = SynthRNG(seed: video.seed, UInt64(video.scene), SynthPurpose.content.rawValue)
        scene = SynthScenes.make(video.content, width: video.width, height: video.height, duration: video.duration, rng: &rng)
        distorter = try SynthDistorter(video: video)
        sources = SynthDistorter.stutterSources(frames: video.frames, level: video.levels[.stutter], seed: video.seed, index: video.index)
        floats = Array(repeating: 0, count: video.width * video.height * 3)
    }

    /// Renders source frame `source` (its own time and noise) as RGB24 into `out`, which must have
    /// `synthSwscalePadding` readable bytes after the frame (the down-up rescale reads past it).
    func render(source: Int, into out: UnsafeMutablePointer<UInt8>) throws {
        let time = video.fpsNum == 0 ? 0 : Double(source) * Double(video.fpsDen) / Double(video.fpsNum)
        try floats.withUnsafeMutableBufferPointer { f in
            scene.render(time: time, into: f.baseAddress!)
            distorter.capture(f.baseAddress!, frame: source)
            try distorter.process(f.baseAddress!, into: out)
        }
    }
}

/// Frames of a planned synthetic video rendered in memory, before compression: a FrameReader for
/// tests and for checking a decoder against the generator.
final class SynthFrameReader: FrameReader {
    /// Facts of the video (codec "rawvideo": these frames were never encoded).
    let info: VideoInfo
    private let pipeline: SynthPipeline

    /// A reader for `video` (typically one element of `SynthPlan.videos`).
    init(video: SynthVideo) throws {
        pipeline = try SynthPipeline(video: video)
        info = VideoInfo(path: video.file, frameCount: video.frames, fps: video.fps, duration: video.duration,
                         width: video.width, height: video.height, codec: "rawvideo")
    }

    /// The frames at `indices` as the encoder received them (stutter repeats included).
    func frames(at indices: [Int]) throws -> [RGBFrame] {
        try indices.map { i in
            guard i >= 0, i < info.frameCount else {
                throw MediaError(info.path, "frame \(i) is out of range 0..<\(info.frameCount)")
            }
            var pixels = [UInt8](repeating: 0, count: info.width * info.height * 3 + synthSwscalePadding)
            try pixels.withUnsafeMutableBufferPointer { try pipeline.render(source: pipeline.sources[i], into: $0.baseAddress!) }
            pixels.removeLast(synthSwscalePadding)
            return RGBFrame(width: info.width, height: info.height, pixels: pixels)
        }
    }
}

/// What `Synth.generate` wrote.
public struct SynthReport: Sendable {
    /// The planned videos, in index order.
    public var videos: [SynthVideo]
    /// The encoder used for the videos (mjpeg for images).
    public var codec: SynthCodec
    /// Wall time in seconds.
    public var seconds: Double
    /// Total size of the media files in bytes.
    public var bytes: Int
}

/// The synthetic dataset writer.
public enum Synth {
    /// Plans, renders, encodes and labels a set under `directory` (created if needed). `codec`
    /// overrides the video encoder (default: libx264 if present, else mpeg4).
    public static func generate(_ options: SynthOptions, to directory: String, codec: SynthCodec? = nil) throws -> SynthReport {
        let start = Date()
        let videos = try SynthPlan.videos(options)
        let kind = options.profile == .images ? SynthCodec.mjpeg : (codec ?? .bestVideo)
        guard kind.isAvailable else {
            throw SynthError("this FFmpeg build has no '\(kind.encoderName)' encoder; choose another codec")
        }
        let root = URL(fileURLWithPath: directory)
        do {
            try FileManager.default.createDirectory(at: root.appendingPathComponent("videos"), withIntermediateDirectories: true)
        } catch {
            throw MediaError(directory, "cannot create the output directory: \(error.localizedDescription)")
        }
        let jobs = SynthJobs(count: videos.count)
        DispatchQueue.concurrentPerform(iterations: min(options.threads, videos.count)) { _ in
            while let i = jobs.next() {
                do {
                    try write(videos[i], under: root, codec: kind)
                } catch {
                    jobs.fail(error)
                }
            }
        }
        if let error = jobs.firstError { throw error }
        let fm = FileManager.default
        let bytes = videos.reduce(0) { sum, v in
            sum + ((try? fm.attributesOfItem(atPath: root.appendingPathComponent(v.file).path)[.size] as? Int) ?? 0)
        }
        try writeAtomically(labels(videos.filter { $0.split == .train }), to: root.appendingPathComponent("labels_train.txt"))
        try writeAtomically(labels(videos.filter { $0.split == .test }), to: root.appendingPathComponent("labels_test.txt"))
        try writeAtomically(labels(videos), to: root.appendingPathComponent("labels.txt"))
        try writeAtomically(csv(videos, codec: kind), to: root.appendingPathComponent("distortions.csv"))
        return SynthReport(videos: videos, codec: kind, seconds: Date().timeIntervalSince(start), bytes: bytes)
    }

    /// Renders and encodes one video (or image) to DIR/file via a temporary file and a rename.
    static func write(_ video: SynthVideo, under root: URL, codec: SynthCodec) throws {
        let final = root.appendingPathComponent(video.file)
        let temp = final.deletingLastPathComponent().appendingPathComponent(".\(final.lastPathComponent).partial")
        let pipeline = try SynthPipeline(video: video)
        var rgb = [UInt8](repeating: 0, count: video.width * video.height * 3 + synthSwscalePadding)
        do {
            try encode(video, pipeline: pipeline, rgb: &rgb, to: temp.path, codec: codec)
        } catch {
            try? FileManager.default.removeItem(at: temp)
            if let e = error as? MediaError { throw MediaError(final.path, e.reason) }   // name the real file
            throw error
        }
        try replace(final, with: temp)
    }

    private static func encode(_ video: SynthVideo, pipeline: SynthPipeline, rgb: inout [UInt8], to path: String,
                               codec: SynthCodec) throws {
        try rgb.withUnsafeMutableBufferPointer { buf in
            let p = buf.baseAddress!
            if video.isImage {
                try pipeline.render(source: 0, into: p)
                try SynthImageEncoder.writeJPEG(path: path, rgb: p, width: video.width, height: video.height,
                                                compression: video.levels[.compression])
            } else {
                let encoder = try SynthVideoEncoder(path: path, codec: codec, width: video.width, height: video.height,
                                                    fpsNum: video.fpsNum, fpsDen: video.fpsDen,
                                                    compression: video.levels[.compression])
                var shown = -1
                for i in 0..<video.frames {
                    let s = pipeline.sources[i]
                    if s != shown { try pipeline.render(source: s, into: p); shown = s }
                    try encoder.encode(rgb: p)
                }
                try encoder.finish()
            }
        }
    }

    /// One FAST-VQA label line: `file, duration, fps, MOS` (`-1, -1` for images).
    static func labelLine(_ v: SynthVideo) -> String {
        let mos = String(format: "%.4f", v.mos)
        return v.isImage ? "\(v.file), -1, -1, \(mos)" : "\(v.file), \(v.duration), \(v.fps), \(mos)"
    }

    /// Label file text for `videos` (one line each, newline-terminated).
    static func labels(_ videos: [SynthVideo]) -> String { videos.map { labelLine($0) + "\n" }.joined() }

    /// The header of distortions.csv.
    static let csvHeader = "file,split,scene,content,width,height,frames,fps,"
        + SynthDistortion.allCases.map(\.name).joined(separator: ",") + ",exposure_sign,codec,quantiser,mos_clean,mos"

    /// distortions.csv text: the header, then one row per video.
    static func csv(_ videos: [SynthVideo], codec: SynthCodec) -> String {
        var text = csvHeader + "\n"
        for v in videos {
            let levels = SynthDistortion.allCases.map { String(format: "%.3f", v.levels[$0]) }.joined(separator: ",")
            let q = codec.quantiser(v.levels[.compression])
            text += "\(v.file),\(v.split.rawValue),\(v.scene),\(v.content.rawValue),\(v.width),\(v.height),\(v.frames),\(v.fps),"
                + "\(levels),\(v.exposureSign),\(codec.rawValue),\(q),\(String(format: "%.4f", v.mosClean)),\(String(format: "%.4f", v.mos))\n"
        }
        return text
    }

    /// Writes `text` to a temporary sibling, then renames it over `url`.
    static func writeAtomically(_ text: String, to url: URL) throws {
        let temp = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).partial")
        do { try Data(text.utf8).write(to: temp) } catch {
            throw MediaError(url.path, "cannot write: \(error.localizedDescription)")
        }
        try replace(url, with: temp)
    }

    /// Atomically moves `temp` onto `final` (rename(2) replaces an existing file).
    static func replace(_ final: URL, with temp: URL) throws {
        guard rename(temp.path, final.path) == 0 else {
            let reason = String(cString: strerror(errno))
            try? FileManager.default.removeItem(at: temp)
            throw MediaError(final.path, "cannot move the finished file into place: \(reason)")
        }
    }
}

/// A shared job counter and first-error slot for the worker threads.
private final class SynthJobs: @unchecked Sendable {
    private let lock = NSLock()
    private var nextIndex = 0
    private let count: Int
    private var error: (any Error)?

    init(count: Int) { self.count = count }

    /// The next job index, or nil when all are taken or a job failed.
    func next() -> Int? {
        lock.lock(); defer { lock.unlock() }
        guard error == nil, nextIndex < count else { return nil }
        defer { nextIndex += 1 }
        return nextIndex
    }

    /// Records a failure (the first one wins) and stops handing out jobs.
    func fail(_ e: any Error) {
        lock.lock(); defer { lock.unlock() }
        if error == nil { error = e }
    }

    var firstError: (any Error)? {
        lock.lock(); defer { lock.unlock() }
        return error
    }
}
