// Why a path cannot be opened, as one line naming the path, the cause and the fix. stat(2)'s
// errno alone misleads: a symbolic-link loop or a dangling link is not "no such file".

import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// One line saying why `path` cannot be opened ("PATH: symbolic link loop …"), or nil when
/// stat(2) succeeds. Distinguishes a missing file, a dangling or looping symbolic link, a path
/// through a non-directory, a too-long name and missing permission.
public func pathProblem(_ path: String) -> String? {
    var st = stat()
    if stat(path, &st) == 0 { return nil }
    let e = errno
    return "\(path): " + pathCause(path, errno: e)
}

/// The cause and fix for stat(2) failing on `path` with `e` (without the path).
func pathCause(_ path: String, errno e: Int32) -> String {
    switch e {
    case ELOOP:
        return "symbolic link loop (too many levels of symbolic links); point the link at a real file"
    case ENOENT:
        var lst = stat()
        if lstat(path, &lst) == 0 && (lst.st_mode & S_IFMT) == S_IFLNK {
            let target = (try? FileManager.default.destinationOfSymbolicLink(atPath: path)) ?? "?"
            return "dangling symbolic link (its target '\(target)' does not exist); fix or remove the link"
        }
        return "file not found; check the path and --data-root"
    case ENOTDIR:
        return "a component of the path is a file, not a folder; check the path"
    case ENAMETOOLONG:
        return "the path or one of its names is too long for the file system"
    case EACCES, EPERM:
        return "permission denied on the file or a folder above it; check the permissions"
    default:
        return "cannot access it (\(String(cString: strerror(e))))"
    }
}
