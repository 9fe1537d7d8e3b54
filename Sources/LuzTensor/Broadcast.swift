/// How two shapes broadcast against each other (PyTorch's rules: align trailing dimensions; a
/// dimension of size 1 stretches), precomputed as an iteration plan over the output.
struct BroadcastPlan {
    enum Kind { case sameShape, scalarLeft, scalarRight, general }

    let shape: [Int]
    let count: Int
    let kind: Kind
    // Coalesced iteration space for the general case: sizes and per-operand element strides.
    let sizes: [Int]
    let leftStrides: [Int]
    let rightStrides: [Int]

    /// The broadcast shape of `left` and `right`, or a stop with a message naming the op.
    static func resultShape(_ left: [Int], _ right: [Int], op: String) -> [Int] {
        if left == right { return left }
        let rank = max(left.count, right.count)
        var result = [Int](repeating: 1, count: rank)
        for i in 0..<rank {
            let l = i < rank - left.count ? 1 : left[i - (rank - left.count)]
            let r = i < rank - right.count ? 1 : right[i - (rank - right.count)]
            if l == r || r == 1 {
                result[i] = l
            } else if l == 1 {
                result[i] = r
            } else {
                fatalError("\(op): shapes \(describe(left)) and \(describe(right)) cannot broadcast: dimension \(i) is \(l) against \(r)")
            }
        }
        return result
    }

    init(_ left: [Int], _ right: [Int], op: String) {
        let shape = BroadcastPlan.resultShape(left, right, op: op)
        self.shape = shape
        let count = shape.reduce(1, *)
        self.count = count
        let leftCount = left.reduce(1, *)
        let rightCount = right.reduce(1, *)
        if left == right {
            kind = .sameShape
        } else if rightCount == 1 && leftCount == count {
            kind = .scalarRight
        } else if leftCount == 1 && rightCount == count {
            kind = .scalarLeft
        } else {
            kind = .general
        }
        guard kind == .general else {
            sizes = []; leftStrides = []; rightStrides = []
            return
        }
        let rank = shape.count
        func strides(of operand: [Int]) -> [Int] {
            var result = [Int](repeating: 0, count: rank)
            var step = 1
            for i in stride(from: operand.count - 1, through: 0, by: -1) {
                let outIndex = i + rank - operand.count
                result[outIndex] = operand[i] == 1 ? 0 : step
                step *= operand[i]
            }
            return result
        }
        let ls = strides(of: left)
        let rs = strides(of: right)
        // Merge neighbouring dimensions that both operands walk contiguously (or both repeat),
        // so that a bias over [N, C, H, W] iterates rows of H·W, not of W.
        var sizes: [Int] = []
        var lStrides: [Int] = []
        var rStrides: [Int] = []
        for i in 0..<rank where shape[i] != 1 {
            if let lastSize = sizes.last,
               lStrides.last! == ls[i] * shape[i], rStrides.last! == rs[i] * shape[i] {
                sizes[sizes.count - 1] = lastSize * shape[i]
                lStrides[lStrides.count - 1] = ls[i]
                rStrides[rStrides.count - 1] = rs[i]
            } else {
                sizes.append(shape[i]); lStrides.append(ls[i]); rStrides.append(rs[i])
            }
        }
        if sizes.isEmpty { sizes = [1]; lStrides = [0]; rStrides = [0] }
        self.sizes = sizes
        self.leftStrides = lStrides
        self.rightStrides = rStrides
    }

    /// Calls `body(outOffset, leftOffset, rightOffset)` for each innermost row of the general
    /// case; the row has `sizes.last` elements with strides `leftStrides.last`, `rightStrides.last`.
    @inline(__always)
    func forEachRow(_ body: (Int, Int, Int) -> Void) {
        withoutActuallyEscaping(body) { body in forEachRowEscaping(body) }
    }

    private func forEachRowEscaping(_ body: @escaping (Int, Int, Int) -> Void) {
        let inner = sizes[sizes.count - 1]
        let rows = count / max(inner, 1)
        if rows == 0 { return }
        let work = { (range: Range<Int>) in
            let outer = sizes.count - 1
            var index = [Int](repeating: 0, count: max(outer, 1))
            // Decompose the first row number into a multi-index over the outer dimensions.
            var remainder = range.lowerBound
            var lOff = 0, rOff = 0
            if outer > 0 {
                for d in stride(from: outer - 1, through: 0, by: -1) {
                    index[d] = remainder % sizes[d]
                    remainder /= sizes[d]
                    lOff += index[d] * leftStrides[d]
                    rOff += index[d] * rightStrides[d]
                }
            }
            for row in range {
                body(row * inner, lOff, rOff)
                // Advance the multi-index like an odometer.
                var d = outer - 1
                while d >= 0 {
                    index[d] += 1
                    lOff += leftStrides[d]
                    rOff += rightStrides[d]
                    if index[d] < sizes[d] { break }
                    lOff -= leftStrides[d] * sizes[d]
                    rOff -= rightStrides[d] * sizes[d]
                    index[d] = 0
                    d -= 1
                }
            }
        }
        if count >= Parallelism.minimumParallelElements && rows >= 2 {
            let chunks = min(Parallelism.threadCount, rows)
            let chunkRows = (rows + chunks - 1) / chunks
            parallelForEach(chunks) { c in
                let start = c * chunkRows
                let end = min(rows, start + chunkRows)
                if start < end { work(start..<end) }
            }
        } else {
            work(0..<rows)
        }
    }

