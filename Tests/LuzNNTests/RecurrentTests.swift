import Foundation
import LuzNN
import LuzSerialization
import LuzTestSupport
import Testing

/// PyTorch's outputs, final states and gradients for fixed weights and inputs, written by
/// `Fixtures/make_recurrent_fixtures.py` (torch 2.15, float64).
private let fixtures: StateDict = {
    let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Fixtures/recurrent.safetensors").path
    return try! StateDict(contentsOf: path)
}()

/// One case's options, as the fixture script recorded them.
private struct CaseOptions: Decodable {
    let kind: String
    let inputs: Int
    let hidden: Int
    let layers: Int?
    let bias: Bool
    let batch_first: Bool?
    let bidirectional: Bool?
    let proj: Int?
    let lengths: [Int]?
    let with_state: Bool?
}

private func options(_ name: String) -> CaseOptions {
    try! JSONDecoder().decode(CaseOptions.self, from: Data(fixtures.metadata[name]!.utf8))
}

private func fixture(_ name: String) -> Tensor { fixtures[name]! }

/// The case's layer, with torch's weights loaded by name.
private func layer(_ name: String) throws -> RecurrentLayer {
    let o = options(name)
    let layers = o.layers ?? 1, batchFirst = o.batch_first ?? false, bidirectional = o.bidirectional ?? false
    let module: RecurrentLayer = switch o.kind {
    case "lstm": LSTM(inputSize: o.inputs, hiddenSize: o.hidden, layerCount: layers, bias: o.bias, batchFirst: batchFirst,
                      bidirectional: bidirectional, projectionSize: o.proj ?? 0, dtype: .float64)
    case "gru": GRU(inputSize: o.inputs, hiddenSize: o.hidden, layerCount: layers, bias: o.bias, batchFirst: batchFirst,
                    bidirectional: bidirectional, dtype: .float64)
    default: RNN(inputSize: o.inputs, hiddenSize: o.hidden, layerCount: layers, nonlinearity: o.kind == "relu" ? .relu : .tanh,
                 bias: o.bias, batchFirst: batchFirst, bidirectional: bidirectional, dtype: .float64)
    }
    try module.loadStateDict(torchParameters(name))
    return module
}

/// The case's parameters under torch's names.
private func torchParameters(_ name: String) -> StateDict {
    var state = StateDict()
    for (key, tensor) in fixtures where key.hasPrefix(name + ".param.") {
        state[String(key.dropFirst(name.count + ".param.".count))] = tensor
    }
    return state
}

private let layerCases = ["rnn_tanh", "rnn_relu", "rnn_lengths", "lstm", "lstm_lengths", "lstm_proj", "gru", "gru_lengths"]

