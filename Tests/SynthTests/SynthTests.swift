import XCTest
import Foundation
@testable import Media
@testable import Synth
import TestSupport

/// ffprobe's facts about the first video stream, with frames counted by decoding.
private func probe(_ path: String) throws -> [String: String] {
    let text = try FFmpeg.probe(["-count_frames", "-select_streams", "v:0",
        "-show_entries", "stream=codec_name,width,height,r_frame_rate,nb_read_frames,pix_fmt", "-of", "default=nw=1", path])
    var facts: [String: String] = [:]
    for line in text.split(separator: "\n") {
        let kv = line.split(separator: "=", maxSplits: 1)
        if kv.count == 2 { facts[String(kv[0])] = String(kv[1]) }
    }
    return facts
}

/// All frames of a file decoded by the ffmpeg CLI to packed RGB24.
private func decodeRGB(_ path: String) throws -> Data {
    try FFmpeg.output(["-i", path, "-f", "rawvideo", "-pix_fmt", "rgb24", "-"])
}

private func psnr(_ a: [UInt8], _ b: [UInt8]) -> Double {
    precondition(a.count == b.count)
    var se = 0.0
    for i in a.indices { let d = Double(a[i]) - Double(b[i]); se += d * d }
    let mse = se / Double(a.count)
    return mse == 0 ? 99 : 10 * log10(255 * 255 / mse)
}

/// A hand-made video with only the given distortions (seed 7, shapes content unless stated).
private func video(_ levels: [SynthDistortion: Double], content: SynthContent = .shapes, width: Int = 96, height: Int = 64,
                   frames: Int = 8, file: String = "videos/00000.mp4", sign: Int = 1) -> SynthVideo {
    let l = SynthLevels(levels)
    return SynthVideo(index: 0, scene: 0, file: file, content: content, levels: l, exposureSign: sign, width: width, height: height,
                      frames: frames, fpsNum: 12, fpsDen: 1, mosClean: SynthMOS.clean(l), mos: SynthMOS.clean(l),
                      split: .train, seed: 7)
}

final class SynthTests: XCTestCase {
    // MARK: the MOS model

    func testMOSIsStrictlyDecreasingInEveryLevel() {
        var rng = SynthRNG(seed: 11)
        XCTAssertEqual(SynthMOS.clean(SynthLevels()), 5)
        for _ in 0..<500 {
            var levels = SynthLevels()
            for k in SynthDistortion.allCases { levels[k] = rng.uniform(0, 0.9) }
            for k in SynthDistortion.allCases {
                var worse = levels
                worse[k] = levels[k] + rng.uniform(0.01, 0.1)
                XCTAssertLessThan(SynthMOS.clean(worse), SynthMOS.clean(levels), "\(k.name) at \(levels[k])")
            }
        }
        var all = SynthLevels()
        for k in SynthDistortion.allCases { all[k] = 1 }
        XCTAssertGreaterThan(SynthMOS.clean(all), 1)
        XCTAssertLessThan(SynthMOS.clean(all), 1.01)
        XCTAssertEqual(SynthMOS.label(all, standardNormal: -5), 1)
        XCTAssertEqual(SynthMOS.label(SynthLevels(), standardNormal: 5), 5)
        XCTAssertEqual(SynthMOS.label(SynthLevels([.blur: 0.5]), standardNormal: 1),
                       ((SynthMOS.clean(SynthLevels([.blur: 0.5])) + 0.1) * 10_000).rounded() / 10_000, accuracy: 1e-12)
    }

    func testLabelNoiseHasTheDocumentedSpread() throws {
        let plan = try SynthPlan.videos(SynthOptions(videos: 4000, seed: 5))
        let residuals = plan.filter { $0.mosClean > 1.4 && $0.mosClean < 4.6 }.map { $0.mos - $0.mosClean }
        XCTAssertGreaterThan(residuals.count, 1000)
        let mean = residuals.reduce(0, +) / Double(residuals.count)
        let std = (residuals.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(residuals.count)).squareRoot()
        XCTAssertEqual(mean, 0, accuracy: 0.01)
        XCTAssertEqual(std, SynthMOS.labelNoiseStd, accuracy: 0.01)
        XCTAssertTrue(plan.allSatisfy { SynthMOS.range.contains($0.mos) })
    }

    // MARK: planning

