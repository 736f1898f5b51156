// The configuration's named choices that belong to the application (the others are the engine's
// ModelKind, OptimizerKind and LossKind and Dist's PerturbationSync). TrainConfig holds them typed;
// names are checked once, when the YAML, `--set` and flag layers are merged (TrainConfig.choices).

import Engine

/// What regularises training (the paper's comparison): TrainConfig turns the choice into optimizer
/// settings (l2: decoupled weight decay), loader settings (aug) or the step's weight perturbation (rwp, awp).
public enum Regularizer: String, CaseIterable, Sendable, Codable {
    case none, l2, aug, rwp, awp
}

/// The learning-rate schedule.
public enum ScheduleKind: String, CaseIterable, Sendable, Codable {
    /// Linear warm-up, then cosine decay (FAST-VQA).
    case warmupCosine = "warmup_cosine"
    /// The base LR throughout.
    case constant
}

/// Which tensors AWP/RWP perturb (config names of PerturbationSelection).
public enum PerturbSelect: String, CaseIterable, Sendable, Codable {
    /// Every tensor named "…weight" (the seed code's rule).
    case weight
    /// Those with more than one dimension.
    case ndim

    /// The engine's selection rule.
    var selection: PerturbationSelection { self == .ndim ? .ndimAbove1 : .weightNamed }
}
