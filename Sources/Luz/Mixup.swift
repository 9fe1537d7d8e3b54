import Foundation

/// The targets of a batch whose inputs were mixed with a permutation of themselves
/// (``Mixup``, ``CutMix``): each example's own target, the target of the example mixed into
/// it, and the weight of the first.
public struct MixedTargets {
    /// Each example's own target (the batch's target, which training metrics still see).
    public let first: Tensor
    /// The target of the example mixed into each one: `first` permuted along the batch.
    public let second: Tensor
    /// The weight `λ` of `first` for each example, `[N]` float32; `second` weighs `1 − λ`.
    public let weights: Tensor

    /// Bundles the two targets and the weights.
    public init(first: Tensor, second: Tensor, weights: Tensor) {
        require(first.shape == second.shape, "MixedTargets: the targets have shapes \(first.shape) and \(second.shape)")
        require(weights.shape == [first.shape.first ?? 0],
                "MixedTargets: \(weights.shape) weights for a batch of \(first.shape.first ?? 0)")
        self.first = first
        self.second = second
        self.weights = weights
    }

    static let missingLossMessage =
        "Mixup and CutMix need the setup's loss to be a MixupLoss, which weights the two targets: setup(loss: MixupLoss(CrossEntropyLoss()), ...)"
}

/// The loss to train with ``Mixup`` or ``CutMix`` (luz's `nn_mixup_loss`): on a mixed batch,
/// the per-example losses against both targets, weighted by each example's `λ` and averaged,
///
///     loss = mean over i of  λᵢ · ℓ(predᵢ, y1ᵢ) + (1 − λᵢ) · ℓ(predᵢ, y2ᵢ),
///
/// and the wrapped loss as it is on every other batch (validation, evaluation).
///
/// The wrapped loss is called with its reduction set to ``Reduction/none`` for the mixed
/// form, as luz does; a loss with class weights then averages its examples with equal weight.
public struct MixupLoss: Loss {
    private let plain: (Tensor, Tensor) -> Tensor
    private let perExample: (Tensor, Tensor) -> Tensor

    /// Wraps `loss` (for example `CrossEntropyLoss()`).
    public init(_ loss: some ReducibleLoss) {
        var unreduced = loss
        unreduced.reduction = .none
        plain = { loss($0, $1) }
        perExample = { [unreduced] in unreduced($0, $1) }
    }

    /// The wrapped loss, for a batch that was not mixed.
    public func callAsFunction(_ prediction: Tensor, _ target: Tensor) -> Tensor {
        plain(prediction, target)
    }

    /// The weighted loss of a mixed batch.
    public func callAsFunction(_ prediction: Tensor, _ mixed: MixedTargets) -> Tensor {
        let first = perExample(prediction, mixed.first)
        let second = perExample(prediction, mixed.second)
        // One weight per example, broadcast over whatever else an unreduced loss keeps.
        let shape = [mixed.weights.count] + Array(repeating: 1, count: Swift.max(first.rank - 1, 0))
        let weights = mixed.weights.to(first.dtype).reshaped(shape)
        return (weights * first + (1 - weights) * second).mean()
    }
}

/// Shared by ``Mixup`` and ``CutMix``: the generator to draw from and its checkpoint state.
private struct MixingDraws {
    let own: Generator?
    var generator: Generator { own ?? .default }

    func checkpointState() -> [String: Tensor] {
        guard let own else { return [:] }
        return ["generator": Tensor(own.stateWords.map { Int64(bitPattern: $0) }, shape: [7])]
    }

    func restore(_ state: [String: Tensor]) throws {
        guard let own, let tensor = state["generator"] else { return }
        guard tensor.dtype == .int64, tensor.shape == [7] else {
            throw StateDictError.incompatible("'generator' is \(tensor.dtype) \(tensor.shape), not int64 [7]")
        }
        let words = tensor.withUnsafeBufferPointer(as: Int64.self) { $0.map { UInt64(bitPattern: $0) } }
        if let problem = Generator.problem(withStateWords: words) {
            throw StateDictError.incompatible("'generator' is not a usable generator state: \(problem)")
        }
        own.stateWords = words
    }

