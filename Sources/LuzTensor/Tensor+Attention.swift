// Scaled dot-product attention over many heads at once, with the heads read in place.
//
// For each batch entry b and head h, attention is
//     P = softmax(scale · Q Kᵀ + masks)        (L × S, one row per query)
//     O = P V                                  (L × Dv)
// Multi-head attention usually splits a projection [batch, length, heads·headDim] into
// [batch·heads, length, headDim] with a permute copy (and the gradient back with another) so
// that a batched matmul can run. Here the matrix of head h is read where it already is: in the
// packed projection it starts at column h·headDim and its rows are `heads·headDim` (or 3× that)
// elements apart, which BLAS takes as the leading dimension. The same goes for writing O
// straight into the [batch, length, embed] layout the output projection wants, and for the
// gradients. No copy of Q, K, V or O is ever made.
//
// Two forms: `attention` does everything in one recorded operation (the weights P are kept for
// the backward pass but are not a graph node, so the backward needs no [batch, heads, L, S]
// gradient tensor, and the gradients of a packed Q, K, V land in one buffer); the pair
// `attentionProbabilities` / `attentionValues` makes P a tensor of the graph, for callers who
// return the weights or drop some of them out.
//
// The scale, the masks, the causal mask and the softmax are fused into one pass over each row
// of scores right after its GEMM (while it is in cache), and the softmax backward
// dS = P ⊙ (dP − rowsum(dP ⊙ P)) is fused with the GEMMs around it. The work is split over the
// cores by (batch, head) matrices, each worker calling a single-threaded GEMM, as the
// convolution kernels do: these matrices are far too small for BLAS's own threads.

import CLuzBLAS

/// Where one operand of a multi-head attention product lives inside a tensor, so that its
/// `batch × heads` matrices can be read (and their gradients written) without copying.
///
/// Row `i`, column `j` of the matrix of batch entry `b` and head `h` is element
/// `offset + b·batchStride + h·headStride + i·rowStride + j` of `tensor`.
package struct AttentionOperand {
    /// The tensor holding the operand.
    package let tensor: Tensor
    /// The element offset of row 0, column 0 of the first matrix.
    package let offset: Int
    /// The distance between the matrices of consecutive batch entries.
    package let batchStride: Int
    /// The distance between the matrices of consecutive heads.
    package let headStride: Int
    /// The distance between consecutive rows of one matrix (BLAS's leading dimension).
    package let rowStride: Int
    /// The rows of each matrix (the sequence length).
    package let rows: Int
    /// The columns of each matrix (the head dimension); they are contiguous.
    package let columns: Int

    /// Describes an operand; see the type's documentation for the meaning of the strides.
    package init(_ tensor: Tensor, offset: Int = 0, batchStride: Int, headStride: Int, rowStride: Int,
                 rows: Int, columns: Int) {
        self.tensor = tensor
        self.offset = offset
        self.batchStride = batchStride
        self.headStride = headStride
        self.rowStride = rowStride
        self.rows = rows
        self.columns = columns
    }

    /// The heads of a `[batch, length, width]` tensor (`[length, batch, width]` when not
    /// `batchFirst`) whose head `h` occupies columns `columnOffset + h·columns ..< columnOffset + (h+1)·columns`.
    package static func heads(of tensor: Tensor, batchFirst: Bool, columnOffset: Int, columns: Int) -> AttentionOperand {
        require(tensor.rank == 3, "attention: expected a [batch, length, width] tensor, got \(describe(tensor.shape))")
        let width = tensor.shape[2]
        let (batch, length) = batchFirst ? (tensor.shape[0], tensor.shape[1]) : (tensor.shape[1], tensor.shape[0])
        return AttentionOperand(tensor, offset: columnOffset,
                                batchStride: batchFirst ? length * width : width,
                                headStride: columns,
                                rowStride: batchFirst ? width : batch * width,
                                rows: length, columns: columns)
    }

    /// The element offset of the matrix of batch entry `b`, head `h`.
    @inline(__always)
    func start(_ b: Int, _ h: Int) -> Int { offset + b * batchStride + h * headStride }

    /// Checks that every matrix lies inside the tensor and that distinct matrices do not
    /// share a start (gradients are written by several threads, one matrix each).
    func validate(batch: Int, heads: Int, _ name: String) {
        require(tensor.dtype.isFloatingPoint, "attention: the \(name) must be floating point, got \(tensor.dtype)")
        require(rows > 0 && columns > 0, "attention: the \(name) matrices are empty (\(rows) × \(columns))")
        require(offset >= 0 && batchStride >= 0 && headStride >= 0 && rowStride >= columns,
                "attention: invalid \(name) layout")
        require((batch == 1 || batchStride > 0) && (heads == 1 || headStride > 0),
                "attention: the \(name) layout repeats a matrix")
        let last = start(batch - 1, heads - 1) + (rows - 1) * rowStride + columns
        require(last <= tensor.count,
                "attention: the \(name) layout reaches element \(last) of a tensor of \(tensor.count) (shape \(describe(tensor.shape)))")
    }
}

