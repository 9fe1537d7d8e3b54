import LuzSerialization
import LuzTensor

/// The base of the optimizers whose update is elementwise (SGD, Adam, AdamW, RMSprop, Adagrad,
/// NAdam, RAdam, Adamax, Adadelta, ASGD, Rprop).
///
/// The base owns what they share: the per-parameter state (a step count, a few numbers, up to
/// three tensors of the parameter's shape, under torch's names), its creation, saving and
/// restoring, the loop over the parameters, the dtype dispatch and the loop over the elements,
/// eight float lanes at a time. A subclass declares its state in the initializer and its
/// hyper-parameters in ``Optimizer/hyperparameterTable``, and supplies one
/// ``ElementwiseRule``: the update of one element, written once, generic over the lane type,
/// so the same formula runs in the SIMD path and in the scalar tail.
public class ElementwiseOptimizer: Optimizer {
    /// The state of one parameter.
    final class ParameterState {
        var step = 0
        var numbers: [Double]
        var tensors: [Tensor?]
        init(numbers: [Double], tensors: [Tensor?]) {
            self.numbers = numbers
            self.tensors = tensors
        }
    }

    /// torch's names of the per-parameter tensors, in the order the rule receives them.
    let tensorNames: [String]
    /// torch's names of the per-parameter numbers, in the order ``ParameterUpdate/numbers`` holds them.
    let numberNames: [String]
    /// Whether the state records the parameter's step count (torch's SGD keeps none).
    let recordsStep: Bool
    private var states: [ParameterState?] = []

    init(groups: [ParameterGroup], defaultLearningRate: Double, tensors: [String], numbers: [String] = [],
         recordsStep: Bool = true) {
        assert(tensors.count <= elementwiseStateCapacity, "an elementwise rule has at most three state tensors")
        tensorNames = tensors
        numberNames = numbers
        self.recordsStep = recordsStep
        super.init(groups: groups, defaultLearningRate: defaultLearningRate)
        states = Array(repeating: nil, count: parameters.count)
    }

    /// Creates the optimizer with the subclass's defaults (each subclass overrides it).
    public required convenience init(groups: [ParameterGroup]) {
        fatalError("\(Self.self) must override init(groups:)")
    }

    /// Whether the tensor at `slot` of ``tensorNames`` is kept with the current
    /// hyper-parameters (SGD's momentum buffer only with momentum, Adam's maximum only with
    /// AMSGrad). A tensor that becomes needed is created at the next step.
    func keepsTensor(at slot: Int) -> Bool { true }

    /// The starting value of the tensor `name` (0 unless a subclass says otherwise).
    func initialValue(ofTensor name: String, learningRate: Double) -> Double { 0 }

    /// The starting values of the numbers.
    func initialNumbers(learningRate: Double) -> [Double] { [] }

    /// Updates one parameter: the subclass computes its step's constants and calls
    /// ``ParameterUpdate/apply(_:)`` with its rule.
    func update(_ parameter: inout ParameterUpdate) {
        fatalError("\(Self.self) must override update(_:)")
    }

    /// The optimizer-wide weight decay a group without its own uses.
    var defaultWeightDecay: Double { 0 }

    public override func step() {
        stepCount += 1
        forEachParameterWithGradient { group, parameter, gradient, index in
            let state = states[index] ?? ParameterState(
                numbers: initialNumbers(learningRate: group.learningRate),
                tensors: Array(repeating: nil, count: tensorNames.count))
            states[index] = state
            // Slot masks, not arrays: nothing is allocated per parameter and step.
            var kept: UInt8 = 0, created: UInt8 = 0
            for slot in tensorNames.indices where keepsTensor(at: slot) {
                kept |= 1 << slot
                if state.tensors[slot] == nil {
                    state.tensors[slot] = stateTensor(like: parameter,
                                                      value: initialValue(ofTensor: tensorNames[slot], learningRate: group.learningRate))
                    created |= 1 << slot
                }
            }
            state.step += 1
            var work = ParameterUpdate(parameter: parameter, gradient: gradient, tensors: state.tensors, keptSlots: kept,
                                       createdSlots: created, numbers: state.numbers, step: state.step,
                                       learningRate: group.learningRate, weightDecay: group.weightDecay ?? defaultWeightDecay)
            update(&work)
            state.numbers = work.numbers
        }
    }

