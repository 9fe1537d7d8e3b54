import LuzSerialization
import LuzTensor

/// Parameters that share a learning rate (and optionally a weight decay) inside one optimizer
/// (torch's parameter groups): for instance a pretrained body trained slower than a new head.
///
/// ```swift
/// let optimizer = Adam(groups: [
///     ParameterGroup(body.parameters(), learningRate: 1e-4),
///     ParameterGroup(head.parameters()),               // the optimizer's learning rate
/// ], learningRate: 1e-3)
/// ```
public struct ParameterGroup {
    /// The parameters of the group, fixed when the optimizer is created.
    public let parameters: [Tensor]
    /// The group's learning rate; learning-rate schedulers change it.
    public var learningRate: Double
    /// The group's weight decay, or `nil` to use the optimizer's.
    public var weightDecay: Double?
    let setsLearningRate: Bool

    /// Creates a group.
    ///
    /// - Parameters:
    ///   - learningRate: the group's learning rate, or `nil` for the optimizer's.
    ///   - weightDecay: the group's weight decay, or `nil` for the optimizer's.
    public init(_ parameters: [Tensor], learningRate: Double? = nil, weightDecay: Double? = nil) {
        self.parameters = parameters
        self.learningRate = learningRate ?? 0
        self.setsLearningRate = learningRate != nil
        self.weightDecay = weightDecay
    }
}

/// The base class of the optimizers: parameter groups, gradient clearing, and saving and
/// restoring state.
///
/// An optimizer takes its parameters once; each subclass keeps its per-parameter state (moment
/// estimates, momentum buffers) in arrays aligned with ``parameters``, so a step does no
/// lookups and builds nothing. Hyper-parameters are `public var`s with torch's defaults.
open class Optimizer {
    /// The groups of parameters with their learning rates.
    public var parameterGroups: [ParameterGroup]
    /// Every parameter, group after group (the index of a parameter here is its index in
    /// saved state, as in torch).
    public let parameters: [Tensor]
    /// The number of calls to ``step()`` so far.
    public internal(set) var stepCount = 0

    /// Creates an optimizer over `groups`; groups without a learning rate get
    /// `defaultLearningRate`.
    public init(groups: [ParameterGroup], defaultLearningRate: Double) {
        require(defaultLearningRate >= 0, "\(Self.self): invalid learning rate \(defaultLearningRate)")
        var resolved = groups
        for i in resolved.indices where !resolved[i].setsLearningRate {
            resolved[i].learningRate = defaultLearningRate
        }
        parameterGroups = resolved
        parameters = resolved.flatMap(\.parameters)
        var seen = Set<ObjectIdentifier>()
        for parameter in parameters {
            require(seen.insert(ObjectIdentifier(parameter)).inserted,
                    "\(Self.self): a parameter appears more than once (shape \(parameter.shape))")
            require(parameter.dtype.isFloatingPoint,
                    "\(Self.self): parameters must be floating point, got \(parameter.dtype)")
        }
        requireValidHyperparameters()
    }

    /// Creates an optimizer over `groups` with the subclass's default hyper-parameters: the
    /// initializer a training loop uses when given an optimizer type.
    public required convenience init(groups: [ParameterGroup]) {
        self.init(groups: groups, defaultLearningRate: 1e-3)
    }

    /// An optimizer of this type over `parameters` with its default hyper-parameters.
    public static func withDefaults(_ parameters: [Tensor]) -> Self {
        Self(groups: [ParameterGroup(parameters)])
    }

    /// The learning rate of the first group; setting it sets every group's.
    public var learningRate: Double {
        get { parameterGroups.first?.learningRate ?? 0 }
        set { for i in parameterGroups.indices { parameterGroups[i].learningRate = newValue } }
    }

    /// Updates every parameter that has a gradient (parameters whose `grad` is `nil` are
    /// skipped, as in torch). Subclasses override it.
    open func step() {
        fatalError("\(Self.self): step() is not implemented")
    }

