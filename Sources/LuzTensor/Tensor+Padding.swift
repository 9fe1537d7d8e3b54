// Padding of the last dimensions (torch's F.pad) and scatter with a reduction.

/// How ``Tensor/padded(_:mode:)`` fills the border (torch's `F.pad` modes).
public enum PaddingMode: Sendable, Equatable {
    /// A constant value (torch's `"constant"`, value 0 by default).
    case constant(Double)
    /// The input mirrored about its edge, the edge not repeated: `[1, 2, 3]` padded by 2 on the
    /// left gives `[3, 2, 1, 2, 3]` (torch's `"reflect"`; each pad must be smaller than the size).
    case reflect
    /// The edge element repeated (torch's `"replicate"`).
    case replicate
    /// The input wrapped around: the left pad is the end of the input (torch's `"circular"`;
    /// each pad must be at most the size).
    case circular
}

/// How ``Tensor/scattering(dim:index:source:reduction:)`` combines a source element with the
/// value already at its position.
public enum ScatterReduction: Sendable {
    /// The source replaces the value (torch's `scatter`); with repeated indices the last wins.
    case replace
    /// The sources are added to the value (torch's `scatter_reduce` with `"sum"`, `include_self`).
    case add
    /// The largest of the value and its sources (torch's `scatter_reduce` with `"amax"`,
    /// `include_self`).
    case amax
}

extension Tensor {
    /// This tensor padded on its last dimensions (torch's `F.pad`).
    ///
    /// `padding` lists (before, after) pairs starting from the last dimension: `[left, right]`
    /// pads the last one, `[left, right, top, bottom]` the last two, and so on; any rank works
    /// in every mode. The gradient of a padded element flows back to the element it copies.
    ///
    /// - Parameters:
    ///   - padding: an even number of non-negative sizes, at most two per dimension.
    ///   - mode: how the border is filled; a constant 0 by default, as torch.
    public func padded(_ padding: [Int], mode: PaddingMode = .constant(0)) -> Tensor {
        require(padding.count % 2 == 0 && padding.count / 2 <= rank,
                "pad: \(padding.count) padding sizes for a tensor of rank \(rank); give (before, after) pairs for at most \(rank) dimensions")
        require(padding.allSatisfy { $0 >= 0 }, "pad: padding sizes must not be negative, got \(padding)")
        // For every dimension, the source index of each output position (−1: the constant).
        var maps: [[Int]] = shape.map { Array(0..<$0) }
        var outShape = shape
        for pair in 0..<(padding.count / 2) {
            let d = rank - 1 - pair, n = shape[d]
            let before = padding[2 * pair], after = padding[2 * pair + 1]
            switch mode {
            case .reflect:
                require(before < n && after < n,
                        "pad: reflect padding (\(before), \(after)) of dimension \(d) must be smaller than its size \(n) (shape \(describe(shape)))")
            case .circular:
                require(before <= n && after <= n,
                        "pad: circular padding (\(before), \(after)) of dimension \(d) must be at most its size \(n) (shape \(describe(shape)))")
            case .replicate:
                require(n > 0 || before + after == 0, "pad: cannot replicate an empty dimension \(d) (shape \(describe(shape)))")
            case .constant: break
            }
            outShape[d] = n + before + after
            maps[d] = (0..<outShape[d]).map { i in
                let j = i - before
                if j >= 0 && j < n { return j }
                switch mode {
                case .constant: return -1
                case .reflect: return j < 0 ? -j : 2 * (n - 1) - j
                case .replicate: return Swift.min(Swift.max(j, 0), n - 1)
                case .circular: return ((j % n) + n) % n
                }
            }
        }
        // The flat source offset of every output element (−1 for the constant).
        var strides = [Int](repeating: 1, count: rank)
        for i in stride(from: rank - 2, through: 0, by: -1) { strides[i] = strides[i + 1] * shape[i + 1] }
        let outCount = outShape.reduce(1, *)
        var sources = [Int](repeating: 0, count: outCount)
        var position = [Int](repeating: 0, count: rank)
        for flat in 0..<outCount {
            var offset = 0
            for d in 0..<rank {
                let s = maps[d][position[d]]
                if s < 0 { offset = -1; break }
                offset += s * strides[d]
            }
            sources[flat] = offset
            var d = rank - 1
            while d >= 0 {
                position[d] += 1
                if position[d] < outShape[d] { break }
                position[d] = 0
                d -= 1
            }
        }
        let fill: Double
        if case .constant(let value) = mode { fill = value } else { fill = 0 }
        let x = dtype == .int64 && fill != fill.rounded() ? to(.float32) : self
        let out = Tensor.empty(outShape, dtype: x.dtype)
        func run<T: TensorScalar>(_: T.Type) {
            let src = x.pointer(T.self), dst = out.pointer(T.self), constant = T(luzDouble: fill)
            for i in 0..<outCount { dst[i] = sources[i] < 0 ? constant : src[sources[i]] }
        }
        switch x.dtype {
        case .float32: run(Float.self)
        case .float64: run(Double.self)
        case .int64: run(Int64.self)
        case .bool: run(Bool.self)
        }
        let inputShape = shape
        return out.recording("pad", self) { g, _ in
            let gradient = Tensor.zeros(inputShape, dtype: g.dtype)
            func back<T: TensorFloat>(_: T.Type) {
                let gp = g.pointer(T.self), dst = gradient.pointer(T.self)
                for i in 0..<outCount where sources[i] >= 0 { dst[sources[i]] += gp[i] }
            }
            withFloatType(g.dtype, "pad", float: { back(Float.self) }, double: { back(Double.self) })
            return [gradient]
        }
    }

