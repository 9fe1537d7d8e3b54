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
        // Every step multiplies by W_hhᵀ (size × gates): packed once for the whole sequence.
        let weight = RecurrentWeight(pw, ldb: size, transposed: true, k: size, n: gates, rows: batch)
        defer { weight.deallocate() }

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
            recurrentProduct(m: batch, a: h, lda: size, weight: weight, c: work, ldc: gates)
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
        // Every step multiplies by W_hh (gates × size): packed once for the whole sequence.
        let weight = RecurrentWeight(pw, ldb: size, transposed: false, k: gates, n: size, rows: batch)
        defer { weight.deallocate() }

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
            recurrentProduct(m: batch, a: dghStep, lda: gates, weight: weight, c: dhNext, ldc: size)
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

/// The weight every step of a recurrence multiplies by, op(B) of k × n: where the per-step
/// products are small (a batch of at most 128 rows against the whole weight), packed once per
/// sequence into the built-in GEMM's panels, so that each step reads it in order; a product
/// reading it where it lies walks rows a leading dimension apart, which for 256 units are 4 KB
/// apart and share one cache set.
struct RecurrentWeight<T: RecurrentScalar> {
    let weight: UnsafePointer<T>
    let ldb: Int
    let transposed: Bool
    let k: Int, n: Int
    /// The packed panels, and the instruction set they were packed for (nil: products read
    /// `weight` through the chosen backend).
    let panels: UnsafeMutablePointer<T>?
    let isa: Int32
    /// The columns of one panel.
    let panelWidth: Int

    init(_ weight: UnsafePointer<T>, ldb: Int, transposed: Bool, k: Int, n: Int, rows: Int) {
        self.weight = weight
        self.ldb = ldb
        self.transposed = transposed
        self.k = k
        self.n = n
        #if canImport(Accelerate)
        (panels, isa, panelWidth) = (nil, 0, 1)
        #else
        isa = luz_gemm_isa()
        panelWidth = luz_gemm_panel_width(isa, T.self == Double.self ? 1 : 0)
        if rows <= 128, k > 0, n > 0 {
            let packed = UnsafeMutablePointer<T>.allocate(capacity: T.packedCount(isa: isa, k: k, n: n))
            T.pack(isa: isa, transposed: transposed, k: k, n: n, b: weight, ldb: ldb, into: packed)
            panels = packed
        } else {
            panels = nil
        }
        #endif
    }

    func deallocate() { panels?.deallocate() }
}

/// c[m, n] += a[m, k] · op(B)[k, n] (row-major) for one step, `weight` giving op(B): against its
/// packed panels, column blocks across the cores, each element one sum over the whole depth in
/// order; through the chosen backend when it was not packed.
@inline(__always)
private func recurrentProduct<T: RecurrentScalar>(m: Int, a: UnsafePointer<T>, lda: Int, weight: RecurrentWeight<T>,
                                                  c: UnsafeMutablePointer<T>, ldc: Int) {
    let (n, k) = (weight.n, weight.k)
    #if !canImport(Accelerate)
    if let panels = weight.panels {
        // About four blocks per core, whole panels each.
        let panelCount = (n + weight.panelWidth - 1) / weight.panelWidth
        let blockPanels = Swift.max(1, (panelCount + 4 * Parallelism.threadCount - 1) / (4 * Parallelism.threadCount))
        let blockWidth = blockPanels * weight.panelWidth
        let blocks = (n + blockWidth - 1) / blockWidth
        parallelForEach(blocks) { block in
            let column = block * blockWidth
            T.multiplyPacked(isa: weight.isa, m: m, k: k, a: a, lda: lda, panels: panels, column: column,
                             columns: Swift.min(blockWidth, n - column), c: c, ldc: ldc)
        }
        return
    }
    #endif
    T.gemm(transposeA: false, transposeB: weight.transposed, m: m, n: n, k: k, alpha: 1, a: a, lda: lda,
           b: weight.weight, ldb: weight.ldb, beta: 1, c: c, ldc: ldc)
}