    /// The batch about to be mixed, checked: a float input with a batch dimension, not mixed yet.
    func batch(_ context: Context, _ name: String) throws -> Example? {
        guard let batch = context.batch, let n = batch.input.shape.first, n > 0 else { return nil }
        guard context.mixedTargets == nil else {
            throw LuzError.invalidArgument("\(name): the batch was already mixed by another callback; use one of Mixup and CutMix")
        }
        guard context.lossFunction?.computeMixed != nil else { throw LuzError.invalidArgument(MixedTargets.missingLossMessage) }
        guard batch.input.dtype.isFloatingPoint else {
            throw LuzError.invalidArgument("\(name): needs floating-point inputs, got \(batch.input.dtype)")
        }
        guard batch.target.shape.first == n else {
            throw LuzError.invalidArgument("\(name): \(n) inputs but targets of shape \(batch.target.shape)")
        }
        return batch
    }
}

/// Mixup (Zhang et al. 2018; luz's `luz_callback_mixup`): trains on convex combinations of
/// pairs of examples and of their losses.
///
/// At the start of every training batch, with `π` a random permutation of the batch and
/// `λᵢ ~ Beta(α, α)` one weight per example replaced by `max(λᵢ, 1 − λᵢ)` (so each example
/// keeps the larger share and its own label stays the dominant one), the input becomes
/// `λᵢ · xᵢ + (1 − λᵢ) · x_π(i)`; ``MixupLoss`` then scores it against both labels, and
/// training metrics against the first. Validation, evaluation and prediction see the data
/// as it is. These are luz's semantics (which follow fastai's).
///
/// ```swift
/// let fitted = try net.setup(loss: MixupLoss(CrossEntropyLoss()), optimizer: Adam.self)
///     .fit(train, epochs: 30, callbacks: [Mixup(alpha: 0.4)])
/// ```
/// The permutation and the weights are drawn from `generator`, by default the default
/// generator (which `fit(seed:)` seeds and checkpoints save); a generator of its own is saved
/// in the callback's checkpoint state, so a resumed run draws what the uninterrupted one did.
public final class Mixup: Callback {
    /// The `α` of the Beta distribution of the weights (luz's default 0.4).
    public let alpha: Double
    private let draws: MixingDraws

    /// - Parameters:
    ///   - alpha: the Beta distribution's parameter, positive (0.4 as luz; smaller mixes less).
    ///   - generator: where the permutations and weights come from; the default generator when `nil`.
    public init(alpha: Double = 0.4, generator: Generator? = nil) {
        require(alpha > 0 && alpha.isFinite, "Mixup: alpha must be positive, got \(alpha)")
        self.alpha = alpha
        draws = MixingDraws(own: generator)
    }

    /// Mixes the batch at `trainBatchBegin`; ignores every other event.
    public func handle(_ event: Event, _ context: Context) throws {
        guard event == .trainBatchBegin, let batch = try draws.batch(context, name) else { return }
        let n = batch.input.shape[0]
        let generator = draws.generator
        let permutation = generator.permutation(n)
        let weights = (0..<n).map { _ -> Float in
            let lambda = generator.nextBeta(alpha, alpha)
            return Float(Swift.max(lambda, 1 - lambda))
        }
        let index = Tensor(permutation.map(Int64.init), shape: [n])
        let shape = [n] + Array(repeating: 1, count: batch.input.rank - 1)
        let lambda = Tensor(weights, shape: shape).to(batch.input.dtype)
        let mixed = lambda * batch.input + (1 - lambda) * batch.input.indexSelect(dim: 0, index: index)
        context.batch = Example(input: mixed, target: batch.target)
        context.mixedTargets = MixedTargets(first: batch.target, second: batch.target.indexSelect(dim: 0, index: index),
                                            weights: Tensor(weights, shape: [n]))
    }

    /// The state of a generator of its own (nothing when it draws from the default one,
    /// which checkpoints save anyway).
    public func checkpointState() -> [String: Tensor] { draws.checkpointState() }
    /// Puts its own generator back where ``checkpointState()`` found it.
    public func restore(checkpointState state: [String: Tensor]) throws { try draws.restore(state) }
}

/// CutMix (Yun et al. 2019; torchvision's v2 `CutMix`): pastes a box of another example into
/// each image and weights the two labels by area.
///
/// At the start of every training batch of images `[N, ..., H, W]`: `λ ~ Beta(α, α)`, a
/// center drawn uniformly among the pixels and a box of `⌊r·W⌋` columns and `⌊r·H⌋` rows
/// either side of it with `r = √(1 − λ) / 2`, clipped to the image; every image gets that box
/// from the image `π(i)` of a random permutation, and `λ` becomes the exact share of pixels
/// left, `1 − box area / (H·W)`, the weight ``MixupLoss`` gives each example's own label.
/// torchvision pairs each image with its neighbour in the batch (a roll); a permutation
/// pairs at random, as ``Mixup`` does.
///
/// ```swift
/// let fitted = try net.setup(loss: MixupLoss(CrossEntropyLoss()), optimizer: SGD.self)
///     .fit(train, epochs: 30, callbacks: [CutMix()])
/// ```
/// Draws come from `generator` (the default generator when `nil`), saved as for ``Mixup``.
public final class CutMix: Callback {
    /// The `α` of the Beta distribution of `λ` (torchvision's default 1: a uniform share).
    public let alpha: Double
    private let draws: MixingDraws