    /// Whether ``step(_:)`` evaluates the loss several times, so that a training loop must give
    /// it a closure that recomputes the loss on the batch (``LBFGS``); `false` for the
    /// optimizers that step once from the gradients already there.
    open var reevaluatesLoss: Bool { false }

    /// Evaluates `closure` once with gradient recording on, then steps from the gradients it
    /// left (torch's `optimizer.step(closure)`); returns the loss it returned. ``LBFGS``
    /// overrides it to evaluate as often as its iterations need.
    ///
    /// - Parameter closure: clears the gradients, computes the loss, runs `backward()` and
    ///   returns the loss value.
    @discardableResult
    open func step(_ closure: () throws -> Double) rethrows -> Double {
        let loss = try withGradMode(enabled: true, closure)
        withNoGrad { step() }
        return loss
    }

    /// Clears the gradients of every parameter: set to `nil` (torch's default
    /// `set_to_none=True`, so a parameter that gets no new gradient is not updated) or zeroed
    /// in place.
    public func zeroGrad(setToNil: Bool = true) {
        for parameter in parameters {
            if setToNil { parameter.grad = nil } else { parameter.zeroGrad() }
        }
    }

    /// Calls `body(group, parameter, gradient, index)` for every parameter with a gradient;
    /// `index` is the parameter's position in ``parameters``.
    @inline(__always)
    func forEachParameterWithGradient(_ body: (ParameterGroup, Tensor, Tensor, Int) -> Void) {
        var index = 0
        for group in parameterGroups {
            for parameter in group.parameters {
                if let gradient = parameter.grad { body(group, parameter, gradient, index) }
                index += 1
            }
        }
    }

    // MARK: - Hyper-parameters

    /// The optimizer's hyper-parameters, declared once: their names, how to read and set them,
    /// and the values they accept. ``hyperparameters``, ``setHyperparameter(_:to:)``, the
    /// checks of the initializer and of a loaded state, and the saved state all come from it.
    /// Subclasses override it; learning rates belong to the groups and are not in it.
    open class var hyperparameterTable: [OptimizerHyperparameter] { [] }

    /// The optimizer-wide hyper-parameters by name (`"beta1"`, `"weightDecay"`, …; flags are 0
    /// or 1).
    public var hyperparameters: [String: Double] {
        Dictionary(uniqueKeysWithValues: Self.hyperparameterTable.map { ($0.name, $0.read(self)) })
    }

    /// Sets a hyper-parameter by name: `"learningRate"` (every group) or one of
    /// ``hyperparameters``. For training loops that receive hyper-parameters as values (luz's
    /// `set_opt_hparams`).
    ///
    /// - Throws: ``StateDictError/incompatible(_:)`` for a name the optimizer does not have, or
    ///   a value it does not accept (`Adam: beta1 must be in [0, 1), got 1.5`).
    public func setHyperparameter(_ name: String, to value: Double) throws {
        if name == "learningRate" {
            guard value >= 0 else { throw StateDictError.incompatible("\(Self.self): invalid learning rate \(value)") }
            learningRate = value
            return
        }
        guard let entry = Self.hyperparameterTable.first(where: { $0.name == name }) else {
            let known = ["learningRate"] + Self.hyperparameterTable.map(\.name)
            throw StateDictError.incompatible("\(Self.self) has no hyper-parameter '\(name)'; it has \(known.joined(separator: ", "))")
        }
        if let problem = entry.problem(with: value, in: self) { throw StateDictError.incompatible(problem) }
        entry.write(self, value)
    }

    /// Stops the program with a message naming the first hyper-parameter out of its range (for
    /// initializers: a check on user input, in every build).
    func requireValidHyperparameters() {
        for entry in Self.hyperparameterTable {
            let problem = entry.problem(with: entry.read(self), in: self)
            require(problem == nil, problem ?? "")
        }
    }

    /// The momentum a cyclic schedule (``OneCycleLR``) varies: SGD's and RMSprop's `momentum`,
    /// Adam's `beta1`; `nil` for optimizers without one.
    open var schedulableMomentum: Double? {
        get { nil }
        set {}
    }

