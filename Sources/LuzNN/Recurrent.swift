import LuzTensor

/// What a recurrent layer carries from one step to the next: the hidden state, and for an LSTM
/// the cell state.
///
/// For a layer, both are `[layers · directions, batch, size]` (torch's `h_n` and `c_n`,
/// without the batch dimension for an unbatched input); for a cell, `[batch, size]`.
public struct RecurrentState {
    /// The hidden state h (of the projection size for an LSTM with a projection).
    public var hidden: Tensor
    /// The cell state c of an LSTM; `nil` for RNN and GRU.
    public var cell: Tensor?

    /// A state of `hidden` and, for an LSTM, `cell`.
    public init(hidden: Tensor, cell: Tensor? = nil) {
        self.hidden = hidden
        self.cell = cell
    }
}

/// The composed (step by step, through tensor ops) form of each recurrence, for the cells and
/// LSTM's projection; whole sequences otherwise run fused in ``Tensor/recurrentSequence(_:inputGates:hidden:cell:hiddenWeight:hiddenBias:lengths:reverse:)``.
extension RecurrentCellKind {
    /// One step from the input's projection `inputGates` (`x·W_ihᵀ + b_ih`, `[batch, gates·hidden]`)
    /// and the state; returns the new hidden and cell states (the hidden one before an LSTM's
    /// projection).
    func step(inputGates: Tensor, hidden: Tensor, cell: Tensor?, weightHH: Tensor, biasHH: Tensor?) -> (hidden: Tensor, cell: Tensor?) {
        let hiddenGates = linear(hidden, weight: weightHH, bias: biasHH)
        switch self {
        case .tanh:
            return ((inputGates + hiddenGates).tanh(), nil)
        case .relu:
            return ((inputGates + hiddenGates).relu(), nil)
        case .lstm:
            // torch's gate order: input, forget, cell candidate, output.
            let gates = (inputGates + hiddenGates).chunked(4, dim: -1)
            let input = gates[0].sigmoid(), forget = gates[1].sigmoid()
            let candidate = gates[2].tanh(), output = gates[3].sigmoid()
            let newCell = forget * cell! + input * candidate
            return (output * newCell.tanh(), newCell)
        case .gru:
            // torch's gate order: reset, update, new; the reset gate scales the hidden
            // projection including its bias.
            let x = inputGates.chunked(3, dim: -1), h = hiddenGates.chunked(3, dim: -1)
            let reset = (x[0] + h[0]).sigmoid(), update = (x[1] + h[1]).sigmoid()
            let candidate = (x[2] + reset * h[2]).tanh()
            return (candidate + update * (hidden - candidate), nil)
        }
    }
}

/// The weights of one direction of one layer, under torch's names.
struct RecurrentWeights {
    var inputWeight: Tensor
    var hiddenWeight: Tensor
    var inputBias: Tensor?
    var hiddenBias: Tensor?
    /// An LSTM's projection `[projectionSize, hiddenSize]` (torch's `weight_hr`).
    var projectionWeight: Tensor?
}

