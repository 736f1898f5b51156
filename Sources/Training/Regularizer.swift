// The regularisers the paper compares; TrainConfig turns the chosen one into optimizer settings
// (l2: decoupled weight decay), loader settings (aug) or the step's weight perturbation (rwp, awp).

/// What regularises training (the paper's comparison).
public enum Regularizer: String, CaseIterable, Sendable, Codable {
    case none, l2, aug, rwp, awp
}
