// Sorting along a dimension, the k largest or smallest elements, distinct values, and binary
// search in sorted sequences.

extension Tensor {
    /// The order of every line along `dim` as int64 positions (stable: equal elements keep their
    /// order). NaN sorts above every number, as in torch: last ascending, first descending.
    private func sortIndices(dim: Int, descending: Bool) -> Tensor {
        let x = dtype == .bool ? to(.int64) : self
        let (outer, n, inner) = x.splitShape(at: dim)
        let indices = Tensor.empty(x.shape, dtype: .int64)
        func run<T: ArithmeticScalar>(_: T.Type) {
            let src = x.pointer(T.self), dst = indices.pointer(Int64.self)
            var line = [T](repeating: 0, count: n)
            var order = [Int](repeating: 0, count: n)
            for o in 0..<outer {
                for j in 0..<inner {
                    let base = o * n * inner + j
                    for i in 0..<n { line[i] = src[base + i * inner]; order[i] = i }
                    line.withUnsafeBufferPointer { v in
                        // `a` before `b`: NaN (v != v) counts as the largest value; ties fall
                        // back on the position, which makes the sort stable whatever the algorithm.
                        order.sort { a, b in
                            let va = v[a], vb = v[b]
                            let aNaN = va != va, bNaN = vb != vb
                            if aNaN || bNaN {
                                if aNaN && bNaN { return a < b }
                                return descending ? aNaN : bNaN
                            }
                            if va != vb { return descending ? va > vb : va < vb }
                            return a < b
                        }
                    }
                    for i in 0..<n { dst[base + i * inner] = Int64(order[i]) }
                }
            }
        }
        switch x.dtype {
        case .float32: run(Float.self)
        case .float64: run(Double.self)
        default: run(Int64.self)
        }
        return indices
    }

    /// The elements sorted along `dim`, with the position each came from (torch's `sort` with
    /// `stable=True`): equal elements keep their order, NaN sorts above every number.
    ///
    /// The gradient of `values` flows back to the positions in `indices`.
    ///
    /// - Parameters:
    ///   - dim: the dimension sorted (the last by default, as torch).
    ///   - descending: largest first.
    public func sorted(dim: Int = -1, descending: Bool = false) -> (values: Tensor, indices: Tensor) {
        if rank == 0 { return (self.reshaped([]), Tensor.zeros([], dtype: .int64)) }
        let d = normalizedDim(dim, rank: rank, op: "sort")
        let indices = sortIndices(dim: d, descending: descending)
        return (gather(dim: d, index: indices, op: "sort"), indices)
    }

    /// The positions that sort this tensor along `dim` (torch's `argsort` with `stable=True`),
    /// as int64: `gather(dim:index:)` with them gives ``sorted(dim:descending:)``'s values.
    public func argsort(dim: Int = -1, descending: Bool = false) -> Tensor {
        if rank == 0 { return Tensor.zeros([], dtype: .int64) }
        let d = normalizedDim(dim, rank: rank, op: "argsort")
        return sortIndices(dim: d, descending: descending)
    }

    /// The `k` largest (or smallest) elements along `dim` and their positions (torch's `topk`).
    /// Among equal elements the first positions are taken.
    ///
    /// - Parameters:
    ///   - k: how many elements, at most the size of `dim`.
    ///   - dim: the dimension searched (the last by default).
    ///   - largest: the largest elements (torch's default) or the smallest.
    ///   - sorted: largest first (smallest first when `largest` is false), torch's default; when
    ///     false, in the order they stand along `dim` (torch leaves that order unspecified).
    public func topK(_ k: Int, dim: Int = -1, largest: Bool = true, sorted: Bool = true) -> (values: Tensor, indices: Tensor) {
        if rank == 0 {
            require(k == 0 || k == 1, "topk: k \(k) is out of range for a 0-dimensional tensor")
            return self.sorted()
        }
        let d = normalizedDim(dim, rank: rank, op: "topk")
        let size = shape[d]
        require(k >= 0 && k <= size, "topk: k \(k) is out of range for dimension \(dim) of size \(size) (shape \(describe(shape)))")
        var indices = sortIndices(dim: d, descending: largest).narrowed(dim: d, start: 0, length: k)
        if !sorted { indices = indices.sortIndices(dim: d, descending: false).gatherIndices(dim: d, from: indices) }
        return (gather(dim: d, index: indices, op: "topk"), indices)
    }

    /// `source` gathered along `dim` at these positions (an int64 helper for index tensors).
    private func gatherIndices(dim: Int, from source: Tensor) -> Tensor {
        withNoGrad { source.gather(dim: dim, index: self) }
    }

    /// The distinct elements in ascending order (torch's `unique` with `sorted=True`), with
    /// the position of every input element in `values` (`inverse`, the input's shape) and how
    /// often each value occurs (`counts`). The input is flattened first; there is no gradient.
    /// NaNs compare unequal to everything and each stays a value of its own.
    public func unique() -> (values: Tensor, inverse: Tensor, counts: Tensor) {
        let flat = reshaped([count])
        let order = flat.sortIndices(dim: 0, descending: false).scalars(as: Int64.self)
        let x = flat.dtype == .bool ? flat.to(.int64) : flat
        var keep: [Int64] = []
        var counts: [Int64] = []
        var inverse = [Int64](repeating: 0, count: count)
        func run<T: ArithmeticScalar>(_: T.Type) {
            let v = x.pointer(T.self)
            for (k, position) in order.enumerated() {
                let p = Int(position)
                if k == 0 || v[p] != v[Int(order[k - 1])] {
                    keep.append(position)
                    counts.append(0)
                }
                counts[counts.count - 1] += 1
                inverse[p] = Int64(keep.count - 1)
            }
        }
        switch x.dtype {
        case .float32: run(Float.self)
        case .float64: run(Double.self)
        default: run(Int64.self)
        }
        let values = withNoGrad { flat.indexSelect(dim: 0, index: Tensor(keep)) }
        return (values.detached(), Tensor(inverse, shape: shape), Tensor(counts))
    }

