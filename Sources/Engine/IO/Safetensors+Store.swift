// Moving named parameters between a ParameterStore layout and safetensors tensors.
//
// Shapes: each parameter i is buffer[offset_i ..< offset_i + count_i] with shape_i, saved as an
// F32 tensor called prefix + name. The buffer is the store's values by default; pass another
// buffer with the same layout (EMA weights, optimizer state) to save or load that instead.

extension ParameterStore {
    /// F32 tensors for every parameter, read from `buffer` (default: the values), named prefix + name.
    public func safetensors(from buffer: FloatBuffer? = nil, prefix: String = "") -> [String: SafetensorsTensor] {
        let b = buffer ?? values
        precondition(b.count == flatCount, "buffer has \(b.count) floats but the store layout needs \(flatCount)")
        var out: [String: SafetensorsTensor] = [:]
        for info in infos {
            out[prefix + info.name] = SafetensorsTensor(floats: UnsafeBufferPointer(start: b.base + info.offset, count: info.count),
                                                        shape: info.shape)
        }
        return out
    }

    /// Copies tensors named prefix + name into `buffer` (default: the values). Every tensor must be
    /// F32 with the parameter's shape; a missing parameter is an error unless `allowMissing`
    /// (then it is left untouched and its name returned). Other tensors in the file are ignored.
    @discardableResult
    public func load(_ file: SafetensorsFile, path: String, into buffer: FloatBuffer? = nil, prefix: String = "",
                     allowMissing: Bool = false) throws -> [String] {
        let b = buffer ?? values
        precondition(b.count == flatCount, "buffer has \(b.count) floats but the store layout needs \(flatCount)")
        var missing: [String] = []
        for info in infos {
            guard let t = file.tensors[prefix + info.name] else { missing.append(info.name); continue }
            guard t.dtype == .F32 else {
                throw SafetensorsError(path: path, reason: "tensor \"\(prefix + info.name)\" is \(t.dtype.rawValue), expected F32")
            }
            guard t.shape == info.shape else {
                throw SafetensorsError(path: path, reason: "tensor \"\(prefix + info.name)\" has shape \(t.shape), the model expects \(info.shape); was it saved from another model configuration?")
            }
            try t.copyFloats(into: UnsafeMutableBufferPointer(start: b.base + info.offset, count: info.count))
        }
        if !missing.isEmpty && !allowMissing {
            let shown = missing.prefix(5).map { "\"\(prefix)\($0)\"" }.joined(separator: ", ")
            throw SafetensorsError(path: path, reason: "\(missing.count) parameter(s) missing, e.g. \(shown); pass allowMissing to keep their current values")
        }
        return missing
    }
}
