// The output directory of `vqa-mpi train --out DIR`, prepared by rank 0 before any training work:
// - a path that cannot be a directory (empty, a file, not creatable) → one line naming it and the cause;
// - an exclusive flock(2) on DIR/.lock, held until the process ends (its pid is written into the
//   file), so two trainings never mix their files: the second one fails at once naming the holder;
// - a DIR that already holds a run (last/best/epoch-NNN.safetensors, metrics.jsonl) is refused
//   unless --resume continues it or --overwrite moves its files into DIR/previous-<UTC time>/
//   (nothing is deleted).

import Foundation
import Dist
#if canImport(Glibc)
import Glibc
#endif

/// A locked training output directory (the lock is released when this object goes away).
public final class RunDirectory {
    /// The directory.
    public let path: String
    /// Where --overwrite moved the previous run's files (nil: nothing was moved).
    public private(set) var movedTo: String?
    /// Original path → new path of every file --overwrite moved.
    public private(set) var moved: [String: String] = [:]
    private let lockFD: Int32

    /// Whether `name` is one of the files a training run writes and a new run would replace.
    static func isRunFile(_ name: String) -> Bool {
        if ["last.safetensors", "best.safetensors", "metrics.jsonl"].contains(name) { return true }
        return name.hasPrefix("epoch-") && name.hasSuffix(".safetensors") && Int(name.dropFirst(6).dropLast(12)) != nil
    }

    /// The run files in `dir`, sorted (empty when it holds no run or does not exist).
    static func runFiles(in dir: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).filter(isRunFile).sorted()
    }

    /// Creates (if needed) and locks `path`; refuses a directory holding a run unless `resume`
    /// (continue it) or `overwrite` (move it aside first).
    public init(path: String, resume: Bool, overwrite: Bool) throws {
        guard !path.isEmpty else { throw TrainingError("--out is empty", "give the directory for checkpoints and metrics, e.g. --out runs/first") }
        self.path = path
        try RunDirectory.makeDirectories(path)
        let lock = (path as NSString).appendingPathComponent(".lock")
        let fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw TrainingError("--out \(path)", "cannot create the lock file \(lock): \(String(cString: strerror(errno))); choose a writable directory")
        }
        if flock(fd, LOCK_EX | LOCK_NB) != 0 {
            let e = errno
            var buf = [UInt8](repeating: 0, count: 32)
            let n = read(fd, &buf, buf.count)
            close(fd)
            let holder = n > 0 ? String(decoding: buf[0..<n], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines) : ""
            if e == EWOULDBLOCK {
                throw TrainingError("--out \(path)", "another train is using this directory (pid \(holder.isEmpty ? "unknown" : holder), lock \(lock)); wait for it to end or choose another --out")
            }
            throw TrainingError("--out \(path)", "cannot lock \(lock): \(String(cString: strerror(e)))")
        }
        lockFD = fd
        let pid = "\(getpid())\n"
        _ = ftruncate(fd, 0)
        _ = pwrite(fd, pid, pid.utf8.count, 0)
        let found = RunDirectory.runFiles(in: path)
        guard !found.isEmpty, !resume else { return }
        guard overwrite else {
            throw TrainingError("--out \(path) already holds a run (\(found.joined(separator: ", "))); continue it with --resume, or start over with --overwrite (moves these files into \(path)/previous-<time>/)")
        }
        try moveAside(found + (FileManager.default.fileExists(atPath: (path as NSString).appendingPathComponent("curves.svg")) ? ["curves.svg"] : []))
    }

    deinit { close(lockFD) }

    /// Moves `names` into a new DIR/previous-<UTC time>/.
    private func moveAside(_ names: [String]) throws {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX"); f.timeZone = TimeZone(identifier: "UTC")
        f.dateFormat = "yyyyMMdd-HHmmss"
        let base = (path as NSString).appendingPathComponent("previous-" + f.string(from: Date()))
        var target = base, n = 1
        while FileManager.default.fileExists(atPath: target) { n += 1; target = base + "-\(n)" }
        guard mkdir(target, 0o755) == 0 else {
            throw TrainingError("--overwrite", "cannot create \(target): \(String(cString: strerror(errno)))")
        }
        for name in names {
            let from = (path as NSString).appendingPathComponent(name), to = (target as NSString).appendingPathComponent(name)
            guard rename(from, to) == 0 else {
                throw TrainingError("--overwrite", "cannot move \(from) to \(to): \(String(cString: strerror(errno)))")
            }
            moved[from] = to
        }
        movedTo = target
    }

    /// `mkdir -p` with one line naming the path and the cause on failure.
    static func makeDirectories(_ path: String, for out: String? = nil) throws {
        let out = out ?? path
        var st = stat()
        if stat(path, &st) == 0 {
            guard (st.st_mode & S_IFMT) == S_IFDIR else {
                throw TrainingError("--out \(out)", "\(path == out ? "is" : "\(path) is") a file, not a directory; choose a directory path")
            }
            return
        }
        let parent = (path as NSString).deletingLastPathComponent
        if !parent.isEmpty && parent != path && parent != "/" && stat(parent, &st) != 0 { try makeDirectories(parent, for: out) }
        if mkdir(path, 0o755) != 0 && errno != EEXIST {
            let e = errno
            throw TrainingError("--out \(out)", "cannot create \(path == out ? "the directory" : path): \(String(cString: strerror(e))); choose a writable location")
        }
    }
}
