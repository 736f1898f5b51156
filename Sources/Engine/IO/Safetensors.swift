// safetensors files (https://github.com/huggingface/safetensors format): an 8-byte little-endian
// header length n, n bytes of JSON {name: {dtype, shape, data_offsets: [begin, end]}, ...,
// "__metadata__": {string: string}}, then the raw little-endian tensor bytes. Offsets are
// relative to the start of the data area.
//
// Writing: tensors laid out contiguously in sorted name order, header padded with spaces to a
// multiple of 8, written atomically (temporary file in the same directory, fsync, rename, fsync
// of the directory). Reading: see Safetensors+Read.swift (every bound checked).

#if canImport(Glibc)
import Glibc
private let posixClose = Glibc.close, posixRead = Glibc.read, posixWrite = Glibc.write
#elseif canImport(Darwin)
import Darwin
private let posixClose = Darwin.close, posixRead = Darwin.read, posixWrite = Darwin.write
#endif

/// A safetensors element type.
public enum SafetensorsDType: String, Sendable, CaseIterable, Codable {
    case BOOL, U8, I8, F8_E4M3, F8_E5M2, I16, U16, F16, BF16, I32, U32, F32, F64, I64, U64

    /// Bytes per element.
    public var size: Int {
        switch self {
        case .BOOL, .U8, .I8, .F8_E4M3, .F8_E5M2: return 1
        case .I16, .U16, .F16, .BF16: return 2
        case .I32, .U32, .F32: return 4
        case .F64, .I64, .U64: return 8
        }
    }
}

/// Why a safetensors file could not be read or written: `path: reason`.
public struct SafetensorsError: Error, CustomStringConvertible, Equatable {
    /// The file concerned.
    public let path: String
    /// What is wrong and, where possible, how to fix it.
    public let reason: String
    /// `path: reason`.
    public var description: String { "\(path): \(reason)" }
}

/// One tensor: element type, shape and raw little-endian bytes.
public struct SafetensorsTensor: Sendable, Equatable {
    /// Element type.
    public var dtype: SafetensorsDType
    /// Shape (row-major); [] for a scalar.
    public var shape: [Int]
    /// Raw little-endian data, `shape.product × dtype.size` bytes.
    public var data: [UInt8]

    /// Number of elements.
    public var count: Int { shape.reduce(1, *) }

    /// A tensor from raw bytes (their count must match the shape and dtype).
    public init(dtype: SafetensorsDType, shape: [Int], data: [UInt8]) {
        precondition(shape.allSatisfy { $0 >= 0 }, "safetensors: negative dimension in shape \(shape)")
        precondition(shape.reduce(1, *) * dtype.size == data.count,
                     "safetensors: \(data.count) bytes do not match shape \(shape) of \(dtype.rawValue)")
        self.dtype = dtype; self.shape = shape; self.data = data
    }

    /// An F32 tensor copied from `values`.
    public init(floats values: UnsafeBufferPointer<Float>, shape: [Int]) {
        self.init(dtype: .F32, shape: shape, data: SafetensorsTensor.bytes(of: values))
    }

    /// An F32 tensor from an array.
    public init(floats values: [Float], shape: [Int]) {
        self.init(dtype: .F32, shape: shape, data: values.withUnsafeBufferPointer { SafetensorsTensor.bytes(of: $0) })
    }

    /// An F64 tensor from an array.
    public init(doubles values: [Double], shape: [Int]) {
        self.init(dtype: .F64, shape: shape, data: values.withUnsafeBufferPointer { SafetensorsTensor.bytes(of: $0) })
    }

    /// An I64 tensor from an array.
    public init(int64s values: [Int64], shape: [Int]) {
        self.init(dtype: .I64, shape: shape, data: values.withUnsafeBufferPointer { SafetensorsTensor.bytes(of: $0) })
    }

    /// The elements of an F32 tensor (fails for any other dtype).
    public func floats() throws -> [Float] { try elements(.F32, as: Float.self) }
    /// The elements of an F64 tensor.
    public func doubles() throws -> [Double] { try elements(.F64, as: Double.self) }
    /// The elements of an I64 tensor.
    public func int64s() throws -> [Int64] { try elements(.I64, as: Int64.self) }

    /// Copies an F32 tensor into `destination`, which must hold exactly `count` floats.
    public func copyFloats(into destination: UnsafeMutableBufferPointer<Float>) throws {
        guard dtype == .F32 else { throw SafetensorsError(path: "tensor", reason: "dtype is \(dtype.rawValue), expected F32") }
        guard destination.count == count else {
            throw SafetensorsError(path: "tensor", reason: "shape \(shape) has \(count) elements, destination holds \(destination.count)")
        }
        data.withUnsafeBytes { raw in
            UnsafeMutableRawBufferPointer(destination).copyMemory(from: raw)
        }
    }

    func elements<T>(_ expected: SafetensorsDType, as: T.Type) throws -> [T] {
        guard dtype == expected else {
            throw SafetensorsError(path: "tensor", reason: "dtype is \(dtype.rawValue), expected \(expected.rawValue)")
        }
        return data.withUnsafeBytes { raw in Array(raw.bindMemory(to: T.self)) }
    }

    static func bytes<T>(of values: UnsafeBufferPointer<T>) -> [UInt8] {
        precondition(UInt16(1).littleEndian == 1, "safetensors I/O assumes a little-endian host")
        return Array(UnsafeRawBufferPointer(values))
    }
}

