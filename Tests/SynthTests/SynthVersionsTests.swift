// `vqa-mpi synth --versions K`: K distorted versions of each scene (the LIVE/CSIQ/KADID design).
// Checked against the renderer itself: versions of a scene render identical frames once their
// distortions are removed, and different frames with them.

import XCTest
import Foundation
@testable import Media
@testable import Synth
import TestSupport

/// `video` with every distortion removed: only its scene is left to render.
private func pristine(_ video: SynthVideo) -> SynthVideo {
    var v = video
    v.levels = SynthLevels()
    return v
}

private func frames(_ video: SynthVideo) throws -> [RGBFrame] {
    try SynthFrameReader(video: video).frames(at: [0, video.frames - 1])
}

final class SynthVersionsTests: XCTestCase {
    private let small = (width: 64, height: 48, frames: 6)

    private func plan(videos: Int, versions: Int, seed: UInt64 = 5, testFraction: Double = 0.25,
                      profile: SynthProfile = .default) throws -> [SynthVideo] {
        try SynthPlan.videos(SynthOptions(videos: videos, seed: seed, profile: profile, width: small.width, height: small.height,
                                          frames: small.frames, testFraction: testFraction, versions: versions))
    }

    func testVersionsOfASceneShareContentAndDifferInDistortions() throws {
        let videos = try plan(videos: 24, versions: 4)
        XCTAssertEqual(videos.map(\.scene), (0..<24).map { $0 / 4 })
        let scenes = Dictionary(grouping: videos, by: \.scene)
        XCTAssertEqual(scenes.count, 6)
        for (_, group) in scenes {
            XCTAssertEqual(group.count, 4)
            XCTAssertEqual(Set(group.map(\.content)).count, 1, "one content generator per scene")
            // Independent draws: compression (always present, level uniform in [0, 1]) differs, and so do the MOS.
            XCTAssertEqual(Set(group.map { $0.levels[.compression] }).count, 4)
            XCTAssertEqual(Set(group.map(\.mos)).count, 4)
            // Same picture before distortion, a different one after.
            let clean = try frames(pristine(group[0]))
            for v in group.dropFirst() {
                XCTAssertEqual(try frames(pristine(v)), clean, "\(v.file) renders another scene than \(group[0].file)")
                XCTAssertNotEqual(try frames(v), try frames(group[0]), "\(v.file) is distorted like \(group[0].file)")
            }
        }
        // Different scenes render different pictures (and the MOS spread inside scenes is real).
        XCTAssertNotEqual(try frames(pristine(videos[0])), try frames(pristine(videos[4])))
        let spread = scenes.values.map { g in g.map(\.mosClean).max()! - g.map(\.mosClean).min()! }
        XCTAssertGreaterThan(spread.reduce(0, +) / Double(spread.count), 0.5)
    }

    func testDistortionDrawsOfAVideoDoNotDependOnTheVersionCount() throws {
        // Video i's levels, exposure sign and label noise come from its own stream, whatever K is;
        // with K = 1 every video is its own scene (today's sets, unchanged).
        let one = try plan(videos: 12, versions: 1), three = try plan(videos: 12, versions: 3)
        XCTAssertEqual(one.map(\.scene), Array(0..<12))
        for (a, b) in zip(one, three) {
            XCTAssertEqual(a.levels, b.levels); XCTAssertEqual(a.exposureSign, b.exposureSign)
            XCTAssertEqual(a.mos, b.mos); XCTAssertEqual(a.file, b.file)
            XCTAssertEqual(b.content, one[b.scene].content, "a scene's content is that of its first video in a one-version set")
        }
    }

    func testScenesNeverStraddleTheSplit() throws {
        for (videos, versions, fraction) in [(240, 4, 0.2), (30, 4, 0.3), (50, 5, 0.5), (9, 2, 0.1), (64, 8, 0.25)] {
            for seed in UInt64(1)...6 {
                let plan = try plan(videos: videos, versions: versions, seed: seed, testFraction: fraction)
                let scenes = Dictionary(grouping: plan, by: \.scene)
                XCTAssertEqual(scenes.count, (videos + versions - 1) / versions)
                for (s, group) in scenes {
                    XCTAssertEqual(Set(group.map(\.split)).count, 1, "scene \(s) straddles the split (seed \(seed))")
                }
                let testScenes = scenes.values.filter { $0[0].split == .test }.count
                XCTAssertEqual(testScenes, min(scenes.count - 1, max(1, Int((Double(scenes.count) * fraction).rounded()))))
            }
        }
    }

    func testInvalidVersionCountsAreRejectedWithTheValidRange() {
        for k in [0, -1, 13] {
            XCTAssertThrowsError(try plan(videos: 12, versions: k)) { e in
                XCTAssertTrue("\(e)".contains("--versions must be in 1...12"), "\(e)")
            }
        }
    }

    func testAVersionedSetIsWrittenDeterministically() throws {
        let options = SynthOptions(videos: 6, seed: 3, width: small.width, height: small.height, frames: small.frames,
                                   testFraction: 0.4, threads: 2, versions: 3)
        var outputs: [[String: Data]] = []
        for run in 0..<2 {
            let dir = try TempDir.newPath("synth-versions-\(run)", for: self)
            let report = try Synth.generate(options, to: dir.path, codec: .mpeg4)
            var files: [String: Data] = [:]
            for f in ["labels_train.txt", "labels_test.txt", "distortions.csv"] + report.videos.map(\.file) {
                files[f] = try Data(contentsOf: dir.appendingPathComponent(f))
            }
            outputs.append(files)
            let csv = String(decoding: files["distortions.csv"]!, as: UTF8.self).split(separator: "\n").dropFirst()
            XCTAssertEqual(csv.map { $0.split(separator: ",")[2] }, ["0", "0", "0", "1", "1", "1"], "scene column")
            let train = String(decoding: files["labels_train.txt"]!, as: UTF8.self).split(separator: "\n").count
            XCTAssertEqual(train, 3, "one of the two scenes (three videos) is held out")
        }
        XCTAssertEqual(outputs[0], outputs[1])
    }
}
