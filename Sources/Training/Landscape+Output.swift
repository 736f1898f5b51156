// Files of a landscape run (rank 0 writes them):
//   landscape.csv   1-D: checkpoint,alpha,loss,srcc      2-D: checkpoint,alpha,beta,loss,srcc
//   landscape.svg   1-D: loss and SRCC curves, one line per checkpoint; 2-D: one loss heat map per checkpoint
//   sharpness.json  {"radius", "directions", "seed", "checkpoints": [SharpnessResult...]} (one entry per checkpoint)

import Foundation
import Media
import Dist
import Reports

extension LandscapeResult {
    /// The CSV text of several checkpoints' landscapes (header included).
    public static func csv(_ results: [LandscapeResult], dims: Int) -> String {
        var s = dims == 2 ? "checkpoint,alpha,beta,loss,srcc\n" : "checkpoint,alpha,loss,srcc\n"
        for r in results {
            let name = csvField(r.checkpoint)
            for p in r.points {
                let beta = dims == 2 ? "\(number(p.beta ?? 0))," : ""
                s += "\(name),\(number(p.alpha)),\(beta)\(number(p.loss)),\(number(p.srcc))\n"
            }
        }
        return s
    }

    /// The SVG plot of several checkpoints' landscapes.
    public static func svg(_ results: [LandscapeResult], dims: Int) -> String {
        if dims == 1 {
            let loss = results.map { SVGSeries(name: $0.checkpoint, xs: $0.points.map(\.alpha), ys: $0.points.map(\.loss)) }
            let srcc = results.map { SVGSeries(name: $0.checkpoint, xs: $0.points.map(\.alpha), ys: $0.points.map(\.srcc)) }
            return SVGPlot.document([.lines(title: "Loss along a filter-normalised direction", xLabel: "α", yLabel: "loss", series: loss),
                                     .lines(title: "SRCC along the same direction", xLabel: "α", yLabel: "SRCC", series: srcc)],
                                    columns: 2, title: "Loss landscape (1-D)")
        }
        let panels: [SVGPanel] = results.map { r in
            let xs = Array(Set(r.points.map(\.alpha))).sorted(), ys = Array(Set(r.points.compactMap(\.beta))).sorted()
            var grid = [[Double]](repeating: [Double](repeating: .nan, count: xs.count), count: ys.count)
            for p in r.points {
                if let i = xs.firstIndex(of: p.alpha), let b = p.beta, let j = ys.firstIndex(of: b) { grid[j][i] = p.loss }
            }
            return .heatMap(title: "\(r.checkpoint): loss", xLabel: "α", yLabel: "β", xs: xs, ys: ys, values: grid)
        }
        return SVGPlot.document(panels, columns: 2, title: "Loss landscape (2-D)")
    }

    /// sharpness.json for several checkpoints.
    static func sharpnessJSON(_ results: [LandscapeResult], config: LandscapeConfig) throws -> Data {
        struct File: Encodable {
            let radius: Double, directions: Int, seed: UInt64, includeBiasAndNorm: Bool
            let hessianMethod: String
            let checkpoints: [SharpnessResult]
        }
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys]
        enc.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        let f = File(radius: config.radius, directions: config.directions, seed: config.seed, includeBiasAndNorm: config.includeBiasAndNorm,
                     hessianMethod: "largestMagnitude: power iteration on central-difference H·v (eps = 1e-3·max(‖w‖,1), tolerance 1e-3); top (λ_max, the largest algebraic eigenvalue): largestMagnitude when positive, else power iteration on H − largestMagnitude·I plus the shift",
                     checkpoints: results.map(\.sharpness))
        return try enc.encode(f)
    }

    /// Writes landscape.csv, landscape.svg and sharpness.json into `directory` (created if needed).
    public static func write(_ results: [LandscapeResult], config: LandscapeConfig, to directory: String) throws {
        let fm = FileManager.default
        do { try fm.createDirectory(atPath: directory, withIntermediateDirectories: true) } catch {
            throw TrainingError("cannot create the output directory \(directory)", "\(error.localizedDescription)")
        }
        let dir = URL(fileURLWithPath: directory)
        try Data(csv(results, dims: config.dims).utf8).write(to: dir.appendingPathComponent("landscape.csv"), options: .atomic)
        try Data(svg(results, dims: config.dims).utf8).write(to: dir.appendingPathComponent("landscape.svg"), options: .atomic)
        try sharpnessJSON(results, config: config).write(to: dir.appendingPathComponent("sharpness.json"), options: .atomic)
    }

    /// A number with enough digits to round-trip a Double.
    static func number(_ v: Double) -> String { v.isFinite ? "\(v)" : (v.isNaN ? "nan" : (v > 0 ? "inf" : "-inf")) }

    /// A CSV field, quoted when it contains a comma, quote or newline.
    static func csvField(_ s: String) -> String {
        Labels.quotedField(s)
    }
}