/// A safetensors file in memory: named tensors plus string metadata.
public struct SafetensorsFile: Sendable, Equatable {
    /// Tensors by name.
    public var tensors: [String: SafetensorsTensor]
    /// The `__metadata__` map.
    public var metadata: [String: String]

    /// A file with the given tensors and metadata.
    public init(tensors: [String: SafetensorsTensor] = [:], metadata: [String: String] = [:]) {
        self.tensors = tensors; self.metadata = metadata
    }

    /// The header JSON (padded with spaces to a multiple of 8) and the tensor order.
    func header() -> (bytes: [UInt8], order: [String]) {
        let order = tensors.keys.sorted()
        var parts: [String] = []
        if !metadata.isEmpty {
            let m = metadata.keys.sorted().map { "\(jsonQuoted($0)):\(jsonQuoted(metadata[$0]!))" }
            parts.append("\"__metadata__\":{\(m.joined(separator: ","))}")
        }
        var offset = 0
        for name in order {
            let t = tensors[name]!
            let end = offset + t.data.count
            parts.append("\(jsonQuoted(name)):{\"dtype\":\"\(t.dtype.rawValue)\",\"shape\":[\(t.shape.map(String.init).joined(separator: ","))],\"data_offsets\":[\(offset),\(end)]}")
            offset = end
        }
        var bytes = Array("{\(parts.joined(separator: ","))}".utf8)
        while bytes.count % 8 != 0 { bytes.append(0x20) }
        return (bytes, order)
    }

    /// Writes the file atomically: temporary file in the same directory, fsync, rename, fsync dir.
    /// `byteLimit` is a test hook only (VQA_MPI_TEST_FAIL_WRITE, docs/faults.md): after that many
    /// bytes the write fails exactly as on a full disk (ENOSPC), exercising the cleanup path.
    public func write(to path: String, byteLimit: Int = .max) throws {
        precondition(tensors.keys.allSatisfy { $0 != "__metadata__" }, "safetensors: a tensor may not be called __metadata__")
        let (head, order) = header()
        let slash = path.lastIndex(of: "/")
        let dir = slash.map { String(path[..<$0]) } ?? "."
        let base = slash.map { String(path[path.index(after: $0)...]) } ?? path
        let tmp = "\(dir.isEmpty ? "" : dir)/.\(base).tmp.\(getpid())"
        do {
            let file = try FileDescriptor(path: tmp, flags: O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode: 0o644)
            var budget = byteLimit
            func put(_ bytes: UnsafeRawBufferPointer) throws {
                let n = min(bytes.count, budget)
                try file.writeAll(UnsafeRawBufferPointer(rebasing: bytes[0..<n]))
                budget -= n
                if n < bytes.count { errno = ENOSPC; throw FileDescriptor.failure("write") }
            }
            var length = UInt64(head.count).littleEndian
            try withUnsafeBytes(of: &length) { try put($0) }
            try head.withUnsafeBytes { try put($0) }
            for name in order { try tensors[name]!.data.withUnsafeBytes { try put($0) } }
            try file.sync()
            try file.close()
            try FileDescriptor.check(rename(tmp, path), "rename \(tmp) to \(path)")
        } catch let error as SafetensorsError {
            unlink(tmp)
            throw SafetensorsError(path: path, reason: error.reason)
        }
        // Make the rename durable. Some file systems refuse fsync on directories; that is harmless.
        if let d = try? FileDescriptor(path: dir.isEmpty ? "/" : dir, flags: O_RDONLY | O_CLOEXEC | O_DIRECTORY, mode: 0) {
            _ = try? d.sync()
        }
    }
}

/// An open file descriptor, closed when the owner goes away.
final class FileDescriptor {
    private(set) var fd: Int32

    init(path: String, flags: Int32, mode: mode_t) throws {
        fd = open(path, flags, mode)
        if fd < 0 { throw FileDescriptor.failure("open \(path)") }
    }

    deinit { if fd >= 0 { _ = posixClose(fd) } }

    /// Converts a C return code (< 0 means failure, errno set) into an error.
    static func check(_ rc: Int32, _ what: String) throws {
        if rc < 0 { throw failure(what) }
    }

    static func failure(_ what: String) -> SafetensorsError {
        SafetensorsError(path: "", reason: "\(what) failed: \(String(cString: strerror(errno)))")
    }

    func writeAll(_ bytes: UnsafeRawBufferPointer) throws {
        var done = 0
        while done < bytes.count {
            let n = posixWrite(fd, bytes.baseAddress! + done, bytes.count - done)
            if n < 0 {
                if errno == EINTR { continue }
                throw FileDescriptor.failure("write")
            }
            done += n
        }
    }

    func readAll(into bytes: UnsafeMutableRawBufferPointer) throws {
        var done = 0
        while done < bytes.count {
            let n = posixRead(fd, bytes.baseAddress! + done, bytes.count - done)
            if n < 0 {
                if errno == EINTR { continue }
                throw FileDescriptor.failure("read")
            }
            if n == 0 { throw SafetensorsError(path: "", reason: "file shrank while reading (\(done) of \(bytes.count) bytes)") }
            done += n
        }
    }

    func size() throws -> Int {
        var st = stat()
        try FileDescriptor.check(fstat(fd, &st), "fstat")
        return Int(st.st_size)
    }

    func sync() throws { try FileDescriptor.check(fsync(fd), "fsync") }

    func close() throws {
        let rc = posixClose(fd)
        fd = -1
        try FileDescriptor.check(rc, "close")
    }
}
