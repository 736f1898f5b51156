// PyTorch parity fixtures (scripts/reference/*.py) and the tolerance check the parity tests share.

import XCTest
import Foundation
@testable import Engine

/// A safetensors fixture from the test bundle's Fixtures directory.
struct ParityFixture {
    let file: SafetensorsFile
    let path: String

    /// Loads `Fixtures/<name>`.
    init(_ name: String) throws {
        guard let url = Bundle.module.resourceURL?.appendingPathComponent("Fixtures/\(name)") else {
            throw EngineError("test bundle has no Fixtures directory")
        }
        path = url.path
        file = try SafetensorsFile.read(path: path)
    }

    /// The float values of tensor `name`.
    func tensor(_ name: String) throws -> [Float] {
        guard let t = file.tensors[name] else { throw EngineError("fixture \(path) lacks \(name)") }
        return try t.floats()
    }
}

/// Asserts max |a − b| / max(|b|∞, floor) ≤ rel over a whole tensor.
func assertClose(_ a: [Float], _ b: [Float], rel: Float, floor: Float = 1e-3, _ what: String,
                 file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(a.count, b.count, "\(what): sizes", file: file, line: line)
    let scale = max(b.map { abs($0) }.max() ?? 0, floor)
    let err = zip(a, b).map { abs($0 - $1) }.max() ?? 0
    XCTAssert(err / scale <= rel, "\(what): max error \(err) vs scale \(scale) (rel \(err / scale) > \(rel))", file: file, line: line)
}
