import LuzTensor

/// A collection of examples that can be read by position: the unit a ``DataLoader`` draws
/// batches from (torch's map-style `Dataset`, with `count` for `__len__` and a subscript for
/// `__getitem__`).
///
/// Most datasets hold ``Example``s, an input and a target; any element type works with a
/// custom collate function.
///
/// Conforming types must be safe to read from several threads at once (a loader that prefetches
/// reads elements on a background thread); read-only datasets are.
public protocol Dataset<Element> {
    /// The type of one element, usually ``Example``.
    associatedtype Element

    /// The number of elements.
    var count: Int { get }

    /// The element at `index`, in `0..<count`.
    subscript(index: Int) -> Element { get }

    /// The elements at `indices` already collated into one batch, or `nil` when the dataset
    /// has no faster way than reading them one by one.
    ///
    /// A loader using the default collate step calls this first, so datasets backed by whole
    /// tensors can gather a batch with one copy instead of stacking many small tensors. The
    /// result must equal collating `indices.map { self[$0] }`.
    func batch(at indices: [Int]) -> Element?

    /// Whether reading an element makes random draws (it goes through a random ``Transform``,
    /// an augmentation): a ``DataLoader`` then draws a seed for every epoch and reads the
    /// elements with ``element(at:epochSeed:)``. `false` by default.
    var isRandomized: Bool { get }

    /// The element at `index` as the epoch whose seed is `epochSeed` sees it.
    ///
    /// A randomized dataset draws from `Generator(epochSeed: epochSeed, element: index)`, a
    /// generator that depends on nothing but these two numbers: an epoch's elements are the
    /// same whichever order or thread reads them, and reading one again gives it again. The
    /// subscript reads with the epoch seed 0. Datasets that draw nothing return `self[index]`
    /// (the default).
    func element(at index: Int, epochSeed: UInt64) -> Element

    /// The elements at `indices` for the epoch seed `epochSeed`, already collated, or `nil`
    /// when there is no faster way than reading them one by one (the default).
    func batch(at indices: [Int], epochSeed: UInt64) -> Element?
}

extension Dataset {
    /// No fast path: the loader reads the elements one by one.
    public func batch(at indices: [Int]) -> Element? { nil }

    /// Not randomized.
    public var isRandomized: Bool { false }

    /// The element at `index`: a dataset that draws nothing ignores the epoch seed.
    public func element(at index: Int, epochSeed: UInt64) -> Element { self[index] }

    /// No fast path for a seeded read.
    public func batch(at indices: [Int], epochSeed: UInt64) -> Element? { nil }

    /// The elements at `indices`, as a dataset (torch's `Subset`, R's `ds[indices]`).
    public subscript(indices: [Int]) -> Subset<Self> {
        Subset(self, indices: indices)
    }
}

/// One example: an input and its target. A batch of examples is again an `Example`, whose
/// tensors have the batch as their first dimension.
///
/// Each side is a ``TensorTree``: one tensor (a plain classifier), several tensors by position
/// (an image and a scalar feature; a siamese pair) or tensors by name. ``input`` and ``target``
/// read the single tensor of the common case.
public struct Example {
    /// The model's inputs: one tensor, or several by position or name.
    public var inputs: TensorTree
    /// What the model should produce: one tensor (a class index, an `int64` scalar, or values),
    /// or several by position or name (one per head of the model).
    public var targets: TensorTree

    /// The single input tensor (for images, channels × height × width); stops with a message
    /// when the example has several inputs. Setting it makes the inputs that one tensor.
    public var input: Tensor {
        get { inputs.singleTensor("the example's input") }
        set { inputs = .tensor(newValue) }
    }

    /// The single target tensor; stops with a message when the example has several targets.
    public var target: Tensor {
        get { targets.singleTensor("the example's target") }
        set { targets = .tensor(newValue) }
    }

    /// Creates an example of one input tensor and one target tensor.
    /// - Parameters:
    ///   - input: the model's input.
    ///   - target: the expected output.
    public init(input: Tensor, target: Tensor) {
        inputs = .tensor(input)
        targets = .tensor(target)
    }

    /// Creates an example with structured inputs and targets.
    /// - Parameters:
    ///   - inputs: the model's inputs (one tensor, several, or named ones).
    ///   - targets: the expected outputs.
    public init(inputs: TensorTree, targets: TensorTree) {
        self.inputs = inputs
        self.targets = targets
    }

    /// The number of examples this batch holds (the first dimension of its first input).
    public var batchSize: Int { inputs.batchSize }
}

/// A type whose values can be combined into one batch value, used by a ``DataLoader``'s
/// default collate step.
public protocol Collatable {
    /// Combines `items` (at least one) into a batch, stacking along a new first dimension.
    static func collated(_ items: [Self]) -> Self
}

extension Tensor: Collatable {
    /// Stacks tensors of equal shape along a new first dimension.
    public static func collated(_ items: [Tensor]) -> Tensor {
        Tensor.stack(items, dim: 0)
    }
}

extension Example: Collatable {
    /// Stacks the inputs and the targets along a new first dimension: `n` examples with input
    /// shape `s` give an input of shape `[n] + s`.
    /// Structured inputs and targets are stacked field by field.
    public static func collated(_ items: [Example]) -> Example {
        Example(inputs: TensorTree.stacked(items.map(\.inputs)), targets: TensorTree.stacked(items.map(\.targets)))
    }
}

extension Array: Collatable where Element == Tensor {
    /// Stacks tensors position by position: `[[a0, b0], [a1, b1]]` gives `[stack(a), stack(b)]`.
    public static func collated(_ items: [[Tensor]]) -> [Tensor] {
        guard let first = items.first else { return [] }
        return first.indices.map { position in Tensor.stack(items.map { $0[position] }, dim: 0) }
    }
}

/// A dataset of a type hidden behind a wrapper, so datasets of different types with the same
/// element type can be stored and passed alike.
public struct AnyDataset<Element>: Dataset {
    private let countValue: Int
    private let element: (Int) -> Element
    private let gather: ([Int]) -> Element?
    private let seededElement: (Int, UInt64) -> Element
    private let seededGather: ([Int], UInt64) -> Element?
    /// Whether the base dataset is randomized.
    public let isRandomized: Bool

    /// Wraps `base`.
    public init<Base: Dataset>(_ base: Base) where Base.Element == Element {
        countValue = base.count
        element = { base[$0] }
        gather = { base.batch(at: $0) }
        seededElement = { base.element(at: $0, epochSeed: $1) }
        seededGather = { base.batch(at: $0, epochSeed: $1) }
        isRandomized = base.isRandomized
    }

    /// The base dataset's element for an epoch seed.
    public func element(at index: Int, epochSeed: UInt64) -> Element { seededElement(index, epochSeed) }

    /// The base dataset's seeded batch fast path.
    public func batch(at indices: [Int], epochSeed: UInt64) -> Element? { seededGather(indices, epochSeed) }

    /// The number of elements.
    public var count: Int { countValue }

    /// The element at `index`.
    public subscript(index: Int) -> Element { element(index) }

    /// The base dataset's batch fast path.
    public func batch(at indices: [Int]) -> Element? { gather(indices) }
}

extension TensorTree: Collatable {
    /// Stacks trees of one structure field by field along a new first dimension.
    public static func collated(_ items: [TensorTree]) -> TensorTree { stacked(items) }
}