/// The base of ``RNN``, ``LSTM`` and ``GRU``: a stack of recurrent layers, each in one or both
/// directions, over a sequence (torch's `nn.RNNBase`).
///
/// Call it with the sequence, and optionally the initial state and the length of each
/// sequence of a padded batch:
///
/// ```swift
/// let lstm = LSTM(inputSize: 8, hiddenSize: 32, layerCount: 2, batchFirst: true)
/// let (output, state) = lstm(tokens, lengths: [12, 7, 9])   // output [3, 12, 32]
/// let sequence = lstm(tokens)                                // the output alone, as in Sequential
/// ```
///
/// - The input is `[time, batch, inputSize]`, `[batch, time, inputSize]` with `batchFirst`, or
///   `[time, inputSize]` unbatched; the output has `directions · outputSize` features per step
///   (`outputSize` is the hidden size, or an LSTM's projection size).
/// - With `lengths` (torch's `pack_padded_sequence` and `pad_packed_sequence`): the steps past a
///   sequence's length are zeros in the output and leave its state alone, so its final state is
///   the one at its own last step, the reverse direction starts at its own end, and the padding
///   receives no gradient. Lengths may come in any order (torch's `enforce_sorted=False`).
/// - Parameters are torch's, under torch's names (`weight_ih_l0`, `weight_hh_l1_reverse`,
///   `bias_ih_l0`, `weight_hr_l0`) and initialized as torch does, each from U(−1/√h, 1/√h): a
///   state dict saved from PyTorch loads by name.
/// - Dropout, when set, applies to the output of each layer but the last, in training mode.
public class RecurrentLayer: Module {
    /// The number of features of each input step.
    public let inputSize: Int
    /// The size h of the hidden state.
    public let hiddenSize: Int
    /// The number of stacked layers.
    public let layerCount: Int
    /// Whether the layers have biases.
    public let hasBias: Bool
    /// Whether inputs and outputs are `[batch, time, features]` instead of `[time, batch, features]`.
    public let batchFirst: Bool
    /// The dropout probability between layers.
    public let dropoutProbability: Double
    /// Whether each layer also runs backwards over the sequence.
    public let bidirectional: Bool
    /// The LSTM projection size (0 without a projection).
    public let projectionSize: Int
    /// The source of the dropout masks; the default generator when `nil`.
    public var generator: Generator?

    let recurrence: RecurrentCellKind
    /// The weights by layer, then direction.
    var weights: [[RecurrentWeights]]

    /// The number of directions: 2 when bidirectional, else 1.
    public var directionCount: Int { bidirectional ? 2 : 1 }
    /// The size of each direction's output and hidden state: the projection size, or the hidden size.
    public var outputSize: Int { projectionSize > 0 ? projectionSize : hiddenSize }

    init(_ recurrence: RecurrentCellKind, inputSize: Int, hiddenSize: Int, layerCount: Int, bias: Bool, batchFirst: Bool,
         dropout: Double, bidirectional: Bool, projectionSize: Int, dtype: DType, generator: Generator?) {
        let name = "\(Self.self)"
        require(inputSize > 0 && hiddenSize > 0, "\(name): inputSize and hiddenSize must be positive, got \(inputSize) and \(hiddenSize)")
        require(layerCount >= 1, "\(name): layerCount must be at least 1, got \(layerCount)")
        require((0...1).contains(dropout), "\(name): dropout must be in [0, 1], got \(dropout)")
        require(projectionSize >= 0 && projectionSize < hiddenSize || projectionSize == 0,
                "\(name): projectionSize must be in [0, hiddenSize), got \(projectionSize) for hiddenSize \(hiddenSize)")
        require(dtype.isFloatingPoint, "\(name): parameters must be floating point, got \(dtype)")
        self.recurrence = recurrence
        self.inputSize = inputSize
        self.hiddenSize = hiddenSize
        self.layerCount = layerCount
        self.hasBias = bias
        self.batchFirst = batchFirst
        self.dropoutProbability = dropout
        self.bidirectional = bidirectional
        self.projectionSize = projectionSize
        self.generator = generator
        let directions = bidirectional ? 2 : 1
        let outputSize = projectionSize > 0 ? projectionSize : hiddenSize
        let gates = recurrence.gateCount * hiddenSize
        func parameter(_ shape: [Int]) -> Tensor {
            recurrentParameter(shape, hiddenSize: hiddenSize, dtype: dtype, generator: generator)
        }
        // torch draws the parameters in the order of its names: per layer and direction,
        // weight_ih, weight_hh, bias_ih, bias_hh, weight_hr.
        weights = (0..<layerCount).map { layer in
            (0..<directions).map { _ in
                RecurrentWeights(inputWeight: parameter([gates, layer == 0 ? inputSize : directions * outputSize]),
                                 hiddenWeight: parameter([gates, outputSize]),
                                 inputBias: bias ? parameter([gates]) : nil,
                                 hiddenBias: bias ? parameter([gates]) : nil,
                                 projectionWeight: projectionSize > 0 ? parameter([projectionSize, hiddenSize]) : nil)
            }
        }
        super.init()
    }