/// A mask added to the attention scores of every (batch, head) matrix, broadcast through
/// strides: score `(b, h, i, j)` reads element `b·batchStride + h·headStride + i·rowStride + j·columnStride`.
package struct AttentionMask {
    /// How the mask's values act on the scores.
    package enum Meaning {
        /// A floating-point mask added to the scores (−∞ hides a position).
        case additive
        /// A bool mask whose `true` entries may be attended (torch's `scaled_dot_product_attention`).
        case trueAttends
        /// A bool mask whose `true` entries are hidden (torch's `nn.MultiheadAttention`).
        case trueHides
    }

    /// The mask values.
    package let tensor: Tensor
    /// What the values mean.
    package let meaning: Meaning
    /// The strides over (batch, head, query row, key column); 0 broadcasts.
    package let batchStride: Int, headStride: Int, rowStride: Int, columnStride: Int

    /// Describes a mask; see the type's documentation for the strides.
    package init(_ tensor: Tensor, meaning: Meaning, batchStride: Int, headStride: Int, rowStride: Int, columnStride: Int) {
        switch meaning {
        case .additive:
            require(tensor.dtype.isFloatingPoint, "attention: an additive mask must be floating point, got \(tensor.dtype)")
        case .trueAttends, .trueHides:
            require(tensor.dtype == .bool, "attention: a boolean mask must be bool, got \(tensor.dtype)")
        }
        self.tensor = tensor
        self.meaning = meaning
        self.batchStride = batchStride
        self.headStride = headStride
        self.rowStride = rowStride
        self.columnStride = columnStride
    }

    /// The mask with additive values in `dtype` (the scores' type); bool masks are unchanged.
    func typed(_ dtype: DType) -> AttentionMask {
        guard meaning == .additive, tensor.dtype != dtype else { return self }
        return AttentionMask(withNoGrad { tensor.to(dtype) }, meaning: .additive, batchStride: batchStride,
                             headStride: headStride, rowStride: rowStride, columnStride: columnStride)
    }

    func validate(batch: Int, heads: Int, rows: Int, columns: Int) {
        let last = (batch - 1) * batchStride + (heads - 1) * headStride + (rows - 1) * rowStride
            + (columns - 1) * columnStride
        require(last < tensor.count,
                "attention: the mask of shape \(describe(tensor.shape)) is too small for \(batch) × \(heads) × \(rows) × \(columns) scores")
    }
}

