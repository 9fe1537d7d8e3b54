// Running sums and products along a dimension, products, adjacent differences, triangles and
// outer products.
//
// A scan walks every line of a tensor along one dimension: `[outer, n, inner]` in row-major
// order, the line starting at `o · n · inner + j` with stride `inner`.

extension Tensor {
    /// Calls `body(first, n, step)` for the start of every line along `dim`.
    @inline(__always)
    private func forEachLine(dim: Int, _ body: (Int, Int, Int) -> Void) {
        let (outer, n, inner) = splitShape(at: dim)
        for o in 0..<outer {
            for j in 0..<inner { body(o * n * inner + j, n, inner) }
        }
    }

    /// The element type a sum or product of this tensor has: integers and bools give int64, as
    /// in torch.
    private var accumulationType: DType { dtype.isFloatingPoint ? dtype : .int64 }

    /// A running sum (or product) along `dim`, from the end when `reversed` (no graph).
    private func scanKernel(dim: Int, product: Bool, reversed: Bool = false) -> Tensor {
        let x = to(accumulationType)
        let out = Tensor.empty(shape, dtype: x.dtype)
        func run<T: ArithmeticScalar>(_: T.Type) {
            let src = x.pointer(T.self), dst = out.pointer(T.self)
            x.forEachLine(dim: dim) { first, n, step in
                var running: T = product ? 1 : 0
                for i in 0..<n {
                    let p = first + (reversed ? n - 1 - i : i) * step
                    running = product ? running * src[p] : running + src[p]
                    dst[p] = running
                }
            }
        }
        switch x.dtype {
        case .float32: run(Float.self)
        case .float64: run(Double.self)
        default: run(Int64.self)
        }
        return out
    }

    /// The running sum along `dim` (torch's `cumsum`): `y[i] = x[0] + … + x[i]`. Integers and
    /// bools sum in int64. The gradient is the running sum of the output gradient from the end.
    ///
    /// - Parameter dim: the dimension summed along (negative counts from the end).
    public func cumulativeSum(dim: Int) -> Tensor {
        let d = normalizedDim(dim, rank: rank, op: "cumsum")
        return scanKernel(dim: d, product: false).recording("cumsum", self) { g, _ in
            [g.scanKernel(dim: d, product: false, reversed: true)]
        }
    }

    /// The running product along `dim` (torch's `cumprod`): `y[i] = x[0] · … · x[i]`.
    ///
    /// The gradient is computed without dividing by x, so zeros in the input are handled
    /// exactly: ∂/∂xᵢ = (x₀ ⋯ xᵢ₋₁) · Rᵢ with Rᵢ = gᵢ + xᵢ₊₁ · Rᵢ₊₁ (a scan from the end).
    ///
    /// - Parameter dim: the dimension multiplied along (negative counts from the end).
    public func cumulativeProduct(dim: Int) -> Tensor {
        let d = normalizedDim(dim, rank: rank, op: "cumprod")
        return scanKernel(dim: d, product: true).recording("cumprod", self, saving: [self]) { [self] g, _ in
            [Tensor.cumulativeProductGradient(self, g, dim: d)]
        }
    }

    private static func cumulativeProductGradient(_ x: Tensor, _ g: Tensor, dim: Int) -> Tensor {
        let gradient = Tensor.empty(x.shape, dtype: g.dtype)
        let xs = x.to(g.dtype)
        func run<T: TensorFloat>(_: T.Type) {
            let src = xs.pointer(T.self), gp = g.pointer(T.self), dst = gradient.pointer(T.self)
            xs.forEachLine(dim: dim) { first, n, step in
                guard n > 0 else { return }
                // R from the end into dst, then multiply by the exclusive prefix product.
                var r = T.zero
                for i in stride(from: n - 1, through: 0, by: -1) {
                    let p = first + i * step
                    r = i == n - 1 ? gp[p] : gp[p] + src[p + step] * r
                    dst[p] = r
                }
                var prefix: T = 1
                for i in 0..<n {
                    let p = first + i * step
                    dst[p] *= prefix
                    prefix *= src[p]
                }
            }
        }
        withFloatType(g.dtype, "cumprod", float: { run(Float.self) }, double: { run(Double.self) })
        return gradient
    }