    // MARK: - State

    /// The state of the parameter at `index` of ``parameters`` as named tensors (empty before
    /// its first update). Subclasses override it and ``restoreParameterState(_:at:)``.
    open func parameterState(at index: Int) -> [(name: String, tensor: Tensor)] { [] }

    /// Restores the state of the parameter at `index` from the entries ``parameterState(at:)``
    /// produced (an empty set clears it).
    open func restoreParameterState(_ entries: StateDict, at index: Int) throws {}

    /// Everything needed to resume training with this optimizer: learning rates per group,
    /// hyper-parameters, the step count, and every parameter's state (torch's
    /// `optimizer.state_dict()`), as named tensors that ``StateDict/save(to:)`` writes in the
    /// safetensors format.
    ///
    /// Keys: `param_groups.<g>.lr`, `param_groups.<g>.weight_decay`, `hyperparameters.<name>`,
    /// `step_count`, `state.<i>.<name>` (for example `state.0.exp_avg`); the tensors are copies.
    public func stateDict() -> StateDict {
        var state = StateDict()
        state.metadata = ["optimizer": "\(Self.self)", "parameters": "\(parameters.count)",
                          "groups": "\(parameterGroups.count)"]
        state["step_count"] = Tensor(scalar: Int64(stepCount))
        for (g, group) in parameterGroups.enumerated() {
            state["param_groups.\(g).lr"] = Tensor(scalar: group.learningRate)
            state["param_groups.\(g).size"] = Tensor(scalar: Int64(group.parameters.count))
            if let weightDecay = group.weightDecay { state["param_groups.\(g).weight_decay"] = Tensor(scalar: weightDecay) }
        }
        for (name, value) in hyperparameters.sorted(by: { $0.key < $1.key }) {
            state["hyperparameters.\(name)"] = Tensor(scalar: value)
        }
        for index in parameters.indices {
            for (name, tensor) in parameterState(at: index) {
                state["state.\(index).\(name)"] = withNoGrad { tensor.cloned() }
            }
        }
        return state
    }

    /// Restores state saved by ``stateDict()`` from an optimizer of the same type over
    /// parameters of the same shapes, in the same groups.
    ///
    /// - Throws: ``StateDictError`` naming the first entry that does not fit; nothing is
    ///   changed then.
    public func loadStateDict(_ state: StateDict) throws {
        if let saved = state.metadata["optimizer"], saved != "\(Self.self)" {
            throw StateDictError.incompatible("the state was saved by \(saved), this optimizer is \(Self.self)")
        }
        // Every value is checked before use: a damaged file's NaN or negative rate would
        // otherwise train on silently, to NaN weights.
        func scalar(_ key: String) throws -> Double {
            let value = try state.scalar(key)
            guard value.isFinite else { throw StateDictError.incompatible("'\(key)' holds \(value), not a finite value") }
            return value
        }
        // Counters go through `counter`: a damaged file's NaN or 1e300 must not reach `Int(_:)`.
        let steps = try state.counter("step_count")
        var learningRates: [Double] = []
        var weightDecays: [Double?] = []
        for (g, group) in parameterGroups.enumerated() {
            let rate = try scalar("param_groups.\(g).lr")
            guard rate >= 0 else { throw StateDictError.incompatible("'param_groups.\(g).lr' holds \(rate), not a learning rate") }
            learningRates.append(rate)
            let size = try state.counter("param_groups.\(g).size")
            guard size == group.parameters.count else {
                throw StateDictError.incompatible("group \(g) has \(group.parameters.count) parameters, the state has \(size)")
            }
            weightDecays.append(try state["param_groups.\(g).weight_decay"].map { _ in try scalar("param_groups.\(g).weight_decay") })
        }
        if state["param_groups.\(parameterGroups.count).lr"] != nil {
            throw StateDictError.unexpectedKey("param_groups.\(parameterGroups.count).lr")
        }
        var hyper: [(OptimizerHyperparameter, Double)] = []
        for entry in Self.hyperparameterTable {
            let value = try scalar("hyperparameters.\(entry.name)")
            if let problem = entry.problem(with: value, in: self) {
                throw StateDictError.incompatible("'hyperparameters.\(entry.name)': \(problem)")
            }
            hyper.append((entry, value))
        }
        // Per-parameter entries, grouped by index, checked against the parameters' shapes.
        var perParameter = [StateDict](repeating: StateDict(), count: parameters.count)
        for (key, tensor) in state where key.hasPrefix("state.") {
            let parts = key.split(separator: ".", maxSplits: 2)
            guard parts.count == 3, let index = Int(parts[1]), parameters.indices.contains(index) else {
                throw StateDictError.unexpectedKey(key)
            }
            perParameter[index][String(parts[2])] = tensor
        }
        for (key, _) in state where !key.hasPrefix("state.") && !key.hasPrefix("param_groups.")
            && !key.hasPrefix("hyperparameters.") && key != "step_count" {
            throw StateDictError.unexpectedKey(key)
        }
        for index in parameters.indices {
            try validateParameterState(perParameter[index], at: index)
        }
        // Everything fits: apply.
        stepCount = steps
        for g in parameterGroups.indices {
            parameterGroups[g].learningRate = learningRates[g]
            parameterGroups[g].weightDecay = weightDecays[g]
        }
        for (entry, value) in hyper { entry.write(self, value) }
        for index in parameters.indices { try restoreParameterState(perParameter[index], at: index) }
    }