    func testPlanIsDeterministicAndDependsOnTheSeed() throws {
        let a = try SynthPlan.videos(SynthOptions(videos: 30, seed: 42))
        XCTAssertEqual(a, try SynthPlan.videos(SynthOptions(videos: 30, seed: 42)))
        let b = try SynthPlan.videos(SynthOptions(videos: 30, seed: 43))
        XCTAssertNotEqual(a.map(\.mos), b.map(\.mos))
        XCTAssertEqual(a.map(\.file).first, "videos/00000.mp4")
        for v in a { for k in SynthDistortion.allCases { XCTAssertTrue((0...1).contains(v.levels[k])) } }
    }

    func testSplitIsSeededAndSized() throws {
        let plan = try SynthPlan.videos(SynthOptions(videos: 24, seed: 1, testFraction: 0.2))
        XCTAssertEqual(plan.filter { $0.split == .test }.count, 5)
        XCTAssertEqual(try SynthPlan.videos(SynthOptions(videos: 24, seed: 1, testFraction: 0)).filter { $0.split == .test }.count, 0)
        XCTAssertEqual(try SynthPlan.videos(SynthOptions(videos: 2, seed: 1, testFraction: 0.1)).filter { $0.split == .test }.count, 1)
        XCTAssertEqual(try SynthPlan.videos(SynthOptions(videos: 3, seed: 1, testFraction: 0.99)).filter { $0.split == .train }.count, 1)
    }

    func testProfilesDifferInGeometryContentAndDistortionMix() throws {
        let d = try SynthPlan.videos(SynthOptions(videos: 600, seed: 9, profile: .default))
        let s = try SynthPlan.videos(SynthOptions(videos: 600, seed: 9, profile: .shifted))
        let i = try SynthPlan.videos(SynthOptions(videos: 50, seed: 9, profile: .images))
        XCTAssertEqual(d[0].width, 320); XCTAssertEqual(d[0].height, 240); XCTAssertEqual(d[0].fps, 24); XCTAssertEqual(d[0].frames, 72)
        XCTAssertEqual(s[0].width, 240); XCTAssertEqual(s[0].height, 320); XCTAssertEqual(s[0].fps, 30); XCTAssertEqual(s[0].frames, 75)
        XCTAssertTrue(i.allSatisfy { $0.frames == 1 && $0.isImage && $0.levels[.stutter] == 0 })
        XCTAssertEqual(Set(d.map(\.content)), [.shapes, .foliage, .landscape, .text])
        XCTAssertEqual(Set(s.map(\.content)), [.faces, .ripples, .landscape])
        func mean(_ v: [SynthVideo], _ k: SynthDistortion) -> Double { v.map { $0.levels[k] }.reduce(0, +) / Double(v.count) }
        XCTAssertGreaterThan(mean(s, .noise), 2 * mean(d, .noise))
        XCTAssertGreaterThan(mean(s, .exposure), 3 * mean(d, .exposure))
        XCTAssertGreaterThan(mean(d, .scaling), 2 * mean(s, .scaling))
        XCTAssertGreaterThan(mean(d, .banding), 2 * mean(s, .banding))
    }

    func testContentsOverrideChangesOnlyTheContentDraw() throws {
        let base = try SynthPlan.videos(SynthOptions(videos: 80, seed: 3, versions: 4))
        let narrow = try SynthPlan.videos(SynthOptions(videos: 80, seed: 3, versions: 4, contents: [.foliage]))
        XCTAssertEqual(Set(narrow.map(\.content)), [.foliage])
        XCTAssertGreaterThan(Set(base.map(\.content)).count, 1)
        // Same levels, labels, scenes and split: the override consumes the same random draws.
        XCTAssertEqual(narrow.map(\.levels), base.map(\.levels))
        XCTAssertEqual(narrow.map(\.mos), base.map(\.mos))
        XCTAssertEqual(narrow.map(\.split), base.map(\.split))
        let pair = try SynthPlan.videos(SynthOptions(videos: 200, seed: 3, profile: .shifted, contents: [.text, .ripples]))
        XCTAssertEqual(Set(pair.map(\.content)), [.text, .ripples])
        XCTAssertEqual(try SynthContent.list("foliage, text"), [.foliage, .text])
        XCTAssertThrowsError(try SynthContent.list("foliage,trees")) { error in
            XCTAssertTrue(String(describing: error).contains("'trees'"), "\(error)")
            XCTAssertTrue(String(describing: error).contains("valid: shapes, foliage, landscape, text, faces, ripples"), "\(error)")
        }
        XCTAssertThrowsError(try SynthOptions(videos: 4, seed: 1, contents: []).validate())
    }

