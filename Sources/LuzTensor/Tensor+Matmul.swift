extension Tensor {
    /// The matrix product with torch.matmul's semantics: 1-D · 1-D is a dot product, a 1-D
    /// operand is treated as a row (left) or column (right) vector and its dimension removed,
    /// and leading batch dimensions broadcast.
    ///
    /// - Parameters:
    ///   - other: the right operand.
    ///   - transposingSelf: use the transpose of this tensor's last two dimensions.
    ///   - transposingOther: use the transpose of `other`'s last two dimensions.
    ///   The transposes are passed to BLAS, never copied.
    public func matmul(_ other: Tensor, transposingSelf: Bool = false, transposingOther: Bool = false) -> Tensor {
        require(rank >= 1 && other.rank >= 1,
                "matmul: \(describe(shape)) × \(describe(other.shape)): both operands need at least one dimension")
        if rank == 2 && other.rank == 2 {
            // Two matrices: no views of the operands, the result or the gradient.
            let product = Tensor.matmulKernel(self, other, transposeA: transposingSelf, transposeB: transposingOther)
            return product.recording("matmul", self, other, saving: Tensor.saved((other, self), (self, other))) { g, need in
                let (gradA, gradB) = Tensor.matmulGradients(g, self, other, transposeA: transposingSelf,
                                                            transposeB: transposingOther, needA: need[0], needB: need[1])
                return [gradA, gradB]
            }
        }
        // Vectors become one-row / one-column matrices and a batch times one matrix folds the
        // batch into the rows (one GEMM). These are unrecorded views: the whole product is one
        // node whose rule maps the gradients back to the original shapes.
        let a = rank == 1 ? view([1, count]) : self
        let transposeA = rank == 1 ? false : transposingSelf
        let right = other.rank == 1 ? other.view([other.count, 1]) : other
        let transposeB = other.rank == 1 ? false : transposingOther
        let folds = a.rank > 2 && right.rank == 2 && !transposeA
        let left = folds ? a.view([a.count / Swift.max(a.shape[a.rank - 1], 1), a.shape[a.rank - 1]]) : a
        let product = Tensor.matmulKernel(left, right, transposeA: transposeA, transposeB: transposeB)
        // The result shape torch gives: the folded batch restored, vector dimensions removed.
        var resultShape = folds ? Array(a.shape.dropLast()) + [product.shape[1]] : product.shape
        if other.rank == 1 { resultShape.removeLast() }
        if rank == 1 { resultShape.remove(at: resultShape.count - (other.rank == 1 ? 1 : 2)) }
        let result = product.view(resultShape)
        let selfRank = rank, otherRank = other.rank, selfShape = shape
        let productShape = product.shape
        return result.recording("matmul", self, other, saving: Tensor.saved((other, self), (self, other))) { g, need in
            let (ga, gb) = Tensor.matmulGradients(g.view(productShape), left, right,
                                                  transposeA: transposeA, transposeB: transposeB,
                                                  needA: need[0], needB: need[1])
            var gradA = ga, gradB = gb
            if let g = ga {
                if selfRank == 1 { gradA = g.view(Array(g.shape.dropLast(2)) + [g.shape[g.rank - 1]]) }
                else if folds { gradA = g.view(selfShape) }
            }
            if let g = gb, otherRank == 1 { gradB = g.view(Array(g.shape.dropLast())) }
            return [gradA, gradB]
        }
    }

    /// The same memory under another shape with the same element count, outside the graph.
    func view(_ newShape: [Int]) -> Tensor {
        if let view = viewOfStorage(shaped: newShape) { return view }
        return withNoGrad { contiguous() }.view(newShape)
    }

    /// The gradients of `op(A)·op(B)` with respect to A and B, as products with transposes
    /// passed to BLAS. Batch dimensions come out in the broadcast shape; the engine sums them.
    static func matmulGradients(_ g: Tensor, _ a: Tensor, _ b: Tensor, transposeA: Bool, transposeB: Bool,
                                needA: Bool, needB: Bool) -> (Tensor?, Tensor?) {
        let gradA: Tensor? = needA
            ? (transposeA ? matmulKernel(b, g, transposeA: transposeB, transposeB: true)
                          : matmulKernel(g, b, transposeA: false, transposeB: !transposeB))
            : nil
        let gradB: Tensor? = needB
            ? (transposeB ? matmulKernel(g, a, transposeA: true, transposeB: transposeA)
                          : matmulKernel(a, g, transposeA: !transposeA, transposeB: false))
            : nil
        return (gradA, gradB)
    }

    /// The `[..., m, k] × [..., k, n]` product with broadcast batches (no graph).
    static func matmulKernel(_ a: Tensor, _ b: Tensor, transposeA: Bool, transposeB: Bool) -> Tensor {
        let m = transposeA ? a.shape[a.rank - 1] : a.shape[a.rank - 2]
        let k = transposeA ? a.shape[a.rank - 2] : a.shape[a.rank - 1]
        let kb = transposeB ? b.shape[b.rank - 1] : b.shape[b.rank - 2]
        let n = transposeB ? b.shape[b.rank - 2] : b.shape[b.rank - 1]
        require(k == kb, "matmul: \(describe(a.shape))\(transposeA ? "ᵀ" : "") × \(describe(b.shape))\(transposeB ? "ᵀ" : ""): inner dimensions \(k) and \(kb) differ")
        if a.rank == 2, b.rank == 2, a.dtype == b.dtype, a.dtype == .float32 || a.dtype == .float64,
           let layoutA = GemmOperandLayout.matrixInPlace(a), let layoutB = GemmOperandLayout.matrixInPlace(b) {
            // Two matrices GEMM reads where they lie: no layout records, batch or shape arrays.
            let out = Tensor.empty([m, n], dtype: a.dtype)
            func run<T: GemmScalar>(_: T.Type) {
                let pc = out.storage.raw.assumingMemoryBound(to: T.self)
                guard k > 0 else {
                    pc.initialize(repeating: 0, count: m * n)
                    return
                }
                T.gemm(transposeA: transposeA != layoutA.transposed, transposeB: transposeB != layoutB.transposed,
                       m: m, n: n, k: k, alpha: 1,
                       a: a.storage.raw.assumingMemoryBound(to: T.self) + a.offset, lda: layoutA.leadingDimension,
                       b: b.storage.raw.assumingMemoryBound(to: T.self) + b.offset, ldb: layoutB.leadingDimension,
                       beta: 0, c: pc, ldc: n)
            }
            if a.dtype == .float32 { run(Float.self) } else { run(Double.self) }
            return out
        }
        var type = promotedType(a.dtype, b.dtype)
        if !type.isFloatingPoint { type = .float32 }
        let av = a.dtype == type ? a : withNoGrad { a.to(type) }
        let bv = b.dtype == type ? b : withNoGrad { b.to(type) }
        let batchA = Array(a.shape.dropLast(2)), batchB = Array(b.shape.dropLast(2))
        let batch = BroadcastPlan.resultShape(batchA, batchB, op: "matmul")
        let batchCount = batch.reduce(1, *)
        // Operands whose batch is neither full nor a single matrix are materialized; a single
        // matrix is reused for every batch entry with stride 0.
        let aCount = batchA.reduce(1, *), bCount = batchB.reduce(1, *)
        let aFull = (aCount == batchCount || aCount == 1) ? av
            : withNoGrad { av.expanded(to: batch + Array(a.shape.suffix(2))) }
        let bFull = (bCount == batchCount || bCount == 1) ? bv
            : withNoGrad { bv.expanded(to: batch + Array(b.shape.suffix(2))) }
        let out = Tensor.empty(batch + [m, n], dtype: type)
        // A strided operand (a transposed or sliced view) is read in place when GEMM can: its
        // matrices row- or column-major with a leading dimension, its batch one stride apart.
        let layoutA = GemmOperandLayout(aFull), layoutB = GemmOperandLayout(bFull)
        func run<T: GemmScalar>(_: T.Type) {
            let pa = layoutA.base(T.self), pb = layoutB.base(T.self), pc = out.pointer(T.self)
            if k == 0 {
                for i in 0..<out.count { pc[i] = 0 }
                return
            }
            for i in 0..<batchCount {
                T.gemm(transposeA: transposeA != layoutA.transposed, transposeB: transposeB != layoutB.transposed,
                       m: m, n: n, k: k,
                       alpha: 1, a: pa + i * layoutA.batchStride, lda: layoutA.leadingDimension,
                       b: pb + i * layoutB.batchStride, ldb: layoutB.leadingDimension,
                       beta: 0, c: pc + i * m * n, ldc: n)
            }
        }
        if type == .float32 { run(Float.self) } else { run(Double.self) }
        return out
    }

    /// The dot product of two 1-D tensors.
    public func dot(_ other: Tensor) -> Tensor {
        require(rank == 1 && other.rank == 1,
                "dot: needs two 1-D tensors, got \(describe(shape)) and \(describe(other.shape))")
        return matmul(other)
    }
}

