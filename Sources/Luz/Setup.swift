import Foundation

/// A loss as the training loop calls it: a ``Loss`` value (``CrossEntropyLoss()``), a closure
/// over the prediction and target tensors, a closure over structured ones, or a weighted sum
/// of a loss per head of a model with several outputs (``weightedSum(_:)``).
public struct LossFunction {
    /// The loss's name: its type (`CrossEntropyLoss`), the one given to a closure, or the terms of a weighted sum.
    public let name: String
    /// The loss of a batch's predictions and targets, whatever their structure.
    let compute: (TensorTree, TensorTree) -> Tensor
    /// The loss of a batch mixed by ``Mixup`` or ``CutMix``, for a ``MixupLoss``.
    let computeMixed: ((Tensor, MixedTargets) -> Tensor)?

    /// A loss from a closure over the single prediction and target tensors.
    public init(name: String = "loss", _ compute: @escaping (_ prediction: Tensor, _ target: Tensor) -> Tensor) {
        self.name = name
        self.compute = { compute($0.singleTensor("the model's output"), $1.singleTensor("the batch's target")) }
        computeMixed = nil
    }

    /// A loss from a closure over structured predictions and targets (several heads, pairs).
    public init(name: String = "loss", structured compute: @escaping (_ predictions: TensorTree, _ targets: TensorTree) -> Tensor) {
        self.name = name
        self.compute = compute
        computeMixed = nil
    }

    /// A loss from a ``Loss`` value such as `CrossEntropyLoss()`; a ``MixupLoss`` also scores
    /// the batches ``Mixup`` and ``CutMix`` mix.
    public init(_ loss: some Loss) {
        self.name = String(describing: type(of: loss))
        self.compute = { loss($0.singleTensor("the model's output"), $1.singleTensor("the batch's target")) }
        // Looked at once, when the setup is made (a mixed batch needs the per-example form).
        if let mixup = loss as? MixupLoss {
            computeMixed = { mixup($0, $1) }
        } else {
            computeMixed = nil
        }
    }

    /// One head's term of a ``weightedSum(_:)``: a loss on the head's output and target.
    public struct Term {
        let head: Head
        let weight: Double
        let loss: (Tensor, Tensor) -> Tensor
        let lossName: String

        /// `weight × loss(output[head], target[head])`.
        public init(_ loss: some Loss, head: Head, weight: Double = 1) {
            self.head = head
            self.weight = weight
            self.loss = { loss($0, $1) }
            lossName = String(describing: type(of: loss))
        }
    }

    /// The weighted sum of a loss per head of a model with several outputs, each on the head's
    /// output and the target of the same position or name (Keras' `loss_weights`):
    ///
    /// ```swift
    /// .weightedSum([.init(CrossEntropyLoss(), head: "class"), .init(MSELoss(), head: "box", weight: 0.5)])
    /// ```
    public static func weightedSum(_ terms: [Term]) -> LossFunction {
        require(!terms.isEmpty, "LossFunction.weightedSum: needs at least one term")
        let name = terms.map { "\($0.weight)·\($0.lossName)[\($0.head)]" }.joined(separator: " + ")
        return LossFunction(name: name, structured: { predictions, targets in
            var total: Tensor?
            for term in terms {
                let value = term.loss(term.head.select(in: predictions).singleTensor("head \(term.head) of the model's output"),
                                      term.head.select(in: targets).singleTensor("head \(term.head) of the batch's target"))
                let weighted = term.weight == 1 ? value : value * term.weight
                total = total.map { $0 + weighted } ?? weighted
            }
            return total!
        })
    }

    /// The loss of a single prediction tensor and target tensor.
    public func callAsFunction(_ prediction: Tensor, _ target: Tensor) -> Tensor { compute(.tensor(prediction), .tensor(target)) }

    /// The loss of structured predictions and targets.
    public func callAsFunction(_ predictions: TensorTree, _ targets: TensorTree) -> Tensor { compute(predictions, targets) }
}

/// How a fit creates its optimizer from the model's parameters and the optimizer
/// hyper-parameters: an optimizer type (`Adam.self`, whose hyper-parameters are set by name,
/// e.g. `"learningRate"`, `"weightDecay"`) or a closure.
public struct OptimizerFactory {
    let make: ([Tensor], Hyperparameters) throws -> Optimizer

