// scripts/prepare/*.py end to end: fabricated metadata in each dataset's official format
// (Tests/Fixtures/prepare; LIVE-VQC's .mat written here with scipy.io.savemat), tiny real media
// made by the ffmpeg CLI, label files read back by `vqa-mpi check-dataset` (our Labels loader and
// decoder) and compared entry by entry with the metadata.

import Foundation
import XCTest
import TestSupport

final class PrepareDatasetTests: XCTestCase {
    private var dir: URL!
    private var clip: URL!
    private var image: URL!
    private let fm = FileManager.default

    override func setUpWithError() throws {
        dir = try TempDir.make("vqa-prepare", for: self)
        clip = dir.appendingPathComponent("clip.mp4"); image = dir.appendingPathComponent("image.jpg")
        try FFmpeg.run(["-f", "lavfi", "-i", "testsrc2=size=64x48:rate=10", "-frames:v", "6", "-c:v", "libx264", "-pix_fmt", "yuv420p", clip.path])
        try FFmpeg.run(["-f", "lavfi", "-i", "testsrc2=size=64x48", "-frames:v", "1", image.path])
    }

    private func fixture(_ name: String) -> String {
        Repo.root.appendingPathComponent("Tests/Fixtures/prepare/\(name)").path
    }

    /// Copies the test clip (or image) to `relative` below `root`.
    private func media(_ root: URL, _ relative: [String], from source: URL? = nil) throws {
        for r in relative {
            let to = root.appendingPathComponent(r)
            try fm.createDirectory(at: to.deletingLastPathComponent(), withIntermediateDirectories: true)
            try fm.copyItem(at: source ?? clip, to: to)
        }
    }

    private func prepare(_ script: String, _ args: [String]) throws -> ProcessResult {
        try Python.run([Repo.root.appendingPathComponent("scripts/prepare/\(script)").path] + args)
    }

    /// path -> MOS of a written label file (FAST-VQA lines with -1 duration and fps).
    private func labels(_ url: URL) throws -> [String: Double] {
        var out: [String: Double] = [:]
        for line in try String(contentsOf: url, encoding: .utf8).split(separator: "\n") {
            let f = line.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            XCTAssertEqual(f.count, 4, String(line))
            XCTAssertEqual(Array(f[1...2]), ["-1", "-1"], String(line))
            out[f[0]] = Double(f[3])
        }
        return out
    }

