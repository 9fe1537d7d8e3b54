import Foundation
#if !canImport(Accelerate)
import CLuzBLAS
#endif

/// The recurrence of a fused recurrent sequence (``Tensor/recurrentSequence(_:inputGates:hidden:cell:hiddenWeight:hiddenBias:lengths:reverse:)``).
public enum RecurrentCellKind: Sendable {
    /// hₜ = tanh(gₜ + hₜ₋₁·Wᵀ + b).
    case tanh
    /// hₜ = max(gₜ + hₜ₋₁·Wᵀ + b, 0).
    case relu
    /// torch's LSTM cell: gates i, f, g, o.
    case lstm
    /// torch's GRU cell: gates r, z, n.
    case gru

    /// The number of `hidden`-wide blocks of the gates.
    public var gateCount: Int {
        switch self {
        case .tanh, .relu: 1
        case .lstm: 4
        case .gru: 3
        }
    }
}

extension Tensor {
    /// One direction of one recurrent layer over a whole sequence, as one differentiable
    /// operation: per step one product with the hidden weight and one fused loop over the gates,
    /// forward and backward, in buffers allocated once per call.
    ///
    /// - Parameters:
    ///   - inputGates: `[time, batch, gates·hidden]`, the input's projection `x·W_ihᵀ + b_ih`
    ///     (one product for all steps, made by the caller).
    ///   - hidden, cell: the initial states `[batch, hidden]` (`cell` for an LSTM only).
    ///   - hiddenWeight: `[gates·hidden, hidden]` (torch's `weight_hh`); `hiddenBias` `[gates·hidden]`.
    ///   - lengths: each sequence's length for a padded batch: past it the output is zero and
    ///     the state is left alone (torch's packed sequences).
    ///   - reverse: run from the last step to the first.
    /// - Returns: the hidden state of every step `[time, batch, hidden]` (zero past a length),
    ///   and the final hidden and cell states `[batch, hidden]`.
    public static func recurrentSequence(_ kind: RecurrentCellKind, inputGates: Tensor, hidden: Tensor, cell: Tensor?,
                                         hiddenWeight: Tensor, hiddenBias: Tensor?, lengths: [Int]?,
                                         reverse: Bool) -> (output: Tensor, hidden: Tensor, cell: Tensor?) {
        let op = "recurrentSequence"
        require(inputGates.rank == 3, "\(op): inputGates must be [time, batch, gates·hidden], got \(describe(inputGates.shape))")
        let steps = inputGates.shape[0], batch = inputGates.shape[1], size = hidden.shape.last ?? 0
        let gates = kind.gateCount * size
        require(steps >= 1, "\(op): the sequence needs at least one step")
        require(inputGates.shape[2] == gates, "\(op): inputGates \(describe(inputGates.shape)) must have \(gates) gate columns")
        require(hidden.shape == [batch, size], "\(op): the hidden state must be [\(batch), \(size)], got \(describe(hidden.shape))")
        require(hiddenWeight.shape == [gates, size], "\(op): hiddenWeight must be [\(gates), \(size)], got \(describe(hiddenWeight.shape))")
        require(hiddenBias == nil || hiddenBias!.shape == [gates], "\(op): hiddenBias must be [\(gates)]")
        require((kind == .lstm) == (cell != nil), "\(op): an LSTM needs a cell state, the other kinds none")
        if let cell { require(cell.shape == [batch, size], "\(op): the cell state must be [\(batch), \(size)], got \(describe(cell.shape))") }
        if let lengths {
            require(lengths.count == batch && lengths.allSatisfy { (1...steps).contains($0) },
                    "\(op): \(batch) lengths in 1...\(steps) are needed, got \(lengths)")
        }
        let dtype = inputGates.dtype
        require(dtype == .float32 || dtype == .float64, "\(op): needs float32 or float64, got \(dtype)")
        func converted(_ t: Tensor) -> Tensor { t.dtype == dtype ? t : withNoGrad { t.to(dtype) } }
        let x = inputGates, h0 = converted(hidden), c0 = cell.map(converted)
        let w = converted(hiddenWeight), b = hiddenBias.map(converted)
        let problem = RecurrentProblem(kind: kind, steps: steps, batch: batch, size: size, lengths: lengths, reverse: reverse)

        // The packed result: the outputs, then for an LSTM the final cell state as one more row.
        let rows = steps + (kind == .lstm ? 1 : 0)
        let packed = Tensor.empty([rows, batch, size], dtype: dtype, op: op)
        let saved: RecurrentSaved
        if dtype == .float32 {
            saved = problem.forward(Float.self, x: x, h0: h0, c0: c0, w: w, b: b, packed: packed)
        } else {
            saved = problem.forward(Double.self, x: x, h0: h0, c0: c0, w: w, b: b, packed: packed)
        }
        var inputs = [inputGates, hidden, hiddenWeight]
        if let cell { inputs.append(cell) }
        if let hiddenBias { inputs.append(hiddenBias) }
        let hasCell = cell != nil, hasBias = hiddenBias != nil
        // The rule reads the hidden weight; the states it needs were copied into `saved`.
        packed.recording(op, inputs, saving: [hiddenWeight]) { gradient, _ in
            let g = gradient
            let grads = dtype == .float32
                ? problem.backward(Float.self, gradient: g, saved: saved, w: w)
                : problem.backward(Double.self, gradient: g, saved: saved, w: w)
            var result: [Tensor?] = [grads.inputGates, grads.hidden, grads.weight]
            if hasCell { result.append(grads.cell) }
            if hasBias { result.append(grads.bias) }
            return result
        }

        let output = steps == rows ? packed : packed.sliced(dim: 0, start: 0, end: steps)
        let finalCell = kind == .lstm ? packed[steps] : nil
        let finalHidden: Tensor
        if reverse || lengths == nil {
            finalHidden = output[reverse ? 0 : steps - 1]
        } else {
            // Each sequence's last step: row (length − 1)·batch + b of the flattened outputs.
            let rowsOfLast = Tensor(lengths!.enumerated().map { Int64(($0.element - 1) * batch + $0.offset) }, shape: [batch])
            finalHidden = output.reshaped([steps * batch, size])[rowsOfLast]
        }
        return (output, finalHidden, finalCell)
    }
}