/// The element types of the fused recurrences, with their activation loops.
protocol RecurrentScalar: GemmScalar {
    /// x ← 1 / (1 + e⁻ˣ) over `count` elements.
    static func sigmoidInPlace(_ x: UnsafeMutablePointer<Self>, count: Int)
    /// x ← tanh x over `count` elements.
    static func tanhInPlace(_ x: UnsafeMutablePointer<Self>, count: Int)
    #if !canImport(Accelerate)
    /// The scalars op(B) (k × n) takes packed into the built-in GEMM's panels on `isa`.
    static func packedCount(isa: Int32, k: Int, n: Int) -> Int
    /// Packs op(B) into panels for ``multiplyPacked(isa:m:k:a:lda:panels:column:columns:c:ldc:)``.
    static func pack(isa: Int32, transposed: Bool, k: Int, n: Int, b: UnsafePointer<Self>, ldb: Int,
                     into panels: UnsafeMutablePointer<Self>)
    /// c[·, column ..< column + columns] += a · op(B) against the packed panels, on this thread.
    static func multiplyPacked(isa: Int32, m: Int, k: Int, a: UnsafePointer<Self>, lda: Int, panels: UnsafePointer<Self>,
                               column: Int, columns: Int, c: UnsafeMutablePointer<Self>, ldc: Int)
    #endif
}

extension Double: RecurrentScalar {
    #if !canImport(Accelerate)
    static func packedCount(isa: Int32, k: Int, n: Int) -> Int { luz_gemm_f64_packed_b_count(isa, k, n) }
    static func pack(isa: Int32, transposed: Bool, k: Int, n: Int, b: UnsafePointer<Double>, ldb: Int,
                     into panels: UnsafeMutablePointer<Double>) {
        luz_gemm_f64_pack_b(isa, transposed ? 1 : 0, k, n, b, ldb, panels)
    }
    static func multiplyPacked(isa: Int32, m: Int, k: Int, a: UnsafePointer<Double>, lda: Int, panels: UnsafePointer<Double>,
                               column: Int, columns: Int, c: UnsafeMutablePointer<Double>, ldc: Int) {
        luz_gemm_f64_packed_b_run(isa, m, k, 1, a, lda, panels, column, columns, 1, c, ldc)
    }
    #endif
    static func sigmoidInPlace(_ x: UnsafeMutablePointer<Double>, count: Int) {
        for i in 0..<count { x[i] = 1 / (1 + Foundation.exp(-x[i])) }
    }
    static func tanhInPlace(_ x: UnsafeMutablePointer<Double>, count: Int) {
        for i in 0..<count { x[i] = Foundation.tanh(x[i]) }
    }
}

extension Float: RecurrentScalar {
    #if !canImport(Accelerate)
    static func packedCount(isa: Int32, k: Int, n: Int) -> Int { luz_gemm_f32_packed_b_count(isa, k, n) }
    static func pack(isa: Int32, transposed: Bool, k: Int, n: Int, b: UnsafePointer<Float>, ldb: Int,
                     into panels: UnsafeMutablePointer<Float>) {
        luz_gemm_f32_pack_b(isa, transposed ? 1 : 0, k, n, b, ldb, panels)
    }
    static func multiplyPacked(isa: Int32, m: Int, k: Int, a: UnsafePointer<Float>, lda: Int, panels: UnsafePointer<Float>,
                               column: Int, columns: Int, c: UnsafeMutablePointer<Float>, ldc: Int) {
        luz_gemm_f32_packed_b_run(isa, m, k, 1, a, lda, panels, column, columns, 1, c, ldc)
    }
    #endif
    static func sigmoidInPlace(_ x: UnsafeMutablePointer<Float>, count: Int) { float32Sigmoid(x, x, count) }
    static func tanhInPlace(_ x: UnsafeMutablePointer<Float>, count: Int) { float32Tanh(x, x, count) }
}
