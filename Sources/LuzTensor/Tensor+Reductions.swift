#if !canImport(Accelerate)
import CLuzBLAS
#endif
/// Resolves a possibly negative dimension index against `rank`, naming the op on failure.
@inline(__always)
func normalizedDim(_ dim: Int, rank: Int, op: String, allowEnd: Bool = false) -> Int {
    let limit = allowEnd ? rank + 1 : rank
    let d = dim < 0 ? dim + limit : dim
    require(d >= 0 && d < max(limit, 1) && (rank > 0 || allowEnd || d == 0),
            "\(op): dimension \(dim) is out of range for a tensor of rank \(rank)")
    return d
}

extension Tensor {
    /// The sizes before, along and after `dim`: a reduction walks `[outer, n, inner]`.
    func splitShape(at dim: Int) -> (outer: Int, n: Int, inner: Int) {
        if shape.isEmpty { return (1, 1, 1) }
        var outer = 1, inner = 1
        for i in 0..<dim { outer *= shape[i] }
        for i in (dim + 1)..<shape.count { inner *= shape[i] }
        return (outer, shape[dim], inner)
    }

    /// The shape with `dim` set to 1 (kept) or removed.
    func reducedShape(_ dim: Int, keepDim: Bool) -> [Int] {
        var s = shape
        if s.isEmpty { return s }
        if keepDim { s[dim] = 1 } else { s.remove(at: dim) }
        return s
    }

    // MARK: - Sum and mean

    /// The sum of `n` contiguous values: blocks of 256 summed with four accumulators (which
    /// vectorizes), and the block sums added in `Double` for floating point, so the rounding
    /// error does not grow with the length of the row.
    @inline(__always)
    static func blockedSum<T: ArithmeticScalar>(_ row: UnsafePointer<T>, _ n: Int) -> T {
        var total = 0.0
        var exact = T.zero
        var start = 0
        while start < n {
            let end = Swift.min(n, start + 256)
            var s0 = T.zero, s1 = T.zero, s2 = T.zero, s3 = T.zero
            var i = start
            while i + 4 <= end {
                s0 += row[i]; s1 += row[i + 1]; s2 += row[i + 2]; s3 += row[i + 3]
                i += 4
            }
            while i < end { s0 += row[i]; i += 1 }
            let block = (s0 + s1) + (s2 + s3)
            if T.dtype == .int64 { exact += block } else { total += block.luzDouble }
            start = end
        }
        return T.dtype == .int64 ? exact : T(luzDouble: total)
    }

    /// The sum of `n` contiguous floats in `Double`: blocks of 512 summed in float with sixteen
    /// accumulators (which vectorizes), block sums added in `Double`.
    @inline(__always)
    static func floatSumInDouble(_ row: UnsafePointer<Float>, _ n: Int) -> Double {
        var total = 0.0
        var start = 0
        while start < n {
            let end = Swift.min(n, start + 512)
            var acc0 = SIMD8<Float>.zero, acc1 = SIMD8<Float>.zero
            var i = start
            while i + 16 <= end {
                acc0 += UnsafeRawPointer(row + i).loadUnaligned(as: SIMD8<Float>.self)
                acc1 += UnsafeRawPointer(row + i + 8).loadUnaligned(as: SIMD8<Float>.self)
                i += 16
            }
            var tail: Float = 0
            while i < end { tail += row[i]; i += 1 }
            total += Double((acc0 + acc1).sum()) + Double(tail)
            start = end
        }
        return total
    }