    /// The product along `dim` (torch's `prod`); integers and bools multiply in int64.
    ///
    /// The gradient of each element is the product of the others in its line, computed from
    /// prefix and suffix products rather than y / x, so it is exact where the input has zeros.
    ///
    /// - Parameters:
    ///   - dim: the dimension reduced (negative counts from the end).
    ///   - keepDim: keep it as size 1.
    public func product(dim: Int, keepDim: Bool = false) -> Tensor {
        let d = normalizedDim(dim, rank: rank, op: "prod")
        let x = to(accumulationType)
        let out = Tensor.empty(reducedShape(d, keepDim: keepDim), dtype: x.dtype)
        let (outer, n, inner) = splitShape(at: d)
        func run<T: ArithmeticScalar>(_: T.Type) {
            let src = x.pointer(T.self), dst = out.pointer(T.self)
            for o in 0..<outer {
                for j in 0..<inner {
                    var running: T = 1
                    for i in 0..<n { running *= src[(o * n + i) * inner + j] }
                    dst[o * inner + j] = running
                }
            }
        }
        switch x.dtype {
        case .float32: run(Float.self)
        case .float64: run(Double.self)
        default: run(Int64.self)
        }
        let keptShape = reducedShape(d, keepDim: true)
        return out.recording("prod", self, saving: [self]) { [self] g, _ in
            [g.reshaped(keptShape).expanded(to: self.shape) * Tensor.productOfOthers(self.to(g.dtype), dim: d)]
        }
    }

    /// The product of all elements as a 0-dimensional tensor (see ``product(dim:keepDim:)``).
    public func product() -> Tensor { reshaped([count]).product(dim: 0) }

    /// For every element, the product of the other elements of its line along `dim`.
    private static func productOfOthers(_ x: Tensor, dim: Int) -> Tensor {
        let out = Tensor.empty(x.shape, dtype: x.dtype)
        func run<T: TensorFloat>(_: T.Type) {
            let src = x.pointer(T.self), dst = out.pointer(T.self)
            x.forEachLine(dim: dim) { first, n, step in
                var prefix: T = 1
                for i in 0..<n { dst[first + i * step] = prefix; prefix *= src[first + i * step] }
                var suffix: T = 1
                for i in stride(from: n - 1, through: 0, by: -1) {
                    dst[first + i * step] *= suffix
                    suffix *= src[first + i * step]
                }
            }
        }
        withFloatType(x.dtype, "prod", float: { run(Float.self) }, double: { run(Double.self) })
        return out
    }

    /// The differences of neighbours along `dim`, `x[i + 1] − x[i]`, applied `order` times
    /// (torch's `diff`): each application shortens the dimension by one.
    ///
    /// - Parameters:
    ///   - dim: the dimension differenced (the last by default, as torch).
    ///   - order: how many times to difference (torch's `n`, default 1).
    public func adjacentDifferences(dim: Int = -1, order: Int = 1) -> Tensor {
        let d = normalizedDim(dim, rank: rank, op: "diff")
        require(order >= 0, "diff: order must not be negative, got \(order)")
        var result = self
        for _ in 0..<order {
            let n = result.shape[d]
            if n == 0 { break }
            result = result.sliced(dim: d, start: 1) - result.sliced(dim: d, start: 0, end: n - 1)
        }
        return result
    }

    /// The elements on and below the `diagonal`-th diagonal of the last two dimensions, zero
    /// above it (torch's `tril`); `diagonal` 1 keeps one more diagonal, −1 one fewer. The
    /// gradient flows through the kept elements.
    public func lowerTriangle(diagonal: Int = 0) -> Tensor { triangle(diagonal: diagonal, lower: true) }

    /// The elements on and above the `diagonal`-th diagonal of the last two dimensions, zero
    /// below it (torch's `triu`).
    public func upperTriangle(diagonal: Int = 0) -> Tensor { triangle(diagonal: diagonal, lower: false) }

    private func triangle(diagonal: Int, lower: Bool) -> Tensor {
        let op = lower ? "tril" : "triu"
        require(rank >= 2, "\(op): needs at least two dimensions, got shape \(describe(shape))")
        let rows = shape[rank - 2], columns = shape[rank - 1]
        var keep = [Bool](repeating: false, count: rows * columns)
        for i in 0..<rows {
            for j in 0..<columns { keep[i * columns + j] = lower ? j - i <= diagonal : j - i >= diagonal }
        }
        // `where` rather than a product with a 0/1 mask: NaN or ∞ outside the triangle still
        // become 0, as in torch.
        return Tensor.where(Tensor(keep, shape: [rows, columns]), self, scalarLike(0))
    }

    /// The outer product of two vectors (torch's `outer`): `out[i, j] = self[i] · other[j]`.
    public func outerProduct(_ other: Tensor) -> Tensor {
        require(rank == 1 && other.rank == 1,
                "outer: needs two vectors, got \(describe(shape)) and \(describe(other.shape))")
        return reshaped([count, 1]) * other.reshaped([1, other.count])
    }
}
