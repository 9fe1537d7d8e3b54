// Attention over long sequences without the score matrix.
//
// ``Tensor/attention(query:key:value:batch:heads:scale:masks:causal:layout:)`` keeps the
// probabilities of every (batch, head) matrix for its backward pass: `batch · heads · L · S`
// values, 256 MB in float32 for 8 sequences of 1 024 tokens with 8 heads. The tiled kernel here
// keeps none of them. Its forward pass walks each block of query rows along the keys a block at
// a time with an online softmax (the row maximum and the sum of exponentials are carried from
// block to block and the partial output rescaled when the maximum grows, as FlashAttention
// does), and keeps for the backward pass only the log-sum-exp of each row (`L` values per
// matrix) besides the output. The backward pass recomputes each block of scores from Q and K,
// turns them back into probabilities with the saved log-sum-exp, and accumulates dV, dQ and dK
// block by block, with `Dᵢ = Σⱼ dOᵢⱼ Oᵢⱼ` standing in for the row sums of `dP ⊙ P`. Memory is
// two tiles per thread plus the `L` log-sum-exps: linear in the sequence length.

import CLuzBLAS

/// The largest value of a row of `count` scores (−∞ when all are hidden).
@inline(__always)
private func rowMaximum<T: GemmScalar>(_ row: UnsafeMutablePointer<T>, _ count: Int) -> T {
    if T.self == Float.self {
        return T(luz_max_f32(UnsafeMutableRawPointer(row).assumingMemoryBound(to: Float.self), count))
    }
    var largest = -T.infinity
    for j in 0..<count where row[j] > largest { largest = row[j] }
    return largest
}

// The float32 row operations run in CLuzBLAS's C kernels, compiled for AVX-512 or AVX2 with FMA
// where the processor has them (Swift's own SIMD code is built for SSE2): at 1 024 tokens the
// exponentials alone took 31 % of the step in Swift's SSE2 lanes.

/// Replaces each score `x` of a row by `e^(x − shift)` and returns their sum (`shift` finite;
/// hidden scores of −∞ become 0).
@inline(__always)
private func exponentiate<T: GemmScalar>(_ row: UnsafeMutablePointer<T>, _ count: Int, minus shift: T) -> T {
    var j = 0
    var total = T.zero
    if T.self == Float.self {
        // Through the C kernel, compiled with AVX2 and FMA where the processor has them.
        let r = UnsafeMutableRawPointer(row).assumingMemoryBound(to: Float.self)
        return T(luz_exp_shifted_f32(r, count, Float(shift)))
    }
    while j < count {
        let e = T.luzExp(row[j] - shift)
        row[j] = e
        total += e
        j += 1
    }
    return total
}

/// Multiplies `count` values at `row` by `factor`.
@inline(__always)
private func multiply<T: GemmScalar>(_ row: UnsafeMutablePointer<T>, _ count: Int, by factor: T) {
    var j = 0
    if T.self == Float.self {
        let r = UnsafeMutableRawPointer(row).assumingMemoryBound(to: Float.self)
        let f = Float(factor)
        while j + 8 <= count { storeLanes(loadLanes(r + j) * f, r + j); j += 8 }
    }
    while j < count { row[j] *= factor; j += 1 }
}

/// `Σⱼ a[j] b[j]` over `count` values.
@inline(__always)
private func rowProduct<T: GemmScalar>(_ a: UnsafeMutablePointer<T>, _ b: UnsafeMutablePointer<T>, _ count: Int) -> T {
    var j = 0
    var total = T.zero
    if T.self == Float.self {
        let x = UnsafeMutableRawPointer(a).assumingMemoryBound(to: Float.self)
        let y = UnsafeMutableRawPointer(b).assumingMemoryBound(to: Float.self)
        var sum8 = SIMD8<Float>.zero
        while j + 8 <= count { sum8 += loadLanes(x + j) * loadLanes(y + j); j += 8 }
        total = T(sum8.sum())
    }
    while j < count { total += a[j] * b[j]; j += 1 }
    return total
}

/// `d[j] = p[j] · (d[j] − rowDot)` over `count` values: the softmax backward of one row, with
/// `d` holding dP on entry and dS on return.
@inline(__always)
private func softmaxGradient<T: GemmScalar>(_ p: UnsafeMutablePointer<T>, _ d: UnsafeMutablePointer<T>, _ count: Int,
                                            rowDot: T) {
    if T.self == Float.self {
        luz_softmax_gradient_f32(UnsafeMutableRawPointer(p).assumingMemoryBound(to: Float.self),
                                 UnsafeMutableRawPointer(d).assumingMemoryBound(to: Float.self), count, Float(rowDot))
        return
    }
    for j in 0..<count { d[j] = p[j] * (d[j] - rowDot) }
}

extension Tensor {
    /// The query and key block sizes of the tiled kernel when ``attention(query:key:value:batch:heads:scale:masks:causal:layout:)``
    /// chooses it: 128 query rows, 256 keys (two 128 KB float32 tiles per thread, in L2; 1.03–1.1× the speed of 64 rows at 512 and 1 024 tokens).
    package static let attentionTile = (queries: 128, keys: 256)

