#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One component of a multi-dimensional subscript: `x[.all, 2]`, `x[.range(0..<3), .newAxis]`.
public enum TensorIndex: ExpressibleByIntegerLiteral {
    /// One position; the dimension is removed.
    case index(Int)
    /// The positions `range` (every `step`-th); the dimension is kept.
    case range(Range<Int>, step: Int = 1)
    /// From `start` to the end of the dimension.
    case from(Int)
    /// Every position of the dimension.
    case all
    /// A new dimension of size 1.
    case newAxis
    /// As many `.all` as needed to cover the remaining dimensions.
    case ellipsis

    public init(integerLiteral value: Int) { self = .index(value) }
}

extension Tensor {
    /// The sub-tensor at position `i` of the first dimension (a view sharing memory).
    public subscript(_ i: Int) -> Tensor { selected(dim: 0, index: i) }

    /// The positions `range` of the first dimension (a view sharing memory).
    public subscript<R: RangeExpression>(_ range: R) -> Tensor where R.Bound == Int {
        let bounds = range.relative(to: 0..<(shape.first ?? 0))
        return sliced(dim: 0, start: bounds.lowerBound, end: bounds.upperBound)
    }

    /// Indexing by a tensor: int64 indices select along the first dimension (torch's `x[idx]`);
    /// a bool mask of the same shape selects the masked elements into a 1-D tensor; a 1-D bool
    /// mask as long as the first dimension selects rows.
    public subscript(_ index: Tensor) -> Tensor {
        switch index.dtype {
        case .int64:
            if index.rank == 1 { return indexSelect(dim: 0, index: index) }
            let flat = indexSelect(dim: 0, index: index.reshaped([index.count]))
            return flat.reshaped(index.shape + Array(shape.dropFirst()))
        case .bool:
            if index.shape == shape { return maskedSelect(index) }
            require(index.rank == 1 && index.count == (shape.first ?? 0),
                    "subscript: a bool mask of shape \(describe(index.shape)) fits neither the shape \(describe(shape)) nor its first dimension")
            return indexSelect(dim: 0, index: index.nonzeroIndices())
        default:
            fatalError("subscript: index tensors must be int64 or bool, got \(index.dtype)")
        }
    }

    /// Multi-dimensional indexing with integers, ranges, `.all`, `.newAxis` and `.ellipsis`.
    public subscript(_ indices: TensorIndex...) -> Tensor {
        var result = self
        var dim = 0
        let consuming = indices.filter { if case .newAxis = $0 { return false }; if case .ellipsis = $0 { return false }; return true }.count
        require(consuming <= rank, "subscript: \(consuming) indices for a tensor of rank \(rank)")
        for index in indices {
            switch index {
            case .index(let i):
                result = result.selected(dim: dim, index: i)
            case .range(let r, let step):
                result = result.sliced(dim: dim, start: r.lowerBound, end: r.upperBound, step: step)
                dim += 1
            case .from(let start):
                result = result.sliced(dim: dim, start: start)
                dim += 1
            case .all:
                dim += 1
            case .newAxis:
                result = result.unsqueezed(dim: dim)
                dim += 1
            case .ellipsis:
                dim += rank - consuming
            }
        }
        return result
    }

    /// The positions of the nonzero elements of a 1-D tensor, as int64.
    func nonzeroIndices() -> Tensor {
        let values = doubles
        return Tensor(values.indices.filter { values[$0] != 0 }.map { Int64($0) })
    }

    /// The multi-dimensional positions of nonzero elements, one row each (`[count, rank]`, int64).
    public func nonzero() -> Tensor {
        let values = doubles
        var rows: [Int64] = []
        var strides = [Int](repeating: 1, count: rank)
        for i in stride(from: rank - 2, through: 0, by: -1) { strides[i] = strides[i + 1] * shape[i + 1] }
        var found = 0
        for (flat, v) in values.enumerated() where v != 0 {
            var r = flat
            for d in 0..<rank { rows.append(Int64(r / strides[d])); r %= strides[d] }
            found += 1
        }
        return Tensor(rows, shape: [found, rank])
    }