/// Where GEMM finds the matrices of one operand `[..., rows, columns]`: the storage read in
/// place for a contiguous tensor and for strided views whose matrices are row-major or
/// column-major (a transposed view: GEMM gets the transpose flag) with their batch one stride
/// apart; a contiguous copy for any other view.
struct GemmOperandLayout {
    /// The tensor whose storage is read (the operand, or its contiguous copy).
    let tensor: Tensor
    /// The element offset of the first matrix in the storage.
    let offset: Int
    /// Whether memory holds the transpose of each matrix (column-major).
    let transposed: Bool
    /// The distance between consecutive rows of the matrix as stored.
    let leadingDimension: Int
    /// The distance between consecutive matrices of the batch (0 for a single matrix).
    let batchStride: Int

    init(_ operand: Tensor) {
        let rank = operand.rank
        let rows = operand.shape[rank - 2], columns = operand.shape[rank - 1]
        let single = operand.count == rows * columns
        if !operand.isContiguous, let strided = GemmOperandLayout.stridedLayout(of: operand) {
            (tensor, offset, transposed) = (operand, operand.offset, strided.transposed)
            leadingDimension = strided.leading
            batchStride = single ? 0 : strided.batchStride
            return
        }
        let source = operand.isContiguous ? operand : withNoGrad { operand.contiguous() }
        (tensor, offset, transposed) = (source, source.offset, false)
        leadingDimension = Swift.max(columns, 1)
        batchStride = single ? 0 : rows * columns
    }