    /// Whether ``attention(query:key:value:batch:heads:scale:masks:causal:layout:)`` runs the
    /// tiled kernel for `queries` query rows and `keys` keys: beyond 128 keys, where the
    /// probabilities it would otherwise keep start to weigh (8 MB for 8 × 8 heads of 256 × 256)
    /// and where it was measured as fast or faster (`luz-bench long-attention`: 256 tokens
    /// 1.1–1.5× faster tiled, 128 tokens the same either way).
    package static func attentionIsTiled(queries: Int, keys: Int) -> Bool {
        keys > 128 && queries > 1
    }

    /// ``attention(query:key:value:batch:heads:scale:masks:causal:layout:)`` computed in blocks
    /// of `queryBlock` query rows and `keyBlock` keys, keeping no probabilities: memory linear in
    /// the sequence length (see the notes at the top of this file). Same values (to rounding),
    /// same gradients, same treatment of masks and of queries with every key hidden (output 0).
    package static func tiledAttention(query: AttentionOperand, key: AttentionOperand, value: AttentionOperand,
                                       batch: Int, heads: Int, scale: Double, masks: [AttentionMask] = [],
                                       causal: Bool = false, layout: AttentionOutputLayout,
                                       queryBlock: Int = attentionTile.queries, keyBlock: Int = attentionTile.keys) -> Tensor {
        let dtype = query.tensor.dtype
        require(queryBlock > 0 && keyBlock > 0, "attention: block sizes \(queryBlock) × \(keyBlock) must be positive")
        let out = attentionOutput(key: key, value: value, batch: batch, heads: heads, queries: query.rows, layout: layout)
        let l = query.rows, s = key.rows, d = query.columns, dv = value.columns
        let matrices = batch * heads
        let rowBlocks = (l + queryBlock - 1) / queryBlock
        // The log-sum-exp of each query row's scores, −∞ for a row with every key hidden.
        let logSumExp = Tensor.empty([matrices * l], dtype: dtype)
        let typedMasks = masks.map { $0.typed(dtype) }
        /// The keys a block of query rows ending before `rowEnd` can see at all.
        func keyEnd(_ rowEnd: Int) -> Int { causal ? Swift.min(s, rowEnd) : s }

        func forward<T: GemmScalar>(_: T.Type) {
            let kernel = ScoreKernel<T>(query: query, key: key, batch: batch, heads: heads, scale: scale,
                                        masks: typedMasks, causal: causal)
            let v = value.tensor.pointer(T.self), o = out.pointer(T.self), lse = logSumExp.pointer(T.self)
            forEachMatrixRange(matrices * rowBlocks, work: queryBlock * s * (d + dv + 8)) { range in
                let tile = UnsafeMutablePointer<T>.allocate(capacity: queryBlock * keyBlock + 2 * queryBlock)
                defer { tile.deallocate() }
                let largest = tile + queryBlock * keyBlock, total = largest + queryBlock
                for task in range {
                    let z = task / rowBlocks, r0 = (task % rowBlocks) * queryBlock
                    let rows = Swift.min(queryBlock, l - r0)
                    let b = z / heads, h = z % heads
                    let oz = o + layout.start(b, h) + r0 * layout.rowStride
                    for r in 0..<rows {
                        (oz + r * layout.rowStride).initialize(repeating: 0, count: dv)
                        largest[r] = -T.infinity
                        total[r] = 0
                    }
                    let end = keyEnd(r0 + rows)
                    var c0 = 0
                    while c0 < end {
                        let columns = Swift.min(keyBlock, end - c0)
                        kernel.scores(z, rowStart: r0, rows: rows, columnStart: c0, columns: columns,
                                      into: tile, ldt: keyBlock)
                        for r in 0..<rows {
                            let row = tile + r * keyBlock
                            let peak = Swift.max(largest[r], rowMaximum(row, columns))
                            if peak == -T.infinity {
                                // Nothing visible to this row yet: no weight, the output stays 0.
                                row.update(repeating: 0, count: columns)
                                continue
                            }
                            let sum = exponentiate(row, columns, minus: peak)
                            if largest[r] != peak && largest[r] != -T.infinity {
                                let correction = T.luzExp(largest[r] - peak)
                                total[r] *= correction
                                multiply(oz + r * layout.rowStride, dv, by: correction)
                            }
                            total[r] += sum
                            largest[r] = peak
                        }
                        T.gemm(transposeA: false, transposeB: false, m: rows, n: dv, k: columns, alpha: 1,
                               a: tile, lda: keyBlock, b: v + value.start(b, h) + c0 * value.rowStride,
                               ldb: value.rowStride, beta: 1, c: oz, ldc: layout.rowStride)
                        c0 += columns
                    }
                    for r in 0..<rows {
                        let at = z * l + r0 + r
                        if total[r] > 0 {
                            multiply(oz + r * layout.rowStride, dv, by: 1 / total[r])
                            lse[at] = largest[r] + T.luzLog(total[r])
                        } else {
                            lse[at] = -T.infinity
                        }
                    }
                }
            }
        }
        withFloatType(dtype, "attention", float: { forward(Float.self) }, double: { forward(Double.self) })

        let (inputs, index) = distinctInputs([query, key, value])
        return out.recording("tiledAttention", inputs, saving: inputs + [out]) { [unowned out] g, need in
            let g = g.dtype == dtype ? g : g.to(dtype)
            let grads: [Tensor?] = inputs.indices.map { need[$0] ? Tensor.zeros(inputs[$0].shape, dtype: dtype) : nil }
            func backward<T: GemmScalar>(_: T.Type) {
                let kernel = ScoreKernel<T>(query: query, key: key, batch: batch, heads: heads, scale: scale,
                                            masks: typedMasks, causal: causal)
                let q = query.tensor.pointer(T.self), k = key.tensor.pointer(T.self), v = value.tensor.pointer(T.self)
                let o = out.pointer(T.self), gp = g.pointer(T.self), lse = logSumExp.pointer(T.self)
                let dq = grads[index[0]]?.pointer(T.self), dk = grads[index[1]]?.pointer(T.self)
                let dvp = grads[index[2]]?.pointer(T.self)
                let alpha = T(scale)
                forEachMatrixRange(matrices, work: l * s * (2 * d + 2 * dv + 8)) { range in
                    let tiles = UnsafeMutablePointer<T>.allocate(capacity: 2 * queryBlock * keyBlock + queryBlock)
                    defer { tiles.deallocate() }
                    let probabilities = tiles, scores = tiles + queryBlock * keyBlock
                    let rowDot = scores + queryBlock * keyBlock
                    for z in range {
                        let b = z / heads, h = z % heads
                        for r0 in stride(from: 0, to: l, by: queryBlock) {
                            let rows = Swift.min(queryBlock, l - r0)
                            let go = gp + layout.start(b, h) + r0 * layout.rowStride
                            let oz = o + layout.start(b, h) + r0 * layout.rowStride
                            for r in 0..<rows {
                                rowDot[r] = rowProduct(go + r * layout.rowStride, oz + r * layout.rowStride, dv)
                            }
                            let end = keyEnd(r0 + rows)
                            var c0 = 0
                            while c0 < end {
                                let columns = Swift.min(keyBlock, end - c0)
                                kernel.scores(z, rowStart: r0, rows: rows, columnStart: c0, columns: columns,
                                              into: probabilities, ldt: keyBlock)
                                for r in 0..<rows {
                                    let row = probabilities + r * keyBlock
                                    let shift = lse[z * l + r0 + r]
                                    if shift == -T.infinity {
                                        row.update(repeating: 0, count: columns)
                                    } else {
                                        _ = exponentiate(row, columns, minus: shift)
                                    }
                                }
                                if let dvp {
                                    // dV_j += P_ijᵀ dO_i
                                    T.gemm(transposeA: true, transposeB: false, m: columns, n: dv, k: rows, alpha: 1,
                                           a: probabilities, lda: keyBlock, b: go, ldb: layout.rowStride, beta: 1,
                                           c: dvp + value.start(b, h) + c0 * value.rowStride, ldc: value.rowStride)
                                }
                                if dq != nil || dk != nil {
                                    // dP_ij = dO_i V_jᵀ, then dS_ij = P_ij ⊙ (dP_ij − D_i) in place.
                                    T.gemm(transposeA: false, transposeB: true, m: rows, n: columns, k: dv, alpha: 1,
                                           a: go, lda: layout.rowStride, b: v + value.start(b, h) + c0 * value.rowStride,
                                           ldb: value.rowStride, beta: 0, c: scores, ldc: keyBlock)
                                    for r in 0..<rows {
                                        softmaxGradient(probabilities + r * keyBlock, scores + r * keyBlock, columns,
                                                        rowDot: rowDot[r])
                                    }
                                    if let dq {
                                        T.gemm(transposeA: false, transposeB: false, m: rows, n: d, k: columns, alpha: alpha,
                                               a: scores, lda: keyBlock, b: k + key.start(b, h) + c0 * key.rowStride,
                                               ldb: key.rowStride, beta: 1,
                                               c: dq + query.start(b, h) + r0 * query.rowStride, ldc: query.rowStride)
                                    }
                                    if let dk {
                                        T.gemm(transposeA: true, transposeB: false, m: columns, n: d, k: rows, alpha: alpha,
                                               a: scores, lda: keyBlock, b: q + query.start(b, h) + r0 * query.rowStride,
                                               ldb: query.rowStride, beta: 1,
                                               c: dk + key.start(b, h) + c0 * key.rowStride, ldc: key.rowStride)
                                    }
                                }
                                c0 += columns
                            }
                        }
                    }
                }
            }
            withFloatType(dtype, "attention", float: { backward(Float.self) }, double: { backward(Double.self) })
            return grads
        }
    }
}