    /// An optimizer of `type` with its defaults, then each hyper-parameter set by name.
    public init(_ type: Optimizer.Type) {
        make = { parameters, hyperparameters in
            let optimizer = type.init(groups: [ParameterGroup(parameters)])
            for name in hyperparameters.values.keys.sorted() {
                try optimizer.setHyperparameter(name, to: try hyperparameters.value(name))
            }
            return optimizer
        }
    }

    /// An optimizer made by a closure.
    public init(_ make: @escaping (_ parameters: [Tensor], _ hyperparameters: Hyperparameters) throws -> Optimizer) {
        self.make = make
    }
}

/// A model that computes its own loss (luz: a module with a `loss` method), used when the
/// setup has none.
///
/// With several optimizers the training step computes a loss for each in turn (luz's
/// `ctx$opt_name`): implement ``loss(predictions:targets:optimizer:)`` to give each its own
/// (a GAN's generator and discriminator losses); by default every optimizer gets
/// ``loss(prediction:target:)``.
public protocol LossProviding: Module {
    /// The loss of one prediction tensor and target tensor.
    func loss(prediction: Tensor, target: Tensor) -> Tensor
    /// The loss the optimizer named `optimizer` steps on, for structured predictions and targets.
    func loss(predictions: TensorTree, targets: TensorTree, optimizer: String) -> Tensor
}

extension LossProviding {
    /// ``loss(prediction:target:)`` of the single prediction and target, for every optimizer.
    public func loss(predictions: TensorTree, targets: TensorTree, optimizer: String) -> Tensor {
        loss(prediction: predictions.singleTensor("the output of \(typeName)"),
             target: targets.singleTensor("the batch's target"))
    }
}

/// A model that creates its own optimizers, possibly several by name (luz: a module with a
/// `set_optimizers` method).
public protocol OptimizerProviding: Module {
    func makeOptimizers(hyperparameters: Hyperparameters) -> [(String, Optimizer)]
}

/// A model with its own training step (luz: a module with a `step` method): it computes the
/// prediction and the loss, runs backward and steps the optimizers itself, using the context.
/// Callbacks and metrics still run around it. In a data-parallel run it calls
/// ``Context/synchronizeGradients()`` after backward, before stepping.
public protocol CustomTrainingStep: Module {
    func trainingStep(_ context: Context) throws
}

/// A model, a loss, an optimizer and metrics, ready to fit (luz's `setup()`).
///
/// ```swift
/// let fitted = try Sequential { Linear(4, 16); ReLU(); Linear(16, 3) }
///     .setup(loss: CrossEntropyLoss(), optimizer: Adam.self, metrics: [Accuracy()])
///     .learningRate(0.01)
///     .fit(train, epochs: 15, validData: 0.2)
/// ```
public struct TrainingSetup {
    let makeModel: (Hyperparameters) throws -> Module
    let loss: LossFunction?
    let optimizer: OptimizerFactory
    let metrics: [any Metric]
    let validMetrics: [any Metric]?
    /// The model's hyper-parameters (passed to the model factory).
    public private(set) var hyperparameters = Hyperparameters()
    /// The optimizer's hyper-parameters (passed to the optimizer factory).
    public private(set) var optimizerHyperparameters = Hyperparameters()

    /// A setup that builds its model with `model` from the hyper-parameters, at the start of each
    /// fit (after seeding, so that initialization is reproducible).
    public init(model: @escaping (Hyperparameters) throws -> Module, loss: LossFunction? = nil,
                optimizer: OptimizerFactory = OptimizerFactory(Adam.self), metrics: [any Metric] = [],
                validMetrics: [any Metric]? = nil) {
        self.makeModel = model
        self.loss = loss
        self.optimizer = optimizer
        self.metrics = metrics
        self.validMetrics = validMetrics
    }

    /// Sets the model's hyper-parameters (luz's `set_hparams`).
    public func hyperparameters(_ values: Hyperparameters) -> TrainingSetup {
        var copy = self
        copy.hyperparameters = hyperparameters.merging(values)
        return copy
    }

    /// Sets the model's hyper-parameters from the stored properties of `value` (a model
    /// factory's own `Codable` struct, read back with ``Hyperparameters/decode(_:)``).
    /// - Throws: ``LuzError/invalidArgument(_:)`` when `value` does not encode as flat named values.
    public func hyperparameters<T: Encodable>(encoding value: T) throws -> TrainingSetup {
        hyperparameters(try Hyperparameters(encoding: value))
    }