    override func discoverMembers() -> Members {
        var members = Members()
        for (layer, directions) in weights.enumerated() {
            for (direction, weights) in directions.enumerated() {
                let suffix = "_l\(layer)" + (direction == 1 ? "_reverse" : "")
                members.parameters.append(("weight_ih" + suffix, weights.inputWeight))
                members.parameters.append(("weight_hh" + suffix, weights.hiddenWeight))
                if let bias = weights.inputBias { members.parameters.append(("bias_ih" + suffix, bias)) }
                if let bias = weights.hiddenBias { members.parameters.append(("bias_hh" + suffix, bias)) }
                if let projection = weights.projectionWeight { members.parameters.append(("weight_hr" + suffix, projection)) }
            }
        }
        return members
    }

    public override var ownGenerators: [(name: String, generator: Generator)] {
        generator.map { [("generator", $0)] } ?? []
    }

    /// The output sequence only (for use inside ``Sequential``).
    public override func forward(_ input: Tensor) -> Tensor {
        self(input).output
    }

    /// Runs the layers over `input`.
    ///
    /// - Parameters:
    ///   - state: the initial state, `[layers · directions, batch, size]` (zeros when `nil`).
    ///   - lengths: the length of each sequence of the batch, each in 1…time, for a padded batch.
    /// - Returns: the last layer's output at every step, and the final state of every layer and
    ///   direction (torch's `output, h_n` or `output, (h_n, c_n)`).
    public func callAsFunction(_ input: Tensor, state: RecurrentState? = nil,
                               lengths: [Int]? = nil) -> (output: Tensor, state: RecurrentState) {
        let name = typeName
        let unbatched = input.rank == 2
        require(input.rank == 3 || unbatched,
                "\(name): input must be [time, batch, \(inputSize)]\(batchFirst ? " (batch first)" : "") or [time, \(inputSize)], got \(input.shape)")
        require(input.shape.last == inputSize, "\(name): input \(input.shape) has \(input.shape.last ?? 0) features, the layer expects \(inputSize)")
        var sequence = unbatched ? input.unsqueezed(dim: 1) : (batchFirst ? input.transposed(0, 1) : input)
        let steps = sequence.shape[0], batch = sequence.shape[1]
        let dtype = weights[0][0].inputWeight.dtype
        if sequence.dtype != dtype { sequence = sequence.to(dtype) }
        let stateCount = layerCount * directionCount
        func initial(_ given: Tensor?, size: Int, label: String) -> Tensor {
            guard var given else { return Tensor.zeros([stateCount, batch, size], dtype: dtype) }
            if unbatched {
                require(given.shape == [stateCount, size], "\(name): \(label) must be [\(stateCount), \(size)] for an unbatched input, got \(given.shape)")
                given = given.unsqueezed(dim: 1)
            }
            require(given.shape == [stateCount, batch, size], "\(name): \(label) must be [\(stateCount), \(batch), \(size)], got \(given.shape)")
            return given.dtype == dtype ? given : given.to(dtype)
        }
        let hidden0 = initial(state?.hidden, size: outputSize, label: "the initial hidden state")
        let cell0 = recurrence == .lstm ? initial(state?.cell, size: hiddenSize, label: "the initial cell state") : nil
        require(recurrence == .lstm || state?.cell == nil, "\(name): only an LSTM has a cell state")
        if let lengths {
            require(lengths.count == batch, "\(name): \(lengths.count) lengths for a batch of \(batch)")
            require(lengths.allSatisfy { (1...steps).contains($0) },
                    "\(name): every length must be in 1...\(steps) (the input's time steps), got \(lengths)")
        }
        // The step-by-step path (LSTM's projection) masks the padding with tensors.
        let masks = projectionSize > 0 ? lengths.map { stepMasks($0, steps: steps, batch: batch, dtype: dtype) } : nil

        var finalHidden: [Tensor] = [], finalCell: [Tensor] = []
        for layer in 0..<layerCount {
            var outputs: [Tensor] = []
            for direction in 0..<directionCount {
                let index = layer * directionCount + direction
                let run = runDirection(sequence, weights: weights[layer][direction], reverse: direction == 1,
                                       hidden: hidden0[index], cell: cell0?[index], lengths: lengths, masks: masks)
                outputs.append(run.output)
                finalHidden.append(run.hidden)
                if let cell = run.cell { finalCell.append(cell) }
            }
            sequence = outputs.count == 1 ? outputs[0] : Tensor.cat(outputs, dim: -1)
            if layer < layerCount - 1 && dropoutProbability > 0 {
                sequence = dropout(sequence, probability: dropoutProbability, training: isTraining, generator: generator)
            }
        }
        var hidden = Tensor.stack(finalHidden), cell = finalCell.isEmpty ? nil : Tensor.stack(finalCell)
        var output = sequence
        if unbatched {
            output = output.squeezed(dim: 1)
            hidden = hidden.squeezed(dim: 1)
            cell = cell?.squeezed(dim: 1)
        } else if batchFirst {
            output = output.transposed(0, 1)
        }
        return (output, RecurrentState(hidden: hidden, cell: cell))
    }