/// The memory layout of an attention output: element (b, h, i, j) of the `batch × heads`
/// matrices of `rows × columns` is at `b·batchStride + h·headStride + i·rowStride + j` of a new
/// tensor of `shape`, which they must fill exactly.
package struct AttentionOutputLayout {
    /// The shape of the output tensor.
    package let shape: [Int]
    /// The distance between the matrices of consecutive batch entries.
    package let batchStride: Int
    /// The distance between the matrices of consecutive heads.
    package let headStride: Int
    /// The distance between consecutive rows of one matrix.
    package let rowStride: Int

    /// Describes a layout.
    package init(shape: [Int], batchStride: Int, headStride: Int, rowStride: Int) {
        self.shape = shape
        self.batchStride = batchStride
        self.headStride = headStride
        self.rowStride = rowStride
    }

    /// Heads merged into the last dimension: `[batch, length, heads·columns]`, or
    /// `[length, batch, heads·columns]` when not `batchFirst`.
    package static func mergedHeads(batch: Int, heads: Int, length: Int, columns: Int, batchFirst: Bool) -> AttentionOutputLayout {
        let width = heads * columns
        return batchFirst
            ? AttentionOutputLayout(shape: [batch, length, width], batchStride: length * width, headStride: columns, rowStride: width)
            : AttentionOutputLayout(shape: [length, batch, width], batchStride: width, headStride: columns, rowStride: batch * width)
    }

    @inline(__always)
    func start(_ b: Int, _ h: Int) -> Int { b * batchStride + h * headStride }
}

/// A mask resolved to a typed base pointer for the kernels.
struct ResolvedMask {
    let meaning: AttentionMask.Meaning
    let base: UnsafeRawPointer
    let batchStride: Int, headStride: Int, rowStride: Int, columnStride: Int
}

/// What the kernels need to compute the probabilities of one (batch, head) matrix.
struct ScoreKernel<T: GemmScalar> {
    let query: AttentionOperand, key: AttentionOperand
    let q: UnsafeMutablePointer<T>, k: UnsafeMutablePointer<T>
    let masks: [ResolvedMask]
    let scale: T
    let heads: Int, causal: Bool

    /// Checks the operands and masks and resolves the masks (additive ones in type `T`).
    init(query: AttentionOperand, key: AttentionOperand, batch: Int, heads: Int, scale: Double,
         masks: [AttentionMask], causal: Bool) {
        query.validate(batch: batch, heads: heads, "query")
        key.validate(batch: batch, heads: heads, "key")
        require(query.columns == key.columns,
                "attention: query width \(query.columns) differs from key width \(key.columns)")
        require(key.tensor.dtype == query.tensor.dtype,
                "attention: query is \(query.tensor.dtype) but key is \(key.tensor.dtype)")
        self.query = query
        self.key = key
        q = query.tensor.pointer(T.self)
        k = key.tensor.pointer(T.self)
        self.masks = masks.map { mask in
            mask.validate(batch: batch, heads: heads, rows: query.rows, columns: key.rows)
            let base: UnsafeRawPointer
            if mask.meaning == .additive {
                require(mask.tensor.dtype == T.dtype, "attention: an additive mask must be converted to \(T.dtype) first")
                base = UnsafeRawPointer(mask.tensor.pointer(T.self))
            } else {
                base = UnsafeRawPointer(mask.tensor.pointer(Bool.self))
            }
            return ResolvedMask(meaning: mask.meaning, base: base, batchStride: mask.batchStride,
                                headStride: mask.headStride, rowStride: mask.rowStride, columnStride: mask.columnStride)
        }
        self.scale = T(scale)
        self.heads = heads
        self.causal = causal
    }

    /// Writes softmax(scale · Q Kᵀ + masks) of matrix `z` into `p` (`L × S`, row-major).
    @inline(__always)
    func probabilities(_ z: Int, into p: UnsafeMutablePointer<T>) {
        let l = query.rows, s = key.rows
        scores(z, rowStart: 0, rows: l, columnStart: 0, columns: s, into: p, ldt: s)
        for i in 0..<l { softmaxRow(p + i * s, visible: causal ? Swift.min(i + 1, s) : s, count: s) }
    }
}

