// The ffmpeg and ffprobe command-line tools, the outside oracle of the media tests and the maker
// of their small test clips.

import Foundation

/// ffmpeg and ffprobe (missing: skipped locally, a failure when CI=true).
public enum FFmpeg {
    /// `ffmpeg -y -v error args`; throws with ffmpeg's stderr when it fails.
    public static func run(_ args: [String]) throws {
        let r = try TestProcess.run(try requireTool("ffmpeg"), ["-y", "-v", "error"] + args)
        guard r.status == 0 else {
            throw TestSupportError("ffmpeg \(args.joined(separator: " ")) failed (exit \(r.status)): \(r.stderr)")
        }
    }

    /// `ffmpeg -v error args` with its stdout (e.g. raw frames or framemd5 lines); throws on failure.
    public static func output(_ args: [String]) throws -> Data {
        let r = try TestProcess.run(try requireTool("ffmpeg"), ["-v", "error"] + args)
        guard r.status == 0 else {
            throw TestSupportError("ffmpeg \(args.joined(separator: " ")) failed (exit \(r.status)): \(r.stderr)")
        }
        return r.stdoutData
    }

    /// `ffprobe -v error args` with its stdout; throws on failure.
    public static func probe(_ args: [String]) throws -> String {
        let r = try TestProcess.run(try requireTool("ffprobe"), ["-v", "error"] + args)
        guard r.status == 0 else {
            throw TestSupportError("ffprobe \(args.joined(separator: " ")) failed (exit \(r.status)): \(r.stderr)")
        }
        return r.stdout
    }
}