    /// One direction of one layer over the whole sequence: the input projection of every step
    /// as one product, then one step at a time.
    private func runDirection(_ sequence: Tensor, weights: RecurrentWeights, reverse: Bool, hidden: Tensor, cell: Tensor?,
                              lengths: [Int]?, masks: [(keep: Tensor, update: Tensor)]?) -> (output: Tensor, hidden: Tensor, cell: Tensor?) {
        let steps = sequence.shape[0]
        let inputGates = linear(sequence, weight: weights.inputWeight, bias: weights.inputBias)
        if weights.projectionWeight == nil {
            // One fused operation for the whole direction (all but LSTM's projection).
            return Tensor.recurrentSequence(recurrence, inputGates: inputGates, hidden: hidden, cell: cell,
                                            hiddenWeight: weights.hiddenWeight, hiddenBias: weights.hiddenBias,
                                            lengths: lengths, reverse: reverse)
        }
        var hidden = hidden, cell = cell
        var outputs = [Tensor?](repeating: nil, count: steps)
        for t in reverse ? Array((0..<steps).reversed()) : Array(0..<steps) {
            var (newHidden, newCell) = recurrence.step(inputGates: inputGates[t], hidden: hidden, cell: cell,
                                                       weightHH: weights.hiddenWeight, biasHH: weights.hiddenBias)
            if let projection = weights.projectionWeight { newHidden = linear(newHidden, weight: projection) }
            if let masks {
                // Past a sequence's end its state stays as it was and its output is zero.
                let (update, keep) = (masks[t].update, masks[t].keep)
                outputs[t] = newHidden * update
                hidden = outputs[t]! + hidden * keep
                if let newCell, let old = cell { cell = newCell * update + old * keep }
            } else {
                outputs[t] = newHidden
                hidden = newHidden
                cell = newCell
            }
        }
        return (Tensor.stack(outputs.map { $0! }), hidden, cell)
    }

    /// For each step, `[batch, 1]` masks: 1 where the step is within the sequence (`update`), and
    /// its complement (`keep`).
    private func stepMasks(_ lengths: [Int], steps: Int, batch: Int, dtype: DType) -> [(keep: Tensor, update: Tensor)] {
        return (0..<steps).map { t in
            let update = lengths.map { t < $0 ? 1.0 : 0.0 }
            return (Tensor(update.map { 1 - $0 }, shape: [batch, 1]).to(dtype), Tensor(update, shape: [batch, 1]).to(dtype))
        }
    }