    func testBadOptionsAreRejectedWithTheirValidValues() {
        func message(_ o: SynthOptions) -> String {
            do { try o.validate(); return "accepted" } catch { return String(describing: error) }
        }
        XCTAssertTrue(message(SynthOptions(videos: 0, seed: 1)).contains("--videos must be at least 1"))
        XCTAssertTrue(message(SynthOptions(videos: 2, seed: 1, width: 33)).contains("--width must be an even number"))
        XCTAssertTrue(message(SynthOptions(videos: 2, seed: 1, height: 8)).contains("32...4096"))
        XCTAssertTrue(message(SynthOptions(videos: 2, seed: 1, testFraction: 1)).contains("[0, 1)"))
        XCTAssertTrue(message(SynthOptions(videos: 2, seed: 1, fps: 0)).contains("--fps must be in 1...240"))
        XCTAssertTrue(message(SynthOptions(videos: 2, seed: 1, profile: .images, frames: 4)).contains("--frames must be 1"))
        XCTAssertTrue(message(SynthOptions(videos: 2, seed: 1, threads: 0)).contains("--threads"))
        XCTAssertEqual(message(SynthOptions(videos: 2, seed: 1)), "accepted")
        XCTAssertThrowsError(try SynthProfile.named("konvid")) { e in
            XCTAssertEqual(String(describing: e), "unknown profile 'konvid'; valid profiles: default, shifted, images")
        }
    }

    func testFrameRatesBecomeExactRationals() {
        XCTAssertTrue(SynthPlan.rational(24) == (24, 1))
        XCTAssertTrue(SynthPlan.rational(29.97) == (30000, 1001))
        XCTAssertTrue(SynthPlan.rational(12.5) == (25, 2))
    }

    // MARK: content

    func testEveryContentGeneratorDrawsTexturedMovingPictures() throws {
        for content in SynthContent.allCases {
            var first: RGBFrame?
            for index in 0..<3 {
                var v = video([:], content: content, width: 128, height: 96, frames: 12)
                v.index = index; v.scene = index
                let f = try SynthFrameReader(video: v).frames(at: [0, 6])
                let px = f[0].pixels.map(Double.init)
                let mean = px.reduce(0, +) / Double(px.count)
                let std = (px.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(px.count)).squareRoot()
                XCTAssertGreaterThan(std, 8, "\(content) #\(index) is nearly flat")
                XCTAssertLessThan(psnr(f[0].pixels, f[1].pixels), 40, "\(content) #\(index) does not move")
                if let first { XCTAssertNotEqual(first, f[0], "\(content) #\(index): each video should get its own scene") }
                first = first ?? f[0]
            }
        }
    }

    // MARK: distortions

    func testBlurMatchesANaiveTwoDimensionalConvolution() throws {
        let w = 20, h = 14, sigma = 2.5 * 0.6
        let v = video([.blur: 0.6], width: w, height: h)
        let d = try SynthDistorter(video: v)
        var rng = SynthRNG(seed: 3)
        let input = (0..<(w * h * 3)).map { _ in Float(rng.uniform(0, 255)) }
        var frame = input
        frame.withUnsafeMutableBufferPointer { d.capture($0.baseAddress!, frame: 0) }
        let r = Int((3 * sigma).rounded(.up))
        var wsum = 0.0
        for j in -r...r { wsum += exp(-Double(j * j) / (2 * sigma * sigma)) }
        for y in 0..<h {
            for x in 0..<w {
                for c in 0..<3 {
                    var acc = 0.0
                    for dy in -r...r {
                        for dx in -r...r {
                            let yy = min(h - 1, max(0, y + dy)), xx = min(w - 1, max(0, x + dx))
                            let k = exp(-Double(dx * dx + dy * dy) / (2 * sigma * sigma)) / (wsum * wsum)
                            acc += k * Double(input[(yy * w + xx) * 3 + c])
                        }
                    }
                    XCTAssertEqual(Double(frame[(y * w + x) * 3 + c]), acc, accuracy: 1e-3, "(\(x), \(y), \(c))")
                }
            }
        }
    }