/// What the forward pass keeps for the backward one (all `[time, batch, ·]`, indexed by time).
private struct RecurrentSaved {
    /// The hidden state before each step.
    let previousHidden: Tensor
    /// The activated gates of each step (LSTM i, f, g, o; GRU r, z, n; RNN the new state).
    let activations: Tensor
    /// LSTM: the cell state before each step; GRU: the hidden projection of the new gate.
    let extra: Tensor?
    /// LSTM: tanh of the new cell state.
    let cellTanh: Tensor?
}

/// The shape and options of one fused sequence.
private struct RecurrentProblem {
    let kind: RecurrentCellKind
    let steps: Int, batch: Int, size: Int
    let lengths: [Int]?
    let reverse: Bool

    var gates: Int { kind.gateCount * size }

    /// The steps in the order they run.
    var forwardOrder: [Int] { reverse ? Array((0..<steps).reversed()) : Array(0..<steps) }

    /// Whether step `t` is within sequence `b`.
    @inline(__always) func isValid(_ t: Int, _ b: Int) -> Bool { lengths.map { t < $0[b] } ?? true }

    func forward<T: RecurrentScalar>(_: T.Type, x: Tensor, h0: Tensor, c0: Tensor?, w: Tensor, b: Tensor?, packed: Tensor) -> RecurrentSaved {
        let (steps, batch, size, gates) = (self.steps, self.batch, self.size, self.gates)
        let stateCount = batch * size
        let previousHidden = Tensor.empty([steps, batch, size], dtype: T.dtype)
        let activations = Tensor.empty([steps, batch, gates], dtype: T.dtype)
        let extra = kind == .lstm || kind == .gru ? Tensor.empty([steps, batch, size], dtype: T.dtype) : nil
        let cellTanh = kind == .lstm ? Tensor.empty([steps, batch, size], dtype: T.dtype) : nil
        let px = x.pointer(T.self), pw = w.pointer(T.self), pb = b?.pointer(T.self)
        let out = packed.pointer(T.self)
        let hPrevAll = previousHidden.pointer(T.self), acts = activations.pointer(T.self)
        let extraAll = extra?.pointer(T.self), tanhAll = cellTanh?.pointer(T.self)
        // The running states and one step's gates, allocated once.
        let h = UnsafeMutablePointer<T>.allocate(capacity: stateCount)
        let c = UnsafeMutablePointer<T>.allocate(capacity: stateCount)
        defer { h.deallocate(); c.deallocate() }
        h.update(from: h0.pointer(T.self), count: stateCount)
        if let c0 { c.update(from: c0.pointer(T.self), count: stateCount) }
        // W_hhᵀ, laid out once so that every step reads it where it lies.
        let weightT = UnsafeMutablePointer<T>.allocate(capacity: gates * size)
        defer { weightT.deallocate() }
        for g in 0..<gates { for j in 0..<size { weightT[j * gates + g] = pw[g * size + j] } }

        for t in forwardOrder {
            (hPrevAll + t * stateCount).update(from: h, count: stateCount)
            // The step's gates are computed in place in the saved activations.
            let work = acts + t * batch * gates
            // work = b_hh + h·W_hhᵀ (RNN and LSTM add the step's input gates too).
            for row in 0..<batch {
                let dst = work + row * gates
                if kind == .gru {
                    if let pb { dst.update(from: pb, count: gates) } else { dst.update(repeating: 0, count: gates) }
                } else {
                    let src = px + (t * batch + row) * gates
                    if let pb { for j in 0..<gates { dst[j] = src[j] + pb[j] } } else { dst.update(from: src, count: gates) }
                }
            }
            recurrentProduct(m: batch, n: gates, k: size, a: h, lda: size, b: weightT, ldb: gates, c: work, ldc: gates)
            let outStep = out + t * stateCount
            parallelChunks(batch, cost: 16 * gates) { rows in for row in rows {
                let g = work + row * gates
                let valid = isValid(t, row)
                let hRow = h + row * size, cRow = c + row * size, outRow = outStep + row * size
                switch kind {
                case .tanh, .relu:
                    if kind == .tanh { T.tanhInPlace(g, count: size) } else { for j in 0..<size where g[j] < 0 { g[j] = 0 } }
                    if valid { hRow.update(from: g, count: size); outRow.update(from: g, count: size) }
                    else { outRow.update(repeating: 0, count: size) }
                case .lstm:
                    T.sigmoidInPlace(g, count: 2 * size)
                    T.tanhInPlace(g + 2 * size, count: size)
                    T.sigmoidInPlace(g + 3 * size, count: size)
                    let cPrev = extraAll! + (t * batch + row) * size, tc = tanhAll! + (t * batch + row) * size
                    cPrev.update(from: cRow, count: size)
                    for j in 0..<size { tc[j] = g[size + j] * cRow[j] + g[j] * g[2 * size + j] }
                    if valid { cRow.update(from: tc, count: size) }
                    T.tanhInPlace(tc, count: size)
                    if valid {
                        for j in 0..<size { let v = g[3 * size + j] * tc[j]; hRow[j] = v; outRow[j] = v }
                    } else {
                        outRow.update(repeating: 0, count: size)
                    }
                case .gru:
                    let xg = px + (t * batch + row) * gates
                    let hn = extraAll! + (t * batch + row) * size
                    hn.update(from: g + 2 * size, count: size)
                    for j in 0..<(2 * size) { g[j] += xg[j] }
                    T.sigmoidInPlace(g, count: 2 * size)
                    for j in 0..<size { g[2 * size + j] = xg[2 * size + j] + g[j] * hn[j] }
                    T.tanhInPlace(g + 2 * size, count: size)
                    if valid {
                        for j in 0..<size {
                            let n = g[2 * size + j]
                            let v = n + g[size + j] * (hRow[j] - n)
                            hRow[j] = v
                            outRow[j] = v
                        }
                    } else {
                        outRow.update(repeating: 0, count: size)
                    }
                }
            } }
        }
        if kind == .lstm { (out + steps * stateCount).update(from: c, count: stateCount) }
        return RecurrentSaved(previousHidden: previousHidden, activations: activations, extra: extra, cellTanh: cellTanh)
    }