    public override var configurationDescription: String {
        var parts = ["inputSize: \(inputSize)", "hiddenSize: \(hiddenSize)"]
        if layerCount != 1 { parts.append("layerCount: \(layerCount)") }
        if !hasBias { parts.append("bias: false") }
        if batchFirst { parts.append("batchFirst: true") }
        if dropoutProbability > 0 { parts.append("dropout: \(dropoutProbability)") }
        if bidirectional { parts.append("bidirectional: true") }
        if projectionSize > 0 { parts.append("projectionSize: \(projectionSize)") }
        if recurrence == .relu { parts.append("nonlinearity: relu") }
        return parts.joined(separator: ", ")
    }
}

/// An Elman recurrent layer, hₜ = tanh(xₜ·W_ihᵀ + b_ih + hₜ₋₁·W_hhᵀ + b_hh), or with ReLU
/// (torch's `nn.RNN`, same options and defaults). See ``RecurrentLayer`` for inputs, outputs,
/// lengths and parameter names.
public final class RNN: RecurrentLayer {
    /// The nonlinearity of an ``RNN``.
    public enum Nonlinearity: Sendable { case tanh, relu }

    /// Creates the layers.
    ///
    /// - Parameters:
    ///   - layerCount: stacked layers (torch's `num_layers`, 1).
    ///   - nonlinearity: `.tanh` (torch's default) or `.relu`.
    ///   - dropout: the dropout probability on each layer's output but the last (0).
    ///   - generator: the source of the initial weights and the dropout masks.
    public init(inputSize: Int, hiddenSize: Int, layerCount: Int = 1, nonlinearity: Nonlinearity = .tanh, bias: Bool = true,
                batchFirst: Bool = false, dropout: Double = 0, bidirectional: Bool = false, dtype: DType = .float32,
                generator: Generator? = nil) {
        super.init(nonlinearity == .tanh ? .tanh : .relu, inputSize: inputSize, hiddenSize: hiddenSize, layerCount: layerCount,
                   bias: bias, batchFirst: batchFirst, dropout: dropout, bidirectional: bidirectional, projectionSize: 0,
                   dtype: dtype, generator: generator)
    }
}

/// A long short-term memory layer (torch's `nn.LSTM`, same options and defaults, the projection
/// `proj_size` included): gates i, f, g, o from xₜ and hₜ₋₁; cₜ = f·cₜ₋₁ + i·g;
/// hₜ = o·tanh(cₜ), then hₜ·W_hrᵀ with a projection. See ``RecurrentLayer``.
public final class LSTM: RecurrentLayer {
    /// Creates the layers.
    ///
    /// - Parameters:
    ///   - projectionSize: the size hₜ is projected to (torch's `proj_size`; 0 for none).
    ///   - generator: the source of the initial weights and the dropout masks.
    public init(inputSize: Int, hiddenSize: Int, layerCount: Int = 1, bias: Bool = true, batchFirst: Bool = false,
                dropout: Double = 0, bidirectional: Bool = false, projectionSize: Int = 0, dtype: DType = .float32,
                generator: Generator? = nil) {
        super.init(.lstm, inputSize: inputSize, hiddenSize: hiddenSize, layerCount: layerCount, bias: bias,
                   batchFirst: batchFirst, dropout: dropout, bidirectional: bidirectional, projectionSize: projectionSize,
                   dtype: dtype, generator: generator)
    }
}