    /// Runs check-dataset on a label file; every entry must decode. Returns the entry count.
    @discardableResult
    private func check(_ labels: URL, root: URL) throws -> Int {
        let r = try CLI.vqa(["check-dataset", "--labels", labels.path, "--data-root", root.path, "--json"])
        XCTAssertEqual(r.status, 0, "\(labels.lastPathComponent): \(r.stdout) \(r.stderr)")
        let obj = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any], r.stdout)
        XCTAssertEqual((obj["unreadable"] as? [Any])?.count, 0, r.stdout)
        return try XCTUnwrap(obj["readable"] as? Int)
    }

    func testKoNViDRandomSplitIsSeededAndComplete() throws {
        let root = dir.appendingPathComponent("KoNViD_1k")
        let ids = ["3337642103", "10053703034", "2999049224", "5255856829", "6947112934"]
        // Current release names files <flickr_id>.mp4; one video keeps an old release's file_name.
        try media(root, ids.map { "KoNViD_1k_videos/\($0).mp4" } + ["KoNViD_1k_videos/8536919744_original_centercrop_960x540_8s.mp4"])
        let r = try prepare("konvid1k.py", ["--metadata", fixture("KoNViD_1k_attributes.csv"), "--videos",
                                            root.appendingPathComponent("KoNViD_1k_videos").path, "--out", root.path, "--seed", "3"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("vqa-mpi check-dataset --labels"), r.stdout)
        let train = try labels(root.appendingPathComponent("labels_train.txt")), test = try labels(root.appendingPathComponent("labels_test.txt"))
        XCTAssertEqual(test.count, 1)
        XCTAssertTrue(Set(train.keys).isDisjoint(with: test.keys))
        XCTAssertEqual(train.merging(test) { a, _ in a }, [
            "KoNViD_1k_videos/3337642103.mp4": 4.64, "KoNViD_1k_videos/10053703034.mp4": 3.52,
            "KoNViD_1k_videos/2999049224.mp4": 1.22, "KoNViD_1k_videos/5255856829.mp4": 2.9,
            "KoNViD_1k_videos/6947112934.mp4": 3.14, "KoNViD_1k_videos/8536919744_original_centercrop_960x540_8s.mp4": 2.02])
        XCTAssertEqual(try check(root.appendingPathComponent("labels_train.txt"), root: root), 5)
        XCTAssertEqual(try check(root.appendingPathComponent("labels_test.txt"), root: root), 1)

        // 50 videos: the split follows the seed, is reproducible and has round(50 · 0.3) test entries.
        let big = dir.appendingPathComponent("big"), meta = dir.appendingPathComponent("big.csv")
        try ("flickr_id,MOS\n" + (0..<50).map { "\(1000 + $0),\(1.0 + Double($0) / 20)" }.joined(separator: "\n") + "\n")
            .write(to: meta, atomically: true, encoding: .utf8)
        try fm.createDirectory(at: big, withIntermediateDirectories: true)
        for i in 0..<50 { _ = fm.createFile(atPath: big.appendingPathComponent("\(1000 + i).mp4").path, contents: Data()) }
        func split(_ seed: Int, _ out: String) throws -> Set<String> {
            let r = try prepare("konvid1k.py", ["--metadata", meta.path, "--videos", big.path, "--out", dir.appendingPathComponent(out).path,
                                                "--data-root", big.path, "--seed", "\(seed)", "--test-fraction", "0.3"])
            XCTAssertEqual(r.status, 0, r.stderr)
            let test = try labels(dir.appendingPathComponent("\(out)/labels_test.txt"))
            XCTAssertEqual(try labels(dir.appendingPathComponent("\(out)/labels_train.txt")).count + test.count, 50)
            return Set(test.keys)
        }
        let a = try split(0, "s0"), b = try split(0, "s0b"), c = try split(1, "s1")
        XCTAssertEqual(a.count, 15)
        XCTAssertEqual(a, b, "the same seed must give the same split")
        XCTAssertNotEqual(a, c, "another seed must give another split")
    }

    func testLSVQOfficialSplitsAndMissingFiles() throws {
        let root = dir.appendingPathComponent("LSVQ")
        let train = ["ia-batch1/video-a", "yfcc-batch4/1001", "yfcc-batch7/1003"], test = ["ia-batch1/video-b", "yfcc-batch4/1002"]
        let p1080 = ["yfcc-batch9/2001", "ia-batch9/video-z"]
        try media(root, (train + test + p1080).map { $0 + ".mp4" })
        let args = ["--metadata", fixture("labels_train_test.csv"), "--metadata-1080p", fixture("labels_test_1080p.csv"),
                    "--videos", root.path, "--out", root.path]
        let r = try prepare("lsvq.py", args)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("official split"), r.stdout)
        XCTAssertEqual(try labels(root.appendingPathComponent("labels_train.txt")),
                       ["ia-batch1/video-a.mp4": 62.37, "yfcc-batch4/1001.mp4": 73.11, "yfcc-batch7/1003.mp4": 32.75])
        XCTAssertEqual(try labels(root.appendingPathComponent("labels_test.txt")), ["ia-batch1/video-b.mp4": 41.05, "yfcc-batch4/1002.mp4": 55.5])
        XCTAssertEqual(try labels(root.appendingPathComponent("labels_1080p.txt")), ["yfcc-batch9/2001.mp4": 66.04, "ia-batch9/video-z.mp4": 50.62])
        for f in ["labels_train.txt", "labels_test.txt", "labels_1080p.txt"] { try check(root.appendingPathComponent(f), root: root) }

        // A missing video is reported and left out; past --max-missing the script stops.
        try fm.removeItem(at: root.appendingPathComponent("yfcc-batch4/1002.mp4"))
        let warned = try prepare("lsvq.py", args + ["--max-missing", "0.25"])
        XCTAssertEqual(warned.status, 0, warned.stderr)
        XCTAssertTrue(warned.stderr.contains("1 of 5 listed files not found") && warned.stderr.contains("yfcc-batch4/1002.mp4"), warned.stderr)
        XCTAssertEqual(try labels(root.appendingPathComponent("labels_test.txt")).count, 1)
        let stopped = try prepare("lsvq.py", args + ["--max-missing", "0"])
        XCTAssertEqual(stopped.status, 2)
        XCTAssertTrue(stopped.stderr.contains("--max-missing"), stopped.stderr)

        // Without is_test the split is random, and the script says so.
        let noSplit = dir.appendingPathComponent("nosplit.csv")
        try "name,height,width,mos,frame_number\nia-batch1/video-a,540,960,62.37,240\nyfcc-batch4/1001,480,640,73.11,150\nyfcc-batch7/1003,1080,1920,32.75,200\n"
            .write(to: noSplit, atomically: true, encoding: .utf8)
        let random = try prepare("lsvq.py", ["--metadata", noSplit.path, "--videos", root.path, "--out", dir.appendingPathComponent("r").path,
                                             "--data-root", root.path])
        XCTAssertEqual(random.status, 0, random.stderr)
        XCTAssertTrue(random.stderr.contains("no is_test column"), random.stderr)
    }

    func testYouTubeUGCFromTheCSVExport() throws {
        let root = dir.appendingPathComponent("YouTube-UGC")
        // Originals (.mkv) in category/resolution folders, one transcoded copy named <vid>_<suffix>.mp4.
        try media(root, ["original_videos/Animation/1080P/Animation_1080P-05f8.mkv", "original_videos/Gaming/720P/Gaming_720P-0ef8.mkv",
                         "original_videos/Vlog/360P/Vlog_360P-2e9d_crf_10_ss_00_t_20.0.mp4", "original_videos/Sports/2160P/Sports_2160P-1b70.mkv",
                         "original_videos/LiveMusic/480P/LiveMusic_480P-6bb6.mkv"])
        let r = try prepare("youtube_ugc.py", ["--metadata", fixture("youtube_ugc_mos.csv"), "--videos", root.appendingPathComponent("original_videos").path,
                                               "--out", root.path, "--test-fraction", "0.4"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let all = try labels(root.appendingPathComponent("labels_train.txt")).merging(try labels(root.appendingPathComponent("labels_test.txt"))) { a, _ in a }
        XCTAssertEqual(all, ["original_videos/Animation/1080P/Animation_1080P-05f8.mkv": 3.5816,
                             "original_videos/Gaming/720P/Gaming_720P-0ef8.mkv": 4.2104,
                             "original_videos/Vlog/360P/Vlog_360P-2e9d_crf_10_ss_00_t_20.0.mp4": 2.1375,
                             "original_videos/Sports/2160P/Sports_2160P-1b70.mkv": 3.9981,
                             "original_videos/LiveMusic/480P/LiveMusic_480P-6bb6.mkv": 2.9023])
        XCTAssertEqual(try labels(root.appendingPathComponent("labels_test.txt")).count, 2)
        try check(root.appendingPathComponent("labels_test.txt"), root: root)
    }

    func testLIVEVQCFromDataMat() throws {
        let root = dir.appendingPathComponent("LIVE-VQC"), mat = dir.appendingPathComponent("data.mat")
        try media(root, ["Video/A001.mp4", "Video/A002.mp4", "Video/B003.mp4", "Video/G004.mp4", "Video/Q005.mp4"])
        // The database's layout: video_list an N×1 cell array of names, mos an N×1 double array.
        try Python.require(modules: ["numpy", "scipy"])
        let save = try Python.run(["-c", """
            import sys, numpy as np, scipy.io
            names = ['A001.mp4', 'A002.mp4', 'B003.mp4', 'G004.mp4', 'Q005.mp4']
            cell = np.empty((len(names), 1), dtype=object)
            for i, n in enumerate(names): cell[i, 0] = np.array([n])
            scipy.io.savemat(sys.argv[1], {'video_list': cell, 'mos': np.array([[50.5], [61.25], [70.0], [33.3], [80.125]])})
            scipy.io.savemat(sys.argv[2], {'names': cell})
            """, mat.path, dir.appendingPathComponent("wrong.mat").path])
        XCTAssertEqual(save.status, 0, save.stderr)
        let r = try prepare("live_vqc.py", ["--metadata", mat.path, "--videos", root.appendingPathComponent("Video").path, "--out", root.path])
        XCTAssertEqual(r.status, 0, r.stderr)
        let all = try labels(root.appendingPathComponent("labels_train.txt")).merging(try labels(root.appendingPathComponent("labels_test.txt"))) { a, _ in a }
        XCTAssertEqual(all, ["Video/A001.mp4": 50.5, "Video/A002.mp4": 61.25, "Video/B003.mp4": 70.0, "Video/G004.mp4": 33.3, "Video/Q005.mp4": 80.125])
        XCTAssertEqual(try check(root.appendingPathComponent("labels_train.txt"), root: root), 4)
        let wrong = try prepare("live_vqc.py", ["--metadata", dir.appendingPathComponent("wrong.mat").path, "--videos", root.path, "--out", root.path])
        XCTAssertEqual(wrong.status, 2)
        XCTAssertTrue(wrong.stderr.contains("no variable 'video_list'") && wrong.stderr.contains("names"), wrong.stderr)
    }

    func testWrongVideosDirectoryStopsWithAHint() throws {
        let empty = dir.appendingPathComponent("empty")
        try fm.createDirectory(at: empty, withIntermediateDirectories: true)
        let r = try prepare("konvid1k.py", ["--metadata", fixture("KoNViD_1k_attributes.csv"), "--videos", empty.path, "--out", dir.path])
        XCTAssertEqual(r.status, 2)
        XCTAssertTrue(r.stderr.contains("none of the 6 listed files") && r.stderr.contains("--videos"), r.stderr)
        let cols = try prepare("konvid1k.py", ["--metadata", fixture("youtube_ugc_mos.csv"), "--videos", empty.path, "--out", dir.path])
        XCTAssertEqual(cols.status, 2)
        XCTAssertTrue(cols.stderr.contains("flickr_id") && cols.stderr.contains("columns: category, resolution, vid"), cols.stderr)
    }
}
