// `vqa-mpi --version`: the program version, the git commit it was built from and the linked
// OpenMPI, OpenBLAS (with the core it picked) and FFmpeg versions.
//
// The commit is found at run time, without a build step: a `vqa-mpi.commit` file beside the
// executable (the container build writes one), else the git checkout the executable was built in
// (walking up from it: .build/release/vqa-mpi sits inside the clone; a worktree's `.git` file is
// followed), else "unknown" (a tarball without .git).

import Dist
import Engine
import Foundation
import Media

enum VersionInfo {
    /// The program version.
    static let version = "0.1.0"

    /// Every line `--version` prints.
    static func text(executable: String = VersionInfo.executablePath()) -> String {
        """
        vqa-mpi \(version)
        commit: \(commit(executable: executable))
        OpenMPI: \(MPIRuntime.libraryVersion)
        OpenBLAS: \(BLAS.configuration) (core: \(BLAS.coreName))
        FFmpeg: \(FFmpegVersion.text)
        """
    }

    /// The running executable's path (symlinks resolved).
    static func executablePath() -> String {
        if let p = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") { return p }
        return URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().path
    }

    /// The commit: the stamp file beside the executable, else the enclosing git checkout's HEAD
    /// (marked "(checkout HEAD)": the tree may have moved on since the build), else "unknown".
    static func commit(executable: String) -> String {
        let dir = (executable as NSString).deletingLastPathComponent
        if let s = try? String(contentsOfFile: (dir as NSString).appendingPathComponent("vqa-mpi.commit"), encoding: .utf8) {
            let t = s.trimmingCharacters(in: .whitespacesAndNewlines)
            if !t.isEmpty { return t }
        }
        var d = dir
        while d != "/" && !d.isEmpty {
            if let c = headCommit(gitPath: (d as NSString).appendingPathComponent(".git")) { return "\(c) (checkout HEAD)" }
            d = (d as NSString).deletingLastPathComponent
        }
        return "unknown"
    }

    /// HEAD's commit of the repository whose `.git` (directory, or a worktree's `gitdir:` file) is `gitPath`.
    static func headCommit(gitPath: String) -> String? {
        let fm = FileManager.default
        var isDir: ObjCBool = false
        guard fm.fileExists(atPath: gitPath, isDirectory: &isDir) else { return nil }
        var gitDir = gitPath
        if !isDir.boolValue {
            guard let s = read(gitPath), s.hasPrefix("gitdir:") else { return nil }
            let p = s.dropFirst("gitdir:".count).trimmingCharacters(in: .whitespaces)
            gitDir = p.hasPrefix("/") ? p : ((gitPath as NSString).deletingLastPathComponent as NSString).appendingPathComponent(p)
        }
        guard let head = read((gitDir as NSString).appendingPathComponent("HEAD")) else { return nil }
        guard head.hasPrefix("ref:") else { return isHash(head) ? head : nil }
        let ref = head.dropFirst("ref:".count).trimmingCharacters(in: .whitespaces)
        // A worktree keeps its HEAD but shares refs with the main repository (named in `commondir`).
        var dirs = [gitDir]
        if let common = read((gitDir as NSString).appendingPathComponent("commondir")) {
            dirs.append(common.hasPrefix("/") ? common : (gitDir as NSString).appendingPathComponent(common))
        }
        for g in dirs {
            if let h = read((g as NSString).appendingPathComponent(ref)), isHash(h) { return h }
            if let packed = read((g as NSString).appendingPathComponent("packed-refs")) {
                for line in packed.split(separator: "\n") where line.hasSuffix(" " + ref) {
                    let h = String(line.prefix(while: { $0 != " " }))
                    if isHash(h) { return h }
                }
            }
        }
        return nil
    }

    private static func read(_ path: String) -> String? {
        (try? String(contentsOfFile: path, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    private static func isHash(_ s: String) -> Bool { s.count >= 40 && s.allSatisfy(\.isHexDigit) }
}