    /// How GEMM reads a matrix (a rank-2 tensor) where it lies, without copying it: contiguous,
    /// or a strided view with row-major or column-major rows; `nil` when it must be copied.
    @inline(__always)
    static func matrixInPlace(_ matrix: Tensor) -> (transposed: Bool, leadingDimension: Int)? {
        if matrix.isContiguous { return (false, Swift.max(matrix.shape[1], 1)) }
        return stridedLayout(of: matrix).map { ($0.transposed, $0.leading) }
    }

    /// How GEMM reads a strided view in place: its matrices row-major (a column stride of 1)
    /// or column-major (a row stride of 1) with a leading dimension, and its batch dimensions
    /// one stride apart; `nil` when it cannot.
    private static func stridedLayout(of operand: Tensor) -> (transposed: Bool, leading: Int, batchStride: Int)? {
        let rank = operand.rank, strides = operand.strides
        let rows = operand.shape[rank - 2], columns = operand.shape[rank - 1]
        let rowStride = strides[rank - 2], columnStride = strides[rank - 1]
        guard let batch = batchStride(shape: Array(operand.shape.dropLast(2)), strides: Array(strides.dropLast(2))) else {
            return nil
        }
        if columns == 1 || columnStride == 1, rows == 1 || rowStride >= columns {
            return (false, rows == 1 ? Swift.max(columns, 1) : rowStride, batch)
        }
        if rows == 1 || rowStride == 1, columns == 1 || columnStride >= rows {
            return (true, columns == 1 ? Swift.max(rows, 1) : columnStride, batch)
        }
        return nil
    }

    /// The one stride that steps through every matrix of the batch in row-major batch order,
    /// or `nil` when the batch dimensions do not collapse into one.
    static func batchStride(shape: [Int], strides: [Int]) -> Int? {
        var step: Int?
        var expected = 0
        for d in stride(from: shape.count - 1, through: 0, by: -1) where shape[d] != 1 {
            if step == nil {
                step = strides[d]
            } else if strides[d] != expected {
                return nil
            }
            expected = strides[d] * shape[d]
        }
        return step ?? 0
    }

    /// The first element of the first matrix.
    func base<T>(_: T.Type) -> UnsafeMutablePointer<T> {
        tensor.storage.raw.assumingMemoryBound(to: T.self) + offset
    }
}
