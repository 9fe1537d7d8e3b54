import LuzTensor

/// The rows of `weight` picked by `indices` (torch's `embedding`): an int64 tensor of any shape
/// `[...]` gives `[..., dimension]`.
///
/// One node in the graph: the backward adds each output row's gradient into the row of the
/// weight it came from. The row `paddingIndex`, when given, receives no gradient, as in torch
/// (its value is whatever the weight holds there; ``Embedding`` keeps it at zero).
///
/// - Parameters:
///   - indices: int64 row numbers in `0..<weight.shape[0]`.
///   - weight: `[count, dimension]`.
///   - paddingIndex: a row that never receives a gradient; negative values count from the end.
public func embedding(_ indices: Tensor, weight: Tensor, paddingIndex: Int? = nil) -> Tensor {
    require(indices.dtype == .int64, "embedding: indices must be int64, got \(indices.dtype)")
    require(weight.rank == 2, "embedding: weight must be [count, dimension], got \(weight.shape)")
    require(weight.dtype.isFloatingPoint, "embedding: weight must be floating point, got \(weight.dtype)")
    let count = weight.shape[0], dimension = weight.shape[1]
    let padding = paddingIndex.map { $0 < 0 ? $0 + count : $0 }
    if let padding {
        require(padding >= 0 && padding < count,
                "embedding: padding index \(paddingIndex!) is out of range for \(count) rows")
    }
    let rows = indices.scalars(as: Int64.self)
    for row in rows where row < 0 || row >= Int64(count) {
        fatalError("embedding: index \(row) is out of range for \(count) rows")
    }
    func gather<T: TensorFloat>(_: T.Type) -> Tensor {
        weight.withUnsafeBufferPointer(as: T.self) { w in
            Tensor(shape: indices.shape + [dimension]) { (out: UnsafeMutableBufferPointer<T>) in
                guard dimension > 0 else { return }
                for (n, row) in rows.enumerated() {
                    (out.baseAddress! + n * dimension).update(from: w.baseAddress! + Int(row) * dimension, count: dimension)
                }
            }
        }
    }
    let output = weight.dtype == .float32 ? gather(Float.self) : gather(Double.self)
    return Tensor.recordOperation("embedding", inputs: [weight], output: output, saving: [indices]) { g in
        func scatter<T: TensorFloat>(_: T.Type) -> Tensor {
            let gradient = Tensor.zeros([count, dimension], dtype: weight.dtype)
            let gc = g.dtype == weight.dtype ? g : g.to(weight.dtype)
            gradient.withUnsafeMutableBufferPointer(as: T.self) { dw in
                gc.withUnsafeBufferPointer(as: T.self) { gp in
                    for (n, row) in rows.enumerated() where Int(row) != padding {
                        let dst = dw.baseAddress! + Int(row) * dimension, src = gp.baseAddress! + n * dimension
                        for j in 0..<dimension { dst[j] += src[j] }
                    }
                }
            }
            return gradient
        }
        return [weight.dtype == .float32 ? scatter(Float.self) : scatter(Double.self)]
    }
}

/// A lookup table of learned vectors, one per token (torch's `nn.Embedding`): an int64 tensor
/// of indices `[...]` becomes `[..., dimension]`.
///
/// The weight is `[count, dimension]`, initialized from N(0, 1) as in torch. With a padding
/// index, that row starts at zero and never receives a gradient, so it stays zero through
/// training (a padding token then adds nothing).
///
/// ```swift
/// let embed = Embedding(1000, 64, paddingIndex: 0)
/// let vectors = embed(Tensor([[5, 9, 0]] as [[Int64]]))   // [1, 3, 64]; the last row is zero
/// ```
public final class Embedding: Module {
    /// The table, `[count, dimension]`.
    public var weight: Tensor
    /// The row that receives no gradient (normalized to be non-negative), or `nil`.
    public let paddingIndex: Int?

    /// The number of rows (the vocabulary size).
    public var count: Int { weight.shape[0] }
    /// The length of each vector.
    public var dimension: Int { weight.shape[1] }

    /// Creates a table of `count` vectors of `dimension` values.
    ///
    /// - Parameters:
    ///   - paddingIndex: a row kept at zero and never updated; negative values count from the
    ///     end, as in torch.
    ///   - dtype: the weight's element type.
    ///   - generator: the source of the initial values (the default generator when `nil`).
    public init(_ count: Int, _ dimension: Int, paddingIndex: Int? = nil, dtype: DType = .float32,
                generator: Generator? = nil) {
        require(count > 0 && dimension >= 0, "Embedding: invalid size \(count) × \(dimension)")
        if let paddingIndex {
            require(paddingIndex >= -count && paddingIndex < count,
                    "Embedding: padding index \(paddingIndex) is out of range for \(count) rows")
        }
        self.paddingIndex = paddingIndex.map { $0 < 0 ? $0 + count : $0 }
        weight = Initializer.isSkipping ? Tensor.zeros([count, dimension], dtype: dtype, requiresGrad: true)
            : Tensor.randn([count, dimension], dtype: dtype, generator: generator, requiresGrad: true)
        super.init()
        if let padding = self.paddingIndex {
            zeroRow(padding)
        }
    }

    /// Creates the layer around a given table (torch's `Embedding.from_pretrained`, trainable).
    public init(weight: Tensor, paddingIndex: Int? = nil) {
        require(weight.rank == 2, "Embedding: weight must be [count, dimension], got \(weight.shape)")
        self.paddingIndex = paddingIndex.map { $0 < 0 ? $0 + weight.shape[0] : $0 }
        self.weight = weight
        super.init()
    }

    private func zeroRow(_ row: Int) {
        let d = dimension
        func run<T: TensorFloat>(_: T.Type) {
            weight.withUnsafeMutableBufferPointer(as: T.self) { w in
                for j in 0..<d { w[row * d + j] = 0 }
            }
        }
        if weight.dtype == .float32 { run(Float.self) } else { run(Double.self) }
    }

    /// The vectors of `input`'s indices.
    public override func forward(_ input: Tensor) -> Tensor {
        embedding(input, weight: weight, paddingIndex: paddingIndex)
    }

    public override var configurationDescription: String {
        "\(count), \(dimension)" + (paddingIndex.map { ", paddingIndex: \($0)" } ?? "")
    }
}