    func testEachDistortionMovesFramesFurtherFromTheCleanOnesAsItsLevelGrows() throws {
        let clean = try SynthFrameReader(video: video([:], content: .foliage)).frames(at: [3])[0].pixels
        for kind in [SynthDistortion.blur, .noise, .scaling, .banding, .exposure] {
            for sign in kind == .exposure ? [-1, 1] : [1] {
                let errors = try [0.2, 0.5, 0.9].map { level in
                    psnr(clean, try SynthFrameReader(video: video([kind: level], content: .foliage, sign: sign)).frames(at: [3])[0].pixels)
                }
                XCTAssertLessThan(errors[0], 60, "\(kind.name) at 0.2 changes nothing")
                XCTAssertGreaterThan(errors[0], errors[1], "\(kind.name) sign \(sign): PSNR \(errors)")
                XCTAssertGreaterThan(errors[1], errors[2], "\(kind.name) sign \(sign): PSNR \(errors)")
            }
        }
    }

    func testStutterRepeatsFramesInProportionToItsLevel() throws {
        XCTAssertEqual(SynthDistorter.stutterSources(frames: 50, level: 0, seed: 1, index: 0), Array(0..<50))
        func repeats(_ level: Double) -> Int {
            let s = SynthDistorter.stutterSources(frames: 400, level: level, seed: 1, index: 2)
            return zip(s.dropFirst(), s).filter { $0 == $1 }.count
        }
        XCTAssertEqual(Double(repeats(0.5)) / 399, 0.425, accuracy: 0.08)
        XCTAssertGreaterThan(repeats(1), repeats(0.5))
        let v = video([.stutter: 1, .noise: 0.5], frames: 12)
        let reader = try SynthFrameReader(video: v)
        let sources = SynthDistorter.stutterSources(frames: 12, level: 1, seed: 7, index: 0)
        let frames = try reader.frames(at: Array(0..<12))
        for i in 1..<12 {
            XCTAssertEqual(frames[i] == frames[i - 1], sources[i] == sources[i - 1], "frame \(i)")
        }
    }

    func testReaderRejectsOutOfRangeFrames() throws {
        let reader = try SynthFrameReader(video: video([:], frames: 4))
        XCTAssertThrowsError(try reader.frames(at: [4])) { e in
            XCTAssertTrue(String(describing: e).contains("videos/00000.mp4: frame 4 is out of range 0..<4"), "\(e)")
        }
    }

    // MARK: encoding, checked with the ffmpeg CLI

