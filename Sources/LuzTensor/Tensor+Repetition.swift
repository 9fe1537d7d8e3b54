// Copies of a tensor laid side by side (repeat, tile) and coordinate grids (meshgrid).

/// How ``Tensor/meshgrid(_:indexing:)`` orders the dimensions of its grids.
public enum GridIndexing: Sendable {
    /// Matrix indexing: grid `i` varies along dimension `i` (torch's default `"ij"`).
    case ij
    /// Cartesian indexing: the first two dimensions swapped, so the first input varies along
    /// the columns (NumPy's default, torch's `"xy"`).
    case xy
}

extension Tensor {
    /// This tensor repeated `counts[i]` times along dimension `i` (torch's `Tensor.repeat`):
    /// the result's size is `shape[i] · counts[i]`. `counts` may be longer than the rank, which
    /// adds leading dimensions; it may not be shorter. The gradient sums over the copies.
    public func repeated(_ counts: [Int]) -> Tensor {
        require(counts.count >= rank,
                "repeat: \(counts.count) repeat counts for a tensor of rank \(rank) (shape \(describe(shape))); give at least one per dimension")
        require(counts.allSatisfy { $0 >= 0 }, "repeat: counts must not be negative, got \(counts)")
        let sizes = [Int](repeating: 1, count: counts.count - rank) + shape
        // [s0, s1, …] → [1, s0, 1, s1, …] → expanded to [c0, s0, c1, s1, …] → [c0·s0, c1·s1, …].
        let interleaved = sizes.flatMap { [1, $0] }
        let target = zip(counts, sizes).flatMap { [$0, $1] }
        return reshaped(interleaved).expanded(to: target).reshaped(zip(counts, sizes).map { $0 * $1 })
    }

    /// This tensor repeated `counts[i]` times along dimension `i` (torch's `tile`): like
    /// ``repeated(_:)``, except that fewer counts than dimensions are padded with leading 1s
    /// (counts apply to the last dimensions).
    public func tiled(_ counts: [Int]) -> Tensor {
        repeated([Int](repeating: 1, count: Swift.max(0, rank - counts.count)) + counts)
    }

    /// Coordinate grids from 1-D tensors (torch's `meshgrid`): for inputs of sizes n₀, n₁, …
    /// every grid has shape `[n₀, n₁, …]` (``GridIndexing/ij``) or `[n₁, n₀, n₂, …]`
    /// (``GridIndexing/xy``), and grid `i` holds input `i` along its dimension. Gradients sum
    /// back to the inputs.
    ///
    /// - Parameters:
    ///   - tensors: 1-D tensors (0-dimensional ones count as size 1).
    ///   - indexing: `.ij`, torch's default, or `.xy`.
    public static func meshgrid(_ tensors: [Tensor], indexing: GridIndexing = .ij) -> [Tensor] {
        for (i, t) in tensors.enumerated() {
            require(t.rank <= 1, "meshgrid: input \(i) should be 1-D, got shape \(describe(t.shape))")
        }
        var sizes = tensors.map { $0.count }
        var axis = Array(0..<tensors.count)
        if indexing == .xy && tensors.count >= 2 {
            sizes.swapAt(0, 1)
            axis[0] = 1
            axis[1] = 0
        }
        return tensors.enumerated().map { i, t in
            var shape = [Int](repeating: 1, count: sizes.count)
            shape[axis[i]] = t.count
            return t.reshaped(shape).expanded(to: sizes)
        }
    }
}
