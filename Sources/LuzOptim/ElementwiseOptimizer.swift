import LuzSerialization
import LuzTensor

/// The base of optimizers whose update is elementwise (NAdam, RAdam, Adamax, Adadelta, ASGD,
/// Rprop): the per-parameter state (a step count, a few numbers, a few tensors of the
/// parameter's shape, under torch's names), its creation, saving and restoring, and the loop
/// over the parameters live here; a subclass declares its state and writes one generic
/// ``update(_:gradient:state:numbers:step:learningRate:weightDecay:)`` that serves both float
/// types.
public class ElementwiseOptimizer: Optimizer {
    /// The state of one parameter.
    final class ParameterState {
        var step = 0
        var numbers: [Double]
        let tensors: [Tensor]
        init(numbers: [Double], tensors: [Tensor]) {
            self.numbers = numbers
            self.tensors = tensors
        }
    }

    /// torch's names of the per-parameter tensors, in the order ``update`` receives them.
    let tensorNames: [String]
    /// torch's names of the per-parameter numbers, in the order ``update`` receives them.
    let numberNames: [String]
    private var states: [ParameterState?] = []

    init(groups: [ParameterGroup], defaultLearningRate: Double, tensors: [String], numbers: [String] = []) {
        tensorNames = tensors
        numberNames = numbers
        super.init(groups: groups, defaultLearningRate: defaultLearningRate)
        states = Array(repeating: nil, count: parameters.count)
    }

    /// Creates the optimizer with the subclass's defaults (each subclass overrides it).
    public required convenience init(groups: [ParameterGroup]) {
        fatalError("\(Self.self) must override init(groups:)")
    }

    /// The starting value of the tensor `name` (0 unless a subclass says otherwise).
    func initialValue(ofTensor name: String, learningRate: Double) -> Double { 0 }

    /// The starting values of the numbers.
    func initialNumbers(learningRate: Double) -> [Double] { [] }

    /// Updates one parameter in place at its `step` (from 1). `state` holds the tensors of
    /// ``tensorNames``, `numbers` those of ``numberNames``.
    func update<T: TensorFloat>(_ parameter: UnsafeMutableBufferPointer<T>, gradient: UnsafeBufferPointer<T>,
                                state: [UnsafeMutableBufferPointer<T>], numbers: inout [Double], step: Int,
                                learningRate: Double, weightDecay: Double) {
        fatalError("\(Self.self) must override update")
    }

    /// The optimizer-wide weight decay a group without its own uses.
    var defaultWeightDecay: Double { 0 }

    public override func step() {
        stepCount += 1
        forEachParameterWithGradient { group, parameter, gradient, index in
            let state = states[index] ?? ParameterState(
                numbers: initialNumbers(learningRate: group.learningRate),
                tensors: tensorNames.map { stateTensor(like: parameter, value: initialValue(ofTensor: $0, learningRate: group.learningRate)) })
            states[index] = state
            state.step += 1
            let learningRate = group.learningRate, decay = group.weightDecay ?? defaultWeightDecay
            func run<T: TensorFloat>(_: T.Type) {
                parameter.withUnsafeMutableBufferPointer(as: T.self) { p in
                    gradient.withUnsafeBufferPointer(as: T.self) { g in
                        withMutableBuffers(state.tensors[...], as: T.self, []) { buffers in
                            update(p, gradient: g, state: buffers, numbers: &state.numbers, step: state.step,
                                   learningRate: learningRate, weightDecay: decay)
                        }
                    }
                }
            }
            dispatchFloat(parameter.dtype, float: { run(Float.self) }, double: { run(Double.self) })
        }
    }

    override var scalarStateNames: Set<String> { Set(["step"] + numberNames) }

    public override func parameterState(at index: Int) -> [(name: String, tensor: Tensor)] {
        guard let state = states[index] else { return [] }
        var entries: [(name: String, tensor: Tensor)] = [("step", Tensor(scalar: Int64(state.step)))]
        for (name, value) in zip(numberNames, state.numbers) { entries.append((name, Tensor(scalar: value))) }
        for (name, tensor) in zip(tensorNames, state.tensors) { entries.append((name, tensor)) }
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
        let tensors = try tensorNames.map { restoredCopy(try requiredEntry(entries, $0, index: index), like: parameter) }
        let state = ParameterState(numbers: numbers, tensors: tensors)
        state.step = try requiredStep(entries, index: index)
        states[index] = state
    }
}

/// Calls `body` with the elements of every tensor of `tensors` for writing.
private func withMutableBuffers<T: TensorScalar>(_ tensors: ArraySlice<Tensor>, as: T.Type,
                                                 _ done: [UnsafeMutableBufferPointer<T>],
                                                 _ body: ([UnsafeMutableBufferPointer<T>]) -> Void) {
    guard let first = tensors.first else { return body(done) }
    first.withUnsafeMutableBufferPointer(as: T.self) { buffer in
        withMutableBuffers(tensors.dropFirst(), as: T.self, done + [buffer], body)
    }
}
