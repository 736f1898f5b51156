// `train` config handling end to end: an alias bomb fails at once with exit 64, a second --config is
// refused, and --dry-run rejects the model options training would reject.

import XCTest
import Foundation
import TestSupport

final class ConfigCLITests: XCTestCase {
    func write(_ name: String, _ text: String) throws -> String {
        let p = try TempDir.make("config-cli", for: self).appendingPathComponent(name).path
        try Data(text.utf8).write(to: URL(fileURLWithPath: p))
        return p
    }

    func testAliasBombConfigFailsPromptlyWithExit64() throws {
        // The committed fuzz seed. Before: 3.6 GB, then SIGABRT after ~30 s.
        let seed = Repo.root.appendingPathComponent("Fuzz/corpus/config/regress-alias-bomb").path
        let bomb = try write("bomb.yaml", try String(contentsOfFile: seed, encoding: .utf8))
        for args in [["--dry-run"], ["--out", try TempDir.newPath("bomb-out", for: self).path]] {
            let start = Date()
            let r = try CLI.vqa(["train", "--config", bomb] + args)
            XCTAssertLessThan(Date().timeIntervalSince(start), 30, "a generous bound: the bomb took ~30 s to abort")
            XCTAssertEqual(r.status, 64, r.stderr)
            let lines = r.stderr.split(separator: "\n")
            XCTAssertEqual(lines.count, 1, r.stderr)
            XCTAssertTrue(r.stderr.contains(bomb) && r.stderr.contains("aliases"), r.stderr)
        }
    }

    func testSecondConfigIsRefused() throws {
        let a = try write("a.yaml", "train: {epochs: 3}\n"), b = try write("b.yaml", "train: {batch_size: 8}\n")
        // Before: b silently replaced a (epochs back to 30).
        let r = try CLI.vqa(["train", "--config", a, "--config", b, "--dry-run"])
        XCTAssertEqual(r.status, 64, r.stdout + r.stderr)
        XCTAssertTrue(r.stderr.contains("--config is given 2 times") && r.stderr.contains(a) && r.stderr.contains("--set"), r.stderr)
        let one = try CLI.vqa(["train", "--config", a, "--dry-run"])
        XCTAssertEqual(one.status, 0, one.stderr)
        XCTAssertTrue(one.stdout.contains("epochs: 3"), one.stdout)
    }

    func testDryRunRejectsUnknownModelOptions() throws {
        // Before: exit 0 and the option printed; training then failed on it.
        let r = try CLI.vqa(["train", "--dry-run", "--set", "model.options.widht=4,8,8,8"])
        XCTAssertEqual(r.status, 64, r.stdout + r.stderr)
        XCTAssertTrue(r.stderr.contains("unknown option 'widht'") && r.stderr.contains("widths"), r.stderr)
        let ok = try CLI.vqa(["train", "--dry-run", "--set", "model.options.widths=4,8,8,8", "--set", "data.train.max_failure_fraction=0.25"])
        XCTAssertEqual(ok.status, 0, ok.stderr)
        XCTAssertTrue(ok.stdout.contains("max_failure_fraction: 0.25"), ok.stdout)
    }

    func testMaxFailureFractionIsTheSettingTheHintNames() throws {
        // Before: the hint said "raise the allowed failure fraction", and no config key set it.
        let dir = try TempDir.newPath("config-cli-fail", for: self).path
        let made = try CLI.vqa(["synth", "--out", dir, "--videos", "6", "--width", "64", "--height", "48", "--frames", "8", "--fps", "8"])
        XCTAssertEqual(made.status, 0, made.stderr)
        let labels = dir + "/with-missing.txt"
        let text = try String(contentsOfFile: dir + "/labels_train.txt", encoding: .utf8)
        try Data((text.hasSuffix("\n") ? text : text + "\n").appending("missing.mp4, -1, -1, 3.0\n").utf8).write(to: URL(fileURLWithPath: labels))
        func train(_ fraction: String) throws -> ProcessResult {
            try CLI.vqa(["train", "--train-labels", labels, "--data-root", dir, "--epochs", "1", "--batch-size", "2",
                         "--set", "model.options.widths=4,8,8,8", "--set", "data.train.sampler.clip_len=4",
                         "--set", "data.train.sampler.fragments_h=2", "--set", "data.train.sampler.fragments_w=2",
                         "--set", "data.train.max_failure_fraction=\(fraction)", "--out", dir + "/run-\(fraction)"])
        }
        let strict = try train("0")
        XCTAssertEqual(strict.status, 1, strict.stderr)
        XCTAssertTrue(strict.stderr.contains("missing.mp4") && strict.stderr.contains("data.train.max_failure_fraction"), strict.stderr)
        let lenient = try train("0.5")
        XCTAssertEqual(lenient.status, 0, lenient.stderr)
    }
}