    /// Applies `Kernel` elementwise over two broadcast operands into `out`.
    ///
    /// The operation is a type rather than a closure so that every loop below is specialized
    /// for it and vectorized, including the chunks that run on other threads (a closure value
    /// captured by those chunks stays an indirect call per element).
    @inline(__always)
    func apply<Kernel: BinaryKernel>(_ a: UnsafePointer<Kernel.Left>, _ b: UnsafePointer<Kernel.Right>,
                                     _ out: UnsafeMutablePointer<Kernel.Output>, _: Kernel.Type) {
        switch kind {
        case .sameShape:
            if Int(bitPattern: out) == Int(bitPattern: a), Kernel.Left.self == Kernel.Output.self {
                // In place: read and write through the same pointer, so that the vectorizer's
                // overlap check (which an exact overlap fails) is only against `b`.
                let inout_ = UnsafeMutableRawPointer(out).assumingMemoryBound(to: Kernel.Left.self)
                parallelChunks(count) { range in
                    for i in range { out[i] = Kernel.apply(inout_[i], b[i]) }
                }
            } else {
                parallelChunks(count) { range in
                    for i in range { out[i] = Kernel.apply(a[i], b[i]) }
                }
            }
        case .scalarRight:
            let bv = b[0]
            parallelChunks(count) { range in
                for i in range { out[i] = Kernel.apply(a[i], bv) }
            }
        case .scalarLeft:
            let av = a[0]
            parallelChunks(count) { range in
                for i in range { out[i] = Kernel.apply(av, b[i]) }
            }
        case .general:
            let inner = sizes[sizes.count - 1]
            let ls = leftStrides[leftStrides.count - 1]
            let rs = rightStrides[rightStrides.count - 1]
            forEachRow { o, l, r in
                let op = out + o, ap = a + l, bp = b + r
                if ls == 1 && rs == 0 {
                    let bv = bp[0]
                    for i in 0..<inner { op[i] = Kernel.apply(ap[i], bv) }
                } else if ls == 0 && rs == 1 {
                    let av = ap[0]
                    for i in 0..<inner { op[i] = Kernel.apply(av, bp[i]) }
                } else if ls == 1 && rs == 1 {
                    for i in 0..<inner { op[i] = Kernel.apply(ap[i], bp[i]) }
                } else {
                    for i in 0..<inner { op[i] = Kernel.apply(ap[i * ls], bp[i * rs]) }
                }
            }
        }
    }
}

/// An elementwise operation of two operands, as a type (see ``BroadcastPlan/apply(_:_:_:_:)``).
protocol BinaryKernel {
    associatedtype Left
    associatedtype Right
    associatedtype Output
    static func apply(_ a: Left, _ b: Right) -> Output
}

/// An arithmetic operation on one element type.
enum ArithmeticKernel<Op: BinaryArithmeticOp, T: ArithmeticScalar>: BinaryKernel {
    @inline(__always) static func apply(_ a: T, _ b: T) -> T { Op.apply(a, b) }
}

/// A floating-point operation on one element type.
enum FloatKernel<Op: BinaryFloatOp, T: TensorFloat>: BinaryKernel {
    @inline(__always) static func apply(_ a: T, _ b: T) -> T { Op.apply(a, b) }
}

/// A comparison giving a bool.
enum ComparisonKernel<Op: ComparisonOp, T: ArithmeticScalar>: BinaryKernel {
    @inline(__always) static func apply(_ a: T, _ b: T) -> Bool { Op.apply(a, b) }
}

/// The right operand, ignoring the left (broadcasting copies).
enum RightOperandKernel<T>: BinaryKernel {
    @inline(__always) static func apply(_ a: T, _ b: T) -> T { b }
}

extension Tensor {
    /// This tensor broadcast to `shape`: a view in which the broadcast dimensions have stride 0
    /// (torch's `expand`). The gradient sums back over the broadcast dimensions. Writing to the
    /// view in place is refused, since its elements share memory.
    public func expanded(to target: [Int]) -> Tensor {
        if target == shape { return self }
        let resultShape = BroadcastPlan.resultShape(shape, target, op: "expand")
        require(resultShape == target,
                "expand: shape \(describe(shape)) cannot expand to \(describe(target))")
        let lead = target.count - rank
        let current = strides
        var viewStrides = [Int](repeating: 0, count: target.count)
        for d in 0..<rank where shape[d] == target[lead + d] { viewStrides[lead + d] = current[d] }
        let view = Tensor(storage: storage, shape: target, dtype: dtype, offset: offset, strides: viewStrides)
        return view.recording("expand", self) { g, _ in [g] }
    }

    /// This tensor broadcast to the shape of `other`.
    public func expanded(as other: Tensor) -> Tensor { expanded(to: other.shape) }
}