    /// Checks that every index lies in `0..<size`, naming the op and the offending value.
    private func checkIndices(_ index: Tensor, size: Int, op: String) {
        require(index.dtype == .int64, "\(op): indices must be int64, got \(index.dtype)")
        let p = index.pointer(Int64.self)
        for i in 0..<index.count where p[i] < 0 || p[i] >= size {
            fatalError("\(op): index \(p[i]) is out of range for a dimension of size \(size)")
        }
    }

    /// The slices at `index` along `dim` (torch's `index_select`); negative indices are refused.
    public func indexSelect(dim: Int, index: Tensor) -> Tensor {
        let d = normalizedDim(dim, rank: rank, op: "indexSelect")
        require(index.rank <= 1, "indexSelect: the index must be 1-D, got shape \(describe(index.shape))")
        let (outer, n, inner) = splitShape(at: d)
        checkIndices(index, size: n, op: "indexSelect")
        let k = index.count
        var outShape = shape
        outShape[d] = k
        let out = Tensor.empty(outShape, dtype: dtype)
        let idx = index.pointer(Int64.self)
        let size = inner * dtype.byteCount
        let src = UnsafeRawPointer(elementBytes)
        let dst = out.storage.raw
        parallelChunks(outer * k, cost: inner) { range in
            for r in range {
                let o = r / k, i = r % k
                memcpy(dst + r * size, src + (o * n + Int(idx[i])) * size, size)
            }
        }
        let inputShape = shape
        return out.recording("indexSelect", self, saving: [index]) { g, _ in
            let grad = Tensor.zeros(inputShape, dtype: g.dtype)
            grad.indexAddKernel(dim: d, index: index, source: g)
            return [grad]
        }
    }

    /// Adds the slices of `source` into the positions `index` along `dim`, in place (no graph).
    func indexAddKernel(dim: Int, index: Tensor, source: Tensor) {
        let (outer, n, inner) = splitShape(at: dim)
        let k = index.count
        let idx = index.pointer(Int64.self)
        func run<T: ArithmeticScalar>(_: T.Type) {
            let dst = pointer(T.self), src = source.pointer(T.self)
            for o in 0..<outer {
                for i in 0..<k {
                    let d = dst + (o * n + Int(idx[i])) * inner
                    let s = src + (o * k + i) * inner
                    for j in 0..<inner { d[j] += s[j] }
                }
            }
        }
        switch dtype {
        case .float32: run(Float.self)
        case .float64: run(Double.self)
        default: run(Int64.self)
        }
    }

    /// This tensor with the slices of `source` added at positions `index` along `dim`
    /// (torch's `index_add`).
    public func indexAdding(dim: Int, index: Tensor, source: Tensor) -> Tensor {
        let d = normalizedDim(dim, rank: rank, op: "indexAdd")
        checkIndices(index, size: shape[d], op: "indexAdd")
        var expected = shape
        expected[d] = index.count
        require(source.shape == expected,
                "indexAdd: source shape \(describe(source.shape)) should be \(describe(expected))")
        let out = withNoGrad { contiguousCopy() }
        out.indexAddKernel(dim: d, index: index, source: source.to(dtype))
        return out.recording("indexAdd", self, source, saving: [index]) { g, need in
            [g, need[1] ? g.indexSelect(dim: d, index: index) : nil]
        }
    }

    /// Elements picked along `dim` by `index` (same rank; torch's `gather`):
    /// `out[i][j][k] = self[index[i][j][k]][j][k]` for `dim` 0.
    public func gather(dim: Int, index: Tensor) -> Tensor {
        gather(dim: dim, index: index, op: "gather")
    }