    /// The per-parameter entries that hold one number (the step count; NAdam's `mu_product`,
    /// ASGD's `eta` and `mu`) rather than a tensor of the parameter's shape.
    var scalarStateNames: Set<String> { ["step"] }

    /// Checks that saved per-parameter entries have the parameter's shape (the entries of
    /// ``scalarStateNames`` excepted).
    func validateParameterState(_ entries: StateDict, at index: Int) throws {
        for (name, tensor) in entries {
            if !scalarStateNames.contains(name) && tensor.shape != parameters[index].shape {
                throw StateDictError.shapeMismatch(key: "state.\(index).\(name)", expected: parameters[index].shape, found: tensor.shape)
            }
            if !tensor.doubles.allSatisfy(\.isFinite) {
                throw StateDictError.incompatible("'state.\(index).\(name)' holds values that are not finite")
            }
        }
    }
}

// MARK: - Kernel helpers

/// A state tensor like `parameter`, filled with `value`, without gradient tracking.
func stateTensor(like parameter: Tensor, value: Double = 0) -> Tensor {
    Tensor.full(parameter.shape, value: value, dtype: parameter.dtype)
}

/// The entry `name` of `entries`, or a missing-key error naming the parameter index.
func requiredEntry(_ entries: StateDict, _ name: String, index: Int) throws -> Tensor {
    guard let tensor = entries[name] else { throw StateDictError.missingKey("state.\(index).\(name)") }
    return tensor
}

/// A parameter's saved step count, checked (see ``StateDict/counter(_:)``).
func requiredStep(_ entries: StateDict, index: Int) throws -> Int {
    try StateDict.counter(of: requiredEntry(entries, "step", index: index), key: "state.\(index).step")
}

/// A copy of `tensor` converted to `parameter`'s dtype (restored state must not alias the file's tensors).
func restoredCopy(_ tensor: Tensor, like parameter: Tensor) -> Tensor {
    withNoGrad { tensor.to(parameter.dtype).cloned() }
}

// MARK: - Declared hyper-parameters

/// One hyper-parameter as an optimizer declares it in ``Optimizer/hyperparameterTable``: its
/// name, the property that holds it, and the values it accepts.
///
/// ```swift
/// override class var hyperparameterTable: [OptimizerHyperparameter] {
///     [.number("beta1", \Adam.beta1, .unitInterval), .flag("amsgrad", \Adam.amsgrad)]
/// }
/// ```
public struct OptimizerHyperparameter {
    /// The name `setHyperparameter(_:to:)` and saved states use.
    public let name: String
    /// The values accepted.
    public let accepted: AcceptedValues
    let read: (Optimizer) -> Double
    let write: (Optimizer, Double) -> Void

