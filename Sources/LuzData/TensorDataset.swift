import LuzTensor

/// A dataset over two tensors sharing their first dimension: element `i` is the example
/// `(inputs[i], targets[i])` (torch's `TensorDataset` / R's `tensor_dataset(x, y)`).
public struct TensorDataset: Dataset {
    /// All inputs, examples along the first dimension.
    public let inputs: Tensor
    /// All targets, examples along the first dimension.
    public let targets: Tensor

    /// Creates a dataset of `inputs.shape[0]` examples.
    /// - Parameters:
    ///   - inputs: the inputs, one example per row of the first dimension.
    ///   - targets: the targets, with the same first dimension.
    public init(inputs: Tensor, targets: Tensor) {
        require(!inputs.shape.isEmpty && !targets.shape.isEmpty,
                "TensorDataset: inputs \(inputs.shape) and targets \(targets.shape) need a first dimension")
        require(inputs.shape[0] == targets.shape[0],
                "TensorDataset: inputs \(inputs.shape) and targets \(targets.shape) differ in their first dimension")
        self.inputs = inputs
        self.targets = targets
    }

    /// Creates a dataset from an example whose tensors hold every example along their first
    /// dimension.
    public init(_ all: Example) {
        self.init(inputs: all.input, targets: all.target)
    }

    /// The number of examples.
    public var count: Int { inputs.shape[0] }

    /// The example at `index`.
    public subscript(index: Int) -> Example {
        require(index >= 0 && index < count, "TensorDataset: index \(index) out of range 0..<\(count)")
        return Example(input: inputs[index], target: targets[index])
    }

    /// The examples at `indices`, gathered with one `indexSelect` per tensor.
    public func batch(at indices: [Int]) -> Example? {
        let index = Tensor(indices.map { Int64($0) })
        return Example(input: inputs.indexSelect(dim: 0, index: index),
                       target: targets.indexSelect(dim: 0, index: index))
    }
}
