// Zero padding at the end of axes and its inverse crop (Video Swin pads features to window multiples).
//
// Shapes: padEnd x [S₀..Sₖ] → y [P₀..Pₖ] with Pᵢ ≥ Sᵢ; y[i₀..iₖ] = x[i₀..iₖ] where every iᵢ < Sᵢ, else 0
//         (torch.nn.functional.pad with zero "after" amounts only);
//         cropEnd x [P₀..Pₖ] → y [S₀..Sₖ] = x[:S₀, ..., :Sₖ] (copied).

extension Tape {
    /// Zero-pads `x` at the end of every axis to `shape` (the identity when the shapes are equal).
    func padEnd(_ x: Var, to padded: [Int]) -> Var {
        let s = shape(x)
        precondition(padded.count == s.count && zip(s, padded).allSatisfy { $0 <= $1 },
                     "padEnd: cannot pad \(s) to \(padded); every target size must be at least the input size")
        guard padded != s else { return x }
        let xs = contiguousStrides(s), ps = contiguousStrides(padded)
        let (y, yp) = output(shape: padded, needsGrad: anyNeedsGrad(x))
        yp.update(repeating: 0, count: padded.reduce(1, *))
        let c = compute
        Kernels.copy(dims: s, dst: yp, dstStrides: ps, src: value(x), srcStrides: xs, accumulate: false, compute: c)
        setBackward(y) { t in
            guard t.needsGrad(x) else { return }
            Kernels.copy(dims: s, dst: t.grad(x), dstStrides: xs, src: t.grad(y), srcStrides: ps, accumulate: true, compute: c)
        }
        return y
    }

    /// The leading `shape` block of `x` (x[:S₀, ..., :Sₖ]); the identity when the shapes are equal.
    func cropEnd(_ x: Var, to cropped: [Int]) -> Var {
        let s = shape(x)
        precondition(cropped.count == s.count && zip(cropped, s).allSatisfy { $0 <= $1 && $0 >= 0 },
                     "cropEnd: cannot crop \(s) to \(cropped); every target size must be at most the input size")
        guard cropped != s else { return x }
        let xs = contiguousStrides(s), cs = contiguousStrides(cropped)
        let (y, yp) = output(shape: cropped, needsGrad: anyNeedsGrad(x))
        let c = compute
        Kernels.copy(dims: cropped, dst: yp, dstStrides: cs, src: value(x), srcStrides: xs, accumulate: false, compute: c)
        setBackward(y) { t in
            guard t.needsGrad(x) else { return }
            Kernels.copy(dims: cropped, dst: t.grad(x), dstStrides: xs, src: t.grad(y), srcStrides: cs, accumulate: true, compute: c)
        }
        return y
    }
}