    /// Sum along one dimension (no graph).
    func sumKernel(dim: Int, keepDim: Bool) -> Tensor {
        let (outer, n, inner) = splitShape(at: dim)
        let type: DType = dtype == .bool ? .int64 : dtype
        let x = dtype == type ? self : to(type)
        let out = Tensor.zeros(reducedShape(dim, keepDim: keepDim), dtype: type)
        func run<T: ArithmeticScalar>(_: T.Type) {
            let src = x.pointer(T.self), dst = out.pointer(T.self)
            if inner == 1 {
                let body = { (range: Range<Int>) in
                    for o in range { dst[o] = Tensor.blockedSum(src + o * n, n) }
                }
                if outer * n >= Parallelism.minimumParallelElements && outer > 1 {
                    parallelChunks(outer, cost: n) { body($0) }
                } else {
                    body(0..<outer)
                }
            } else {
                let body = { (range: Range<Int>) in
                    for o in range { addRows(src + o * n * inner, rows: n, width: inner, into: dst + o * inner) }
                }
                if outer * n * inner >= Parallelism.minimumParallelElements && outer > 1 {
                    parallelChunks(outer, cost: n * inner) { body($0) }
                } else if outer == 1 && n * inner >= Parallelism.minimumParallelElements {
                    parallelChunks(inner, cost: n) { range in
                        for i in 0..<n {
                            let s = src + i * inner
                            for j in range { dst[j] += s[j] }
                        }
                    }
                } else {
                    body(0..<outer)
                }
            }
        }
        switch type {
        case .float32: run(Float.self)
        case .float64: run(Double.self)
        default: run(Int64.self)
        }
        return out
    }

    /// The sum of all elements as a 0-dimensional tensor (float32 sums accumulate in Double).
    public func sum() -> Tensor {
        if let (alias, _) = denseAlias() {
            // The same elements in memory order: no copy of the view.
            let inputShape = shape
            return withNoGrad { alias.sum() }.recording("sum", self) { g, _ in [g.expanded(to: inputShape)] }
        }
        let out: Tensor
        if dtype == .float32 {
            let p = pointer(Float.self)
            var total = 0.0
            var partial = [Double](repeating: 0, count: Swift.max(1, Parallelism.threadCount))
            if count >= Parallelism.minimumParallelElements {
                let chunks = partial.count
                let size = (count + chunks - 1) / chunks
                partial.withUnsafeMutableBufferPointer { parts in
                    parallelForEach(chunks) { c in
                        let start = Swift.min(count, c * size)
                        parts[c] = Tensor.floatSumInDouble(p + start, Swift.min(count, start + size) - start)
                    }
                }
                total = partial.reduce(0, +)
            } else {
                total = Tensor.floatSumInDouble(p, count)
            }
            out = Tensor.empty([], dtype: .float32)
            out.pointer(Float.self)[0] = Float(total)
        } else {
            out = reshaped([count]).sumKernel(dim: 0, keepDim: false)
        }
        let inputShape = shape
        return out.recording("sum", self) { g, _ in [g.expanded(to: inputShape)] }
    }

    /// The sum over `dims` (negative indices count from the end), keeping them as size 1 if asked.
    public func sum(dims: [Int], keepDim: Bool = false) -> Tensor {
        let resolved = Array(Set(dims.map { normalizedDim($0, rank: rank, op: "sum") })).sorted(by: >)
        var result: Tensor
        if let (alias, order) = denseAlias() {
            // Reduce the contiguous alias along the same dimensions in memory order, then put
            // the kept dimensions back in this view's order (a view of the smaller result).
            result = alias
            for d in resolved.map({ order[$0] }).sorted(by: >) { result = result.sumKernel(dim: d, keepDim: true) }
            result = result.permuted(order)
        } else {
            result = self.detached()
            for d in resolved { result = result.sumKernel(dim: d, keepDim: true) }
        }
        var finalShape = shape
        for d in resolved { finalShape[d] = 1 }
        let keptShape = finalShape
        if !keepDim { for d in resolved { finalShape.remove(at: d) } }
        if result.shape != finalShape { result = result.reshaped(finalShape) }
        let inputShape = shape
        return result.recording("sum", self) { g, _ in [g.reshaped(keptShape).expanded(to: inputShape)] }
    }

    /// The sum along one dimension.
    public func sum(dim: Int, keepDim: Bool = false) -> Tensor { sum(dims: [dim], keepDim: keepDim) }

    /// The mean of all elements.
    public func mean() -> Tensor { sum() / Double(Swift.max(count, 1)) }

    /// The mean over `dims`.
    public func mean(dims: [Int], keepDim: Bool = false) -> Tensor {
        let resolved = Set(dims.map { normalizedDim($0, rank: rank, op: "mean") })
        let n = resolved.reduce(1) { $0 * shape[$1] }
        return sum(dims: Array(resolved), keepDim: keepDim) / Double(Swift.max(n, 1))
    }

    /// The mean along one dimension.
    public func mean(dim: Int, keepDim: Bool = false) -> Tensor { mean(dims: [dim], keepDim: keepDim) }