    override var scalarStateNames: Set<String> { Set(["step"] + numberNames) }

    public override func parameterState(at index: Int) -> [(name: String, tensor: Tensor)] {
        guard let state = states[index] else { return [] }
        var entries: [(name: String, tensor: Tensor)] = recordsStep ? [("step", Tensor(scalar: Int64(state.step)))] : []
        for (name, value) in zip(numberNames, state.numbers) { entries.append((name, Tensor(scalar: value))) }
        for (name, tensor) in zip(tensorNames, state.tensors) {
            if let tensor { entries.append((name, tensor)) }
        }
        return entries
    }

    public override func restoreParameterState(_ entries: StateDict, at index: Int) throws {
        guard !entries.isEmpty else {
            states[index] = nil
            return
        }
        let parameter = parameters[index]
        let numbers = try numberNames.map { name in
            try StateDict.scalar(of: requiredEntry(entries, name, index: index), key: "state.\(index).\(name)")
        }
        // A tensor the hyper-parameters keep must be there; one they do not is taken if present
        // (Adam's maximum from a run that had AMSGrad on).
        let tensors = try tensorNames.indices.map { slot -> Tensor? in
            let name = tensorNames[slot]
            if keepsTensor(at: slot) { return restoredCopy(try requiredEntry(entries, name, index: index), like: parameter) }
            return entries[name].map { restoredCopy($0, like: parameter) }
        }
        let state = ParameterState(numbers: numbers, tensors: tensors)
        state.step = recordsStep ? try requiredStep(entries, index: index) : 0
        states[index] = state
    }
}

/// One parameter's update at one step: what ``ElementwiseOptimizer/update(_:)`` reads to
/// compute its constants, and runs its rule over.
struct ParameterUpdate {
    let parameter: Tensor
    let gradient: Tensor
    /// The state tensors by slot; only those of ``keptSlots`` are read and written.
    let tensors: [Tensor?]
    /// The slots the hyper-parameters keep, one bit each (Adam's maximum only with AMSGrad).
    let keptSlots: UInt8
    /// The slots this step created, one bit each.
    let createdSlots: UInt8

    /// Whether this step created the tensor at `slot` (torch's "buffer is None" cases).
    func createdTensor(at slot: Int) -> Bool { createdSlots & (1 << slot) != 0 }
    /// The per-parameter numbers; the subclass may change them.
    var numbers: [Double]
    /// The parameter's step, from 1.
    let step: Int
    /// The group's learning rate.
    let learningRate: Double
    /// The group's weight decay, or the optimizer's.
    let weightDecay: Double

    /// Runs `rule` over every element of the parameter, its gradient and its state tensors:
    /// float32 eight lanes at a time, float64 four, the tail one by one; large parameters are
    /// split over the cores.
    func apply<Rule: ElementwiseRule>(_ rule: Rule) {
        switch parameter.dtype {
        case .float32: run(rule, Float.self, SIMD8<Float>.self)
        case .float64: run(rule, Double.self, SIMD4<Double>.self)
        default: fatalError("optimizer: parameters must be floating point, got \(parameter.dtype)")
        }
    }

