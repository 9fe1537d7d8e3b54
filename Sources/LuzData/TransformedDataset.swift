import LuzTensor

extension Generator {
    /// The generator of element `index` in the epoch whose seed is `epochSeed`: what a
    /// randomized dataset's transforms draw from.
    ///
    /// It depends on the two numbers only (they are mixed with SplitMix64's finalizer into a
    /// seed), not on which thread reads the element or what was read before it, so a
    /// prefetching loader and a plain one augment an epoch identically.
    public convenience init(epochSeed: UInt64, element index: Int) {
        self.init(seed: elementSeed(epochSeed, index))
    }
}

/// SplitMix64's output function: a bijection of 64-bit words that scatters nearby inputs.
@inline(__always)
func mixBits(_ value: UInt64) -> UInt64 {
    var z = value &+ 0x9E37_79B9_7F4A_7C15
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
}

/// The seed of one element's generator.
func elementSeed(_ epochSeed: UInt64, _ index: Int) -> UInt64 {
    mixBits(epochSeed ^ mixBits(UInt64(bitPattern: Int64(index))))
}

/// A dataset of examples whose inputs (and optionally targets) go through transforms as they
/// are read: the way to augment any dataset of ``Example``s (torchvision's `transform=` of a
/// dataset, for datasets that have none).
///
/// ```swift
/// let augmented = train.transformed(.composed([
///     .randomCrop(size: 28, padding: 4),
///     .randomHorizontalFlip(),
///     .normalize(mean: [0.2860], std: [0.3530]),
/// ]))
/// let loader = DataLoader(augmented, batchSize: 128, shuffle: true, generator: Generator(seed: 1), prefetch: 2)
/// ```
/// With a random transform the dataset is randomized: each element of each epoch draws from
/// its own generator, `Generator(epochSeed:element:)` (see ``Dataset/element(at:epochSeed:)``).
/// Reading it by subscript gives the epoch seed 0: the same augmentation every time.
public struct TransformedDataset<Base: Dataset>: Dataset where Base.Element == Example {
    /// The dataset the examples come from.
    public let base: Base
    /// Applied to each input.
    public let transform: Transform<Tensor, Tensor>
    /// Applied to each target, if any.
    public let targetTransform: Transform<Tensor, Tensor>?

    /// Reads `base` through `transform` (inputs) and `targetTransform` (targets).
    public init(_ base: Base, transform: Transform<Tensor, Tensor>, targetTransform: Transform<Tensor, Tensor>? = nil) {
        self.base = base
        self.transform = transform
        self.targetTransform = targetTransform
    }

    /// The number of examples.
    public var count: Int { base.count }

    /// Whether a transform or the base dataset draws random numbers.
    public var isRandomized: Bool {
        transform.isRandom || (targetTransform?.isRandom ?? false) || base.isRandomized
    }

    /// The example at `index`, read with the epoch seed 0.
    public subscript(index: Int) -> Example { element(at: index, epochSeed: 0) }

    /// The example at `index`, transformed with the draws of the epoch seed `epochSeed`.
    public func element(at index: Int, epochSeed: UInt64) -> Example {
        // A randomized base gets a seed of its own, so its draws are not ours repeated.
        var example = base.element(at: index, epochSeed: mixBits(epochSeed ^ 0x5851_F42D_4C95_7F2D))
        let generator = isRandomized ? Generator(epochSeed: epochSeed, element: index) : Generator.default
        example.input = transform(example.input, generator: generator)
        if let targetTransform { example.target = targetTransform(example.target, generator: generator) }
        return example
    }
}

extension Dataset where Element == Example {
    /// This dataset with `transform` applied to every input and `target` to every target as
    /// they are read (see ``TransformedDataset``).
    public func transformed(_ transform: Transform<Tensor, Tensor>,
                            target: Transform<Tensor, Tensor>? = nil) -> TransformedDataset<Self> {
        TransformedDataset(self, transform: transform, targetTransform: target)
    }
}