extension ScoreKernel {
    /// Writes the block of rows `rowStart ..< rowStart + rows` and columns `columnStart ..<
    /// columnStart + columns` of `scale · Q Kᵀ + masks` of matrix `z` into `tile` (row stride
    /// `ldt`), with −∞ wherever a mask or the causal rule hides a key: the tiled kernel's scores.
    @inline(__always)
    func scores(_ z: Int, rowStart: Int, rows: Int, columnStart: Int, columns: Int,
                into tile: UnsafeMutablePointer<T>, ldt: Int) {
        let b = z / heads, h = z % heads
        T.gemm(transposeA: false, transposeB: true, m: rows, n: columns, k: query.columns, alpha: scale,
               a: q + query.start(b, h) + rowStart * query.rowStride, lda: query.rowStride,
               b: k + key.start(b, h) + columnStart * key.rowStride, ldb: key.rowStride, beta: 0, c: tile, ldc: ldt)
        for r in 0..<rows {
            let i = rowStart + r
            let row = tile + r * ldt
            // Keys j > i are hidden under the causal rule: in this block, columns from `visible` on.
            let visible = causal ? Swift.max(0, Swift.min(i + 1 - columnStart, columns)) : columns
            for j in visible..<columns { row[j] = -T.infinity }
            for mask in masks {
                let at = b * mask.batchStride + h * mask.headStride + i * mask.rowStride + columnStart * mask.columnStride
                let cs = mask.columnStride
                switch mask.meaning {
                case .additive:
                    let m = mask.base.assumingMemoryBound(to: T.self) + at
                    for j in 0..<visible { row[j] += m[j * cs] }
                case .trueAttends:
                    let m = mask.base.assumingMemoryBound(to: Bool.self) + at
                    for j in 0..<visible where !m[j * cs] { row[j] = -T.infinity }
                case .trueHides:
                    let m = mask.base.assumingMemoryBound(to: Bool.self) + at
                    for j in 0..<visible where m[j * cs] { row[j] = -T.infinity }
                }
            }
        }
    }
}

/// softmax over the first `visible` entries of a row, zeros after them. A row with nothing
/// visible (every score −∞) becomes all zeros.
@inline(__always)
private func softmaxRow<T: TensorFloat>(_ row: UnsafeMutablePointer<T>, visible: Int, count: Int) {
    if T.self == Float.self {
        softmaxRow(UnsafeMutableRawPointer(row).assumingMemoryBound(to: Float.self), visible: visible, count: count)
        return
    }
    var largest = -T.infinity
    for j in 0..<visible where row[j] > largest { largest = row[j] }
    if largest == -T.infinity {
        for j in 0..<count { row[j] = 0 }
        return
    }
    var total = T.zero
    for j in 0..<visible {
        let e = T.luzExp(row[j] - largest)
        row[j] = e
        total += e
    }
    let inverse = 1 / total
    for j in 0..<visible { row[j] *= inverse }
    for j in visible..<count { row[j] = 0 }
}

// The float32 softmax works eight lanes at a time with its own exponential: the scores of a
// 32-key row are a handful of vectors, and libm's scalar `expf` plus the serial max and sum
// loops cost several times the GEMM that produced them. The maximum and the exponentials run
// in CLuzBLAS's C kernels, compiled for AVX-512 or AVX2 with FMA where the processor has them
// (Swift's SIMD code is built for the baseline: SSE2, without FMA).

/// The float32 ``softmaxRow(_:visible:count:)``.
@inline(__always)
private func softmaxRow(_ row: UnsafeMutablePointer<Float>, visible: Int, count: Int) {
    let largest = luz_max_f32(row, visible)
    if largest == -.infinity {
        for j in 0..<count { row[j] = 0 }
        return
    }
    let total = luz_exp_shifted_f32(row, visible, largest)
    let inverse = 1 / total
    let vectors = visible / 8 * 8
    var j = 0
    while j < vectors {
        storeLanes(loadLanes(row + j) * inverse, row + j)
        j += 8
    }
    while j < visible { row[j] *= inverse; j += 1 }
    for j in visible..<count { row[j] = 0 }
}