    /// The variance over `dims`: Σ (x − mean)² / (n − correction), with Bessel's correction by
    /// default (`correction: 1`, torch's).
    ///
    /// As in torch, the divisor is max(0, n − correction): a correction of n or more divides by
    /// zero and gives ∞ (or NaN where the values are all equal) rather than a finite value.
    ///
    /// - Parameters:
    ///   - dims: the dimensions reduced (negative indices count from the end).
    ///   - correction: subtracted from the number of elements in the divisor.
    ///   - keepDim: keep the reduced dimensions as size 1.
    public func variance(dims: [Int], correction: Int = 1, keepDim: Bool = false) -> Tensor {
        let resolved = Set(dims.map { normalizedDim($0, rank: rank, op: "var") })
        let n = resolved.reduce(1) { $0 * shape[$1] }
        let centered = self - mean(dims: Array(resolved), keepDim: true)
        return (centered * centered).sum(dims: Array(resolved), keepDim: keepDim) / Double(Swift.max(n - correction, 0))
    }

    /// The variance along one dimension (see ``variance(dims:correction:keepDim:)``).
    public func variance(dim: Int, correction: Int = 1, keepDim: Bool = false) -> Tensor {
        variance(dims: [dim], correction: correction, keepDim: keepDim)
    }

    /// The variance of all elements (see ``variance(dims:correction:keepDim:)``).
    public func variance(correction: Int = 1) -> Tensor {
        reshaped([count]).variance(dims: [0], correction: correction)
    }

    /// The standard deviation over `dims`: the square root of
    /// ``variance(dims:correction:keepDim:)``.
    ///
    /// Where the deviation is 0 (a constant row) the gradient is 0, as in torch, rather than
    /// the 0 · ∞ = NaN that the square root's derivative 1 / (2√v) would give.
    public func standardDeviation(dims: [Int], correction: Int = 1, keepDim: Bool = false) -> Tensor {
        let v = variance(dims: dims, correction: correction, keepDim: keepDim)
        let y = withNoGrad { v.sqrt() }
        return y.recording("std", v, saving: [y]) { [unowned y] g, _ in
            [Tensor.where(y .== 0, g.scalarLike(0), g / (y * 2))]
        }
    }

    /// The standard deviation along one dimension.
    public func standardDeviation(dim: Int, correction: Int = 1, keepDim: Bool = false) -> Tensor {
        standardDeviation(dims: [dim], correction: correction, keepDim: keepDim)
    }

    /// The standard deviation of all elements.
    public func standardDeviation(correction: Int = 1) -> Tensor {
        reshaped([count]).standardDeviation(dims: [0], correction: correction)
    }

    // MARK: - Max and min

    /// The largest (or smallest) value along `dim` and its index (first on ties).
    private func extremum(dim: Int, keepDim: Bool, largest: Bool, op: String) -> (values: Tensor, indices: Tensor) {
        let d = normalizedDim(dim, rank: rank, op: op)
        let (outer, n, inner) = splitShape(at: d)
        require(n > 0, "\(op): dimension \(dim) of shape \(describe(shape)) is empty")
        let x = dtype == .bool ? to(.int64) : self
        let outShape = reducedShape(d, keepDim: keepDim)
        let values = Tensor.empty(outShape, dtype: x.dtype)
        let indices = Tensor.empty(outShape, dtype: .int64)
        func run<T: ArithmeticScalar>(_: T.Type) {
            let src = x.pointer(T.self), vals = values.pointer(T.self), idx = indices.pointer(Int64.self)
            for o in 0..<outer {
                for j in 0..<inner {
                    var best = src[o * n * inner + j]
                    var bestIndex = 0
                    for i in 1..<Swift.max(n, 1) {
                        let v = src[(o * n + i) * inner + j]
                        // NaN wins, as in torch: a NaN anywhere makes the max NaN.
                        if v != v && best == best { best = v; bestIndex = i; continue }
                        if largest ? (v > best) : (v < best) { best = v; bestIndex = i }
                    }
                    vals[o * inner + j] = best
                    idx[o * inner + j] = Int64(bestIndex)
                }
            }
        }
        switch x.dtype {
        case .float32: run(Float.self)
        case .float64: run(Double.self)
        default: run(Int64.self)
        }
        let inputShape = shape
        values.recording(op, self, saving: [indices]) { g, _ in
            let grad = Tensor.zeros(inputShape, dtype: g.dtype)
            grad.scatterAlongDim(d, indices: indices, values: g, outer: outer, n: n, inner: inner)
            return [grad]
        }
        return (values, indices)
    }

