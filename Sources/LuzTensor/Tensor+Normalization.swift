extension Tensor {
    /// Layer normalization over the trailing dimensions `normalizedShape` (torch's
    /// `layer_norm`): each row is shifted to mean 0 and scaled to variance 1 (the biased
    /// variance, plus `epsilon`), then multiplied by `weight` and shifted by `bias` elementwise.
    ///
    /// One fused kernel forward and backward: the statistics are computed once per row and the
    /// gradient needs no temporaries of the input's size beyond the result.
    public func layerNormalized(normalizedShape: [Int], weight: Tensor? = nil, bias: Tensor? = nil,
                                epsilon: Double = 1e-5) -> Tensor {
        require(normalizedShape.count <= rank && Array(shape.suffix(normalizedShape.count)) == normalizedShape,
                "layerNorm: normalized shape \(describe(normalizedShape)) does not end the input shape \(describe(shape))")
        if let weight {
            require(weight.shape == normalizedShape,
                    "layerNorm: weight shape \(describe(weight.shape)) should be \(describe(normalizedShape))")
        }
        if let bias {
            require(bias.shape == normalizedShape,
                    "layerNorm: bias shape \(describe(bias.shape)) should be \(describe(normalizedShape))")
        }
        require(dtype.isFloatingPoint, "layerNorm: needs a floating-point input, got \(dtype)")
        let width = normalizedShape.reduce(1, *)
        let rows = count / Swift.max(width, 1)
        let out = Tensor.empty(shape, dtype: dtype)
        let means = Tensor.empty([rows], dtype: dtype)
        let inverseStds = Tensor.empty([rows], dtype: dtype)
        let w = weight.map { t in t.dtype == dtype ? t : withNoGrad { t.to(dtype) } }
        let b = bias.map { t in t.dtype == dtype ? t : withNoGrad { t.to(dtype) } }
        func forward<T: TensorFloat>(_: T.Type) {
            let x = pointer(T.self), y = out.pointer(T.self)
            let mp = means.pointer(T.self), rp = inverseStds.pointer(T.self)
            let wp = w?.pointer(T.self), bp = b?.pointer(T.self)
            let eps = T(epsilon)
            parallelChunks(rows, cost: width * 4) { range in
                for r in range {
                    let row = x + r * width, dst = y + r * width
                    let mean = rowSum(width) { row[$0] } / T(width)
                    let squares = rowSum(width) { let d = row[$0] - mean; return d * d }
                    let inverseStd = 1 / (squares / T(width) + eps).squareRoot()
                    mp[r] = mean
                    rp[r] = inverseStd
                    switch (wp, bp) {
                    case let (wp?, bp?): for j in 0..<width { dst[j] = (row[j] - mean) * inverseStd * wp[j] + bp[j] }
                    case let (wp?, nil): for j in 0..<width { dst[j] = (row[j] - mean) * inverseStd * wp[j] }
                    case let (nil, bp?): for j in 0..<width { dst[j] = (row[j] - mean) * inverseStd + bp[j] }
                    case (nil, nil): for j in 0..<width { dst[j] = (row[j] - mean) * inverseStd }
                    }
                }
            }
        }
        withFloatType(dtype, "layerNorm", float: { forward(Float.self) }, double: { forward(Double.self) })
        var inputs: [Tensor] = [self]
        if let weight { inputs.append(weight) }
        if let bias { inputs.append(bias) }
        let hasWeight = weight != nil, hasBias = bias != nil
        return out.recording("layerNorm", inputs, saving: inputs) { [self] g, need in
            let gradInput = need[0] ? Tensor.empty(self.shape, dtype: self.dtype) : nil
            let gradWeight = hasWeight && need[1] ? Tensor.zeros(normalizedShape, dtype: self.dtype) : nil
            let gradBias = hasBias && need[hasWeight ? 2 : 1] ? Tensor.zeros(normalizedShape, dtype: self.dtype) : nil
            func backward<T: TensorFloat>(_: T.Type) {
                let x = self.pointer(T.self), gp = g.pointer(T.self)
                let mp = means.pointer(T.self), rp = inverseStds.pointer(T.self)
                let wp = w?.pointer(T.self)
                if let gradInput {
                    let gx = gradInput.pointer(T.self)
                    parallelChunks(rows, cost: width * 4) { range in
                        for r in range {
                            let row = x + r * width, gr = gp + r * width, dst = gx + r * width
                            let mean = mp[r], inverseStd = rp[r]
                            // dx = rstd · (ĝ − mean(ĝ) − x̂ · mean(ĝ ⊙ x̂)), with ĝ = g ⊙ weight.
                            let meanG: T, meanGX: T
                            if let wp {
                                meanG = rowSum(width) { gr[$0] * wp[$0] } / T(width)
                                meanGX = rowSum(width) { gr[$0] * wp[$0] * (row[$0] - mean) } * inverseStd / T(width)
                                for j in 0..<width {
                                    let xh = (row[j] - mean) * inverseStd
                                    dst[j] = inverseStd * (gr[j] * wp[j] - meanG - xh * meanGX)
                                }
                            } else {
                                meanG = rowSum(width) { gr[$0] } / T(width)
                                meanGX = rowSum(width) { gr[$0] * (row[$0] - mean) } * inverseStd / T(width)
                                for j in 0..<width {
                                    let xh = (row[j] - mean) * inverseStd
                                    dst[j] = inverseStd * (gr[j] - meanG - xh * meanGX)
                                }
                            }
                        }
                    }
                }
                if gradWeight != nil || gradBias != nil {
                    let gw = gradWeight?.pointer(T.self), gb = gradBias?.pointer(T.self)
                    for r in 0..<rows {
                        let row = x + r * width, gr = gp + r * width
                        let mean = mp[r], inverseStd = rp[r]
                        if let gw { for j in 0..<width { gw[j] += gr[j] * (row[j] - mean) * inverseStd } }
                        if let gb { for j in 0..<width { gb[j] += gr[j] } }
                    }
                }
            }
            withFloatType(self.dtype, "layerNorm", float: { backward(Float.self) }, double: { backward(Double.self) })
            var grads: [Tensor?] = [gradInput]
            if hasWeight { grads.append(gradWeight) }
            if hasBias { grads.append(gradBias) }
            return grads
        }
    }
}

/// `Σ term(j)` for `j` in `0..<count`, with eight independent partial sums so that the loop
/// vectorizes (a single running sum is one long chain of dependent additions).
@inline(__always)
func rowSum<T: TensorFloat>(_ count: Int, _ term: (Int) -> T) -> T {
    var s0 = T.zero, s1 = T.zero, s2 = T.zero, s3 = T.zero
    var s4 = T.zero, s5 = T.zero, s6 = T.zero, s7 = T.zero
    var j = 0
    while j + 8 <= count {
        s0 += term(j); s1 += term(j + 1); s2 += term(j + 2); s3 += term(j + 3)
        s4 += term(j + 4); s5 += term(j + 5); s6 += term(j + 6); s7 += term(j + 7)
        j += 8
    }
    while j < count { s0 += term(j); j += 1 }
    return ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7))
}
