import LuzTensor

/// A module whose inputs or outputs are not one tensor: several by position (an image and a
/// scalar feature, a siamese pair, a decoder's target and memory) or by name, or several
/// outputs (a model with two heads).
///
/// The training loop gives such a model the batch's whole ``TensorTree`` of inputs and reads
/// its tree of outputs; any other module gets the single input tensor through
/// ``Module/forward(_:)``. Its children and parameters work as in any module.
///
/// ```swift
/// final class ImageAndAge: Module, StructuredModule {
///     var features = Sequential { Flatten(); Linear(784, 32); ReLU() }
///     var head = Linear(33, 10)
///     func forward(inputs: TensorTree) -> TensorTree {
///         let image = inputs[0].singleTensor("image"), age = inputs[1].singleTensor("age")
///         return .tensor(head(Tensor.cat([features(image), age], dim: 1)))
///     }
/// }
/// ```
public protocol StructuredModule: Module {
    /// The module's outputs for `inputs`.
    func forward(inputs: TensorTree) -> TensorTree
}
