// Reading safetensors with every bound checked.
//
// Checks, each failing with `path: reason`: file ≥ 8 bytes; header length ≤ 100 MB and within the
// file; header is a strict JSON object (no duplicate keys); `__metadata__` maps strings to
// strings; every tensor has a known dtype, a shape of non-negative integers, and data_offsets
// [begin, end] with begin ≤ end ≤ data size and shape product × dtype size == end − begin
// (overflow-checked); sorted by begin, the tensors cover the data area exactly (no holes, no
// overlaps, nothing trailing).

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension SafetensorsFile {
    /// Largest header accepted (as the reference implementation).
    static let maxHeaderBytes = 100_000_000

    /// Reads and validates a safetensors file.
    public static func read(path: String) throws -> SafetensorsFile {
        let bytes: [UInt8]
        do {
            let file = try FileDescriptor(path: path, flags: O_RDONLY | O_CLOEXEC, mode: 0)
            let size = try file.size()
            bytes = try [UInt8](unsafeUninitializedCapacity: size) { buf, initialized in
                try file.readAll(into: UnsafeMutableRawBufferPointer(buf))
                initialized = size
            }
        } catch let error as SafetensorsError {
            throw SafetensorsError(path: path, reason: error.reason)
        }
        return try parse(bytes, path: path)
    }

    /// Parses and validates the bytes of a safetensors file; `path` is used in errors.
    public static func parse(_ bytes: [UInt8], path: String) throws -> SafetensorsFile {
        func fail(_ reason: String) -> SafetensorsError { SafetensorsError(path: path, reason: reason) }
        guard bytes.count >= 8 else {
            throw fail("file is \(bytes.count) bytes, shorter than the 8-byte header length; it is truncated or not a safetensors file")
        }
        var length: UInt64 = 0
        for i in 0..<8 { length |= UInt64(bytes[i]) << (8 * UInt64(i)) }
        guard length <= UInt64(maxHeaderBytes) else {
            throw fail("header length \(length) exceeds the \(maxHeaderBytes)-byte limit; the file is corrupt or not safetensors")
        }
        let headerLength = Int(length)
        guard headerLength <= bytes.count - 8 else {
            throw fail("header length \(headerLength) runs past the end of the \(bytes.count)-byte file; the file is truncated")
        }
        let dataStart = 8 + headerLength
        let dataSize = bytes.count - dataStart
        let json: JSONValue
        do {
            json = try bytes.withUnsafeBufferPointer { try JSONReader.parse(UnsafeBufferPointer(rebasing: $0[8..<dataStart])) }
        } catch let e as JSONReader.Failure {
            throw fail("header is not valid JSON: \(e.message) (of the header)")
        }
        guard case .object(let entries) = json else { throw fail("header is not a JSON object") }

        var file = SafetensorsFile()
        var spans: [(begin: Int, end: Int, name: String)] = []
        for (name, value) in entries {
            if name == "__metadata__" {
                guard case .object(let meta) = value else { throw fail("__metadata__ is not an object of strings") }
                for (k, v) in meta {
                    guard case .string(let s) = v else { throw fail("__metadata__ value for \"\(k)\" is not a string") }
                    file.metadata[k] = s
                }
                continue
            }
            guard case .object(let fields) = value else { throw fail("tensor \"\(name)\": entry is not an object") }
            func field(_ key: String) -> JSONValue? { fields.first { $0.0 == key }?.1 }
            guard case .string(let dtypeName)? = field("dtype") else { throw fail("tensor \"\(name)\": missing string \"dtype\"") }
            guard let dtype = SafetensorsDType(rawValue: dtypeName) else {
                throw fail("tensor \"\(name)\": unknown dtype \"\(dtypeName)\" (known: \(SafetensorsDType.allCases.map(\.rawValue).joined(separator: ", ")))")
            }
            guard case .array(let dims)? = field("shape") else { throw fail("tensor \"\(name)\": missing array \"shape\"") }
            var shape: [Int] = []
            for d in dims {
                guard case .integer(let v) = d, v >= 0 else { throw fail("tensor \"\(name)\": shape entries must be non-negative integers") }
                shape.append(v)
            }
            guard case .array(let offs)? = field("data_offsets"), offs.count == 2,
                  case .integer(let begin) = offs[0], case .integer(let end) = offs[1] else {
                throw fail("tensor \"\(name)\": \"data_offsets\" must be [begin, end] integers")
            }
            guard begin >= 0, begin <= end, end <= dataSize else {
                throw fail("tensor \"\(name)\": data_offsets [\(begin), \(end)] outside the \(dataSize)-byte data area")
            }
            var expected = dtype.size, overflow = false
            for d in shape {
                (expected, overflow) = expected.multipliedReportingOverflow(by: d)
                if overflow { throw fail("tensor \"\(name)\": shape \(shape) is too large") }
            }
            guard expected == end - begin else {
                throw fail("tensor \"\(name)\": shape \(shape) of \(dtypeName) needs \(expected) bytes but data_offsets span \(end - begin)")
            }
            spans.append((begin, end, name))
            file.tensors[name] = SafetensorsTensor(dtype: dtype, shape: shape,
                                                   data: Array(bytes[(dataStart + begin)..<(dataStart + end)]))
        }
        spans.sort { ($0.begin, $0.end) < ($1.begin, $1.end) }
        var cursor = 0
        for s in spans {
            if s.begin < cursor { throw fail("tensor \"\(s.name)\": data [\(s.begin), \(s.end)] overlaps the previous tensor (ends at \(cursor))") }
            if s.begin > cursor { throw fail("tensor \"\(s.name)\": hole of \(s.begin - cursor) bytes before its data at \(s.begin)") }
            cursor = s.end
        }
        guard cursor == dataSize else {
            throw fail("\(dataSize - cursor) bytes after the last tensor are not described by the header")
        }
        return file
    }
}