    /// Writes `values[o, j]` to position `(o, indices[o, j], j)` of this `[outer, n, inner]` tensor.
    func scatterAlongDim(_ dim: Int, indices: Tensor, values: Tensor, outer: Int, n: Int, inner: Int) {
        let idx = indices.pointer(Int64.self)
        func run<T>(_: T.Type) {
            let dst = pointer(T.self), src = values.pointer(T.self)
            for o in 0..<outer {
                for j in 0..<inner {
                    dst[(o * n + Int(idx[o * inner + j])) * inner + j] = src[o * inner + j]
                }
            }
        }
        switch dtype {
        case .float32: run(Float.self)
        case .float64: run(Double.self)
        default: run(Int64.self)
        }
    }

    /// The maximum along `dim`, with the index of each maximum (first on ties).
    public func max(dim: Int, keepDim: Bool = false) -> (values: Tensor, indices: Tensor) {
        extremum(dim: dim, keepDim: keepDim, largest: true, op: "max")
    }

    /// The minimum along `dim`, with the index of each minimum (first on ties).
    public func min(dim: Int, keepDim: Bool = false) -> (values: Tensor, indices: Tensor) {
        extremum(dim: dim, keepDim: keepDim, largest: false, op: "min")
    }

    /// The largest element as a 0-dimensional tensor; NaN if any element is NaN.
    ///
    /// The whole gradient goes to the first maximum in row-major order. This is a deliberate
    /// difference from torch, whose full `max()` splits it evenly among tied maxima: Luz keeps
    /// the rule of ``max(dim:keepDim:)`` (the same in both libraries), so that reducing all
    /// elements and reducing a flattened tensor along its one dimension agree.
    public func max() -> Tensor {
        require(count > 0, "max: the tensor is empty")
        return reshaped([count]).max(dim: 0).values
    }

    /// The smallest element as a 0-dimensional tensor; NaN if any element is NaN.
    ///
    /// As for ``max()``, the whole gradient goes to the first minimum (torch splits it evenly
    /// among ties).
    public func min() -> Tensor {
        require(count > 0, "min: the tensor is empty")
        return reshaped([count]).min(dim: 0).values
    }

    /// The index of the maximum along `dim` (int64).
    public func argmax(dim: Int, keepDim: Bool = false) -> Tensor {
        withNoGrad { max(dim: dim, keepDim: keepDim).indices }
    }

    /// The index of the minimum along `dim` (int64).
    public func argmin(dim: Int, keepDim: Bool = false) -> Tensor {
        withNoGrad { min(dim: dim, keepDim: keepDim).indices }
    }

    /// The flat index of the maximum element.
    public func argmax() -> Tensor { withNoGrad { reshaped([count]).max(dim: 0).indices } }

    /// The flat index of the minimum element.
    public func argmin() -> Tensor { withNoGrad { reshaped([count]).min(dim: 0).indices } }

    // MARK: - Log-sum-exp and softmax

    /// log Σ exp(x) along `dim`, computed stably by shifting by the maximum (torch's `logsumexp`).
    ///
    /// The gradient is exp(x − y) for the result y, computed from that formula rather than by
    /// differentiating the shifted expression: with a +∞ maximum the shift cannot be applied, and
    /// the chain rule would multiply a zero by an overflowed exp(x) (NaN) where torch gives 0.
    public func logSumExp(dim: Int, keepDim: Bool = false) -> Tensor {
        let d = normalizedDim(dim, rank: rank, op: "logsumexp")
        let kept = withNoGrad { () -> Tensor in
            let m = max(dim: d, keepDim: true).values
            let shift = Tensor.where(m.isFiniteMask(), m, m.scalarLike(0))
            return (self - shift).exp().sum(dim: d, keepDim: true).log() + shift
        }
        let result = keepDim ? kept : kept.squeezed(dim: d)
        // The rule reads the result through a view of its own: capturing `result` itself (which
        // is `kept` with keepDim) would make the output and its node keep each other alive.
        let saved = kept.detached()
        return result.recording("logsumexp", self, saving: [self, saved]) { [self] g, _ in
            let gradient = keepDim ? g : g.unsqueezed(dim: d)
            return [gradient * (self - saved).exp()]
        }
    }

