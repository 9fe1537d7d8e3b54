// Vector norms and the closeness test of two tensors.

extension Tensor {
    /// The dimensions `dims` moved to the end and flattened into one, so that a reduction over
    /// several dimensions becomes one over the last; also the shape of a kept-dimension result.
    private func reductionLines(_ dims: [Int]?, op: String) -> (lines: Tensor, keptShape: [Int], resultShape: [Int]) {
        let reduced = Set((dims ?? Array(0..<rank)).map { normalizedDim($0, rank: rank, op: op) })
        let others = (0..<rank).filter { !reduced.contains($0) }
        let order = others + reduced.sorted()
        let moved = order == Array(0..<rank) ? self : permuted(order)
        let lines = moved.reshaped(others.map { shape[$0] } + [reduced.reduce(1) { $0 * shape[$1] }])
        var kept = shape
        for d in reduced { kept[d] = 1 }
        return (lines, kept, others.map { shape[$0] })
    }

    /// The p-norm over `dims` (torch's `linalg.vector_norm`): (Σ |x|ᵖ)^(1/p), the largest |x|
    /// for p = ∞, the smallest for p = −∞, and the number of nonzero elements for p = 0.
    ///
    /// The gradient is torch's: x · |x|ᵖ⁻² / ‖x‖ᵖ⁻¹, which is 0 where the norm is 0 (not the
    /// 0 · ∞ of the chain rule); for p = ±∞ it goes to the first element of largest (smallest)
    /// magnitude (torch splits it evenly among ties); p = 0 has none.
    ///
    /// - Parameters:
    ///   - p: the order; 2 (Euclidean) by default, as torch.
    ///   - dims: the dimensions reduced; `nil` reduces all of them.
    ///   - keepDim: keep the reduced dimensions as size 1.
    public func norm(p: Double = 2, dims: [Int]? = nil, keepDim: Bool = false) -> Tensor {
        let (lines, keptShape, resultShape) = reductionLines(dims, op: "norm")
        let x = lines.dtype.isFloatingPoint ? lines : lines.to(.float32)
        let result: Tensor
        if p == .infinity || p == -.infinity {
            let magnitude = x.abs()
            result = p > 0 ? magnitude.max(dim: -1).values : magnitude.min(dim: -1).values
        } else if p == 0 {
            result = withNoGrad { (x .!= 0).to(x.dtype).sum(dim: -1) }
        } else {
            let value = withNoGrad { () -> Tensor in
                let magnitude = x.abs()
                if p == 1 { return magnitude.sum(dim: -1) }
                if p == 2 { return (magnitude * magnitude).sum(dim: -1).sqrt() }
                return magnitude.pow(p).sum(dim: -1).pow(1 / p)
            }
            result = value.recording("norm", x, saving: [x, value]) { [unowned value] g, _ in
                let y = value.unsqueezed(dim: -1), gy = g.unsqueezed(dim: -1)
                let local: Tensor
                if p == 1 {
                    local = x.sign()
                } else if p == 2 {
                    local = x / y
                } else {
                    local = x * x.abs().pow(p - 2) / y.pow(p - 1)
                }
                let zero = g.scalarLike(0)
                // Where the norm is 0 (or an element is 0 and p < 2) the formula holds 0 · ∞.
                let defined = (y .!= 0) .& (x .!= 0)
                return [Tensor.where(defined, gy * local, zero)]
            }
        }
        return keepDim ? result.reshaped(keptShape) : result.reshaped(resultShape)
    }

    /// Whether every element of this tensor is close to the matching element of `other`
    /// (broadcast), torch's `allclose`: |self − other| ≤ `atol` + `rtol` · |other|. Equal
    /// infinities are close; NaN is close to nothing unless `equalNaN`.
    ///
    /// - Parameters:
    ///   - other: the reference values (the tolerance scales with them, as in torch).
    ///   - rtol: the relative tolerance, torch's 1e-5.
    ///   - atol: the absolute tolerance, torch's 1e-8.
    ///   - equalNaN: count NaN as equal to NaN.
    public func allClose(_ other: Tensor, rtol: Double = 1e-5, atol: Double = 1e-8, equalNaN: Bool = false) -> Bool {
        let shape = BroadcastPlan.resultShape(self.shape, other.shape, op: "allclose")
        let a = withNoGrad { detached().expanded(to: shape) }.doubles
        let b = withNoGrad { other.detached().expanded(to: shape) }.doubles
        for i in 0..<a.count {
            if a[i].isNaN || b[i].isNaN {
                if equalNaN && a[i].isNaN && b[i].isNaN { continue }
                return false
            }
            if a[i] == b[i] { continue }
            if !(Swift.abs(a[i] - b[i]) <= atol + rtol * Swift.abs(b[i])) { return false }
        }
        return true
    }
}

extension Tensor {
    /// The tensor divided by its `p`-norm along `dim` (torch's `F.normalize`):
    /// `x / max(‖x‖ₚ, ε)`, so a zero vector stays zero.
    /// - Parameters:
    ///   - p: the norm's exponent (torch's default 2).
    ///   - dim: the dimension the norm runs over (torch's default 1); negative counts from the end.
    ///   - epsilon: the smallest divisor (torch's default 1e-12).
    public func normalized(p: Double = 2, dim: Int = 1, epsilon: Double = 1e-12) -> Tensor {
        self / norm(p: p, dims: [dim], keepDim: true).clamped(min: epsilon)
    }

    /// The cosine of the angle between this tensor and `other` along `dim`, broadcast
    /// (torch's `F.cosine_similarity`): `x·y / (max(‖x‖, ε) · max(‖y‖, ε))`.
    /// - Parameters:
    ///   - other: broadcastable to this tensor's shape.
    ///   - dim: the dimension of the vectors (torch's default 1).
    ///   - epsilon: the smallest norm (torch's default 1e-8).
    public func cosineSimilarity(_ other: Tensor, dim: Int = 1, epsilon: Double = 1e-8) -> Tensor {
        let dot = (self * other).sum(dims: [dim])
        let norms = norm(p: 2, dims: [dim]).clamped(min: epsilon) * other.norm(p: 2, dims: [dim]).clamped(min: epsilon)
        return dot / norms
    }
}
