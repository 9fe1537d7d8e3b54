import LuzTensor

/// Fixed-length windows over one token sequence, for next-token prediction: element `i` is the
/// window of `length` tokens starting at `i · stride` and, as its target, the same window shifted
/// by one token (the `x`, `y` of char-rnn and nanoGPT's `get_batch`).
///
/// With tokens `t₀ t₁ t₂ …`, `length` 3 and `stride` 2, the elements are
/// `(t₀ t₁ t₂ → t₁ t₂ t₃)`, `(t₂ t₃ t₄ → t₃ t₄ t₅)`, …; a window is kept only when its shifted
/// target fits, so there are `⌊(n − length − 1) / stride⌋ + 1` of them for `n > length` tokens.
/// Inputs and targets are `int64` `[length]`; batches are `[batch, length]`, gathered with one
/// index per tensor.
///
/// ```swift
/// let vocabulary = CharacterVocabulary(text: text)
/// let windows = TokenWindows(tokens: vocabulary.tensor(encoding: text), length: 64, stride: 32)
/// let loader = DataLoader(windows, batchSize: 32, shuffle: true)
/// ```
public struct TokenWindows: Dataset {
    /// The whole token sequence, `int64` `[n]`.
    public let tokens: Tensor
    /// The number of tokens in each window.
    public let length: Int
    /// The distance between the starts of consecutive windows (`length` for windows that do not
    /// overlap, 1 for every position).
    public let stride: Int

    /// Creates the windows.
    /// - Parameters:
    ///   - tokens: the token sequence, an integer tensor `[n]`.
    ///   - length: the window length, at least 1.
    ///   - stride: the step between window starts, at least 1 (1 by default: every start).
    public init(tokens: Tensor, length: Int, stride: Int = 1) {
        require(tokens.rank == 1, "TokenWindows: tokens must be one sequence [n], got \(tokens.shape)")
        require(!tokens.dtype.isFloatingPoint && tokens.dtype != .bool,
                "TokenWindows: tokens must be integers, got \(tokens.dtype)")
        require(length >= 1, "TokenWindows: length must be at least 1, got \(length)")
        require(stride >= 1, "TokenWindows: stride must be at least 1, got \(stride)")
        self.tokens = tokens.to(.int64)
        self.length = length
        self.stride = stride
    }

    /// Creates the windows over an array of tokens.
    /// - Parameters:
    ///   - tokens: the token sequence.
    ///   - length: the window length, at least 1.
    ///   - stride: the step between window starts, at least 1.
    public init(tokens: [Int], length: Int, stride: Int = 1) {
        self.init(tokens: Tensor(tokens.map(Int64.init), shape: [tokens.count], dtype: .int64),
                  length: length, stride: stride)
    }

    /// The number of windows whose shifted target fits in the sequence.
    public var count: Int {
        let n = tokens.shape[0]
        return n > length ? (n - length - 1) / stride + 1 : 0
    }

    /// The window at `index` and its target, each `[length]`.
    public subscript(index: Int) -> Example {
        require(index >= 0 && index < count, "TokenWindows: index \(index) out of range 0..<\(count)")
        let start = index * stride
        return Example(input: tokens.narrowed(dim: 0, start: start, length: length),
                       target: tokens.narrowed(dim: 0, start: start + 1, length: length))
    }

    /// The windows at `indices`, `[indices.count, length]` inputs and targets, gathered with one
    /// `indexSelect` each.
    public func batch(at indices: [Int]) -> Example? {
        var positions: [Int64] = []
        positions.reserveCapacity(indices.count * length)
        for index in indices {
            require(index >= 0 && index < count, "TokenWindows: index \(index) out of range 0..<\(count)")
            let start = Int64(index * stride)
            for offset in 0..<Int64(length) { positions.append(start + offset) }
        }
        let inputIndex = Tensor(positions, shape: [positions.count], dtype: .int64)
        let shape = [indices.count, length]
        return Example(input: tokens.indexSelect(dim: 0, index: inputIndex).reshaped(shape),
                       target: tokens.indexSelect(dim: 0, index: inputIndex + 1).reshaped(shape))
    }
}
