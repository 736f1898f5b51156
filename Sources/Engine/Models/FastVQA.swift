// FAST-VQA (Wu et al., ECCV 2022): the Video Swin-T backbone with gated relative position bias
// (SwinBackbone.swift) and the VQA head.
//
// Shapes (fast-vqa-b, one 32×224×224 fragment clip):
//   x [N, 3, 32, 224, 224] → backbone features [N, 16, 7, 7, 768] (channel-last)
//   head: dropout → fc_hid 1×1×1 conv 768→64 → GELU → dropout → fc_last 64→1 → map [N, 1, 16, 7, 7]
//   score = mean of the map over (T, H, W) → [N]
// The 1×1×1 head convs run as linears over the channel-last features (weights keep the Conv3d shape).

/// The FAST-VQA model (`fast-vqa-b` and `fast-vqa-m` presets; PyTorch twin scripts/reference/fastvqa.py).
final class FastVQA: VQAModel {
    /// Backbone and head configuration.
    struct Config: Sendable, Equatable {
        /// The backbone.
        var swin = SwinConfig()
        /// Hidden channels of the head.
        var headHidden = 64
        /// Dropout of the head (before fc_hid and before fc_last; training only).
        var dropout: Float = 0.5

        /// FAST-VQA-B (swin_tiny_grpb): window 8×7×7, fragment bias in stages 0-2.
        static var fastVQAB: Config { Config() }
        /// FAST-VQA-M (swin_tiny_grpb_m): window 4×4×4, no fragment bias tables.
        static var fastVQAM: Config {
            var c = Config()
            c.swin.window = [4, 4, 4]
            c.swin.fragmentBias = [false, false, false, false]
            return c
        }

        init() {}

        /// `base` overridden by string options: embed_dim, depths, heads, window, frag_biases (0/1 list),
        /// drop_path, head_hidden, dropout, adaptive_window (0/1), base_size (T,H,W).
        init(base: Config, options: [String: String]) throws {
            self = base
            let valid = ["embed_dim", "depths", "heads", "window", "frag_biases", "drop_path", "head_hidden", "dropout",
                         "adaptive_window", "base_size"]
            for k in options.keys.sorted() where !valid.contains(k) {
                throw EngineError("fast-vqa: unknown option '\(k)'; valid options: \(valid.joined(separator: ", "))")
            }
            func ints(_ key: String) throws -> [Int]? {
                guard let v = options[key] else { return nil }
                let parts = v.split(separator: ",").map { Int($0.filter { $0 != " " }) }
                guard !parts.isEmpty, parts.allSatisfy({ $0 != nil }) else {
                    throw EngineError("fast-vqa: \(key) needs comma-separated integers, got '\(v)'")
                }
                return parts.map { $0! }
            }
            func real(_ key: String) throws -> Float? {
                guard let v = options[key] else { return nil }
                guard let f = Float(v) else { throw EngineError("fast-vqa: \(key) needs a number, got '\(v)'") }
                return f
            }
            if let v = try ints("embed_dim") { guard v.count == 1 else { throw EngineError("fast-vqa: embed_dim is one integer") }; swin.embedDim = v[0] }
            if let v = try ints("depths") { swin.depths = v }
            if let v = try ints("heads") { swin.heads = v }
            if let v = try ints("window") { guard v.count == 3 else { throw EngineError("fast-vqa: window needs 3 integers (wd,wh,ww)") }; swin.window = v }
            if let v = try ints("frag_biases") { swin.fragmentBias = v.map { $0 != 0 } }
            if let v = try real("drop_path") { swin.dropPathRate = v }
            if let v = try ints("head_hidden") { guard v.count == 1, v[0] > 0 else { throw EngineError("fast-vqa: head_hidden is one positive integer") }; headHidden = v[0] }
            if let v = try real("dropout") { guard v >= 0, v < 1 else { throw EngineError("fast-vqa: dropout must be in [0, 1), got \(v)") }; dropout = v }
            if let v = try ints("adaptive_window") {
                guard v.count == 1, v[0] == 0 || v[0] == 1 else { throw EngineError("fast-vqa: adaptive_window is 0 or 1, got '\(options["adaptive_window"]!)'") }
                swin.adaptiveWindow = v[0] == 1
            }
            if let v = try ints("base_size") { guard v.count == 3 else { throw EngineError("fast-vqa: base_size needs 3 integers (T,H,W)") }; swin.baseSize = v }
            try swin.validate()
        }
    }

    let name: String
    let parameters = ParameterStore()
    let config: Config
    let backbone: SwinBackbone
    let head: VQAHeadLayers

    /// Builds the model (`name` is its registry name) and initialises it from `seed`.
    init(name: String = "fast-vqa-b", config: Config = .fastVQAB, seed: UInt64) throws {
        try config.swin.validate()
        self.name = name
        self.config = config
        let p = parameters
        backbone = SwinBackbone(p, prefix: "backbone", config: config.swin)
        head = VQAHeadLayers(p, "vqa_head", cin: config.swin.outDim, hidden: config.headHidden)
        p.allocate()
        p.initialize(seed: seed)
    }

    var headParameters: [Int] { head.parameters }

    /// The quality map [N, 1, D, H', W'] before averaging.
    func qualityMap(_ t: Tape, _ clips: Var) -> Var {
        let p = parameters
        var x = backbone(t, p, clips)  // [N, D, H, W, C]
        let s = t.shape(x), hid = config.headHidden, cin = config.swin.outDim
        if config.dropout > 0 { x = t.dropout(x, p: config.dropout) }
        var h = t.gelu(t.linear(x, t.reshape(t.parameter(p, head.fcHid.weight), [hid, cin]), t.parameter(p, head.fcHid.bias!)))
        if config.dropout > 0 { h = t.dropout(h, p: config.dropout) }
        let q = t.linear(h, t.reshape(t.parameter(p, head.fcLast.weight), [1, hid]), t.parameter(p, head.fcLast.bias!))
        return t.reshape(q, [s[0], 1, s[1], s[2], s[3]])  // one channel: channel-last equals channel-first
    }

    func forward(_ t: Tape, _ clips: Var) -> Var {
        VQAHeadLayers.score(t, qualityMap(t, clips))
    }

    func forwardFlops(frames: Int, height: Int, width: Int) -> Double {
        let g = backbone.tokenGrid(frames: frames, height: height, width: width)
        let scale = 1 << (config.swin.depths.count - 1)
        let pos = Double(g[0] * (g[1] / scale) * (g[2] / scale))
        return backbone.flops(frames: frames, height: height, width: width)
            + 2 * pos * Double(config.swin.outDim * config.headHidden + config.headHidden)
    }
}
