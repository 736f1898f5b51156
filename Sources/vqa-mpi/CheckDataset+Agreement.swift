// check-dataset's comparison of what a label file says (duration, fps) with what the file holds,
// and its rule for label paths without --data-root.

import Foundation
import Media

/// One label entry whose duration or fps disagrees with its file by more than the tolerance.
struct LabelDisagreement: Equatable {
    var path: String
    /// "duration" (seconds) or "fps".
    var field: String
    var label: Double
    var file: Double

    var text: String { "\(path): label \(field) \(String(format: "%.3f", label)), file \(String(format: "%.3f", file))" }
}

enum LabelAgreement {
    /// Entries whose label duration or fps differs from the decoded file's by more than
    /// `tolerance` (relative: |label − file| > tolerance · file); unreadable files and the -1
    /// ("unknown") fields are not compared.
    static func disagreements(_ entries: [LabelEntry], _ results: [Result<VideoInfo, MediaError>],
                              tolerance: Double) -> [LabelDisagreement] {
        var out: [LabelDisagreement] = []
        for (e, r) in zip(entries, results) {
            guard case .success(let info) = r else { continue }
            for (field, label, file) in [("duration", e.duration, info.duration), ("fps", e.fps, info.fps)] {
                guard let label, label > 0, file.isFinite, file > 0 else { continue }
                if abs(label - file) > tolerance * file { out.append(LabelDisagreement(path: e.path, field: field, label: label, file: file)) }
            }
        }
        return out
    }

    /// Without --data-root every path must be absolute: the relative ones would be read from the
    /// working directory, which is rarely what a label file means.
    static func requireAbsolute(_ entries: [LabelEntry], labels: String) throws {
        let relative = entries.filter { !$0.path.hasPrefix("/") }
        guard let first = relative.first else { return }
        throw MediaError(labels, "\(relative.count) of \(entries.count) paths are relative (first: \(first.path)); pass --data-root DIR (the directory they are relative to), or list absolute paths")
    }
}
