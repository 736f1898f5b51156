// The tiny `vqa-mpi bench step` run shared by the distribution tests (N ranks against one) and
// the training tests of the step benchmark's report.

/// Arguments of a tiny data-parallel training run of `bench step`.
public enum BenchStepFixture {
    /// fragnet with widths 8,8,16,16 and a 16-wide head, 4 frames of 64², a global batch of 6 clips,
    /// 5 steps, no warm-up, AWP γ = 0.01 when a test turns AWP on.
    public static let tiny = ["--model-option", "widths=8,8,16,16", "--model-option", "head_hidden=16", "--frames", "4", "--size", "64",
                              "--global-batch", "6", "--steps", "5", "--warmup", "0", "--gamma", "0.01"]
}