    /// ``gather(dim:index:)`` recorded under the name of the op that called it (`sort`,
    /// `topk`), which a backward-pass message names.
    func gather(dim: Int, index: Tensor, op: String) -> Tensor {
        let d = normalizedDim(dim, rank: rank, op: op)
        require(index.rank == rank, "gather: index rank \(index.rank) differs from the tensor's \(rank)")
        for i in 0..<rank where i != d {
            require(index.shape[i] <= shape[i],
                    "gather: index shape \(describe(index.shape)) exceeds \(describe(shape)) in dimension \(i)")
        }
        checkIndices(index, size: shape[d], op: "gather")
        let out = Tensor.empty(index.shape, dtype: dtype)
        let offsets = gatherOffsets(dim: d, index: index)
        func run<T>(_: T.Type) {
            let src = pointer(T.self), dst = out.pointer(T.self)
            for i in 0..<offsets.count { dst[i] = src[offsets[i]] }
        }
        switch dtype {
        case .float32: run(Float.self)
        case .float64: run(Double.self)
        case .int64: run(Int64.self)
        case .bool: run(Bool.self)
        }
        let inputShape = shape
        return out.recording(op, self, saving: [index]) { g, _ in
            [Tensor.zeros(inputShape, dtype: g.dtype).scatterAdding(dim: d, index: index, source: g)]
        }
    }

    /// For each element of `index`, the flat offset into this tensor it refers to along `dim`.
    private func gatherOffsets(dim: Int, index: Tensor) -> [Int] {
        var strides = [Int](repeating: 1, count: rank)
        for i in stride(from: rank - 2, through: 0, by: -1) { strides[i] = strides[i + 1] * shape[i + 1] }
        let idx = index.pointer(Int64.self)
        var result = [Int](repeating: 0, count: index.count)
        var position = [Int](repeating: 0, count: rank)
        for flat in 0..<index.count {
            var o = 0
            for d in 0..<rank { o += (d == dim ? Int(idx[flat]) : position[d]) * strides[d] }
            result[flat] = o
            var d = rank - 1
            while d >= 0 {
                position[d] += 1
                if position[d] < index.shape[d] { break }
                position[d] = 0
                d -= 1
            }
        }
        return result
    }

    /// This tensor with `source` added at the positions `index` names along `dim`
    /// (torch's `scatter_add`; the reverse of ``gather(dim:index:)``).
    public func scatterAdding(dim: Int, index: Tensor, source: Tensor) -> Tensor {
        let d = normalizedDim(dim, rank: rank, op: "scatterAdd")
        require(index.shape == source.shape,
                "scatterAdd: index shape \(describe(index.shape)) differs from source shape \(describe(source.shape))")
        require(index.rank == rank, "scatterAdd: index rank \(index.rank) differs from the tensor's \(rank)")
        checkIndices(index, size: shape[d], op: "scatterAdd")
        let out = withNoGrad { contiguousCopy() }
        let offsets = gatherOffsets(dim: d, index: index)
        let src = source.dtype == dtype ? source : withNoGrad { source.to(dtype) }
        func run<T: ArithmeticScalar>(_: T.Type) {
            let p = out.pointer(T.self), s = src.pointer(T.self)
            for i in 0..<offsets.count { p[offsets[i]] += s[i] }
        }
        switch dtype {
        case .float32: run(Float.self)
        case .float64: run(Double.self)
        default: run(Int64.self)
        }
        return out.recording("scatterAdd", self, source, saving: [index]) { g, need in
            [g, need[1] ? g.gather(dim: d, index: index) : nil]
        }
    }

    /// The elements where `mask` (same shape, bool) is true, as a 1-D tensor.
    public func maskedSelect(_ mask: Tensor) -> Tensor {
        require(mask.shape == shape,
                "maskedSelect: mask shape \(describe(mask.shape)) differs from \(describe(shape))")
        let flatIndex = mask.to(.bool).reshaped([count]).nonzeroIndices()
        return reshaped([count]).indexSelect(dim: 0, index: flatIndex)
    }

    /// This tensor with `value` where `mask` (broadcast to this shape) is true; the gradient
    /// flows only through the unmasked elements. Attention masks use it with `-infinity`.
    public func maskedFill(_ mask: Tensor, value: Double) -> Tensor {
        let m = mask.to(.bool).expanded(to: shape)
        return Tensor.where(m, scalarLike(value), self)
    }
}
