// The catalogue `train --help` prints: every model, sampler kind and regularizer with a one-line
// description and the default. The switches are exhaustive, so a new case does not compile until
// it is described here.

import Engine
import Media
import Training

enum TrainHelp {
    static func model(_ m: ModelKind) -> String {
        switch m {
        case .fragnet: return "small fragment CNN (FAST-VQA-shaped sampler, trains from scratch on a CPU); options: widths, norm"
        case .fastVQAB: return "FAST-VQA-B: Swin-T-style video backbone on 7×7 fragments of 32×32, 32 frames (official weights: scripts/convert)"
        case .fastVQAM: return "FAST-VQA-M (FasterVQA mobile): the smaller backbone, 4×4 fragments, 16 frames"
        case .simpleVQA: return "SimpleVQA: ResNet-50 spatial features on resized frames, optional motion features (motion_dim)"
        }
    }

    static func spatial(_ s: SpatialKind) -> String {
        switch s {
        case .fragments: return "grid mini-patches: fragments_h×fragments_w cells of fsize_h×fsize_w (FAST-VQA)"
        case .sama: return "multi-scale fragments, one scale per frame_interval frames (SAMA)"
        case .resize: return "the whole frame resized to resize_h×resize_w (keep_aspect_ratio crops first)"
        }
    }

    static func temporal(_ t: TemporalKind) -> String {
        switch t {
        case .fragments: return "clip_len frames at frame_interval from a seeded start in each clip's segment (FAST-VQA)"
        case .tFrag: return "t_frag segments of clip_len/t_frag frames each (FasterVQA)"
        case .uniform: return "clip_len frames spread evenly over the video"
        }
    }

    static func regularizer(_ r: Regularizer) -> String {
        switch r {
        case .none: return "no regulariser (optimizer weight decay only)"
        case .l2: return "decoupled weight decay regularization.l2.wd"
        case .aug: return "data augmentation regularization.aug.names (hflip, trivial_augment)"
        case .rwp: return "random weight perturbation of relative size γ (--gamma)"
        case .awp: return "adversarial weight perturbation: one ascent step of relative size γ (--gamma)"
        }
    }

    /// The text appended to train's discussion.
    static var catalogue: String {
        let d = TrainConfig()
        func mark(_ isDefault: Bool) -> String { isDefault ? " (default)" : "" }
        var lines = ["", "Models (--model; options with --model-option key=value):"]
        lines += ModelKind.allCases.map { "  \($0.rawValue)\(mark($0 == d.model.name)): \(model($0))" }
        lines += ["", "Samplers (data.train.sampler.spatial / .temporal; clip_len \(d.data.train.sampler.clipLen), frame_interval \(d.data.train.sampler.frameInterval), \(d.data.train.sampler.fragmentsH)×\(d.data.train.sampler.fragmentsW) fragments of \(d.data.train.sampler.fsizeH)×\(d.data.train.sampler.fsizeW) by default):"]
        lines += SpatialKind.allCases.map { "  spatial \($0.rawValue)\(mark($0 == d.data.train.sampler.spatial)): \(spatial($0))" }
        lines += TemporalKind.allCases.map { "  temporal \($0.rawValue)\(mark($0 == d.data.train.sampler.temporal)): \(temporal($0))" }
        lines += ["", "Regularizers (--regularizer; γ default \(d.regularization.awp.gamma)):"]
        lines += Regularizer.allCases.map { "  \($0.rawValue)\(mark($0 == d.regularization.kind)): \(regularizer($0))" }
        return lines.joined(separator: "\n")
    }
}