    /// - Parameters:
    ///   - alpha: the Beta distribution's parameter, positive (1 as torchvision and the paper).
    ///   - generator: where the permutations, shares and boxes come from; the default
    ///     generator when `nil`.
    public init(alpha: Double = 1, generator: Generator? = nil) {
        require(alpha > 0 && alpha.isFinite, "CutMix: alpha must be positive, got \(alpha)")
        self.alpha = alpha
        draws = MixingDraws(own: generator)
    }

    /// The box of a share `lambda` around the center `(centerY, centerX)`, clipped to an image of
    /// `height × width`: rows `top..<bottom`, columns `left..<right`.
    static func box(lambda: Double, centerY: Int, centerX: Int, height: Int, width: Int)
        -> (top: Int, bottom: Int, left: Int, right: Int) {
        let r = 0.5 * (1 - lambda).squareRoot()
        let (halfH, halfW) = (Int(r * Double(height)), Int(r * Double(width)))
        return (Swift.max(centerY - halfH, 0), Swift.min(centerY + halfH, height),
                Swift.max(centerX - halfW, 0), Swift.min(centerX + halfW, width))
    }

    /// Pastes the boxes at `trainBatchBegin`; ignores every other event.
    public func handle(_ event: Event, _ context: Context) throws {
        guard event == .trainBatchBegin, let batch = try draws.batch(context, name) else { return }
        let input = batch.input
        guard input.rank >= 3 else {
            throw LuzError.invalidArgument("CutMix: needs image batches [N, ..., H, W], got shape \(input.shape)")
        }
        let n = input.shape[0]
        let (height, width) = (input.shape[input.rank - 2], input.shape[input.rank - 1])
        let generator = draws.generator
        let permutation = generator.permutation(n)
        let lambda = generator.nextBeta(alpha, alpha)
        let centerY = generator.nextInt(below: height), centerX = generator.nextInt(below: width)
        let box = CutMix.box(lambda: lambda, centerY: centerY, centerX: centerX, height: height, width: width)
        let kept = 1 - Double((box.bottom - box.top) * (box.right - box.left)) / Double(height * width)
        let pasted = CutMix.pasted(input, permutation: permutation, box: box)
        context.batch = Example(input: pasted, target: batch.target)
        let index = Tensor(permutation.map(Int64.init), shape: [n])
        context.mixedTargets = MixedTargets(first: batch.target, second: batch.target.indexSelect(dim: 0, index: index),
                                            weights: Tensor(Array(repeating: Float(kept), count: n), shape: [n]))
    }

    /// `input` with the box of every plane of image `i` copied from image `permutation[i]`.
    static func pasted(_ input: Tensor, permutation: [Int], box: (top: Int, bottom: Int, left: Int, right: Int)) -> Tensor {
        let n = input.shape[0]
        let (height, width) = (input.shape[input.rank - 2], input.shape[input.rank - 1])
        let imageSize = input.count / Swift.max(n, 1)
        let planes = imageSize / Swift.max(height * width, 1)
        func run<T: TensorScalar>(_: T.Type) -> Tensor {
            input.withUnsafeBufferPointer(as: T.self) { source in
                Tensor(shape: input.shape) { (output: UnsafeMutableBufferPointer<T>) in
                    _ = output.initialize(from: source)
                    for i in 0..<n {
                        let (to, from) = (i * imageSize, permutation[i] * imageSize)
                        for p in 0..<planes {
                            for y in box.top..<box.bottom {
                                let row = (p * height + y) * width
                                for x in box.left..<box.right { output[to + row + x] = source[from + row + x] }
                            }
                        }
                    }
                }
            }
        }
        return input.dtype == .float64 ? run(Double.self) : run(Float.self)
    }

    /// The state of a generator of its own (nothing when it draws from the default one,
    /// which checkpoints save anyway).
    public func checkpointState() -> [String: Tensor] { draws.checkpointState() }
    /// Puts its own generator back where ``checkpointState()`` found it.
    public func restore(checkpointState state: [String: Tensor]) throws { try draws.restore(state) }
}
