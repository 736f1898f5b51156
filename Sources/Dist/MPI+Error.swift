// The one place where MPI return codes become Swift errors.

import CMPI

extension DistError {
    /// Converts MPI return code `code` of `call` into a thrown `DistError` (nothing on MPI_SUCCESS).
    ///
    /// The message names the call, the MPI error class and MPI's own text, e.g.
    /// `MPI_Bcast failed: MPI_ERR_ROOT: invalid root (error class 8)`.
    static func checkMPI(_ code: Int32, _ call: @autoclosure () -> String) throws {
        guard code != MPI_SUCCESS else { return }
        throw DistError(mpiMessage(code, call()))
    }

    /// The text for MPI error `code` raised by `call` (usable before MPI_Init: a table look-up).
    static func mpiMessage(_ code: Int32, _ call: String) -> String {
        var errorClass: Int32 = code
        _ = MPI_Error_class(code, &errorClass)
        var text = [CChar](repeating: 0, count: Int(MPI_MAX_ERROR_STRING) + 1)
        var length: Int32 = 0
        let described = MPI_Error_string(code, &text, &length) == MPI_SUCCESS && length > 0
        let reason = described ? String(decoding: text[..<Int(length)].map { UInt8(bitPattern: $0) }, as: UTF8.self)
                               : "unknown MPI error"
        return "\(call) failed: \(reason) (MPI error code \(code), class \(errorClass)). "
            + "If a rank died or the launch is broken, check every rank's stderr and the mpirun/srun command."
    }
}