/// The softmax backward of an `L × S` block: `d = P ⊙ (g − Σⱼ g ⊙ P)` row by row (`d` may be
/// `g`). Hidden positions have P = 0, so their gradient is 0.
@inline(__always)
private func softmaxBackward<T: TensorFloat>(_ p: UnsafePointer<T>, _ g: UnsafePointer<T>, into d: UnsafeMutablePointer<T>,
                                             rows: Int, columns: Int) {
    if T.self == Float.self {
        let pf = UnsafeRawPointer(p).assumingMemoryBound(to: Float.self)
        let gf = UnsafeRawPointer(g).assumingMemoryBound(to: Float.self)
        let df = UnsafeMutableRawPointer(d).assumingMemoryBound(to: Float.self)
        let vectors = columns / 8 * 8
        for i in 0..<rows {
            let pr = UnsafeMutablePointer(mutating: pf + i * columns), gr = UnsafeMutablePointer(mutating: gf + i * columns)
            let dr = df + i * columns
            var dot8 = SIMD8<Float>.zero
            var j = 0
            while j < vectors { dot8 += loadLanes(gr + j) * loadLanes(pr + j); j += 8 }
            var dot = dot8.sum()
            while j < columns { dot += gr[j] * pr[j]; j += 1 }
            j = 0
            while j < vectors { storeLanes(loadLanes(pr + j) * (loadLanes(gr + j) - dot), dr + j); j += 8 }
            while j < columns { dr[j] = pr[j] * (gr[j] - dot); j += 1 }
        }
        return
    }
    for i in 0..<rows {
        let pr = p + i * columns, gr = g + i * columns, dr = d + i * columns
        var dot = T.zero
        for j in 0..<columns { dot += gr[j] * pr[j] }
        for j in 0..<columns { dr[j] = pr[j] * (gr[j] - dot) }
    }
}

/// The distinct tensors behind some operands (the graph's inputs) and each operand's index
/// among them.
func distinctInputs(_ operands: [AttentionOperand]) -> (tensors: [Tensor], index: [Int]) {
    var tensors: [Tensor] = []
    var index: [Int] = []
    for operand in operands {
        if let i = tensors.firstIndex(where: { $0 === operand.tensor }) {
            index.append(i)
        } else {
            index.append(tensors.count)
            tensors.append(operand.tensor)
        }
    }
    return (tensors, index)
}

extension Tensor {
    /// Checks the value against the keys and the layout against the output's size, and returns
    /// the (uninitialized) output tensor of an attention of `queries` query rows.
    static func attentionOutput(key: AttentionOperand, value: AttentionOperand, batch: Int, heads: Int, queries: Int,
                                layout: AttentionOutputLayout) -> Tensor {
        let dtype = key.tensor.dtype, dv = value.columns
        value.validate(batch: batch, heads: heads, "value")
        require(value.rows == key.rows, "attention: \(key.rows) keys but \(value.rows) values")
        require(value.tensor.dtype == dtype, "attention: key is \(dtype) but value is \(value.tensor.dtype)")
        let out = Tensor.empty(layout.shape, dtype: dtype)
        require(out.count == batch * heads * queries * dv,
                "attention: output shape \(describe(layout.shape)) does not hold \(batch) × \(heads) × \(queries) × \(dv) values")
        return out
    }