/// A gated recurrent unit layer (torch's `nn.GRU`, same options and defaults): reset and update
/// gates r, z; n = tanh(W_in·xₜ + b_in + r·(W_hn·hₜ₋₁ + b_hn)); hₜ = (1 − z)·n + z·hₜ₋₁.
/// See ``RecurrentLayer``.
public final class GRU: RecurrentLayer {
    /// Creates the layers.
    ///
    /// - Parameter generator: the source of the initial weights and the dropout masks.
    public init(inputSize: Int, hiddenSize: Int, layerCount: Int = 1, bias: Bool = true, batchFirst: Bool = false,
                dropout: Double = 0, bidirectional: Bool = false, dtype: DType = .float32, generator: Generator? = nil) {
        super.init(.gru, inputSize: inputSize, hiddenSize: hiddenSize, layerCount: layerCount, bias: bias,
                   batchFirst: batchFirst, dropout: dropout, bidirectional: bidirectional, projectionSize: 0,
                   dtype: dtype, generator: generator)
    }
}

// MARK: - Cells

/// The base of ``RNNCell``, ``LSTMCell`` and ``GRUCell``: one step of a recurrence (torch's
/// `nn.RNNCellBase`), with parameters `weight_ih`, `weight_hh`, `bias_ih`, `bias_hh`
/// initialized from U(−1/√h, 1/√h).
public class RecurrentCell: Module {
    /// The number of input features.
    public let inputSize: Int
    /// The size h of the hidden state.
    public let hiddenSize: Int
    /// `[gates · h, inputSize]` (torch's `weight_ih`).
    public let inputWeight: Tensor
    /// `[gates · h, h]` (`weight_hh`).
    public let hiddenWeight: Tensor
    /// `[gates · h]` (`bias_ih`), or `nil` without biases.
    public let inputBias: Tensor?
    /// `[gates · h]` (`bias_hh`), or `nil` without biases.
    public let hiddenBias: Tensor?
    let recurrence: RecurrentCellKind

    init(_ recurrence: RecurrentCellKind, inputSize: Int, hiddenSize: Int, bias: Bool, dtype: DType, generator: Generator?) {
        require(inputSize > 0 && hiddenSize > 0,
                "\(Self.self): inputSize and hiddenSize must be positive, got \(inputSize) and \(hiddenSize)")
        self.recurrence = recurrence
        self.inputSize = inputSize
        self.hiddenSize = hiddenSize
        let gates = recurrence.gateCount * hiddenSize
        func parameter(_ shape: [Int]) -> Tensor {
            recurrentParameter(shape, hiddenSize: hiddenSize, dtype: dtype, generator: generator)
        }
        inputWeight = parameter([gates, inputSize])
        hiddenWeight = parameter([gates, hiddenSize])
        inputBias = bias ? parameter([gates]) : nil
        hiddenBias = bias ? parameter([gates]) : nil
        super.init()
    }

    override func discoverMembers() -> Members {
        var members = Members()
        members.parameters = [("weight_ih", inputWeight), ("weight_hh", hiddenWeight)]
        if let inputBias { members.parameters.append(("bias_ih", inputBias)) }
        if let hiddenBias { members.parameters.append(("bias_hh", hiddenBias)) }
        return members
    }

    /// One step: the new state from `input` (`[batch, inputSize]` or `[inputSize]`) and `state`
    /// (zeros when `nil`).
    func advance(_ input: Tensor, _ state: RecurrentState?) -> RecurrentState {
        let name = typeName
        require(input.rank == 1 || input.rank == 2, "\(name): input must be [batch, \(inputSize)] or [\(inputSize)], got \(input.shape)")
        require(input.shape.last == inputSize, "\(name): input \(input.shape) has \(input.shape.last ?? 0) features, the cell expects \(inputSize)")
        let unbatched = input.rank == 1
        let x = unbatched ? input.unsqueezed(dim: 0) : input
        let batch = x.shape[0], dtype = inputWeight.dtype
        func given(_ tensor: Tensor?, _ label: String) -> Tensor {
            guard let tensor else { return Tensor.zeros([batch, hiddenSize], dtype: dtype) }
            let expected = unbatched ? [hiddenSize] : [batch, hiddenSize]
            require(tensor.shape == expected, "\(name): \(label) must be \(expected), got \(tensor.shape)")
            return unbatched ? tensor.unsqueezed(dim: 0) : tensor
        }
        let hidden = given(state?.hidden, "the hidden state")
        let cell = recurrence == .lstm ? given(state?.cell, "the cell state") : nil
        let (newHidden, newCell) = recurrence.step(inputGates: linear(x.to(dtype), weight: inputWeight, bias: inputBias),
                                                   hidden: hidden, cell: cell, weightHH: hiddenWeight, biasHH: hiddenBias)
        return RecurrentState(hidden: unbatched ? newHidden.squeezed(dim: 0) : newHidden,
                              cell: newCell.map { unbatched ? $0.squeezed(dim: 0) : $0 })
    }

