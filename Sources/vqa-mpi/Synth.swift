// `vqa-mpi synth`: writes a synthetic UGC quality dataset (videos, FAST-VQA label files,
// distortions.csv) that is deterministic for a given seed.

import ArgumentParser
import Foundation
import Media
import Synth

struct SynthCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "synth",
        abstract: "Generate a synthetic UGC video (or image) quality dataset with known distortions and MOS.",
        discussion: """
            Writes DIR/videos/NNNNN.mp4 (H.264 via libx264, else MPEG-4; JPEG for --profile images), \
            DIR/labels_train.txt, DIR/labels_test.txt and DIR/labels.txt in the FAST-VQA format \
            (`videos/NNNNN.mp4, duration, fps, MOS`; `-1, -1` for images) and DIR/distortions.csv with \
            every video's scene and levels. The same options and seed give the same files (with the same FFmpeg build).

            Distortions (level 0–1 each, a random subset per video; compression always present): \
            compression (H.264 CRF 18–51), Gaussian blur (σ up to 2.5 px), sensor noise, down-up scaling \
            (to 30%), stutter (repeated frames), banding (down to 8 levels per channel), exposure faults.

            \(SynthMOS.formula)

            --versions K renders each scene once and distorts it K times with independent draws (as \
            LIVE, CSIQ and KADID do), so content cannot explain quality; the test split (--test-fraction \
            of the scenes) keeps all versions of a scene together.

            --contents foliage (or a comma-separated list) draws scenes from those generators instead of \
            the profile's: a narrow training distribution whose shift to another profile is larger.

            Profiles: default (320×240, 24 fps, 72 frames; shapes, foliage, landscape, text; mostly \
            compression, blur, scaling, banding), shifted (240×320 portrait, 30 fps, 75 frames; faces, \
            ripples, landscape; mostly noise, exposure, stutter), images (one-frame 384×288 JPEGs, all \
            content, JPEG quality as compression).
            """
    )

    @Option(help: "Output directory (created if missing).") var out: String
    @Option(help: "Number of videos (or images).") var videos = 24
    @Option(help: "Distorted versions per scene: videos come in groups of K showing the same content with independent distortions, never split between train and test.")
    var versions = 1
    @Option(help: "Seed of every random choice.") var seed: UInt64 = 0
    @Option(help: "Distribution profile: \(SynthProfile.allCases.map(\.rawValue).joined(separator: ", ")).")
    var profile = SynthProfile.default.rawValue
    @Option(help: "Content generators to draw scenes from instead of the profile's, comma-separated: \(SynthContent.allCases.map(\.rawValue).joined(separator: ", ")).")
    var contents: String?
    @Option(help: "Frame width in pixels (even; default from the profile).") var width: Int?
    @Option(help: "Frame height in pixels (even; default from the profile).") var height: Int?
    @Option(help: "Frames per video (default from the profile).") var frames: Int?
    @Option(help: "Frames per second, e.g. 24 or 29.97 (default from the profile).") var fps: Double?
    @Option(help: "Share of videos listed in labels_test.txt, in [0, 1).") var testFraction = 0.2
    @Option(help: "Videos encoded at once.") var threads = ProcessInfo.processInfo.activeProcessorCount
    @Option(help: "Video encoder: h264 (libx264) or mpeg4 (default: h264 when available).") var codec: String?
    @Flag(help: "Print one JSON object instead of a sentence.") var json = false

    func run() throws {
        let options: SynthOptions
        let chosenCodec: SynthCodec?
        do {
            options = SynthOptions(videos: videos, seed: seed, profile: try SynthProfile.named(profile), width: width,
                                   height: height, frames: frames, fps: fps, testFraction: testFraction, threads: threads,
                                   versions: versions, contents: try contents.map(SynthContent.list))
            try options.validate()
            chosenCodec = try codec.map { name in
                guard let c = SynthCodec(rawValue: name), c != .mjpeg else {
                    throw SynthError("unknown --codec '\(name)'; valid codecs: h264, mpeg4")
                }
                return c
            }
        } catch let error as SynthError {
            throw ValidationError(error.description)
        }
        let report = try Synth.generate(options, to: out, codec: chosenCodec)
        let test = report.videos.filter { $0.split == .test }.count
        let g = options.geometry
        if json {
            let fields = [
                "\"out\": \"\(out.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\""))\"",
                "\"profile\": \"\(options.profile.rawValue)\"", "\"videos\": \(report.videos.count)",
                "\"scenes\": \(SynthPlan.sceneCount(options))", "\"train\": \(report.videos.count - test)", "\"test\": \(test)", "\"codec\": \"\(report.codec.rawValue)\"",
                "\"width\": \(g.width)", "\"height\": \(g.height)", "\"frames\": \(report.videos.first?.frames ?? 0)",
                "\"fps\": \(report.videos.first?.fps ?? 0)", "\"bytes\": \(report.bytes)", "\"seconds\": \(report.seconds)",
                "\"threads\": \(options.threads)",
            ]
            print("{" + fields.joined(separator: ", ") + "}")
        } else {
            print("wrote \(report.videos.count) \(options.profile == .images ? "images" : "videos") "
                + "(\(SynthPlan.sceneCount(options)) scenes, \(report.videos.count - test) train, \(test) test, \(report.codec.encoderName), "
                + "\(g.width)×\(g.height)) to \(out) in \(String(format: "%.2f", report.seconds)) s")
        }
    }
}