@Suite("RNN, LSTM and GRU")
struct RecurrentTests {
    /// Outputs, final states and every gradient equal torch's for the same weights (one and
    /// two layers, both directions, padded batches, batch first, LSTM with a projection).
    @Test(arguments: layerCases)
    func layersMatchTorch(name: String) throws {
        let o = options(name)
        let module = try layer(name)
        let input = fixture("\(name).input").cloned().requiringGrad()
        let withState = o.with_state ?? true
        let hidden0 = withState ? fixture("\(name).h_0").cloned().requiringGrad() : nil
        let cell0 = withState && o.kind == "lstm" ? fixture("\(name).c_0").cloned().requiringGrad() : nil
        let state = hidden0.map { RecurrentState(hidden: $0, cell: cell0) }
        let (output, final) = module(input, state: state, lengths: o.lengths)
        assertClose(output, fixture("\(name).output"), rtol: 1e-10, atol: 1e-12, "\(name) output")
        assertClose(final.hidden, fixture("\(name).h_n"), rtol: 1e-10, atol: 1e-12, "\(name) h_n")
        var loss = (output * fixture("\(name).weights_output")).sum() + (final.hidden * fixture("\(name).weights_h")).sum()
        if o.kind == "lstm" {
            let cell = try #require(final.cell)
            assertClose(cell, fixture("\(name).c_n"), rtol: 1e-10, atol: 1e-12, "\(name) c_n")
            loss = loss + (cell * fixture("\(name).weights_c")).sum()
        } else {
            #expect(final.cell == nil)
        }
        loss.backward()
        assertClose(try #require(input.grad), fixture("\(name).grad.input"), rtol: 1e-9, atol: 1e-12, "\(name) input gradient")
        if let hidden0 { assertClose(try #require(hidden0.grad), fixture("\(name).grad.h_0"), rtol: 1e-9, atol: 1e-12, "\(name) h_0 gradient") }
        if let cell0 { assertClose(try #require(cell0.grad), fixture("\(name).grad.c_0"), rtol: 1e-9, atol: 1e-12, "\(name) c_0 gradient") }
        for (key, parameter) in module.namedParameters() {
            assertClose(try #require(parameter.grad), fixture("\(name).grad.\(key)"), rtol: 1e-9, atol: 1e-12, "\(name) gradient of \(key)")
        }
    }

    /// The parameters' names and shapes are torch's, in torch's order.
    @Test func parameterNamesAreTorchs() throws {
        let lstm = LSTM(inputSize: 3, hiddenSize: 5, layerCount: 2, bidirectional: true, projectionSize: 3)
        #expect(Set(lstm.namedParameters().map(\.name)) == Set(torchParameters("lstm_proj").keys))
        // torch's registration order: per layer, per direction, ih, hh, biases, projection.
        let order = ["l0", "l0_reverse", "l1", "l1_reverse"].flatMap { suffix in
            ["weight_ih", "weight_hh", "bias_ih", "bias_hh", "weight_hr"].map { "\($0)_\(suffix)" }
        }
        #expect(lstm.namedParameters().map(\.name) == order)
        #expect(lstm.namedParameters().map(\.parameter.shape)[5...6] == [[20, 3], [20, 3]])   // the reverse direction of layer 0
        #expect(lstm.namedParameters().first { $0.name == "weight_ih_l1" }?.parameter.shape == [20, 6])
        let gru = GRU(inputSize: 3, hiddenSize: 4, bias: false)
        #expect(gru.namedParameters().map(\.name) == ["weight_ih_l0", "weight_hh_l0"])
    }

    /// Parameters start in U(−1/√h, 1/√h), as torch's.
    @Test func initializationIsTorchs() {
        let rnn = RNN(inputSize: 30, hiddenSize: 25, layerCount: 2, generator: Generator(seed: 3))
        for (name, parameter) in rnn.namedParameters() {
            let values = parameter.doubles
            #expect(values.allSatisfy { abs($0) <= 0.2 }, "\(name)")
            #expect(values.max()! > 0.15 && values.min()! < -0.15, "\(name) spans the range")
        }
    }

    /// Cells agree with torch's for a given state.
    @Test(arguments: ["cell_rnn", "cell_rnn_relu", "cell_lstm", "cell_gru"])
    func cellsMatchTorch(name: String) throws {
        let o = options(name)
        let input = fixture("\(name).input"), hidden = fixture("\(name).h_0")
        switch o.kind {
        case "lstm":
            let cell = LSTMCell(inputSize: o.inputs, hiddenSize: o.hidden, bias: o.bias, dtype: .float64)
            try cell.loadStateDict(torchParameters(name))
            let next = cell(input, state: RecurrentState(hidden: hidden, cell: fixture("\(name).c_0")))
            assertClose(next.hidden, fixture("\(name).h_1"), rtol: 1e-12, atol: 1e-14, name)
            assertClose(try #require(next.cell), fixture("\(name).c_1"), rtol: 1e-12, atol: 1e-14, name)
        case "gru":
            let cell = GRUCell(inputSize: o.inputs, hiddenSize: o.hidden, bias: o.bias, dtype: .float64)
            try cell.loadStateDict(torchParameters(name))
            assertClose(cell(input, hidden: hidden), fixture("\(name).h_1"), rtol: 1e-12, atol: 1e-14, name)
        default:
            let cell = RNNCell(inputSize: o.inputs, hiddenSize: o.hidden, bias: o.bias,
                               nonlinearity: o.kind == "relu" ? .relu : .tanh, dtype: .float64)
            try cell.loadStateDict(torchParameters(name))
            assertClose(cell(input, hidden: hidden), fixture("\(name).h_1"), rtol: 1e-12, atol: 1e-14, name)
        }
    }

    /// Finite differences in Double agree with autograd, through the input, the initial state
    /// and every weight, with and without lengths.
    @Test(arguments: ["lstm", "gru", "rnn"], [false, true])
    func gradientsMatchFiniteDifferences(kind: String, padded: Bool) {
        let generator = Generator(seed: 11)
        let module: RecurrentLayer = switch kind {
        case "lstm": LSTM(inputSize: 2, hiddenSize: 3, layerCount: 2, bidirectional: true, projectionSize: 2, dtype: .float64,
                          generator: generator)
        case "gru": GRU(inputSize: 2, hiddenSize: 3, layerCount: 2, bidirectional: true, dtype: .float64, generator: generator)
        default: RNN(inputSize: 2, hiddenSize: 3, layerCount: 2, bidirectional: true, dtype: .float64, generator: generator)
        }
        let input = gradInput([4, 2, 2], seed: 5)
        let lengths = padded ? [4, 2] : nil
        checkGradients([input] + module.parameters(), "\(kind) padded \(padded)") { inputs in
            let (output, state) = module(inputs[0], lengths: lengths)
            return Tensor.cat([output.reshaped([-1]), state.hidden.reshaped([-1])] + (state.cell.map { [$0.reshaped([-1])] } ?? []))
        }
    }

    /// Padding gets no gradient and changes nothing: a padded sequence's output and final
    /// state are those of the sequence alone.
    @Test func paddingIsIgnored() throws {
        let lstm = LSTM(inputSize: 2, hiddenSize: 3, bidirectional: true, dtype: .float64, generator: Generator(seed: 4))
        let input = gradInput([5, 2, 2], seed: 8)
        let (output, state) = lstm(input, lengths: [5, 3])
        (output.sum() + state.hidden.sum() + state.cell!.sum()).backward()
        let gradient = try #require(input.grad)
        func second(_ t: Tensor) -> Tensor { t.sliced(dim: 1, start: 1, end: 2) }
        #expect(second(gradient.sliced(dim: 0, start: 3)).doubles.allSatisfy { $0 == 0 }, "no gradient at the padding")
        #expect(second(gradient.sliced(dim: 0, end: 3)).doubles.allSatisfy { $0 != 0 })
        #expect(second(output.sliced(dim: 0, start: 3)).doubles.allSatisfy { $0 == 0 }, "zero output at the padding")
        let alone = withNoGrad { lstm(second(input.sliced(dim: 0, end: 3)), state: nil) }
        assertClose(second(output.sliced(dim: 0, end: 3)), alone.output, rtol: 1e-12, atol: 1e-14, "the short sequence alone")
        assertClose(second(state.hidden), alone.state.hidden, rtol: 1e-12, atol: 1e-14, "its final state")
        assertClose(second(state.cell!), alone.state.cell!, rtol: 1e-12, atol: 1e-14, "its final cell state")
    }

    /// An unbatched sequence gives the batched result without the batch dimension; batch first
    /// transposes inputs and outputs only.
    @Test func unbatchedAndBatchFirstAgreeWithTheDefaultLayout() {
        let gru = GRU(inputSize: 2, hiddenSize: 3, layerCount: 2, dtype: .float64, generator: Generator(seed: 6))
        let input = gradInput([4, 1, 2], seed: 9)
        let batched = gru(input, state: nil)
        let unbatched = gru(input.squeezed(dim: 1), state: nil)
        assertClose(unbatched.output, batched.output.squeezed(dim: 1), rtol: 0, atol: 0, "output")
        #expect(unbatched.state.hidden.shape == [2, 3])
        let first = GRU(inputSize: 2, hiddenSize: 3, layerCount: 2, batchFirst: true, dtype: .float64)
        try? first.loadStateDict(gru.stateDict())
        let transposed = first(input.transposed(0, 1), state: nil)
        assertClose(transposed.output, batched.output.transposed(0, 1), rtol: 0, atol: 0, "batch first")
    }

    /// A wrong feature count or state shape stops with a message naming the shapes, in every build.
    @Test func aWrongShapeNamesIt() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = LSTM(inputSize: 3, hiddenSize: 4, layerCount: 2)(Tensor.zeros([5, 2, 3]),
                                                                  state: RecurrentState(hidden: Tensor.zeros([1, 2, 4]), cell: Tensor.zeros([1, 2, 4])))
        }
        let text = String(decoding: result?.standardErrorContent ?? [], as: UTF8.self)
        #expect(text.contains("LSTM: the initial hidden state must be [2, 2, 4], got [1, 2, 4]"), "\(text)")
    }

    /// The float32 kernels (eight-lane sigmoid and tanh) agree with the float64 ones, forward
    /// and backward, to float32's precision.
    @Test(arguments: ["lstm", "gru", "rnn"])
    func float32AgreesWithFloat64(kind: String) throws {
        func make(_ dtype: DType) -> RecurrentLayer {
            let generator = Generator(seed: 21)
            return switch kind {
            case "lstm": LSTM(inputSize: 5, hiddenSize: 19, layerCount: 2, bidirectional: true, dtype: dtype, generator: generator)
            case "gru": GRU(inputSize: 5, hiddenSize: 19, layerCount: 2, bidirectional: true, dtype: dtype, generator: generator)
            default: RNN(inputSize: 5, hiddenSize: 19, layerCount: 2, bidirectional: true, dtype: dtype, generator: generator)
            }
        }
        let wide = make(.float64), narrow = make(.float32)
        try narrow.loadStateDict(wide.stateDict())
        let input = Tensor.uniform([7, 3, 5], low: -3, high: 3, dtype: .float64, generator: Generator(seed: 2))
        let wideInput = input.cloned().requiringGrad(), narrowInput = input.to(.float32).requiringGrad()
        let (a, aState) = wide(wideInput, state: nil, lengths: [7, 4, 2])
        let (b, bState) = narrow(narrowInput, state: nil, lengths: [7, 4, 2])
        assertClose(b.to(.float64), a, rtol: 1e-5, atol: 1e-6, "\(kind) output")
        assertClose(bState.hidden.to(.float64), aState.hidden, rtol: 1e-5, atol: 1e-6, "\(kind) final state")
        let weights = Tensor.uniform(a.shape, low: -1, high: 1, dtype: .float64, generator: Generator(seed: 3))
        (a * weights).sum().backward()
        (b * weights.to(.float32)).sum().backward()
        assertClose(try #require(narrowInput.grad).to(.float64), try #require(wideInput.grad), rtol: 1e-4, atol: 1e-5, "\(kind) input gradient")
        for ((name, w), (_, n)) in zip(wide.namedParameters(), narrow.namedParameters()) {
            assertClose(try #require(n.grad).to(.float64), try #require(w.grad), rtol: 1e-4, atol: 1e-5, "\(kind) gradient of \(name)")
        }
    }
}
