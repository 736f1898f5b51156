// The one place where MPI return codes become Swift errors.

import CMPI

extension DistError {
    /// Converts MPI return code `code` of `call` into a thrown `DistError` (nothing on MPI_SUCCESS).
    ///
    /// The message names the call, MPI's own text and the code, e.g.
    /// `MPI_Bcast failed: MPI_ERR_ROOT: invalid root (MPI error code 8, class 8). ...`.
    static func checkMPI(_ code: Int32, _ call: @autoclosure () -> String) throws {
        guard code != MPI_SUCCESS else { return }
        throw DistError(mpiMessage(code, call()))
    }

    /// The text for MPI error `code` raised by `call`. MPI's description is used only while MPI is
    /// initialised (Open MPI aborts the process if MPI_Error_string is called before MPI_Init).
    static func mpiMessage(_ code: Int32, _ call: String) -> String {
        var initialized: Int32 = 0, finalized: Int32 = 0
        MPI_Initialized(&initialized)
        MPI_Finalized(&finalized)
        var reason = "no description (MPI is not initialised)"
        var errorClass = code
        if initialized != 0 && finalized == 0 {
            _ = MPI_Error_class(code, &errorClass)
            var text = [CChar](repeating: 0, count: Int(MPI_MAX_ERROR_STRING) + 1)
            var length: Int32 = 0
            if MPI_Error_string(code, &text, &length) == MPI_SUCCESS && length > 0 {
                reason = String(decoding: text[..<Int(length)].map { UInt8(bitPattern: $0) }, as: UTF8.self)
            }
        }
        return "\(call) failed: \(reason) (MPI error code \(code), class \(errorClass)). "
            + "If a rank died or the launch is broken, check every rank's stderr and the mpirun/srun command."
    }
}
