// The repository's own files for the tests that check scripts, configs and recipes, and an XML
// well-formedness check for the SVG files the code writes.

import Foundation
import XCTest
#if canImport(FoundationXML)
import FoundationXML
#endif

/// Repository files.
public enum Repo {
    /// The repository root (this file is Tests/TestSupport/Repo.swift).
    public static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// Text of a repository file.
    public static func text(_ path: String) throws -> String {
        try String(contentsOf: root.appendingPathComponent(path), encoding: .utf8)
    }

    /// Repository-relative paths of the files below `dir` whose names end with one of `suffixes`.
    public static func files(under dir: String, suffixes: [String]) -> [String] {
        let base = root.appendingPathComponent(dir)
        guard let e = FileManager.default.enumerator(atPath: base.path) else { return [] }
        return e.compactMap { $0 as? String }.filter { p in suffixes.contains { p.hasSuffix($0) } }
            .map { dir + "/" + $0 }.sorted()
    }

    /// Runs a bash snippet in the repository root.
    public static func bash(_ script: String, env: [String: String] = [:]) throws -> ProcessResult {
        try TestProcess.run("/bin/bash", ["-c", script], env: env, directory: root.path)
    }
}

/// Fails the test unless `url` holds well-formed XML (an SVG we wrote must open in a browser).
public func assertParsesAsXML(_ url: URL, file: StaticString = #filePath, line: UInt = #line) throws {
    let parser = XMLParser(data: try Data(contentsOf: url))
    XCTAssertTrue(parser.parse(), "\(url.path): \(parser.parserError.map { "\($0)" } ?? "?")", file: file, line: line)
}