    private func run<Rule: ElementwiseRule, T: TensorFloat & UpdateLane, V: SIMD & UpdateLane>(
        _ rule: Rule, _: T.Type, _: V.Type) where V.Scalar == T {
        let count = parameter.count
        parameter.withUnsafeMutableBufferPointer(as: T.self) { p in
            gradient.withUnsafeBufferPointer(as: T.self) { g in
                withStatePointers(tensors, kept: keptSlots, as: T.self) { s in
                    let p = p.baseAddress!, g = g.baseAddress!
                    Parallelism.forEachChunk(of: count, cost: Rule.cost) { range in
                        var i = range.lowerBound
                        let width = V.scalarCount
                        while i + width <= range.upperBound {
                            ElementwiseLanes<V>.step(rule, p, g, s, at: i)
                            i += width
                        }
                        while i < range.upperBound {
                            ElementwiseLanes<T>.step(rule, p, g, s, at: i)
                            i += 1
                        }
                    }
                }
            }
        }
    }
}

/// Calls `body` with base addresses of the kept state tensors (`nil` for another slot), three slots.
private func withStatePointers<T: TensorScalar>(
    _ tensors: [Tensor?], kept: UInt8, as _: T.Type,
    _ body: ((UnsafeMutablePointer<T>?, UnsafeMutablePointer<T>?, UnsafeMutablePointer<T>?)) -> Void) {
    func with(_ slot: Int, _ next: (UnsafeMutablePointer<T>?) -> Void) {
        guard slot < tensors.count, kept & (1 << slot) != 0, let tensor = tensors[slot] else { return next(nil) }
        tensor.withUnsafeMutableBufferPointer(as: T.self) { next($0.baseAddress!) }
    }
    with(0) { a in with(1) { b in with(2) { c in body((a, b, c)) } } }
}

/// The update of one element of a parameter, written once for every lane type: each
/// optimizer's formula, with its step's constants as stored properties (Doubles, converted to
/// the lane type where used; the conversions leave the loop once it is inlined).
protocol ElementwiseRule {
    /// The work per element relative to adding two numbers (it decides when to use several cores).
    static var cost: Int { get }
    /// Updates `parameter` from `gradient` and the state tensors' elements in `state`
    /// (slots in the order of the optimizer's ``ElementwiseOptimizer/tensorNames``; a slot the
    /// optimizer does not keep holds zero and is not written back).
    func update<L: UpdateLane>(_ parameter: inout L, _ gradient: L, _ state: inout ElementwiseLanes<L>)
}

extension ElementwiseRule {
    static var cost: Int { 8 }
}

/// The number of state tensors an ``ElementwiseRule`` may have.
let elementwiseStateCapacity = 3

/// The state elements an ``ElementwiseRule`` reads and writes: up to three lanes.
struct ElementwiseLanes<L: UpdateLane> {
    var first: L, second: L, third: L

    /// Loads the lanes at `index`, applies `rule`, stores them back.
    @inline(__always)
    static func step<Rule: ElementwiseRule, T>(
        _ rule: Rule, _ p: UnsafeMutablePointer<T>, _ g: UnsafePointer<T>,
        _ s: (UnsafeMutablePointer<T>?, UnsafeMutablePointer<T>?, UnsafeMutablePointer<T>?), at index: Int) {
        var parameter = L.load(UnsafePointer(p), index)
        var lanes = ElementwiseLanes(first: s.0.map { L.load(UnsafePointer($0), index) } ?? L(0),
                                     second: s.1.map { L.load(UnsafePointer($0), index) } ?? L(0),
                                     third: s.2.map { L.load(UnsafePointer($0), index) } ?? L(0))
        rule.update(&parameter, L.load(g, index), &lanes)
        parameter.store(p, index)
        if let a = s.0 { lanes.first.store(a, index) }
        if let b = s.1 { lanes.second.store(b, index) }
        if let c = s.2 { lanes.third.store(c, index) }
    }
}

