// Learning-rate schedules as multiplicative factors of the base LR, per iteration.
//
// The optimizer step with 0-based index k uses factor(k), as torch.optim.lr_scheduler.LambdaLR
// does when scheduler.step() follows optimizer.step() (so FAST-VQA's first step has factor 0).

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A learning-rate schedule: base LR × factor(iteration).
public enum LRSchedule: Sendable, Equatable, Codable {
    /// Factor 1 throughout.
    case constant
    /// FAST-VQA's LambdaLR: it/warmup for it ≤ warmup, else 0.5·(1 + cos(π·(it − warmup)/maxIterations)).
    /// With maxIterations the total iteration count, the cosine ends above 0 (as upstream).
    case warmupCosine(warmupIterations: Int, maxIterations: Int)
    /// torch StepLR: gamma^⌊it/stepSize⌋.
    case stepDecay(stepSize: Int, gamma: Double)

    /// FAST-VQA's schedule from epochs: warmup = Int(warmupEpochs·itersPerEpoch),
    /// max = (epochs + linearProbeEpochs)·itersPerEpoch.
    public static func fastVQA(warmupEpochs: Double, epochs: Int, linearProbeEpochs: Int = 0,
                               iterationsPerEpoch: Int) -> LRSchedule {
        .warmupCosine(warmupIterations: Int(warmupEpochs * Double(iterationsPerEpoch)),
                      maxIterations: (epochs + linearProbeEpochs) * iterationsPerEpoch)
    }

    /// The LR factor for the optimizer step with 0-based index `iteration`.
    public func factor(iteration: Int) -> Double {
        switch self {
        case .constant:
            return 1
        case .warmupCosine(let warm, let maxIter):
            precondition(maxIter > 0, "warmupCosine: maxIterations must be > 0 (got \(maxIter))")
            // Upstream divides by zero when warmup is 0; with no warm-up we start on the cosine.
            if warm > 0 && iteration <= warm { return Double(iteration) / Double(warm) }
            return 0.5 * (1 + cos(Double.pi * Double(iteration - warm) / Double(maxIter)))
        case .stepDecay(let size, let gamma):
            precondition(size > 0, "stepDecay: stepSize must be > 0 (got \(size))")
            return pow(gamma, Double(iteration / size))
        }
    }

    /// Base LR × factor as a Float, for `Optimizer.step(store:lr:)`.
    public func learningRate(base: Float, iteration: Int) -> Float {
        Float(Double(base) * factor(iteration: iteration))
    }
}