    func backward<T: RecurrentScalar>(_: T.Type, gradient: Tensor, saved: RecurrentSaved, w: Tensor)
        -> (inputGates: Tensor, hidden: Tensor, cell: Tensor?, weight: Tensor, bias: Tensor) {
        let (steps, batch, size, gates) = (self.steps, self.batch, self.size, self.gates)
        let stateCount = batch * size
        let dInput = Tensor.empty([steps, batch, gates], dtype: T.dtype)
        // The gradient with respect to the hidden projection: the same as dInput except GRU's.
        let dHiddenGates = kind == .gru ? Tensor.empty([steps, batch, gates], dtype: T.dtype) : dInput
        let dHidden0 = Tensor.empty([batch, size], dtype: T.dtype)
        let dCell0 = kind == .lstm ? Tensor.empty([batch, size], dtype: T.dtype) : nil
        let pg = gradient.pointer(T.self), pw = w.pointer(T.self)
        let dx = dInput.pointer(T.self), dgh = dHiddenGates.pointer(T.self)
        let hPrevAll = saved.previousHidden.pointer(T.self), acts = saved.activations.pointer(T.self)
        let extraAll = saved.extra?.pointer(T.self), tanhAll = saved.cellTanh?.pointer(T.self)
        let dh = dHidden0.pointer(T.self)
        let dc = UnsafeMutablePointer<T>.allocate(capacity: stateCount)
        let dhNext = UnsafeMutablePointer<T>.allocate(capacity: stateCount)
        defer { dc.deallocate(); dhNext.deallocate() }
        dh.update(repeating: 0, count: stateCount)
        if kind == .lstm { dc.update(from: pg + steps * stateCount, count: stateCount) } else { dc.update(repeating: 0, count: stateCount) }

        for t in forwardOrder.reversed() {
            let gOut = pg + t * stateCount
            parallelChunks(batch, cost: 16 * gates) { rows in for row in rows {
                let base = t * batch + row
                let dxRow = dx + base * gates, dghRow = dgh + base * gates
                let dhRow = dh + row * size, dcRow = dc + row * size
                guard isValid(t, row) else {
                    // Past the sequence's end: the state passed through untouched.
                    dxRow.update(repeating: 0, count: gates)
                    if kind == .gru { dghRow.update(repeating: 0, count: gates) }
                    continue
                }
                let go = gOut + row * size
                for j in 0..<size { dhRow[j] += go[j] }
                let a = acts + base * gates
                switch kind {
                case .tanh:
                    for j in 0..<size { dxRow[j] = dhRow[j] * (1 - a[j] * a[j]) }
                case .relu:
                    for j in 0..<size { dxRow[j] = a[j] > 0 ? dhRow[j] : 0 }
                case .lstm:
                    let cPrev = extraAll! + base * size, tc = tanhAll! + base * size
                    for j in 0..<size {
                        let i = a[j], f = a[size + j], g = a[2 * size + j], o = a[3 * size + j]
                        let dOut = dhRow[j] * tc[j]
                        let dCell = dcRow[j] + dhRow[j] * o * (1 - tc[j] * tc[j])
                        dxRow[j] = dCell * g * i * (1 - i)
                        dxRow[size + j] = dCell * cPrev[j] * f * (1 - f)
                        dxRow[2 * size + j] = dCell * i * (1 - g * g)
                        dxRow[3 * size + j] = dOut * o * (1 - o)
                        dcRow[j] = dCell * f
                    }
                case .gru:
                    let hn = extraAll! + base * size, hPrev = hPrevAll + base * size
                    for j in 0..<size {
                        let r = a[j], z = a[size + j], n = a[2 * size + j]
                        let dn = dhRow[j] * (1 - z) * (1 - n * n)
                        let dz = dhRow[j] * (hPrev[j] - n) * z * (1 - z)
                        let dr = dn * hn[j] * r * (1 - r)
                        dxRow[j] = dr; dxRow[size + j] = dz; dxRow[2 * size + j] = dn
                        dghRow[j] = dr; dghRow[size + j] = dz; dghRow[2 * size + j] = dn * r
                        dhRow[j] *= z   // the direct path h' = … + z·h
                    }
                }
            } }
            // dh ← dh·[rows past the end, GRU's z] + dgh·W_hh for the rows within.
            let dghStep = dgh + t * batch * gates
            for row in 0..<batch {
                let dhRow = dh + row * size, nextRow = dhNext + row * size
                if !isValid(t, row) || kind == .gru { nextRow.update(from: dhRow, count: size) } else { nextRow.update(repeating: 0, count: size) }
            }
            recurrentProduct(m: batch, n: size, k: gates, a: dghStep, lda: gates, b: pw, ldb: size, c: dhNext, ldc: size)
            dh.update(from: dhNext, count: stateCount)
        }
        // dW_hh = Σₜ dghₜᵀ·hₜ₋₁ and db_hh = Σ dgh, over every step at once.
        let dWeight = Tensor.empty([gates, size], dtype: T.dtype)
        T.gemm(transposeA: true, transposeB: false, m: gates, n: size, k: steps * batch, alpha: 1, a: dgh, lda: gates,
               b: hPrevAll, ldb: size, beta: 0, c: dWeight.pointer(T.self), ldc: size)
        let dBias = Tensor.empty([gates], dtype: T.dtype)
        let pdb = dBias.pointer(T.self)
        pdb.update(repeating: 0, count: gates)
        for row in 0..<(steps * batch) {
            let src = dgh + row * gates
            for j in 0..<gates { pdb[j] += src[j] }
        }
        if let dCell0 { dCell0.pointer(T.self).update(from: dc, count: stateCount) }
        return (dInput, dHidden0, dCell0, dWeight, dBias)
    }
}

