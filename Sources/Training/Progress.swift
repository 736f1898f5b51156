// Progress output on rank 0: a redrawn bar when stdout is a terminal, else a plain line every N steps.
// Under an MPI launcher the ranks' stdout is a pseudo-terminal even when mpirun's own output goes
// to a log file, so plain lines are the default there; VQA_PROGRESS=bar|lines overrides.

import Foundation
#if canImport(Glibc)
import Glibc
import Dist
#endif

/// Reports training progress (rank 0 only; other ranks pass `enabled: false`).
final class Progress {
    let enabled: Bool
    let tty: Bool
    let every: Int
    var start = Date()
    var samples = 0

    /// A reporter; `every` is the plain-line interval when stdout is not a terminal.
    init(enabled: Bool, every: Int) {
        self.enabled = enabled
        self.every = max(1, every)
        tty = Progress.useBar(isTTY: isatty(STDOUT_FILENO) != 0, environment: ProcessInfo.processInfo.environment)
    }

    /// Whether to redraw a bar: `VQA_PROGRESS` (bar|lines) decides if set; otherwise a terminal
    /// outside any MPI launcher (Open MPI, PMIx, Slurm, MPICH/Hydra variables absent).
    static func useBar(isTTY: Bool, environment env: [String: String]) -> Bool {
        switch env["VQA_PROGRESS"] {
        case "bar": return true
        case "lines": return false
        default:
            let launcher = ["OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "SLURM_PROCID"].contains { env[$0] != nil }
            return isTTY && !launcher
        }
    }

    /// The ISO 8601 UTC time of now, to the second: "2026-12-07T16:50:33Z".
    public static func timestamp(_ date: Date = Date()) -> String {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime]
        return f.string(from: date)
    }

    /// What starts a plain line (cluster logs are read hours later): the time and a space; empty
    /// when a bar is redrawn on a terminal.
    public var linePrefix: String { tty ? "" : Progress.timestamp() + " " }

    /// Starts timing an epoch.
    func begin() { start = Date(); samples = 0 }

    /// Records step `step` (0-based) of `total` with `count` samples and its loss.
    func update(epoch: Int, step: Int, total: Int, count: Int, loss: Double, lr: Float) {
        samples += count
        guard enabled else { return }
        let elapsed = max(Date().timeIntervalSince(start), 1e-9)
        let rate = Double(samples) / elapsed
        let eta = Double(total - step - 1) * elapsed / Double(step + 1)
        let text = String(format: "epoch %d  step %d/%d  loss %.4f  lr %.2e  %.1f samples/s  ETA %@",
                          epoch + 1, step + 1, total, loss, Double(lr), rate, Progress.duration(eta))
        if tty {
            let width = 24, filled = width * (step + 1) / max(total, 1)
            let bar = String(repeating: "█", count: filled) + String(repeating: "·", count: width - filled)
            print("\r\u{1B}[2K[\(bar)] \(text)", terminator: step + 1 == total ? "\n" : "")
            fflush(nil)
        } else if (step + 1) % every == 0 || step + 1 == total {
            print(linePrefix + text)
            fflush(nil)
        }
    }

    /// Samples per second since `begin()`.
    var rate: Double { Double(samples) / max(Date().timeIntervalSince(start), 1e-9) }

    /// "1h02m", "3m05s", "12s".
    static func duration(_ s: Double) -> String {
        guard s.isFinite, s >= 0 else { return "?" }
        let t = Int(s.rounded())
        if t >= 3600 { return String(format: "%dh%02dm", t / 3600, (t % 3600) / 60) }
        if t >= 60 { return String(format: "%dm%02ds", t / 60, t % 60) }
        return "\(t)s"
    }
}
