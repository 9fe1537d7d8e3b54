import LuzTensor

/// The elements of a dataset at given positions, in the order given (torch's `Subset`).
public struct Subset<Base: Dataset>: Dataset {
    /// The dataset the elements come from.
    public let base: Base
    /// The positions in `base`, in this subset's order.
    public let indices: [Int]

    /// Creates the subset of `base` at `indices`.
    public init(_ base: Base, indices: [Int]) {
        let count = base.count
        for index in indices {
            require(index >= 0 && index < count, "Subset: index \(index) out of range 0..<\(count)")
        }
        self.base = base
        self.indices = indices
    }

    /// The number of elements.
    public var count: Int { indices.count }

    /// The element at `index` of the subset (`base[indices[index]]`).
    public subscript(index: Int) -> Base.Element { base[indices[index]] }

    /// The base dataset's batch fast path, through the index mapping.
    public func batch(at positions: [Int]) -> Base.Element? {
        base.batch(at: positions.map { indices[$0] })
    }

    /// Whether the base dataset is randomized.
    public var isRandomized: Bool { base.isRandomized }

    /// The base element for an epoch seed. Its draws are those of its position in `base`, so a
    /// subset sees the same augmentation of an element as its base does.
    public func element(at index: Int, epochSeed: UInt64) -> Base.Element {
        base.element(at: indices[index], epochSeed: epochSeed)
    }

    /// The base dataset's seeded batch fast path, through the index mapping.
    public func batch(at positions: [Int], epochSeed: UInt64) -> Base.Element? {
        base.batch(at: positions.map { indices[$0] }, epochSeed: epochSeed)
    }
}

extension Dataset {
    /// Splits the dataset at random into non-overlapping subsets of the given sizes (torch's
    /// `random_split`).
    /// - Parameters:
    ///   - counts: the size of each subset; they must add up to ``Dataset/count``.
    ///   - generator: the source of the permutation; the default generator when `nil`.
    public func randomSplit(counts: [Int], generator: Generator? = nil) -> [Subset<Self>] {
        require(counts.allSatisfy { $0 >= 0 }, "randomSplit: negative count in \(counts)")
        require(counts.reduce(0, +) == count,
                "randomSplit: the counts \(counts) add up to \(counts.reduce(0, +)), not the dataset's \(count)")
        let permutation = (generator ?? Generator.default).permutation(count)
        var start = 0
        return counts.map { size in
            defer { start += size }
            return Subset(self, indices: Array(permutation[start..<start + size]))
        }
    }

    /// Splits the dataset at random into non-overlapping subsets holding the given fractions of
    /// it.
    ///
    /// As in torch, each subset gets `floor(fraction × count)` elements and the remainder is
    /// handed out one by one to the first subsets, so the sizes add up to ``Dataset/count``.
    /// - Parameters:
    ///   - fractions: the share of each subset, adding up to 1.
    ///   - generator: the source of the permutation; the default generator when `nil`.
    public func randomSplit(fractions: [Double], generator: Generator? = nil) -> [Subset<Self>] {
        require(!fractions.isEmpty && fractions.allSatisfy { $0 >= 0 && $0 <= 1 },
                "randomSplit: fractions must be in [0, 1], got \(fractions)")
        require(abs(fractions.reduce(0, +) - 1) < 1e-6,
                "randomSplit: the fractions \(fractions) add up to \(fractions.reduce(0, +)), not 1")
        var counts = fractions.map { Int((Double(count) * $0).rounded(.down)) }
        var remainder = count - counts.reduce(0, +)
        var i = 0
        while remainder > 0 {
            counts[i % counts.count] += 1
            remainder -= 1
            i += 1
        }
        return randomSplit(counts: counts, generator: generator)
    }
}
