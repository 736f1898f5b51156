// Precomputed per-chunk motion features (SimpleVQA: SlowFast R50 slow 2048 + fast 256 per 1-s
// chunk), read from disk and aligned to the sampled frames.
//
// Shapes: stored [C, D] (C chunks of a video, D features) or [D] (one vector for the whole video,
//         C = 1); for T sampled frames the model takes [T, D]. Alignment by position: a frame whose
//         centre lies at fraction p ∈ [0, 1) of the video takes chunk ⌊p·C⌋, i.e. the chunk that
//         covers it when the C chunks split the video evenly (SimpleVQA: 1-s chunks, one per
//         sampled frame). `perFrame` assumes T frames spread evenly: frame t takes chunk ⌊t·C/T⌋.
// Sources: a safetensors file with one F32/F64 tensor [C, D] per video, named by the video's path
//          relative to the data root (e.g. "videos/123.mp4"), or a directory of NumPy .npy files
//          (little-endian '<f4'/'<f8', C order, 1-D or 2-D) at <dir>/<relative path>.npy.
// Non-finite values make a video's features unreadable (a NaN would poison the global batch).

import Foundation

/// Motion features per video, from one safetensors file or a directory of .npy files.
public struct MotionFeatures: Sendable {
    enum Source: Sendable { case safetensors(SafetensorsFile, path: String), npyDirectory(String) }
    let source: Source
    /// Features per chunk (D).
    public let dim: Int

    /// Opens `path`: a `.safetensors` file (every tensor [C, dim]) or a directory of `.npy` files.
    public init(path: String, dim: Int) throws {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else {
            throw EngineError("motion features: \(path) does not exist; give a .safetensors file or a directory of .npy files")
        }
        self.dim = dim
        if isDir.boolValue {
            source = .npyDirectory(path)
        } else {
            let file = try SafetensorsFile.read(path: path)
            for (name, t) in file.tensors where !MotionFeatures.validShape(t.shape, dim: dim) {
                throw EngineError("motion features: \(path) tensor \"\(name)\" has shape \(t.shape), expected [chunks, \(dim)] or [\(dim)] (motion_dim=\(dim))")
            }
            source = .safetensors(file, path: path)
        }
    }

    /// The stored [C, D] features of the video at `relativePath` (row-major), C ≥ 1.
    func chunks(for relativePath: String) throws -> (chunks: Int, values: [Float]) {
        switch source {
        case .safetensors(let file, let path):
            guard let t = file.tensors[relativePath] else {
                throw EngineError("motion features: \(path) has no tensor \"\(relativePath)\"; name each tensor by the video's path relative to the data root")
            }
            let v = t.dtype == .F64 ? try t.doubles().map(Float.init) : try t.floats()
            try MotionFeatures.checkFinite(v, "\(path) tensor \"\(relativePath)\"")
            return (t.shape.count == 1 ? 1 : t.shape[0], v)
        case .npyDirectory(let dir):
            let file = (dir as NSString).appendingPathComponent(relativePath + ".npy")
            guard let data = FileManager.default.contents(atPath: file) else {
                throw EngineError("motion features: cannot read \(file); expected one .npy [chunks, \(dim)] per video at <dir>/<relative path>.npy")
            }
            let (shape, values) = try MotionFeatures.parseNPY([UInt8](data), path: file)
            guard MotionFeatures.validShape(shape, dim: dim) else {
                throw EngineError("motion features: \(file) has shape \(shape), expected [chunks, \(dim)] or [\(dim)] (motion_dim=\(dim))")
            }
            try MotionFeatures.checkFinite(values, file)
            return (shape.count == 1 ? 1 : shape[0], values)
        }
    }

    /// Features [frames, D] for `frames` frames spread over the video: frame t takes chunk ⌊t·C/T⌋.
    func perFrame(for relativePath: String, frames: Int) throws -> [Float] {
        let (c, v) = try chunks(for: relativePath)
        guard c >= 1 else { throw EngineError("motion features: \(relativePath) has no chunks") }
        var out = [Float](repeating: 0, count: frames * dim)
        for t in 0..<frames {
            let k = t * c / frames
            for j in 0..<dim { out[t * dim + j] = v[k * dim + j] }
        }
        return out
    }

