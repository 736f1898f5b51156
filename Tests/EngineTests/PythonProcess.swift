// Runs python3 (through /usr/bin/env) for the tests that check our files against numpy, safetensors
// and our own scripts.

import Foundation

/// `python3 arguments…`: exit status, stdout and stderr (with `mergeOutput`, stderr goes into the
/// same pipe as stdout and `stderr` is empty). Outputs are small, so the pipes are read one after
/// the other once the process has written them.
func runPython(_ arguments: [String], mergeOutput: Bool = false) throws -> (status: Int32, stdout: String, stderr: String) {
    let p = Process(), out = Pipe(), err = Pipe()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    p.arguments = ["python3"] + arguments
    p.standardOutput = out
    p.standardError = mergeOutput ? out : err
    try p.run()
    let o = out.fileHandleForReading.readDataToEndOfFile()
    let e = mergeOutput ? Data() : err.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return (p.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
}
