// `vqa-mpi bench conv`: conv3d forward/backward GFLOP/s against raw sgemm on the equivalent GEMM.

import ArgumentParser
import Engine

struct BenchConv: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "conv",
        abstract: "conv3d forward+backward GFLOP/s versus raw sgemm on the same M×N×K.")

    @Option(help: "Input shape N,C,T,H,W.") var input = "4,24,4,56,56"
    @Option(help: "Weight shape Cout,Cin,kt,kh,kw (groups = 1).") var weight = "48,24,3,3,3"
    @Option(help: "Stride st,sh,sw.") var stride = "1,2,2"
    @Option(help: "Padding pt,ph,pw.") var padding = "1,1,1"
    @Option(help: "Threads for OpenBLAS and the Engine kernels.") var threads = 2
    @Option(help: "Timed repetitions (median reported).") var reps = 7
    @Flag(help: "Print one JSON object.") var json = false

    private func ints(_ s: String, _ count: Int, _ name: String) throws -> [Int] {
        let v: [Int] = s.split(separator: ",").compactMap { part in Int(String(part.filter { $0 != " " })) }
        guard v.count == count, v.allSatisfy({ $0 >= 0 }) else {
            throw ValidationError("--\(name) takes \(count) non-negative integers separated by commas, got '\(s)'")
        }
        return v
    }

    func run() throws {
        let xs = try ints(input, 5, "input"), ws = try ints(weight, 5, "weight")
        let s = try ints(stride, 3, "stride"), p = try ints(padding, 3, "padding")
        guard xs[1] == ws[1] else { throw ValidationError("--weight has \(ws[1]) input channels, --input has \(xs[1])") }
        guard reps >= 1, threads >= 1 else { throw ValidationError("--reps and --threads must be at least 1") }
        var outs: [Int] = []
        for d in 0..<3 {
            let padded: Int = xs[2 + d] + 2 * p[d] - ws[2 + d]
            outs.append(padded < 0 ? 0 : padded / max(s[d], 1) + 1)
        }
        guard outs.allSatisfy({ $0 >= 1 }), s.allSatisfy({ $0 >= 1 }) else {
            throw ValidationError("kernel \(ws[2...]) does not fit input \(xs[2...]) with padding \(p) and stride \(s)")
        }
        BLAS.setThreads(threads)
        let tape = Tape(compute: Compute(threads: threads))
        var rng = CounterRNG(seed: 1, purpose: .test)
        let x = (0..<xs.reduce(1, *)).map { _ in rng.nextFloat() - 0.5 }
        let w = (0..<ws.reduce(1, *)).map { _ in (rng.nextFloat() - 0.5) * 0.1 }
        let b = [Float](repeating: 0.01, count: ws[0])
        let gy = [Float](repeating: 1e-3, count: xs[0] * ws[0] * outs.reduce(1, *))
        let m = ws[0], n = xs[0] * outs.reduce(1, *), k = ws[1] * ws[2] * ws[3] * ws[4]
        // sgemm runs interleaved with the conv repetitions so that both see the same machine load.
        var fwd: [Double] = [], bwd: [Double] = [], sgemms: [Double] = []
        for r in 0...reps {
            tape.reset()
            let xv = tape.leaf(x, shape: xs), wv = tape.leaf(w, shape: ws), bv = tape.leaf(b, shape: [ws[0]])
            let t0 = Clock.now()
            let y = tape.conv3d(xv, wv, bv, stride: (s[0], s[1], s[2]), padding: (p[0], p[1], p[2]))
            let t1 = Clock.now()
            tape.backward(y, seed: gy)
            let t2 = Clock.now()
            if r > 0 { fwd.append(t1 - t0); bwd.append(t2 - t1); sgemms.append(SgemmProbe.gflops(m: m, n: n, k: k, reps: 1)) }
        }
        fwd.sort(); bwd.sort(); sgemms.sort()
        let flops = 2 * Double(m) * Double(n) * Double(k)
        let tf = fwd[fwd.count / 2], tb = bwd[bwd.count / 2]
        let fwdG = flops / tf / 1e9, bwdG = 2 * flops / tb / 1e9, allG = 3 * flops / (tf + tb) / 1e9
        let sgemm = sgemms[sgemms.count / 2]
        if json {
            let fields: [String] = [
                "\"conv3d_forward_gflops\": \(fwdG)", "\"conv3d_backward_gflops\": \(bwdG)",
                "\"conv3d_fwd_bwd_gflops\": \(allG)", "\"sgemm_gflops\": \(sgemm)", "\"ratio\": \(allG / sgemm)",
                "\"forward_ms\": \(tf * 1e3)", "\"backward_ms\": \(tb * 1e3)", "\"gemm_shape\": [\(m), \(n), \(k)]",
                "\"input\": \(xs)", "\"weight\": \(ws)", "\"stride\": \(s)", "\"padding\": \(p)",
                "\"threads\": \(threads)", "\"core\": \"\(BLAS.coreName)\"",
            ]
            print("{" + fields.joined(separator: ", ") + "}")
        } else {
            print("conv3d x\(xs) w\(ws) stride \(s) pad \(p), \(threads) thread(s), \(BLAS.coreName):")
            print("  forward  \(tf * 1e3) ms, \(fwdG) GFLOP/s")
            print("  backward \(tb * 1e3) ms, \(bwdG) GFLOP/s")
            print("  fwd+bwd  \(allG) GFLOP/s; sgemm \(m)×\(n)×\(k): \(sgemm) GFLOP/s; ratio \(allG / sgemm)")
        }
    }
}