/// c[m, n] += a[m, k] · b[k, n] (row-major), as products of at most 2²⁰ multiply-adds with
/// depth ≤ 256: the built-in kernel reads such operands where they lie instead of packing them,
/// which on one recurrent step (a few rows against the whole weight) costs as much as the
/// arithmetic. Column blocks run on the cores; each element sums its terms in one order.
@inline(__always)
private func recurrentProduct<T: GemmScalar>(m: Int, n: Int, k: Int, a: UnsafePointer<T>, lda: Int,
                                             b: UnsafePointer<T>, ldb: Int, c: UnsafeMutablePointer<T>, ldc: Int) {
    #if canImport(Accelerate)
    T.gemm(transposeA: false, transposeB: false, m: m, n: n, k: k, alpha: 1, a: a, lda: lda, b: b, ldb: ldb,
           beta: 1, c: c, ldc: ldc)
    #else
    let depth = Swift.min(k, 256)
    guard m <= 256, m * depth <= 1 << 15 else {
        T.gemm(transposeA: false, transposeB: false, m: m, n: n, k: k, alpha: 1, a: a, lda: lda, b: b, ldb: ldb,
               beta: 1, c: c, ldc: ldc)
        return
    }
    let width = Swift.min(512, Swift.max(32, (1 << 20) / (m * depth) / 32 * 32))
    let blocks = (n + width - 1) / width
    let kernel = BLAS.Kernel.builtin(luz_gemm_isa())
    parallelForEach(blocks) { block in
        let column = block * width, columns = Swift.min(width, n - column)
        var p = 0
        while p < k {
            let depths = Swift.min(depth, k - p)
            T.gemmOnThisThread(kernel, transposeA: false, transposeB: false, m: m, n: columns, k: depths, alpha: 1,
                               a: a + p, lda: lda, b: b + p * ldb + column, ldb: ldb, beta: 1, c: c + column, ldc: ldc)
            p += depths
        }
    }
    #endif
}

/// The element types of the fused recurrences, with their activation loops.
protocol RecurrentScalar: GemmScalar {
    /// x ← 1 / (1 + e⁻ˣ) over `count` elements.
    static func sigmoidInPlace(_ x: UnsafeMutablePointer<Self>, count: Int)
    /// x ← tanh x over `count` elements.
    static func tanhInPlace(_ x: UnsafeMutablePointer<Self>, count: Int)
}

extension Double: RecurrentScalar {
    static func sigmoidInPlace(_ x: UnsafeMutablePointer<Double>, count: Int) {
        for i in 0..<count { x[i] = 1 / (1 + Foundation.exp(-x[i])) }
    }
    static func tanhInPlace(_ x: UnsafeMutablePointer<Double>, count: Int) {
        for i in 0..<count { x[i] = Foundation.tanh(x[i]) }
    }
}

extension Float: RecurrentScalar {
    static func sigmoidInPlace(_ x: UnsafeMutablePointer<Float>, count: Int) { float32Sigmoid(x, x, count) }
    static func tanhInPlace(_ x: UnsafeMutablePointer<Float>, count: Int) { float32Tanh(x, x, count) }
}