    /// Sets the optimizer's hyper-parameters, e.g. `["learningRate": 0.01]` (luz's `set_opt_hparams`).
    public func optimizerHyperparameters(_ values: Hyperparameters) -> TrainingSetup {
        var copy = self
        copy.optimizerHyperparameters = optimizerHyperparameters.merging(values)
        return copy
    }

    /// Sets the optimizer's learning rate.
    public func learningRate(_ value: Double) -> TrainingSetup {
        optimizerHyperparameters(["learningRate": .number(value)])
    }
}

extension TrainingSetup {
    /// A setup whose model is built from its hyper-parameters by `model` at the start of each fit
    /// (luz's `setup(module = ...)` with `set_hparams`).
    public init(model: @escaping (Hyperparameters) throws -> Module, loss: some Loss, optimizer: Optimizer.Type = Adam.self,
                metrics: [any Metric] = [], validMetrics: [any Metric]? = nil) {
        self.init(model: model, loss: LossFunction(loss), optimizer: OptimizerFactory(optimizer),
                  metrics: metrics, validMetrics: validMetrics)
    }
}

extension Module {
    /// This model with a loss, an optimizer type and metrics, ready to fit. Unlike luz, which
    /// takes only a model constructor, Luz accepts a ready instance; fitting trains it in place.
    public func setup(loss: some Loss, optimizer: Optimizer.Type = Adam.self,
                      metrics: [any Metric] = [], validMetrics: [any Metric]? = nil) -> TrainingSetup {
        TrainingSetup(model: { _ in self }, loss: LossFunction(loss), optimizer: OptimizerFactory(optimizer),
                      metrics: metrics, validMetrics: validMetrics)
    }

    /// This model with a loss and an optimizer factory (parameter groups, custom settings),
    /// ready to fit: `model.setup(loss: CrossEntropyLoss(), optimizer: OptimizerFactory { … })`.
    public func setup(loss: some Loss, optimizer: OptimizerFactory,
                      metrics: [any Metric] = [], validMetrics: [any Metric]? = nil) -> TrainingSetup {
        TrainingSetup(model: { _ in self }, loss: LossFunction(loss), optimizer: optimizer,
                      metrics: metrics, validMetrics: validMetrics)
    }

    /// This model with a loss function or closure and an optimizer type, ready to fit; with no
    /// loss, the model must conform to ``LossProviding``.
    public func setup(loss: LossFunction?, optimizer: Optimizer.Type = Adam.self,
                      metrics: [any Metric] = [], validMetrics: [any Metric]? = nil) -> TrainingSetup {
        TrainingSetup(model: { _ in self }, loss: loss, optimizer: OptimizerFactory(optimizer),
                      metrics: metrics, validMetrics: validMetrics)
    }

    /// This model with a loss closure and an optimizer type, ready to fit:
    /// `model.setup(loss: { mseLoss($0, $1) }, optimizer: SGD.self)`.
    public func setup(loss: @escaping (_ prediction: Tensor, _ target: Tensor) -> Tensor, optimizer: Optimizer.Type = Adam.self,
                      metrics: [any Metric] = [], validMetrics: [any Metric]? = nil) -> TrainingSetup {
        setup(loss: LossFunction(loss), optimizer: optimizer, metrics: metrics, validMetrics: validMetrics)
    }

    /// This model with a loss closure and an optimizer factory, ready to fit.
    public func setup(loss: @escaping (_ prediction: Tensor, _ target: Tensor) -> Tensor, optimizer: OptimizerFactory,
                      metrics: [any Metric] = [], validMetrics: [any Metric]? = nil) -> TrainingSetup {
        setup(loss: LossFunction(loss), optimizer: optimizer, metrics: metrics, validMetrics: validMetrics)
    }

    /// This model with a loss function or closure and an optimizer factory, ready to fit; with
    /// no loss, the model must conform to ``LossProviding``.
    public func setup(loss: LossFunction? = nil, optimizer: OptimizerFactory,
                      metrics: [any Metric] = [], validMetrics: [any Metric]? = nil) -> TrainingSetup {
        TrainingSetup(model: { _ in self }, loss: loss, optimizer: optimizer, metrics: metrics, validMetrics: validMetrics)
    }
}