    /// Multi-head attention `softmax(scale · Q Kᵀ + masks) V` of every (batch, head) matrix in
    /// one recorded operation, the output written into a new tensor in `layout`.
    ///
    /// The fused form for when the attention weights are not wanted: they are kept for the
    /// backward pass but never become a graph node, so the backward needs no `[batch, heads,
    /// L, S]` gradient tensor, and when query, key and value come from one packed projection
    /// their three gradients are written into one buffer (no sum of partial gradients).
    ///
    /// - Parameters:
    ///   - causal: hide key `j > i` from query `i` (torch's `is_causal`, top-left aligned).
    ///   - masks: added to the scores; they get no gradient.
    /// A query whose every key is hidden gets a zero output (as torch's
    /// `scaled_dot_product_attention` does; a plain softmax would give NaN).
    ///
    /// Beyond 128 keys (``attentionIsTiled(queries:keys:)``) it runs
    /// ``tiledAttention(query:key:value:batch:heads:scale:masks:causal:layout:queryBlock:keyBlock:)``,
    /// which keeps no probabilities and recomputes them in the backward pass.
    package static func attention(query: AttentionOperand, key: AttentionOperand, value: AttentionOperand,
                                  batch: Int, heads: Int, scale: Double, masks: [AttentionMask] = [],
                                  causal: Bool = false, layout: AttentionOutputLayout) -> Tensor {
        if attentionIsTiled(queries: query.rows, keys: key.rows) {
            return tiledAttention(query: query, key: key, value: value, batch: batch, heads: heads, scale: scale,
                                  masks: masks, causal: causal, layout: layout)
        }
        let dtype = query.tensor.dtype
        let out = attentionOutput(key: key, value: value, batch: batch, heads: heads, queries: query.rows, layout: layout)
        let l = query.rows, s = key.rows, d = query.columns, dv = value.columns
        let probabilities = Tensor.empty([batch, heads, l, s], dtype: dtype)
        let typedMasks = masks.map { $0.typed(dtype) }

        func forward<T: GemmScalar>(_: T.Type) {
            let kernel = ScoreKernel<T>(query: query, key: key, batch: batch, heads: heads, scale: scale,
                                        masks: typedMasks, causal: causal)
            let p = probabilities.pointer(T.self), v = value.tensor.pointer(T.self), o = out.pointer(T.self)
            forEachMatrixRange(batch * heads, work: l * s * (d + dv + 8)) { range in
                for z in range {
                    let pz = p + z * l * s
                    kernel.probabilities(z, into: pz)
                    let b = z / heads, h = z % heads
                    T.gemm(transposeA: false, transposeB: false, m: l, n: dv, k: s, alpha: 1,
                           a: pz, lda: s, b: v + value.start(b, h), ldb: value.rowStride,
                           beta: 0, c: o + layout.start(b, h), ldc: layout.rowStride)
                }
            }
        }
        withFloatType(dtype, "attention", float: { forward(Float.self) }, double: { forward(Double.self) })

        let (inputs, index) = distinctInputs([query, key, value])
        return out.recording("attention", inputs, saving: inputs) { g, need in
            let g = g.dtype == dtype ? g : g.to(dtype)
            let grads: [Tensor?] = inputs.indices.map { need[$0] ? Tensor.zeros(inputs[$0].shape, dtype: dtype) : nil }
            func backward<T: GemmScalar>(_: T.Type) {
                let q = query.tensor.pointer(T.self), k = key.tensor.pointer(T.self), v = value.tensor.pointer(T.self)
                let p = probabilities.pointer(T.self), gp = g.pointer(T.self)
                let dq = grads[index[0]]?.pointer(T.self), dk = grads[index[1]]?.pointer(T.self)
                let dvp = grads[index[2]]?.pointer(T.self)
                let alpha = T(scale)
                forEachMatrixRange(batch * heads, work: l * s * (2 * d + 2 * dv + 4)) { range in
                    let scratch = UnsafeMutablePointer<T>.allocate(capacity: l * s)
                    defer { scratch.deallocate() }
                    for z in range {
                        let b = z / heads, h = z % heads
                        let pz = p + z * l * s, go = gp + layout.start(b, h)
                        if let dvp {
                            // dV += Pᵀ dO
                            T.gemm(transposeA: true, transposeB: false, m: s, n: dv, k: l, alpha: 1,
                                   a: pz, lda: s, b: go, ldb: layout.rowStride,
                                   beta: 1, c: dvp + value.start(b, h), ldc: value.rowStride)
                        }
                        guard dq != nil || dk != nil else { continue }
                        // dP = dO Vᵀ, then dS = P ⊙ (dP − rowsum(dP ⊙ P)) in place.
                        T.gemm(transposeA: false, transposeB: true, m: l, n: s, k: dv, alpha: 1,
                               a: go, lda: layout.rowStride, b: v + value.start(b, h), ldb: value.rowStride,
                               beta: 0, c: scratch, ldc: s)
                        softmaxBackward(pz, scratch, into: scratch, rows: l, columns: s)
                        if let dq {
                            T.gemm(transposeA: false, transposeB: false, m: l, n: d, k: s, alpha: alpha,
                                   a: scratch, lda: s, b: k + key.start(b, h), ldb: key.rowStride,
                                   beta: 1, c: dq + query.start(b, h), ldc: query.rowStride)
                        }
                        if let dk {
                            T.gemm(transposeA: true, transposeB: false, m: s, n: d, k: l, alpha: alpha,
                                   a: scratch, lda: s, b: q + query.start(b, h), ldb: query.rowStride,
                                   beta: 1, c: dk + key.start(b, h), ldc: key.rowStride)
                        }
                    }
                }
            }
            withFloatType(dtype, "attention", float: { backward(Float.self) }, double: { backward(Double.self) })
            return grads
        }
    }

