import Foundation
import LuzTensor

/// The sinusoidal position table of "Attention Is All You Need", `[length, dimension]`:
/// ```
/// PE[p, 2i]   = sin(p / base^(2i/dimension))
/// PE[p, 2i+1] = cos(p / base^(2i/dimension))
/// ```
/// (the table of the PyTorch transformer tutorial's `PositionalEncoding`, base 10000). An odd
/// `dimension` ends with a sine column.
public func sinusoidalPositionalEncoding(length: Int, dimension: Int, base: Double = 10_000,
                                         dtype: DType = .float32) -> Tensor {
    require(length >= 0 && dimension > 0, "sinusoidalPositionalEncoding: invalid size \(length) × \(dimension)")
    var values = [Double](repeating: 0, count: length * dimension)
    for i in stride(from: 0, to: dimension, by: 2) {
        // exp(−ln(base)·2i/d), the tutorial's div_term, computed the same way.
        let frequency = exp(Double(i) * -log(base) / Double(dimension))
        for p in 0..<length {
            let angle = Double(p) * frequency
            values[p * dimension + i] = sin(angle)
            if i + 1 < dimension { values[p * dimension + i + 1] = cos(angle) }
        }
    }
    return Tensor(values, shape: [length, dimension], dtype: dtype)
}

/// Adds the fixed sinusoidal position table to a sequence of embeddings, then applies dropout
/// (the PyTorch transformer tutorial's `PositionalEncoding`; see
/// ``sinusoidalPositionalEncoding(length:dimension:base:dtype:)``).
///
/// The table has no parameters and is not saved in the state dict (it is recomputed, like a
/// non-persistent buffer in torch).
public final class SinusoidalPositionalEncoding: Module {
    /// The embedding width.
    public let dimension: Int
    /// The longest sequence accepted.
    public let maxLength: Int
    /// Whether inputs are `[batch, length, dimension]` rather than `[length, batch, dimension]`.
    public let batchFirst: Bool
    /// The dropout applied after the addition.
    public var dropout: Dropout

    /// The table in each element type asked for so far (kept out of the parameter walk).
    private let tables = TableCache()

    /// Creates the layer.
    ///
    /// - Parameters:
    ///   - dimension: the embedding width (torch's `d_model`).
    ///   - maxLength: the longest sequence (the tutorial's 5000).
    ///   - dropout: the dropout probability after the addition (the tutorial's 0.1).
    ///   - batchFirst: inputs are `[batch, length, dimension]`; otherwise, like the tutorial,
    ///     `[length, batch, dimension]`.
    ///   - generator: the source of the dropout masks.
    public init(dimension: Int, maxLength: Int = 5000, dropout: Double = 0.1, batchFirst: Bool = false,
                generator: Generator? = nil) {
        self.dimension = dimension
        self.maxLength = maxLength
        self.batchFirst = batchFirst
        self.dropout = Dropout(probability: dropout, generator: generator)
        super.init()
    }

    /// `input` plus the table's first `length` rows, with dropout.
    public override func forward(_ input: Tensor) -> Tensor {
        require(input.rank == 3 && input.shape[2] == dimension,
                "SinusoidalPositionalEncoding: expected [\(batchFirst ? "batch, length" : "length, batch"), \(dimension)], got \(input.shape)")
        let length = input.shape[batchFirst ? 1 : 0]
        require(length <= maxLength, "SinusoidalPositionalEncoding: length \(length) exceeds maxLength \(maxLength)")
        let table = tables.table(maxLength: maxLength, dimension: dimension, dtype: input.dtype)[0..<length]
        return dropout(input + (batchFirst ? table : table.unsqueezed(dim: 1)))
    }

    public override var configurationDescription: String {
        "dimension: \(dimension), maxLength: \(maxLength), batchFirst: \(batchFirst)"
    }

    private final class TableCache {
        var tables: [DType: Tensor] = [:]
        func table(maxLength: Int, dimension: Int, dtype: DType) -> Tensor {
            if let table = tables[dtype] { return table }
            let table = sinusoidalPositionalEncoding(length: maxLength, dimension: dimension, dtype: dtype)
            tables[dtype] = table
            return table
        }
    }
}

/// A learned vector per position added to a sequence of embeddings: `x + weight[0..<length]`.
///
/// The weight `[maxLength, dimension]` is initialized from N(0, 1) like an ``Embedding`` (torch
/// code usually writes this as `nn.Embedding(max_len, d)` applied to `arange(length)`, or as an
/// `nn.Parameter`); it is named `weight`, so such an embedding's state loads into it.
public final class LearnedPositionalEmbedding: Module {
    /// The position vectors, `[maxLength, dimension]`.
    public var weight: Tensor
    /// Whether inputs are `[batch, length, dimension]` rather than `[length, batch, dimension]`.
    public let batchFirst: Bool

    /// The longest sequence accepted.
    public var maxLength: Int { weight.shape[0] }
    /// The embedding width.
    public var dimension: Int { weight.shape[1] }

    /// Creates the layer.
    ///
    /// - Parameters:
    ///   - maxLength: the longest sequence.
    ///   - dimension: the embedding width.
    ///   - batchFirst: inputs are `[batch, length, dimension]`; otherwise `[length, batch, dimension]`.
    ///   - dtype: the weight's element type.
    ///   - generator: the source of the initial values.
    public init(maxLength: Int, dimension: Int, batchFirst: Bool = false, dtype: DType = .float32,
                generator: Generator? = nil) {
        require(maxLength > 0 && dimension > 0, "LearnedPositionalEmbedding: invalid size \(maxLength) × \(dimension)")
        weight = Initializer.isSkipping ? Tensor.zeros([maxLength, dimension], dtype: dtype, requiresGrad: true)
            : Tensor.randn([maxLength, dimension], dtype: dtype, generator: generator, requiresGrad: true)
        self.batchFirst = batchFirst
        super.init()
    }

    /// `input` plus the first `length` position vectors.
    public override func forward(_ input: Tensor) -> Tensor {
        require(input.rank == 3 && input.shape[2] == dimension,
                "LearnedPositionalEmbedding: expected [\(batchFirst ? "batch, length" : "length, batch"), \(dimension)], got \(input.shape)")
        let length = input.shape[batchFirst ? 1 : 0]
        require(length <= maxLength, "LearnedPositionalEmbedding: length \(length) exceeds maxLength \(maxLength)")
        let positions = weight[0..<length]
        return input + (batchFirst ? positions : positions.unsqueezed(dim: 1))
    }

    public override var configurationDescription: String {
        "maxLength: \(maxLength), dimension: \(dimension), batchFirst: \(batchFirst)"
    }
}
