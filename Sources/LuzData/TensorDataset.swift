import LuzTensor

/// A dataset over tensors sharing their first dimension: element `i` is the example whose every
/// tensor is row `i` of the dataset's (torch's `TensorDataset` / R's `tensor_dataset(x, y)`).
///
/// The inputs and targets are one tensor each, or several by position or name:
///
/// ```swift
/// let pairs = TensorDataset(inputs: [images, ages], targets: labels)        // two inputs
/// let heads = TensorDataset(inputs: .tensor(images),
///                           targets: ["class": .tensor(labels), "box": .tensor(boxes)])
/// ```
public struct TensorDataset: Dataset {
    /// All inputs, examples along the first dimension of every tensor.
    public let inputTree: TensorTree
    /// All targets, examples along the first dimension of every tensor.
    public let targetTree: TensorTree
    /// The number of examples.
    public let count: Int

    /// All inputs when they are one tensor.
    public var inputs: Tensor { inputTree.singleTensor("TensorDataset's inputs") }
    /// All targets when they are one tensor.
    public var targets: Tensor { targetTree.singleTensor("TensorDataset's targets") }

    /// Creates a dataset of `inputs.shape[0]` examples.
    /// - Parameters:
    ///   - inputs: the inputs, one example per row of the first dimension.
    ///   - targets: the targets, with the same first dimension.
    public init(inputs: Tensor, targets: Tensor) {
        self.init(inputs: .tensor(inputs), targets: .tensor(targets))
    }

    /// Creates a dataset of several input tensors (by position) and one target tensor.
    public init(inputs: [Tensor], targets: Tensor) {
        self.init(inputs: .tensors(inputs), targets: .tensor(targets))
    }

    /// Creates a dataset of structured inputs and targets, every tensor sharing its first
    /// dimension.
    public init(inputs: TensorTree, targets: TensorTree) {
        let leaves = inputs.namedLeaves.map { ("inputs" + ($0.path.isEmpty ? "" : "." + $0.path), $0.tensor) }
            + targets.namedLeaves.map { ("targets" + ($0.path.isEmpty ? "" : "." + $0.path), $0.tensor) }
        let shapes = leaves.map { "\($0.0) \($0.1.shape)" }.joined(separator: ", ")
        require(!inputs.leaves.isEmpty && !targets.leaves.isEmpty, "TensorDataset: needs inputs and targets, got \(shapes)")
        require(leaves.allSatisfy { !$0.1.shape.isEmpty }, "TensorDataset: \(shapes): every tensor needs a first dimension")
        let count = leaves[0].1.shape[0]
        require(leaves.allSatisfy { $0.1.shape[0] == count }, "TensorDataset: \(shapes) differ in their first dimension")
        inputTree = inputs
        targetTree = targets
        self.count = count
    }

    /// Creates a dataset from an example whose tensors hold every example along their first
    /// dimension.
    public init(_ all: Example) {
        self.init(inputs: all.inputs, targets: all.targets)
    }

    /// The example at `index`.
    public subscript(index: Int) -> Example {
        require(index >= 0 && index < count, "TensorDataset: index \(index) out of range 0..<\(count)")
        return Example(inputs: inputTree.map { $0[index] }, targets: targetTree.map { $0[index] })
    }

    /// The examples at `indices`, gathered with one `indexSelect` per tensor.
    public func batch(at indices: [Int]) -> Example? {
        let index = Tensor(indices.map { Int64($0) })
        return Example(inputs: inputTree.map { $0.indexSelect(dim: 0, index: index) },
                       targets: targetTree.map { $0.indexSelect(dim: 0, index: index) })
    }
}