    /// The attention probabilities `softmax(scale · Q Kᵀ + masks)` of every (batch, head)
    /// matrix, as a new `[batch, heads, L, S]` tensor (L query rows, S key rows), recorded for
    /// autograd with respect to the tensors holding the query and key. With
    /// ``attentionValues(_:value:layout:)`` it computes what
    /// ``attention(query:key:value:batch:heads:scale:masks:causal:layout:)`` does, when the
    /// weights themselves are wanted (or dropped out) as a differentiable tensor.
    ///
    /// - Parameters:
    ///   - causal: hide key `j > i` from query `i` (torch's `is_causal`: the upper triangle
    ///     above the main diagonal, aligned at the top left).
    ///   - masks: masks added to the scores; they get no gradient.
    /// A row whose every key is hidden gets all-zero probabilities (torch's
    /// `scaled_dot_product_attention` does the same; a plain softmax would give NaN).
    package static func attentionProbabilities(query: AttentionOperand, key: AttentionOperand, batch: Int, heads: Int,
                                               scale: Double, masks: [AttentionMask] = [], causal: Bool = false) -> Tensor {
        let dtype = query.tensor.dtype
        let l = query.rows, s = key.rows, d = query.columns
        let out = Tensor.empty([batch, heads, l, s], dtype: dtype)
        let typedMasks = masks.map { $0.typed(dtype) }

        func run<T: GemmScalar>(_: T.Type) {
            let kernel = ScoreKernel<T>(query: query, key: key, batch: batch, heads: heads, scale: scale,
                                        masks: typedMasks, causal: causal)
            let p = out.pointer(T.self)
            forEachMatrixRange(batch * heads, work: l * s * (d + 8)) { range in
                for z in range { kernel.probabilities(z, into: p + z * l * s) }
            }
        }
        withFloatType(dtype, "attention", float: { run(Float.self) }, double: { run(Double.self) })

        let (inputs, index) = distinctInputs([query, key])
        return out.recording("attentionProbabilities", inputs, saving: inputs + [out]) { [unowned out] g, need in
            let g = g.dtype == dtype ? g : g.to(dtype)
            let grads: [Tensor?] = inputs.indices.map { need[$0] ? Tensor.zeros(inputs[$0].shape, dtype: dtype) : nil }
            func backward<T: GemmScalar>(_: T.Type) {
                let q = query.tensor.pointer(T.self), k = key.tensor.pointer(T.self)
                let p = out.pointer(T.self), gp = g.pointer(T.self)
                let dq = grads[index[0]]?.pointer(T.self), dk = grads[index[1]]?.pointer(T.self)
                let alpha = T(scale)
                forEachMatrixRange(batch * heads, work: l * s * (2 * d + 4)) { range in
                    let ds = UnsafeMutablePointer<T>.allocate(capacity: l * s)
                    defer { ds.deallocate() }
                    for z in range {
                        let b = z / heads, h = z % heads
                        softmaxBackward(p + z * l * s, gp + z * l * s, into: ds, rows: l, columns: s)
                        if let dq {
                            T.gemm(transposeA: false, transposeB: false, m: l, n: d, k: s, alpha: alpha,
                                   a: ds, lda: s, b: k + key.start(b, h), ldb: key.rowStride,
                                   beta: 1, c: dq + query.start(b, h), ldc: query.rowStride)
                        }
                        if let dk {
                            T.gemm(transposeA: true, transposeB: false, m: s, n: d, k: l, alpha: alpha,
                                   a: ds, lda: s, b: q + query.start(b, h), ldb: query.rowStride,
                                   beta: 1, c: dk + key.start(b, h), ldc: key.rowStride)
                        }
                    }
                }
            }
            withFloatType(dtype, "attention", float: { backward(Float.self) }, double: { backward(Double.self) })
            return grads
        }
    }