    /// The distinct slices along `dim` in ascending lexicographic order (torch's `unique` with
    /// `dim`), with the position of each input slice in `values` (`inverse`, of the size of
    /// `dim`) and how often each slice occurs (`counts`); no gradient. Slices compare element
    /// by element in their flattened order; a slice holding NaN equals no other.
    public func unique(dim: Int) -> (values: Tensor, inverse: Tensor, counts: Tensor) {
        let d = normalizedDim(dim, rank: rank, op: "unique")
        let slices = shape[d]
        let rows = withNoGrad { movedDimensionFirst(d).reshaped([slices, slices == 0 ? 0 : count / slices]).to(.float64) }
        let width = rows.shape[1]
        let values = rows.scalars(as: Double.self)
        func row(_ i: Int) -> ArraySlice<Double> { values[(i * width)..<((i + 1) * width)] }
        func precedes(_ a: Int, _ b: Int) -> Bool {
            for (x, y) in zip(row(a), row(b)) where x != y {
                if x.isNaN || y.isNaN { return !x.isNaN }   // NaN sorts last, as in sort
                return x < y
            }
            return false
        }
        func equal(_ a: Int, _ b: Int) -> Bool { zip(row(a), row(b)).allSatisfy { $0 == $1 } }
        // A stable merge of positions, so equal slices keep their order.
        let order = (0..<slices).sorted { precedes($0, $1) || (!precedes($1, $0) && $0 < $1) }
        var keep: [Int64] = [], counts: [Int64] = []
        var inverse = [Int64](repeating: 0, count: slices)
        for (k, position) in order.enumerated() {
            if k == 0 || !equal(position, order[k - 1]) {
                keep.append(Int64(position))
                counts.append(0)
            }
            counts[counts.count - 1] += 1
            inverse[position] = Int64(keep.count - 1)
        }
        let distinct = withNoGrad { indexSelect(dim: d, index: Tensor(keep, shape: [keep.count])) }
        return (distinct.detached(), Tensor(inverse, shape: [slices]), Tensor(counts, shape: [counts.count]))
    }

    /// This tensor with dimension `d` moved to the front (the others in order).
    private func movedDimensionFirst(_ d: Int) -> Tensor {
        d == 0 ? self : permuted([d] + (0..<rank).filter { $0 != d })
    }

    /// For each element of `values`, the position where it would be inserted into this sorted
    /// sequence to keep it sorted (torch's `searchsorted`), as int64.
    ///
    /// With `right` false the position is the first `i` with `values ≤ self[i]` (torch's
    /// `side="left"`), with `right` true the first with `values < self[i]`. A 1-D sequence
    /// serves every value; otherwise the sequence's leading dimensions must equal the values'
    /// and each row of values searches its own row.
    ///
    /// - Parameters:
    ///   - values: the values to place.
    ///   - right: place a value after the elements equal to it.
    public func searchSorted(_ values: Tensor, right: Bool = false) -> Tensor {
        require(rank >= 1, "searchsorted: the sorted sequence needs a dimension, got a scalar")
        if rank > 1 {
            require(values.rank == rank && Array(values.shape.dropLast()) == Array(shape.dropLast()),
                    "searchsorted: sequence \(describe(shape)) and values \(describe(values.shape)) should share all dimensions but the last")
        }
        let n = shape[rank - 1]
        let perRow = rank == 1 ? values.count : values.shape[values.rank - 1]
        let sequence = doubles, queries = values.doubles
        var result = [Int64](repeating: 0, count: values.count)
        for (q, value) in queries.enumerated() {
            let row = rank == 1 ? 0 : q / Swift.max(perRow, 1)
            var low = 0, high = n
            // The first position whose element is ≥ value (left) or > value (right); NaN sorts last.
            while low < high {
                let mid = (low + high) / 2
                let element = sequence[row * n + mid]
                let before = right ? !(value < element) && !element.isNaN : element < value || (value.isNaN && !element.isNaN)
                if before { low = mid + 1 } else { high = mid }
            }
            result[q] = Int64(low)
        }
        return Tensor(result, shape: values.shape)
    }

    /// The index of the bucket each element falls into between sorted `boundaries` (torch's
    /// `bucketize`): with `right` false, `boundaries[i − 1] < x ≤ boundaries[i]`; with `right`
    /// true, `boundaries[i − 1] ≤ x < boundaries[i]`. The result is int64 in this tensor's shape.
    public func bucketized(boundaries: Tensor, right: Bool = false) -> Tensor {
        require(boundaries.rank == 1, "bucketize: boundaries must be 1-D, got shape \(describe(boundaries.shape))")
        return boundaries.searchSorted(self, right: right)
    }
}