    func testEncodedVideoDecodesToTheRenderedFramesAndCompressionLowersPSNR() throws {
        let dir = try TempDir.newPath("synth-psnr", for: self)
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("videos"), withIntermediateDirectories: true)
        var scores: [Double] = []
        for (n, level) in [0.0, 0.5, 1.0].enumerated() {
            let v = video([.compression: level], content: .landscape, width: 128, height: 96, frames: 10, file: "videos/c\(n).mp4")
            try Synth.write(v, under: dir, codec: .h264)
            let decoded = [UInt8](try decodeRGB(dir.appendingPathComponent(v.file).path))
            let rendered = try SynthFrameReader(video: v).frames(at: Array(0..<10)).flatMap(\.pixels)
            XCTAssertEqual(decoded.count, rendered.count)
            scores.append(psnr(decoded, rendered))
        }
        XCTAssertGreaterThan(scores[0], 34, "CRF 18 should be near-transparent: \(scores)")
        XCTAssertGreaterThan(scores[0], scores[1] + 2, "\(scores)")
        XCTAssertGreaterThan(scores[1], scores[2] + 2, "\(scores)")
    }

    func testGeneratedSetHasParsableLabelsAndFFprobeConfirmsEveryVideo() throws {
        let dir = try TempDir.newPath("synth-set", for: self)
        let options = SynthOptions(videos: 4, seed: 21, width: 64, height: 48, frames: 10, fps: 15, testFraction: 0.25, threads: 2)
        let report = try Synth.generate(options, to: dir.path)
        XCTAssertEqual(report.codec, .h264)
        var listed: [String] = []
        for (name, count) in [("labels_train.txt", 3), ("labels_test.txt", 1), ("labels.txt", 4)] {
            let lines = try String(contentsOf: dir.appendingPathComponent(name), encoding: .utf8).split(separator: "\n")
            XCTAssertEqual(lines.count, count, name)
            for line in lines {
                let f = line.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
                XCTAssertEqual(f.count, 4, String(line))
                XCTAssertEqual(Double(f[1]) ?? 0, 10.0 / 15, accuracy: 1e-9)
                XCTAssertEqual(Double(f[2]), 15)
                XCTAssertTrue((1...5).contains(Double(f[3]) ?? 0), String(line))
                if name != "labels.txt" { listed.append(f[0]) }
            }
        }
        XCTAssertEqual(listed.sorted(), report.videos.map(\.file))
        for v in report.videos {
            let facts = try probe(dir.appendingPathComponent(v.file).path)
            XCTAssertEqual(facts["codec_name"], "h264")
            XCTAssertEqual(facts["width"], "64"); XCTAssertEqual(facts["height"], "48")
            XCTAssertEqual(facts["pix_fmt"], "yuv420p")
            XCTAssertEqual(facts["r_frame_rate"], "15/1")
            XCTAssertEqual(facts["nb_read_frames"], "10")
        }
        let csv = try String(contentsOf: dir.appendingPathComponent("distortions.csv"), encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(csv.count, 5)
        XCTAssertEqual(String(csv[0]), Synth.csvHeader)
        for (row, v) in zip(csv.dropFirst(), report.videos) {
            let f = row.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            XCTAssertEqual(f.count, Synth.csvHeader.split(separator: ",").count)
            XCTAssertEqual(f[0], v.file)
            let levels = SynthLevels(Dictionary(uniqueKeysWithValues: SynthDistortion.allCases.map { ($0, Double(f[8 + $0.rawValue])!) }))
            XCTAssertEqual(SynthMOS.clean(levels), Double(f[f.count - 2])!, accuracy: 1e-4)
        }
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: dir.appendingPathComponent("videos").path)
        XCTAssertEqual(leftovers.sorted(), report.videos.map { String($0.file.dropFirst("videos/".count)) })
    }

    func testSameSeedGivesTheSameBytes() throws {
        let a = try TempDir.newPath("synth-det-a", for: self), b = try TempDir.newPath("synth-det-b", for: self)
        let options = SynthOptions(videos: 3, seed: 77, width: 64, height: 48, frames: 6, fps: 12, threads: 2)
        let report = try Synth.generate(options, to: a.path)
        var one = options; one.threads = 1
        _ = try Synth.generate(one, to: b.path)
        for file in ["labels_train.txt", "labels_test.txt", "distortions.csv"] + report.videos.map(\.file) {
            XCTAssertEqual(try Data(contentsOf: a.appendingPathComponent(file)), try Data(contentsOf: b.appendingPathComponent(file)), file)
        }
    }

    func testEncoderFailureNamesTheVideoAndLeavesNoPartialFile() throws {
        let dir = try TempDir.newPath("synth-fail", for: self)
        // MPEG-4 part 2 cannot represent a time base of 1000/239999 (denominator above 2^16 − 1).
        let options = SynthOptions(videos: 2, seed: 1, width: 64, height: 48, frames: 3, fps: 239.999)
        XCTAssertThrowsError(try Synth.generate(options, to: dir.path, codec: .mpeg4)) { e in
            let text = String(describing: e)
            XCTAssertTrue(text.hasPrefix(dir.appendingPathComponent("videos/0000").path), text)
            XCTAssertTrue(text.contains("opening the mpeg4 encoder failed"), text)
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.appendingPathComponent("videos").path), [])
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir.appendingPathComponent("labels_train.txt").path))
    }

    func testMPEG4FallbackAndImageProfileProduceValidFiles() throws {
        let dir = try TempDir.newPath("synth-codecs", for: self), images = try TempDir.newPath("synth-images", for: self)
        let r = try Synth.generate(SynthOptions(videos: 1, seed: 4, width: 64, height: 48, frames: 7, fps: 29.97), to: dir.path, codec: .mpeg4)
        let facts = try probe(dir.appendingPathComponent(r.videos[0].file).path)
        XCTAssertEqual(facts["codec_name"], "mpeg4")
        XCTAssertEqual(facts["r_frame_rate"], "30000/1001")
        XCTAssertEqual(facts["nb_read_frames"], "7")
        let ri = try Synth.generate(SynthOptions(videos: 2, seed: 4, profile: .images, width: 80, height: 60), to: images.path)
        XCTAssertEqual(ri.codec, .mjpeg)
        for v in ri.videos {
            let f = try probe(images.appendingPathComponent(v.file).path)
            XCTAssertEqual(f["codec_name"], "mjpeg"); XCTAssertEqual(f["width"], "80"); XCTAssertEqual(f["height"], "60")
            XCTAssertTrue(Synth.labelLine(v).hasPrefix("\(v.file), -1, -1, "), Synth.labelLine(v))
        }
    }
}
