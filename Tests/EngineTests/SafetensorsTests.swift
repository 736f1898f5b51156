import Foundation
import XCTest
@testable import Engine
import TestSupport

final class SafetensorsTests: XCTestCase {
    var dir = ""

    override func setUpWithError() throws { dir = try TempDir.make("safetensors-tests", for: self).path }

    func sample() -> SafetensorsFile {
        SafetensorsFile(tensors: [
            "backbone.layer.weight": SafetensorsTensor(floats: randomArray(6, seed: 1), shape: [2, 3]),
            "head.bias": SafetensorsTensor(floats: [0.5], shape: [1]),
            "optimizer.exp_avg": SafetensorsTensor(floats: randomArray(5, seed: 2), shape: [5]),
            "empty": SafetensorsTensor(floats: [], shape: [0, 4]),
            "step": SafetensorsTensor(int64s: [123_456_789_012], shape: []),
            "calibration": SafetensorsTensor(doubles: [1.5, -2.25, 1e-300, 7], shape: [4]),
        ], metadata: ["format": "pt", "config": "{\"lr\": 0.001}\nline2\ttab \u{1}é✓"])
    }

    func testRoundTripAndLayout() throws {
        let path = dir + "/model.safetensors"
        let file = sample()
        try file.write(to: path)
        let back = try SafetensorsFile.read(path: path)
        XCTAssertEqual(back, file)
        XCTAssertEqual(try back.tensors["step"]!.int64s(), [123_456_789_012])
        XCTAssertEqual(try back.tensors["calibration"]!.doubles(), [1.5, -2.25, 1e-300, 7])
        XCTAssertEqual(try back.tensors["backbone.layer.weight"]!.floats(), randomArray(6, seed: 1))
        XCTAssertThrowsError(try back.tensors["step"]!.floats())
        var dest = [Float](repeating: 0, count: 5)
        try dest.withUnsafeMutableBufferPointer { try back.tensors["optimizer.exp_avg"]!.copyFloats(into: $0) }
        XCTAssertEqual(dest, randomArray(5, seed: 2))
        // Header padded with spaces to a multiple of 8; data contiguous in sorted name order.
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        let n = bytes[0..<8].enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        XCTAssertEqual(n % 8, 0)
        XCTAssertEqual(bytes[8], UInt8(ascii: "{"))
        let header = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(bytes[8..<(8 + n)])) as? [String: Any])
        var cursor = 0
        for name in file.tensors.keys.sorted() {
            let offs = try XCTUnwrap((header[name] as? [String: Any])?["data_offsets"] as? [Int])
            XCTAssertEqual(offs[0], cursor, name)
            cursor = offs[1]
        }
        XCTAssertEqual(8 + n + cursor, bytes.count)
        // Atomic write leaves no temporary file; overwriting works.
        try SafetensorsFile(tensors: ["a": SafetensorsTensor(floats: [1], shape: [1])]).write(to: path)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir), ["model.safetensors"])
        XCTAssertEqual(try SafetensorsFile.read(path: path).tensors.keys.sorted(), ["a"])
    }

    func python(_ script: String) throws -> (status: Int32, output: String) {
        let r = try Python.run(["-c", script], mergeOutput: true)
        return (r.status, r.stdout)
    }

    func testPythonSafetensorsReadsOursAndWeReadTheirs() throws {
        try Python.require(modules: ["safetensors.numpy", "numpy"])
        let ours = dir + "/ours.safetensors", theirs = dir + "/theirs.safetensors"
        try sample().write(to: ours)
        let check = """
        import numpy as np, json
        from safetensors import safe_open
        from safetensors.numpy import load_file, save_file
        t = load_file('\(ours)')
        with safe_open('\(ours)', framework='np') as f: meta = f.metadata()
        print(json.dumps({k: [str(v.dtype), list(v.shape), v.ravel().tolist()] for k, v in t.items()}, sort_keys=True))
        print(json.dumps(meta, sort_keys=True))
        save_file({'w': np.arange(12, dtype=np.float32).reshape(3, 4) / 8, 'i': np.array([-3, 9], dtype=np.int64),
                   'h': np.array([1.5, 2], dtype=np.float16)}, '\(theirs)', metadata={'k': 'v'})
        """
        let (status, output) = try python(check)
        XCTAssertEqual(status, 0, output)
        let lines = output.split(separator: "\n").map(String.init)
        XCTAssertEqual(lines.count, 2, output)
        let tensors = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(lines[0].utf8)) as? [String: [Any]])
        XCTAssertEqual(tensors["backbone.layer.weight"]?[0] as? String, "float32")
        XCTAssertEqual(tensors["backbone.layer.weight"]?[1] as? [Int], [2, 3])
        XCTAssertEqual((tensors["backbone.layer.weight"]?[2] as? [Double])?.map(Float.init), randomArray(6, seed: 1))
        XCTAssertEqual(tensors["step"]?[0] as? String, "int64")
        XCTAssertEqual(tensors["step"]?[2] as? [Int], [123_456_789_012])
        XCTAssertEqual(tensors["empty"]?[1] as? [Int], [0, 4])
        XCTAssertEqual(tensors["calibration"]?[2] as? [Double], [1.5, -2.25, 1e-300, 7])
        let meta = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(lines[1].utf8)) as? [String: String])
        XCTAssertEqual(meta, sample().metadata)
        let back = try SafetensorsFile.read(path: theirs)
        XCTAssertEqual(try back.tensors["w"]!.floats(), (0..<12).map { Float($0) / 8 })
        XCTAssertEqual(back.tensors["w"]!.shape, [3, 4])
        XCTAssertEqual(try back.tensors["i"]!.int64s(), [-3, 9])
        XCTAssertEqual(back.tensors["h"]!.dtype, .F16)
        XCTAssertEqual(back.metadata, ["k": "v"])
    }

    /// A file from a raw header string and data size (header padded as a writer would).
    func raw(_ header: String, data: Int, headerLength: UInt64? = nil) -> [UInt8] {
        var h = Array(header.utf8)
        while h.count % 8 != 0 { h.append(0x20) }
        let n = headerLength ?? UInt64(h.count)
        return (0..<8).map { UInt8(truncatingIfNeeded: n >> (8 * UInt64($0))) } + h + [UInt8](repeating: 7, count: data)
    }

    func assertRejected(_ bytes: [UInt8], _ fragment: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let path = dir + "/bad.safetensors"
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        XCTAssertThrowsError(try SafetensorsFile.read(path: path), file: file, line: line) { error in
            let message = "\(error)"
            XCTAssertTrue(message.hasPrefix(path + ": "), message, file: file, line: line)
            XCTAssertTrue(message.contains(fragment), "expected '\(fragment)' in: \(message)", file: file, line: line)
        }
    }

    func testMalformedFilesAreRejectedWithSpecificMessages() throws {
        let good = #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#
        XCTAssertNoThrow(try SafetensorsFile.parse(raw(good, data: 8), path: "x"))
        try assertRejected([1, 0, 0], "shorter than the 8-byte header length")
        try assertRejected(Array(raw(good, data: 8).prefix(30)), "runs past the end")
        try assertRejected(raw(good, data: 6), "outside the 6-byte data area")
        try assertRejected(raw(good, data: 8, headerLength: 1 << 40), "exceeds the 100000000-byte limit")
        try assertRejected(raw(#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]"#, data: 8), "not valid JSON")
        try assertRejected(raw(#"[1,2]"#, data: 0), "not a JSON object")
        try assertRejected(raw(#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"a":{"dtype":"F32","shape":[0],"data_offsets":[8,8]}}"#, data: 8),
                           "duplicate key \"a\"")
        try assertRejected(raw(#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}}"#, data: 8), "outside the 8-byte data area")
        try assertRejected(raw(#"{"a":{"dtype":"F33","shape":[2],"data_offsets":[0,8]}}"#, data: 8), "unknown dtype \"F33\"")
        try assertRejected(raw(#"{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#, data: 8), "needs 12 bytes but data_offsets span 8")
        try assertRejected(raw(#"{"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}}"#, data: 8), "non-negative integers")
        try assertRejected(raw(#"{"a":{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,8]}}"#, data: 8), "too large")
        try assertRejected(raw(#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}"#, data: 12),
                           "hole of 4 bytes")
        try assertRejected(raw(#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#, data: 8),
                           "overlaps")
        try assertRejected(raw(good, data: 12), "4 bytes after the last tensor")
        try assertRejected(raw(#"{"a":{"dtype":"F32","shape":[2]}}"#, data: 8), "\"data_offsets\" must be")
        try assertRejected(raw(#"{"__metadata__":{"k":1}}"#, data: 0), "__metadata__ value for \"k\" is not a string")
        try assertRejected(raw(#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8.0]}}"#, data: 8), "\"data_offsets\" must be")
        let missing = dir + "/missing.safetensors"
        XCTAssertThrowsError(try SafetensorsFile.read(path: missing)) { XCTAssertTrue("\($0)".contains("\(missing): open")) }
        // Unwritable destination: the error names the file.
        XCTAssertThrowsError(try sample().write(to: dir + "/no/such/dir/x.safetensors")) {
            XCTAssertTrue("\($0)".hasPrefix(self.dir + "/no/such/dir/x.safetensors: open"), "\($0)")
        }
    }

    func testJSONReaderEscapes() throws {
        let text = #"{"a\"b\\c\u00e9\ud83d\ude00":"x\ny","n":[1,-2,3.5e2,true,false,null]}"#
        let v = try Array(text.utf8).withUnsafeBufferPointer { try JSONReader.parse($0) }
        XCTAssertEqual(v, .object([("a\"b\\cé😀", .string("x\ny")),
                                   ("n", .array([.integer(1), .integer(-2), .number(350), .bool(true), .bool(false), .null]))]))
        let quoted = jsonQuoted("q\"\\\n\u{1}é")
        XCTAssertEqual(quoted, #""q\"\\\n\u0001é""#)
        let deep = String(repeating: "[", count: 100) + String(repeating: "]", count: 100)
        XCTAssertThrowsError(try Array(deep.utf8).withUnsafeBufferPointer { try JSONReader.parse($0) })
    }
}

final class SafetensorsStoreTests: XCTestCase {
    func makeStore(seed: UInt64) -> ParameterStore {
        let store = ParameterStore()
        store.declare("backbone.conv.weight", shape: [2, 3, 1], initializer: .uniform(1))
        store.declare("head.fc.bias", shape: [5], initializer: .uniform(1), group: "head")
        store.allocate()
        store.initialize(seed: seed)
        return store
    }

    func testStoreRoundTripThroughAFile() throws {
        let path = try TempDir.make("store", for: self).appendingPathComponent("store.safetensors").path
        let a = makeStore(seed: 1), b = makeStore(seed: 2)
        let ema = FloatBuffer(count: a.flatCount, value: 0.25)
        var tensors = a.safetensors()
        tensors.merge(a.safetensors(from: ema, prefix: "ema."), uniquingKeysWith: { x, _ in x })
        try SafetensorsFile(tensors: tensors, metadata: ["step": "7"]).write(to: path)
        let file = try SafetensorsFile.read(path: path)
        XCTAssertNotEqual(a.values.toArray(), b.values.toArray())
        try b.load(file, path: path)
        XCTAssertEqual(a.values.toArray(), b.values.toArray())
        let shadow = FloatBuffer(count: b.flatCount)
        try b.load(file, path: path, into: shadow, prefix: "ema.")
        for info in b.infos { XCTAssertEqual(Array(shadow.buffer[info.offset..<info.offset + info.count]), [Float](repeating: 0.25, count: info.count)) }
        // A missing parameter is an error naming it, unless allowed.
        var partial = file
        partial.tensors["head.fc.bias"] = nil
        XCTAssertThrowsError(try b.load(partial, path: path)) { XCTAssertTrue("\($0)".contains("\"head.fc.bias\""), "\($0)") }
        XCTAssertEqual(try b.load(partial, path: path, allowMissing: true), ["head.fc.bias"])
        // A shape mismatch names the tensor and both shapes.
        partial.tensors["head.fc.bias"] = SafetensorsTensor(floats: [1, 2, 3], shape: [3])
        XCTAssertThrowsError(try b.load(partial, path: path)) { XCTAssertTrue("\($0)".contains("has shape [3], the model expects [5]"), "\($0)") }
    }
}
