// Precomputed motion features (SimpleVQA's SlowFast features) as a loader feature source: wires
// Engine's MotionFeatures (.npy directory or safetensors file) into Media's FrameFeatureSource,
// keyed by each video's path relative to the data root, and checks the settings before any work.
//
// Shapes: stored [C, D] or [D] per video; written per sample as [clips, T, D] (frame centre at
// fraction p of the video → chunk ⌊p·C⌋; see Engine/MotionFeatures.swift).

import Foundation
import Engine
import Media
import Dist

/// Motion features read for the loader, keyed by the video path relative to `roots`.
public struct MotionFeatureSource: FrameFeatureSource {
    /// The reader (one .npy per video or one safetensors file).
    public let features: MotionFeatures
    /// Directories entry paths are relative to (the first prefix that matches is stripped).
    public let roots: [String]
    /// Where the features come from (for messages).
    let location: String
    /// Keys for particular entry paths (taking precedence over `roots`).
    var explicitKeys: [String: String] = [:]

    public var width: Int { features.dim }

    /// Opens the features at `path` for a model taking `dim` features per frame; `roots` are the
    /// directories entry paths are relative to (data root, score folders).
    public init(path: String, dim: Int, roots: [String]) throws {
        guard dim > 0 else {
            throw TrainingError("motion features \(path) given, but the model takes none (model option motion_dim=0); set model.options.motion_dim to their width (SlowFast: 2304) or drop the motion features")
        }
        features = try MotionFeatures(path: path, dim: dim)
        self.roots = roots.filter { !$0.isEmpty }
        location = path
    }

    /// The key of the video at `path`: its path relative to the first matching root.
    public func key(for path: String) -> String {
        if let k = explicitKeys[path] { return k }
        for r in roots {
            let root = r.hasSuffix("/") ? r : r + "/"
            // Bytes, not Characters: a relative path starting with a combining mark joins the root's
            // "/" into one Character, so `hasPrefix` would miss it (found by Fuzz/fuzz-labels).
            if path.utf8.starts(with: root.utf8) { return String(decoding: path.utf8.dropFirst(root.utf8.count), as: UTF8.self) }
        }
        return path
    }

    public func write(path: String, positions: [Double], into: UnsafeMutablePointer<Float>) throws {
        try features.write(for: key(for: path), positions: positions, into: into)
    }

    /// Checks the width against the first of `entries` whose features exist, so a directory of the
    /// wrong features fails before any work (a single bad file is skipped later, like a bad video).
    func checkWidth(_ entries: [LabelEntry]) throws {
        for e in entries.prefix(64) {
            guard let shape = features.storedShape(for: key(for: e.path)), !shape.isEmpty else { continue }
            if shape.last != width {
                throw TrainingError("motion features \(location)", "the features of \(key(for: e.path)) have shape \(shape), i.e. width \(shape.last!), but the model takes \(width) per frame (model option motion_dim); give the features the model was built for or set motion_dim=\(shape.last!)")
            }
            return
        }
    }

    /// The source for a data set, or nil when no features are configured; fails when the model's
    /// motion_dim and the configuration disagree (`what` names the setting for the message).
    public static func make(path: String, model: VQAModel, roots: [String], entries: [LabelEntry], what: String,
                            keys: [String: String] = [:]) throws -> MotionFeatureSource? {
        if path.isEmpty {
            if model.motionDim > 0 {
                throw TrainingError("\(model.name) takes \(model.motionDim) motion features per frame (motion_dim), but \(what) gives none; set \(what) to a directory of .npy files or a .safetensors file (docs/motion-features.md), or use motion_dim=0")
            }
            return nil
        }
        var source = try MotionFeatureSource(path: path, dim: model.motionDim, roots: roots)
        source.explicitKeys = keys
        try source.checkWidth(entries)
        return source
    }
}
