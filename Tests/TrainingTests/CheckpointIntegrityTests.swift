// Checkpoint integrity beyond the tensors: the checksum covers every metadata entry (format tag,
// epoch, config, calibration...), a file carrying vqa-mpi metadata is verified whatever its format
// tag says, format /1 files still read, and NaN/Inf weights are refused at load naming the tensor.

import XCTest
@testable import Dist
@testable import Training
import Engine
import TestSupport

final class CheckpointIntegrityTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws { dir = try TempDir.make("ckpt-integrity", for: self) }

    func makeFile(epoch: Int = 12, poison: Float? = nil) throws -> SafetensorsFile {
        let model = try ModelKind.fragnet.make(seed: 3, options: ["widths": "4,8,8,8"])
        if let p = poison { model.parameters.value(3)[1] = p }
        var info = CheckpointInfo()
        info.epoch = epoch; info.step = 36; info.samplerEpoch = epoch
        info.modelOptions = ["widths": "4,8,8,8"]; info.config = "model: {name: fragnet, options: {widths: '4,8,8,8'}}\n"
        info.calibration = Logistic4(b1: 5, b2: 1, b3: 0.2, b4: 0.7)
        return Checkpoint.make(store: model.parameters, ema: nil, optimizer: nil, info: info)
    }

    func path(_ name: String) -> String { dir.appendingPathComponent(name + ".safetensors").path }

    /// Writes `file`, then flips `mask` in the last byte of the first occurrence of `text` on disk.
    func writeFlipped(_ file: SafetensorsFile, _ name: String, text: String, mask: UInt8 = 1) throws -> String {
        let p = path(name)
        var bytes = file.serialized()
        let needle = Array(text.utf8)
        let at = try XCTUnwrap((0...(bytes.count - needle.count)).first { Array(bytes[$0..<$0 + needle.count]) == needle }, text)
        bytes[at + needle.count - 1] ^= mask
        try Data(bytes).write(to: URL(fileURLWithPath: p))
        return p
    }

    func assertRejected(_ p: String, _ words: [String], file: StaticString = #filePath, line: UInt = #line) {
        for (what, call) in [("read", { _ = try Checkpoint.read(path: p) }), ("readWeights", { _ = try Checkpoint.readWeights(path: p) }),
                             ("scoringModel", { _ = try Checkpoint.scoringModel(path: p, ema: nil) })] as [(String, () throws -> Void)] {
            XCTAssertThrowsError(try call(), what, file: file, line: line) { e in
                XCTAssertTrue("\(e)".hasPrefix(p + ": ") && words.allSatisfy { "\(e)".contains($0) }, "\(what): \(e)", file: file, line: line)
            }
        }
    }

    func testFlippedFormatTagIsVerifiedNotTreatedAsPlainSafetensors() throws {
        // Before: '/0' made eval, score and --init-from read the file as plain safetensors (no checksum,
        // calibration and stored config ignored).
        let p = try writeFlipped(try makeFile(), "tag", text: "vqa-mpi-checkpoint/2", mask: 2)
        XCTAssertEqual(try SafetensorsFile.read(path: p).metadata["format"], "vqa-mpi-checkpoint/0")
        assertRejected(p, ["vqa-mpi-checkpoint/0", "carries vqa-mpi training metadata"])
        // Even without any format tag, our keys make it a checkpoint to verify.
        var untagged = try makeFile()
        untagged.metadata["format"] = nil
        let q = path("untagged")
        try untagged.write(to: q)
        assertRejected(q, ["format is 'missing'"])
    }

    func testFlippedMetadataFieldsFailTheChecksum() throws {
        // Before: the epoch flip resumed at epoch 13; the calibration and config flips were used as read.
        let file = try makeFile()
        for (name, text) in [("epoch", "\"epoch\":\"12"), ("calibration", "b1\\\":5"), ("config", "name: fragnet"),
                             ("key", "\"sampler_epoch"), ("checksum", "\"checksum\":\"")] {
            let p = try writeFlipped(file, name, text: text, mask: name == "checksum" ? 0 : 1)
            if name == "checksum" {  // flip the first hex digit of the stored checksum instead
                var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: p)))
                let needle = Array("\"checksum\":\"".utf8)
                let at = (0...(bytes.count - needle.count)).first { Array(bytes[$0..<$0 + needle.count]) == needle }!
                bytes[at + needle.count] = bytes[at + needle.count] == UInt8(ascii: "1") ? UInt8(ascii: "2") : UInt8(ascii: "1")
                try Data(bytes).write(to: URL(fileURLWithPath: p))
            }
            assertRejected(p, ["checksum mismatch"])
        }
        let intact = path("intact")
        try file.write(to: intact)
        XCTAssertEqual(try Checkpoint.read(path: intact).info.epoch, 12)
        XCTAssertNotNil(try Checkpoint.scoringModel(path: intact, ema: nil).calibration)
    }

    func testFormatOneFilesStillReadAndADowngradedTagIsCaught() throws {
        var v1 = try makeFile()
        v1.metadata["format"] = Checkpoint.formatTensorsOnly
        v1.metadata["checksum"] = String(Checkpoint.checksum(v1.tensors, metadata: nil), radix: 16)
        let p = path("v1")
        try v1.write(to: p)
        XCTAssertEqual(try Checkpoint.read(path: p).info.epoch, 12)
        XCTAssertEqual(try Checkpoint.readWeights(path: p).info?.epoch, 12)
        // A /2 file whose tag reads /1 (two bits): its stored checksum covers the metadata, so it fails.
        let q = try writeFlipped(try makeFile(), "downgraded", text: "vqa-mpi-checkpoint/2", mask: 3)
        XCTAssertEqual(try SafetensorsFile.read(path: q).metadata["format"], Checkpoint.formatTensorsOnly)
        assertRejected(q, ["checksum mismatch"])
        // Re-sealing (as the trainer does after adding the best checkpoint's calibration) upgrades to /2.
        let sealed = try Checkpoint.withCalibration(v1, Logistic4(b1: 1, b2: 2, b3: 3, b4: 4), path: p)
        XCTAssertEqual(sealed.metadata["format"], Checkpoint.format)
        XCTAssertEqual(try Checkpoint.info(of: sealed, path: p).calibration, Logistic4(b1: 1, b2: 2, b3: 3, b4: 4))
    }

    func testPlainSafetensorsAreStillAcceptedAsIs() throws {
        let model = try ModelKind.fragnet.make(seed: 3, options: [:])
        let p = path("plain")
        try SafetensorsFile(tensors: model.parameters.safetensors(), metadata: ["format": "pt", "source": "x.pth"]).write(to: p)
        XCTAssertNil(try Checkpoint.readWeights(path: p).info)
        XCTAssertNil(try Checkpoint.scoringModel(path: p, ema: nil).calibration)
    }

    func testNonFiniteWeightsAreRefusedAtLoadNamingTheTensor() throws {
        // Before: a valid checksum over NaN weights loaded silently; training stopped steps later.
        for (name, value) in [("nan", Float.nan), ("inf", -Float.infinity)] {
            let file = try makeFile(poison: value)
            let tensor = try XCTUnwrap(file.tensors.keys.sorted().first { (try? file.tensors[$0]!.floats().contains { !$0.isFinite }) == true })
            let p = path(name)
            try file.write(to: p)
            XCTAssertNoThrow(try Checkpoint.info(of: file, path: p))  // the checksum itself is valid
            assertRejected(p, ["tensor '\(tensor)'", "NaN or infinite", "element 1"])
            // A plain safetensors file with such weights is refused too.
            var plain = file
            plain.metadata = [:]
            let q = path("plain-" + name)
            try plain.write(to: q)
            XCTAssertThrowsError(try Checkpoint.readWeights(path: q)) { e in XCTAssertTrue("\(e)".contains(q) && "\(e)".contains(tensor), "\(e)") }
        }
        // Half and double precision: the exponent test per dtype.
        let half = SafetensorsFile(tensors: ["h": SafetensorsTensor(dtype: .BF16, shape: [2], data: [0x80, 0x3f, 0xc0, 0x7f]),
                                             "d": SafetensorsTensor(dtype: .F64, shape: [1], data: Array(repeating: 0, count: 8))], metadata: [:])
        XCTAssertThrowsError(try Checkpoint.checkFinite(half, path: "h.safetensors")) { e in XCTAssertTrue("\(e)".contains("'h'") && "\(e)".contains("element 1"), "\(e)") }
    }

    func testStoredAliasBombIsRefusedByScoring() throws {
        var file = try makeFile()
        file.metadata["config"] = TrainConfigBoundsTests.bomb
        let p = path("bomb")
        try Checkpoint.sealed(file).write(to: p)
        XCTAssertThrowsError(try Checkpoint.scoringModel(path: p, ema: nil)) { e in
            XCTAssertTrue("\(e)".contains(p) && "\(e)".contains("aliases"), "\(e)")
        }
    }
}