    /// The stored shape of the video's features, unchecked (nil when there are none or they cannot be parsed).
    public func storedShape(for relativePath: String) -> [Int]? {
        switch source {
        case .safetensors(let file, _): return file.tensors[relativePath]?.shape
        case .npyDirectory(let dir):
            let file = (dir as NSString).appendingPathComponent(relativePath + ".npy")
            guard let data = FileManager.default.contents(atPath: file) else { return nil }
            return try? MotionFeatures.parseNPY([UInt8](data), path: file).0
        }
    }

    /// Writes features [positions.count, D] into `out`: the frame centred at fraction p ∈ [0, 1)
    /// of the video takes chunk ⌊p·C⌋ (clamped to the last chunk).
    public func write(for relativePath: String, positions: [Double], into out: UnsafeMutablePointer<Float>) throws {
        let (c, v) = try chunks(for: relativePath)
        for (t, p) in positions.enumerated() {
            let k = min(max(Int((p * Double(c)).rounded(.down)), 0), c - 1)
            v.withUnsafeBufferPointer { (out + t * dim).update(from: $0.baseAddress! + k * dim, count: dim) }
        }
    }

    /// [C ≥ 1, dim] or [dim].
    static func validShape(_ shape: [Int], dim: Int) -> Bool {
        (shape.count == 2 && shape[0] >= 1 && shape[1] == dim) || (shape.count == 1 && shape[0] == dim)
    }

    static func checkFinite(_ values: [Float], _ what: String) throws {
        if let i = values.firstIndex(where: { !$0.isFinite }) {
            throw EngineError("motion features: \(what) holds a non-finite value (\(values[i]) at flat index \(i)); re-extract the features of this video")
        }
    }

    /// Parses a NumPy .npy file (format 1.0-3.0, '<f4' or '<f8', C order) into (shape, floats).
    static func parseNPY(_ b: [UInt8], path: String) throws -> ([Int], [Float]) {
        func fail(_ why: String) -> EngineError { EngineError("motion features: \(path) is not a readable .npy file: \(why)") }
        guard b.count >= 10, b[0] == 0x93, Array(b[1...5]) == Array("NUMPY".utf8) else { throw fail("bad magic") }
        let major = b[6]
        let (lenBytes, start) = major == 1 ? (2, 10) : (4, 12)
        guard major >= 1, major <= 3, b.count >= start else { throw fail("unsupported version \(major)") }
        var headerLen = 0
        for i in 0..<lenBytes { headerLen |= Int(b[8 + i]) << (8 * i) }
        guard b.count >= start + headerLen, let header = String(bytes: b[start..<(start + headerLen)], encoding: .utf8) else {
            throw fail("truncated header")
        }
        let compact = header.filter { !$0.isWhitespace }
        let width: Int
        if compact.contains("'descr':'<f4'") { width = 4 } else if compact.contains("'descr':'<f8'") { width = 8 } else {
            throw fail("dtype must be little-endian float32 or float64 ('<f4'/'<f8'), header \(header)")
        }
        guard compact.contains("'fortran_order':False") else { throw fail("Fortran order is not supported; save with np.ascontiguousarray") }
        guard let open = compact.range(of: "'shape':("), let close = compact[open.upperBound...].firstIndex(of: ")") else {
            throw fail("no shape in header \(header)")
        }
        let shape = compact[open.upperBound..<close].split(separator: ",").compactMap { Int($0) }
        var count = 1
        for d in shape {
            let (m, overflow) = count.multipliedReportingOverflow(by: d)
            guard d >= 0, !overflow, m <= b.count else { throw fail("shape \(shape) does not fit the file's \(b.count) bytes") }
            count = m
        }
        let body = start + headerLen
        guard b.count >= body + count * width else { throw fail("data holds \(b.count - body) bytes, shape \(shape) needs \(count * width)") }
        var values = [Float](repeating: 0, count: count)
        b.withUnsafeBytes { raw in
            for i in 0..<count {
                if width == 4 {
                    values[i] = Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: body + 4 * i, as: UInt32.self)))
                } else {
                    values[i] = Float(Double(bitPattern: UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: body + 8 * i, as: UInt64.self))))
                }
            }
        }
        return (shape, values)
    }
}