    /// The new hidden state from the input alone (a zero state).
    public override func forward(_ input: Tensor) -> Tensor { advance(input, nil).hidden }

    public override var configurationDescription: String {
        "inputSize: \(inputSize), hiddenSize: \(hiddenSize)" + (inputBias == nil ? ", bias: false" : "")
            + (recurrence == .relu ? ", nonlinearity: relu" : "")
    }
}

/// One Elman step, h' = tanh(x·W_ihᵀ + b_ih + h·W_hhᵀ + b_hh) or with ReLU (torch's `nn.RNNCell`).
public final class RNNCell: RecurrentCell {
    /// Creates the cell.
    public init(inputSize: Int, hiddenSize: Int, bias: Bool = true, nonlinearity: RNN.Nonlinearity = .tanh,
                dtype: DType = .float32, generator: Generator? = nil) {
        super.init(nonlinearity == .tanh ? .tanh : .relu, inputSize: inputSize, hiddenSize: hiddenSize, bias: bias,
                   dtype: dtype, generator: generator)
    }

    /// The next hidden state (torch's `cell(input, hx)`).
    public func callAsFunction(_ input: Tensor, hidden: Tensor?) -> Tensor {
        advance(input, hidden.map { RecurrentState(hidden: $0) }).hidden
    }
}

/// One LSTM step (torch's `nn.LSTMCell`): returns the next hidden and cell states.
public final class LSTMCell: RecurrentCell {
    /// Creates the cell.
    public init(inputSize: Int, hiddenSize: Int, bias: Bool = true, dtype: DType = .float32, generator: Generator? = nil) {
        super.init(.lstm, inputSize: inputSize, hiddenSize: hiddenSize, bias: bias, dtype: dtype, generator: generator)
    }

    /// The next state (torch's `cell(input, (h, c))`); a zero state when `state` is `nil`.
    public func callAsFunction(_ input: Tensor, state: RecurrentState?) -> RecurrentState {
        require(state == nil || state?.cell != nil, "LSTMCell: the state needs a cell state")
        return advance(input, state)
    }
}

/// One GRU step (torch's `nn.GRUCell`).
public final class GRUCell: RecurrentCell {
    /// Creates the cell.
    public init(inputSize: Int, hiddenSize: Int, bias: Bool = true, dtype: DType = .float32, generator: Generator? = nil) {
        super.init(.gru, inputSize: inputSize, hiddenSize: hiddenSize, bias: bias, dtype: dtype, generator: generator)
    }

    /// The next hidden state (torch's `cell(input, hx)`).
    public func callAsFunction(_ input: Tensor, hidden: Tensor?) -> Tensor {
        advance(input, hidden.map { RecurrentState(hidden: $0) }).hidden
    }
}

/// A parameter of a recurrent layer or cell, drawn as torch does from U(−1/√h, 1/√h).
private func recurrentParameter(_ shape: [Int], hiddenSize: Int, dtype: DType, generator: Generator?) -> Tensor {
    let bound = 1 / Double(hiddenSize).squareRoot()
    let tensor = Tensor.zeros(shape, dtype: dtype, requiresGrad: true)
    Initializer.uniform(tensor, low: -bound, high: bound, generator: generator)
    return tensor
}