    /// A bool mask of finite elements.
    func isFiniteMask() -> Tensor {
        let out = Tensor.empty(shape, dtype: .bool)
        let o = out.pointer(Bool.self)
        switch dtype {
        case .float32: let p = pointer(Float.self); for i in 0..<count { o[i] = p[i].isFinite }
        case .float64: let p = pointer(Double.self); for i in 0..<count { o[i] = p[i].isFinite }
        default: for i in 0..<count { o[i] = true }
        }
        return out
    }

    /// Softmax along `dim`: exp(x) / Σ exp(x), computed stably, with a fused backward.
    public func softmax(dim: Int) -> Tensor {
        let d = normalizedDim(dim, rank: rank, op: "softmax")
        let y = softmaxKernel(dim: d, log: false)
        return y.recording("softmax", self, saving: [y]) { [unowned y] g, _ in
            // dx = y ⊙ (g − Σ g⊙y)
            let gy = g * y
            return [gy - y * gy.sum(dim: d, keepDim: true)]
        }
    }

    /// log(softmax(x)) along `dim`, computed as x − logsumexp(x) in one stable pass.
    public func logSoftmax(dim: Int) -> Tensor {
        let d = normalizedDim(dim, rank: rank, op: "logSoftmax")
        let y = softmaxKernel(dim: d, log: true)
        return y.recording("logSoftmax", self, saving: [y]) { [unowned y] g, _ in
            // dx = g − softmax(x) ⊙ Σ g
            [g - y.exp() * g.sum(dim: d, keepDim: true)]
        }
    }

    private func softmaxKernel(dim: Int, log: Bool) -> Tensor {
        let x = dtype.isFloatingPoint ? self : to(.float32)
        let (outer, n, inner) = x.splitShape(at: dim)
        let out = Tensor.empty(x.shape, dtype: x.dtype)
        func run<T: TensorFloat>(_: T.Type) {
            let src = x.pointer(T.self), dst = out.pointer(T.self)
            let body = { (range: Range<Int>) in
                for o in range {
                    for j in 0..<inner {
                        let base = o * n * inner + j
                        var m = -T.infinity
                        for i in 0..<n { m = Swift.max(m, src[base + i * inner]) }
                        if !m.isFinite { m = 0 }
                        var s = T.zero
                        for i in 0..<n {
                            let e = T.luzExp(src[base + i * inner] - m)
                            dst[base + i * inner] = e
                            s += e
                        }
                        if log {
                            // (x − m) − log s: subtracting the shift first keeps equal inputs exact.
                            let logSum = T.luzLog(s)
                            for i in 0..<n { dst[base + i * inner] = (src[base + i * inner] - m) - logSum }
                        } else {
                            let inv = 1 / s
                            for i in 0..<n { dst[base + i * inner] *= inv }
                        }
                    }
                }
            }
            if outer > 1 && x.count >= Parallelism.minimumParallelElements / 4 {
                parallelChunks(outer, cost: n * inner * 4) { body($0) }
            } else {
                body(0..<outer)
            }
        }
        if x.dtype == .float32 { run(Float.self) } else { run(Double.self) }
        return out
    }
}

/// Adds `rows` rows of `width` elements at `source`, one after another, into `destination`:
/// the inner loop of a sum over a dimension with elements after it. Float32 runs Luz's C kernel
/// where it is built (AVX-512 or AVX2 with FMA where the processor has them; Swift's SIMD code
/// is built for the baseline), in the same order as the loop, so the sums are the same.
@inline(__always)
func addRows<T: ArithmeticScalar>(_ source: UnsafePointer<T>, rows: Int, width: Int,
                                  into destination: UnsafeMutablePointer<T>) {
    #if !canImport(Accelerate)
    if T.self == Float.self {
        luz_add_rows_f32(UnsafeMutableRawPointer(destination).assumingMemoryBound(to: Float.self),
                         UnsafeRawPointer(source).assumingMemoryBound(to: Float.self), rows, width)
        return
    }
    #endif
    for i in 0..<rows {
        let s = source + i * width
        for j in 0..<width { destination[j] += s[j] }
    }
}