    /// A number held in `property`.
    public static func number<O: Optimizer>(_ name: String, _ property: ReferenceWritableKeyPath<O, Double>,
                                            _ accepted: AcceptedValues = .any) -> OptimizerHyperparameter {
        OptimizerHyperparameter(name: name, accepted: accepted,
                                read: { ($0 as! O)[keyPath: property] },
                                write: { ($0 as! O)[keyPath: property] = $1 })
    }

    /// A flag held in `property`, read and set as 0 or 1.
    public static func flag<O: Optimizer>(_ name: String, _ property: ReferenceWritableKeyPath<O, Bool>) -> OptimizerHyperparameter {
        OptimizerHyperparameter(name: name, accepted: .flag,
                                read: { ($0 as! O)[keyPath: property] ? 1 : 0 },
                                write: { ($0 as! O)[keyPath: property] = $1 != 0 })
    }

    /// A count held in `property` (an iteration limit, a history length), read and set as a
    /// whole number of at least 1.
    public static func count<O: Optimizer>(_ name: String, _ property: ReferenceWritableKeyPath<O, Int>) -> OptimizerHyperparameter {
        OptimizerHyperparameter(name: name, accepted: .positiveCount,
                                read: { Double(($0 as! O)[keyPath: property]) },
                                write: { ($0 as! O)[keyPath: property] = Int($1) })
    }

    /// A hyper-parameter read and written by closures (a choice stored as an enumeration).
    public static func custom<O: Optimizer>(_ name: String, _ accepted: AcceptedValues, read: @escaping (O) -> Double,
                                            write: @escaping (O, Double) -> Void) -> OptimizerHyperparameter {
        OptimizerHyperparameter(name: name, accepted: accepted, read: { read($0 as! O) }, write: { write($0 as! O, $1) })
    }

    /// What is wrong with `value` for this hyper-parameter of `optimizer`, or `nil`.
    func problem(with value: Double, in optimizer: Optimizer) -> String? {
        accepted.contains(value) ? nil : "\(type(of: optimizer)): \(name) must be \(accepted.description), got \(value)"
    }
}

/// The values a hyper-parameter accepts, with the words that describe them in messages.
public struct AcceptedValues: Sendable, CustomStringConvertible {
    /// The words of messages: "≥ 0", "in [0, 1)".
    public let description: String
    private let test: @Sendable (Double) -> Bool

    /// Values satisfying `test`, described by `description`.
    public init(_ description: String, _ test: @escaping @Sendable (Double) -> Bool) {
        self.description = description
        self.test = test
    }

    /// Whether `value` is accepted (NaN never is).
    public func contains(_ value: Double) -> Bool { !value.isNaN && test(value) }

    /// Any number but NaN.
    public static let any = AcceptedValues("a number") { _ in true }
    /// 0 or more.
    public static let nonNegative = AcceptedValues("≥ 0") { $0 >= 0 }
    /// [0, 1): decay rates such as Adam's betas.
    public static let unitInterval = AcceptedValues("in [0, 1)") { $0 >= 0 && $0 < 1 }
    /// [0, 1].
    public static let closedUnitInterval = AcceptedValues("in [0, 1]") { $0 >= 0 && $0 <= 1 }
    /// (0, 1).
    public static let openUnitInterval = AcceptedValues("in (0, 1)") { $0 > 0 && $0 < 1 }
    /// More than 1.
    public static let greaterThanOne = AcceptedValues("> 1") { $0 > 1 }
    /// A whole number from 1 to 10⁹ (a count).
    public static let positiveCount = AcceptedValues("a whole number from 1 to 1e9") { $0 >= 1 && $0 <= 1e9 && $0 == $0.rounded() }
    /// 0 or 1.
    public static let flag = AcceptedValues("0 or 1") { $0 == 0 || $0 == 1 }
}
