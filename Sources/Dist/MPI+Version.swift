// The MPI library this process linked, asked without initialising MPI (MPI_Get_library_version
// may be called before MPI_Init).

import CMPI

extension MPIRuntime {
    /// The library's own version line, e.g. "Open MPI v4.1.6, package: Debian OpenMPI, ...".
    public static var libraryVersion: String {
        var buffer = [CChar](repeating: 0, count: 8192)
        var length: Int32 = 0
        guard MPI_Get_library_version(&buffer, &length) == 0 else { return "unknown" }
        let bytes = buffer.prefix(Int(max(0, min(length, Int32(buffer.count))))).prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
        let text = String(decoding: bytes, as: UTF8.self)
        return text.split(whereSeparator: \.isNewline).first.map(String.init) ?? text
    }
}