    /// The attention output `O = P V` of every (batch, head) matrix, written into a new tensor
    /// in `layout`, recorded for autograd with respect to `probabilities` and the tensor
    /// holding the value.
    ///
    /// - Parameters:
    ///   - probabilities: `[batch, heads, L, S]`, as ``attentionProbabilities(query:key:batch:heads:scale:masks:causal:)``
    ///     returns (possibly after dropout).
    ///   - value: `batch × heads` matrices of `S × Dv`.
    ///   - layout: where the `L × Dv` output matrices go; they must fill `layout.shape`.
    package static func attentionValues(_ probabilities: Tensor, value: AttentionOperand,
                                        layout: AttentionOutputLayout) -> Tensor {
        require(probabilities.rank == 4, "attention: probabilities must be [batch, heads, L, S], got \(describe(probabilities.shape))")
        let batch = probabilities.shape[0], heads = probabilities.shape[1]
        let l = probabilities.shape[2], s = probabilities.shape[3], dv = value.columns
        value.validate(batch: batch, heads: heads, "value")
        require(value.rows == s, "attention: \(s) keys but \(value.rows) values")
        let dtype = value.tensor.dtype
        let p = probabilities.dtype == dtype ? probabilities : probabilities.to(dtype)
        let out = Tensor.empty(layout.shape, dtype: dtype)
        require(out.count == batch * heads * l * dv,
                "attention: output shape \(describe(layout.shape)) does not hold \(batch) × \(heads) × \(l) × \(dv) values")

        func run<T: GemmScalar>(_: T.Type) {
            let pp = p.pointer(T.self), v = value.tensor.pointer(T.self), o = out.pointer(T.self)
            forEachMatrixRange(batch * heads, work: l * s * dv) { range in
                for z in range {
                    let b = z / heads, h = z % heads
                    T.gemm(transposeA: false, transposeB: false, m: l, n: dv, k: s, alpha: 1,
                           a: pp + z * l * s, lda: s, b: v + value.start(b, h), ldb: value.rowStride,
                           beta: 0, c: o + layout.start(b, h), ldc: layout.rowStride)
                }
            }
        }
        withFloatType(dtype, "attention", float: { run(Float.self) }, double: { run(Double.self) })

        return out.recording("attentionValues", p, value.tensor, saving: [p, value.tensor]) { g, need in
            let g = g.dtype == dtype ? g : g.to(dtype)
            let gradP = need[0] ? Tensor.empty(p.shape, dtype: dtype) : nil
            let gradV = need[1] ? Tensor.zeros(value.tensor.shape, dtype: dtype) : nil
            func backward<T: GemmScalar>(_: T.Type) {
                let pp = p.pointer(T.self), v = value.tensor.pointer(T.self), gp = g.pointer(T.self)
                let dp = gradP?.pointer(T.self), dv2 = gradV?.pointer(T.self)
                forEachMatrixRange(batch * heads, work: 2 * l * s * dv) { range in
                    for z in range {
                        let b = z / heads, h = z % heads
                        if let dp {
                            // dP = dO Vᵀ
                            T.gemm(transposeA: false, transposeB: true, m: l, n: s, k: dv, alpha: 1,
                                   a: gp + layout.start(b, h), lda: layout.rowStride,
                                   b: v + value.start(b, h), ldb: value.rowStride, beta: 0, c: dp + z * l * s, ldc: s)
                        }
                        if let dv2 {
                            // dV = Pᵀ dO
                            T.gemm(transposeA: true, transposeB: false, m: s, n: dv, k: l, alpha: 1,
                                   a: pp + z * l * s, lda: s, b: gp + layout.start(b, h), ldb: layout.rowStride,
                                   beta: 1, c: dv2 + value.start(b, h), ldc: value.rowStride)
                        }
                    }
                }
            }
            withFloatType(dtype, "attention", float: { backward(Float.self) }, double: { backward(Double.self) })
            return [gradP, gradV]
        }
    }
}
