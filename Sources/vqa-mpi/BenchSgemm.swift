// `vqa-mpi bench sgemm`: raw cblas_sgemm throughput on a conv-like shape.

import ArgumentParser
import Engine

struct BenchSgemm: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "sgemm", abstract: "Raw sgemm GFLOP/s.")

    @Option(help: "M,N,K of C[M×N] = A[M×K]·B[K×N].") var shape = "64,50176,576"
    @Option(help: "OpenBLAS threads.") var threads = 2
    @Flag(help: "Print one JSON object.") var json = false

    func run() throws {
        let dims = shape.split(separator: ",").compactMap { Int($0) }
        guard dims.count == 3, dims.allSatisfy({ $0 > 0 }) else {
            throw ValidationError("--shape takes three positive integers M,N,K, got '\(shape)'")
        }
        BLAS.setThreads(threads)
        let gflops = SgemmProbe.gflops(m: dims[0], n: dims[1], k: dims[2])
        if json {
            print("{\"sgemm_gflops\": \(gflops), \"shape\": [\(dims[0]), \(dims[1]), \(dims[2])], \"threads\": \(threads), \"core\": \"\(BLAS.coreName)\"}")
        } else {
            print("sgemm \(dims[0])×\(dims[1])×\(dims[2]) on \(threads) thread(s), \(BLAS.coreName): \(gflops) GFLOP/s")
        }
    }
}