/// A value an ``ElementwiseRule`` computes with: one `Float` or `Double`, or a SIMD vector of
/// them. It has the arithmetic of the update formulas and nothing more.
protocol UpdateLane {
    /// `value` in every lane.
    init(_ value: Double)
    static func + (lhs: Self, rhs: Self) -> Self
    static func - (lhs: Self, rhs: Self) -> Self
    static func * (lhs: Self, rhs: Self) -> Self
    static func / (lhs: Self, rhs: Self) -> Self
    static prefix func - (operand: Self) -> Self
    func squareRoot() -> Self
    /// `a` where `a > b`, else `b` (so `b` where either is NaN).
    static func lanewiseMaximum(_ a: Self, _ b: Self) -> Self
    /// `a` where `a < b`, else `b`.
    static func lanewiseMinimum(_ a: Self, _ b: Self) -> Self
    /// The lanewise absolute value.
    var lanewiseMagnitude: Self { get }
    /// `positive` where `value` > 0, `negative` where it is < 0, `zero` elsewhere (0 and NaN).
    static func choose(bySignOf value: Self, positive: Self, zero: Self, negative: Self) -> Self
    /// The lanes at `pointer + index` (`Self` must be made of `T`s).
    static func load<T>(_ pointer: UnsafePointer<T>, _ index: Int) -> Self
    /// Stores the lanes at `pointer + index`.
    func store<T>(_ pointer: UnsafeMutablePointer<T>, _ index: Int)
}

extension UpdateLane {
    static func += (lhs: inout Self, rhs: Self) { lhs = lhs + rhs }
    static func -= (lhs: inout Self, rhs: Self) { lhs = lhs - rhs }
    static func *= (lhs: inout Self, rhs: Self) { lhs = lhs * rhs }
}

extension UpdateLane where Self: BinaryFloatingPoint {
    @inline(__always) static func lanewiseMaximum(_ a: Self, _ b: Self) -> Self { a > b ? a : b }
    @inline(__always) static func lanewiseMinimum(_ a: Self, _ b: Self) -> Self { a < b ? a : b }
    @inline(__always) var lanewiseMagnitude: Self { magnitude }
    @inline(__always) static func choose(bySignOf value: Self, positive: Self, zero: Self, negative: Self) -> Self {
        value > 0 ? positive : value < 0 ? negative : zero
    }
    @inline(__always) static func load<T>(_ pointer: UnsafePointer<T>, _ index: Int) -> Self {
        UnsafeRawPointer(pointer).load(fromByteOffset: index * MemoryLayout<Self>.stride, as: Self.self)
    }
    @inline(__always) func store<T>(_ pointer: UnsafeMutablePointer<T>, _ index: Int) {
        UnsafeMutableRawPointer(pointer).storeBytes(of: self, toByteOffset: index * MemoryLayout<Self>.stride, as: Self.self)
    }
}

extension Float: UpdateLane {}

extension Double: UpdateLane {}

extension UpdateLane where Self: SIMD, Self.Scalar: BinaryFloatingPoint {
    @inline(__always) init(_ value: Double) { self.init(repeating: Scalar(value)) }
    @inline(__always) static func lanewiseMaximum(_ a: Self, _ b: Self) -> Self { a.replacing(with: b, where: .!(a .> b)) }
    @inline(__always) static func lanewiseMinimum(_ a: Self, _ b: Self) -> Self { a.replacing(with: b, where: .!(a .< b)) }
    @inline(__always) var lanewiseMagnitude: Self { replacing(with: -self, where: self .< 0) }
    @inline(__always) static func choose(bySignOf value: Self, positive: Self, zero: Self, negative: Self) -> Self {
        zero.replacing(with: positive, where: value .> 0).replacing(with: negative, where: value .< 0)
    }
    @inline(__always) static func load<T>(_ pointer: UnsafePointer<T>, _ index: Int) -> Self {
        UnsafeRawPointer(pointer).loadUnaligned(fromByteOffset: index * MemoryLayout<Scalar>.stride, as: Self.self)
    }
    @inline(__always) func store<T>(_ pointer: UnsafeMutablePointer<T>, _ index: Int) {
        UnsafeMutableRawPointer(pointer).storeBytes(of: self, toByteOffset: index * MemoryLayout<Scalar>.stride, as: Self.self)
    }
}

extension SIMD8: UpdateLane where Scalar == Float {}
extension SIMD4: UpdateLane where Scalar == Double {}