    /// This tensor with the elements of `source` written at the positions `index` names along
    /// `dim` (torch's `scatter` and `scatter_reduce` with `include_self=True`): for `dim` 0,
    /// `out[index[i][j]][j] = source[i][j]`, combined with the value there by `reduction`.
    ///
    /// `index` and `source` have the same shape and this tensor's rank. Gradients follow torch:
    /// `.replace` passes none to the overwritten elements of this tensor, and each source
    /// element receives the gradient of the position it was written to; `.add` passes it to
    /// both; `.amax` sends it to the elements equal to the maximum, split evenly among ties.
    ///
    /// - Parameters:
    ///   - dim: the dimension `index` points along.
    ///   - index: int64 positions along `dim`.
    ///   - source: the values scattered.
    ///   - reduction: `.replace` (torch's `scatter`), `.add` or `.amax`.
    public func scattering(dim: Int, index: Tensor, source: Tensor,
                           reduction: ScatterReduction = .replace) -> Tensor {
        let d = normalizedDim(dim, rank: rank, op: "scatter")
        require(index.shape == source.shape,
                "scatter: index shape \(describe(index.shape)) differs from source shape \(describe(source.shape))")
        switch reduction {
        case .add:
            return scatterAdding(dim: d, index: index, source: source)
        case .replace:
            let written = withNoGrad {
                Tensor.zeros(shape, dtype: .int64).scatterAdding(dim: d, index: index, source: Tensor.ones(index.shape, dtype: .int64)) .> 0
            }
            // Clear the written positions, then add: the last of repeated indices does not win
            // by addition, so the values are written directly.
            let out = withNoGrad { () -> Tensor in
                let result = Tensor.where(written, scalarLike(0), self).to(dtype)
                let src = source.dtype == dtype ? source : source.to(dtype)
                return result.scatterWrite(dim: d, index: index, source: src)
            }
            return out.recording("scatter", self, source, saving: [index]) { g, need in
                [need[0] ? Tensor.where(written, g.scalarLike(0), g) : nil,
                 need[1] ? g.gather(dim: d, index: index) : nil]
            }
        case .amax:
            require(dtype.isFloatingPoint || !source.requiresGrad, "scatter: amax needs floating-point values")
            let src = withNoGrad { source.dtype == dtype ? source.detached() : source.to(dtype) }
            let out = withNoGrad { contiguousCopy().scatterMaximum(dim: d, index: index, source: src) }
            return out.recording("scatterAmax", self, source, saving: [self, out, index]) { [self, unowned out] g, need in
                let value = out.gather(dim: d, index: index)
                let selfIsResult = (self .== out).to(g.dtype)
                let sourceIsResult = (src .== value).to(g.dtype)
                let shares = selfIsResult.scatterAdding(dim: d, index: index, source: sourceIsResult)
                let distributed = g / shares
                return [need[0] ? selfIsResult * distributed : nil,
                        need[1] ? sourceIsResult * distributed.gather(dim: d, index: index) : nil]
            }
        }
    }

    /// Writes `source` at the positions of `index` along `dim` in place (no graph).
    private func scatterWrite(dim: Int, index: Tensor, source: Tensor) -> Tensor {
        let positions = withNoGrad { Tensor.arange(count).reshaped(shape).gather(dim: dim, index: index) }
        let flat = positions.scalars(as: Int64.self)
        func run<T: TensorScalar>(_: T.Type) {
            let dst = pointer(T.self), src = source.pointer(T.self)
            for i in 0..<flat.count { dst[Int(flat[i])] = src[i] }
        }
        switch dtype {
        case .float32: run(Float.self)
        case .float64: run(Double.self)
        case .int64: run(Int64.self)
        case .bool: run(Bool.self)
        }
        return self
    }

    /// Replaces each position named by `index` along `dim` with the larger of its value and the
    /// source (in place, no graph); NaN wins.
    private func scatterMaximum(dim: Int, index: Tensor, source: Tensor) -> Tensor {
        let positions = withNoGrad { Tensor.arange(count).reshaped(shape).gather(dim: dim, index: index) }
        let flat = positions.scalars(as: Int64.self)
        func run<T: ArithmeticScalar>(_: T.Type) {
            let dst = pointer(T.self), src = source.pointer(T.self)
            for i in 0..<flat.count {
                let p = Int(flat[i])
                dst[p] = MaxOp.apply(dst[p], src[i])
            }
        }
        switch dtype {
        case .float32: run(Float.self)
        case .float64: run(Double.self)
        default: run(Int64.self)
        }
        return self
    }
}
