import Foundation
import LuzNN
import LuzOptim
import LuzTestSupport
import Testing

// Fixtures: Tests/Fixtures/lbfgs_fixture.py, torch 2.15 in float64, 5 calls of step(closure)
// each; the parameters (flattened) after every call, the losses step returned, and torch's
// func_evals and n_iter at the end.

/// Rosenbrock's function (1 − x)² + 100(y − x²)² at `parameter`, its gradient set by hand.
private func rosenbrock(_ parameter: Tensor) -> Double {
    let p = parameter.doubles, (x, y) = (p[0], p[1])
    parameter.grad = Tensor([-2 * (1 - x) - 400 * x * (y - x * x), 200 * (y - x * x)])
    return (1 - x) * (1 - x) + 100 * (y - x * x) * (y - x * x)
}

private let designMatrix = Tensor([[1.0, 0.5, -0.3], [0.2, -1.0, 0.8], [0.7, 0.1, 0.4],
                                   [-0.6, 0.9, 0.2], [0.3, 0.3, -1.1], [1.2, -0.4, 0.6]])
private let observations = Tensor([0.5, -1.0, 0.8, 0.3, -0.7, 1.4])

/// mean((A·w + c − b)²), backward through autograd.
private func leastSquares(_ w: Tensor, _ c: Tensor) -> Double {
    let loss = mseLoss(designMatrix.matmul(w.reshaped([3, 1])).reshaped([6]) + c, observations)
    loss.backward()
    return loss.item
}

/// The problem's parameters at their starting values.
private func startingParameters(leastSquares: Bool) -> [Tensor] {
    leastSquares ? [Tensor([0.1, -0.2, 0.3]).requiringGrad(), Tensor([0.0]).requiringGrad()]
        : [Tensor([-1.5, 2.0]).requiringGrad()]
}

/// The closure of the problem over `parameters`, clearing the gradients first as torch's does.
private func closure(_ optimizer: Optimizer, _ parameters: [Tensor]) -> () -> Double {
    {
        optimizer.zeroGrad()
        return parameters.count == 1 ? rosenbrock(parameters[0]) : leastSquares(parameters[0], parameters[1])
    }
}

/// `steps` calls of `optimizer.step(closure)`: the flattened parameters after each and the losses.
private func run(_ optimizer: LBFGS, _ parameters: [Tensor], steps: Int = 5) -> (values: [Double], losses: [Double]) {
    var values: [Double] = [], losses: [Double] = []
    let evaluate = closure(optimizer, parameters)
    for _ in 0..<steps {
        losses.append(optimizer.step(evaluate))
        values += parameters.flatMap(\.doubles)
    }
    return (values, losses)
}

private func expectClose(_ actual: [Double], _ expected: [Double], _ what: String,
                         sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(actual.count == expected.count, "\(what): \(actual.count) values, torch \(expected.count)", sourceLocation: sourceLocation)
    for (i, (a, e)) in zip(actual, expected).enumerated() {
        #expect(abs(a - e) <= 1e-10 * max(1, abs(e)), "\(what) \(i): \(a), torch \(e)", sourceLocation: sourceLocation)
    }
}

@Suite("LBFGS against torch, resuming from a state dict, refusing damaged state")
struct LBFGSTests {
    /// `LBFGS([p], lr=0.1, max_iter=4)` on Rosenbrock.
    @Test func rosenbrockFixedSteps() {
        let parameters = startingParameters(leastSquares: false)
        let optimizer = LBFGS(parameters, learningRate: 0.1, maxIterations: 4)
        let result = run(optimizer, parameters)
        expectClose(result.values, [-1.423156809660145, 2.024258365262721, -1.4211667260968082, 2.022723080348671, -1.4183210800696051, 2.0188340299125658, -1.4135324313132862, 2.0102200401934156, -1.4043758711403123, 1.990984189901701], "parameter")
        expectClose(result.losses, [12.5, 5.871813679613652, 5.8629532525005885, 5.853459901341655, 5.839891585657574], "loss")
        #expect(optimizer.functionEvaluations == 20 && optimizer.iterations == 20)
    }

    /// `LBFGS([p], max_iter=4, line_search_fn="strong_wolfe")` on Rosenbrock.
    @Test func rosenbrockStrongWolfe() {
        let parameters = startingParameters(leastSquares: false)
        let optimizer = LBFGS(parameters, maxIterations: 4, lineSearch: .strongWolfe)
        let result = run(optimizer, parameters)
        expectClose(result.values, [-1.4201365045001701, 2.023710425144713, -1.3536960480482616, 1.7977327472576075, -0.9629098925080423, 0.9154087570838956, -0.6185532109209871, 0.3714004173460915, -0.29264469783424096, 0.041974001734501026], "parameter")
        expectClose(result.losses, [12.5, 5.861853124644989, 5.660712537635332, 3.8669078852383314, 2.6322756550100475], "loss")
        #expect(optimizer.functionEvaluations == 26 && optimizer.iterations == 17)
    }

    /// `LBFGS([w, c], lr=0.5, max_iter=4, history_size=2)` on least squares: the history is
    /// full after two iterations and drops its oldest pair from then on.
    @Test func leastSquaresFixedSteps() {
        let parameters = startingParameters(leastSquares: true)
        let optimizer = LBFGS(parameters, learningRate: 0.5, maxIterations: 4, historySize: 2)
        let result = run(optimizer, parameters)
        expectClose(result.values, [0.8886096093313044, 0.9614915895181135, 0.7254016216014256, -0.36796534613915255, 1.1230075049192971, 1.271860484647012, 1.0073259672596093, -0.48925130641198994, 1.1218041489011175, 1.2837341031131464, 1.0178821125505513, -0.49401460548841, 1.1214701278381594, 1.2843747699367902, 1.0185376838983884, -0.494154016694194, 1.1214487291365742, 1.2843863724076148, 1.0185518871604176, -0.4941585972200391], "parameter")
        expectClose(result.losses, [0.7105, 0.12629877622654662, 0.08939785762463853, 0.08933109526641851, 0.08933079928508275], "loss")
        #expect(optimizer.functionEvaluations == 18 && optimizer.iterations == 18)
    }

    /// `LBFGS([w, c], max_iter=4, history_size=2, line_search_fn="strong_wolfe")`, stepped
    /// inside a no-grad scope: the closure's backward still finds a graph.
    @Test func leastSquaresStrongWolfeInsideNoGrad() {
        let parameters = startingParameters(leastSquares: true)
        let optimizer = LBFGS(parameters, maxIterations: 4, historySize: 2, lineSearch: .strongWolfe)
        let result = withNoGrad { run(optimizer, parameters) }
        expectClose(result.values, [1.1379873344551674, 1.2676359748336659, 1.040923177748998, -0.4988780441440682, 1.1223168576535727, 1.2850799624259461, 1.0188877391111353, -0.49469730839179743, 1.1214207485178438, 1.2844427793819153, 1.0185858016612883, -0.49413761014410146, 1.12140277204061, 1.284386469560359, 1.0185854874219713, -0.49414390835363897, 1.12140277204061, 1.284386469560359, 1.0185854874219713, -0.49414390835363897], "parameter")
        expectClose(result.losses, [0.7105, 0.09000749500463252, 0.08933106797395785, 0.08933079876021403, 0.08933079817958232], "loss")
        #expect(optimizer.functionEvaluations == 18 && optimizer.iterations == 13)
    }

    /// Two steps, the state saved to a file, loaded into a new optimizer over new parameters
    /// with the same values: the next three steps match the uninterrupted run bit for bit.
    @Test(arguments: [false, true], [false, true])
    func resumesFromAStateDictExactly(leastSquares: Bool, lineSearch: Bool) throws {
        func make(_ parameters: [Tensor]) -> LBFGS {
            LBFGS(parameters, learningRate: lineSearch ? 1 : 0.2, maxIterations: 3, historySize: 4,
                  lineSearch: lineSearch ? .strongWolfe : nil)
        }
        let parameters = startingParameters(leastSquares: leastSquares)
        let reference = make(parameters)
        let uninterrupted = run(reference, parameters)

        let first = startingParameters(leastSquares: leastSquares)
        let interrupted = make(first)
        let before = run(interrupted, first, steps: 2)
        let folder = try TemporaryFolder("luz-lbfgs")
        defer { folder.remove() }
        try interrupted.stateDict().save(to: folder.path + "/optimizer.safetensors")

        let second = first.map { Tensor($0.doubles, shape: $0.shape).requiringGrad() }
        let resumed = make(second)
        // Different settings in the new optimizer: the saved hyper-parameters win.
        resumed.historySize = 50
        try resumed.loadStateDict(StateDict(contentsOf: folder.path + "/optimizer.safetensors"))
        #expect(resumed.historySize == 4 && resumed.iterations == interrupted.iterations)
        let after = run(resumed, second, steps: 3)
        #expect((before.values + after.values).map(\.bitPattern) == uninterrupted.values.map(\.bitPattern))
        #expect((before.losses + after.losses).map(\.bitPattern) == uninterrupted.losses.map(\.bitPattern))
        #expect(resumed.functionEvaluations == reference.functionEvaluations && resumed.iterations == reference.iterations)
        #expect(resumed.stateDict().map(\.tensor.doubles) == reference.stateDict().map(\.tensor.doubles))
    }

    /// A state dict with an entry that does not fit is refused, naming it, and changes nothing.
    @Test func damagedStateThrows() throws {
        let parameters = startingParameters(leastSquares: true)
        let optimizer = LBFGS(parameters, maxIterations: 3, historySize: 2)
        _ = run(optimizer, parameters, steps: 2)
        let good = optimizer.stateDict()
        #expect(good["state.0.old_dirs"]?.shape == [2, 4] && good["state.0.ro"]?.shape == [2])
        #expect(good["state.1.d"] == nil)

        func damaged(_ change: (inout StateDict) -> Void) -> StateDict {
            var state = good
            change(&state)
            return state
        }
        let cases: [(String, StateDict)] = [
            ("old_dirs of the wrong shape", damaged { $0["state.0.old_dirs"] = Tensor([Double](repeating: 0, count: 6), shape: [2, 3]) }),
            ("a history count the tensors do not have", damaged { $0["state.0.history_count"] = Tensor(scalar: Int64(3)) }),
            ("a direction of the wrong length", damaged { $0["state.0.d"] = Tensor([1.0, 2, 3]) }),
            ("a NaN step length", damaged { $0["state.0.t"] = Tensor(scalar: Double.nan) }),
            ("a negative iteration count", damaged { $0["state.0.n_iter"] = Tensor(scalar: Int64(-1)) }),
            ("iteration state with no iteration", damaged { $0["state.0.n_iter"] = Tensor(scalar: Int64(0)) }),
            ("a missing gradient", damaged { $0["state.0.prev_flat_grad"] = nil }),
            ("state under the second parameter", damaged { $0["state.1.d"] = Tensor([1.0]) }),
            ("an unknown entry", damaged { $0["state.0.al"] = Tensor([1.0, 2]) }),
        ]
        let iterations = optimizer.iterations, evaluations = optimizer.functionEvaluations
        for (what, state) in cases {
            #expect(throws: StateDictError.self, "\(what)") { try optimizer.loadStateDict(state) }
        }
        #expect(optimizer.iterations == iterations && optimizer.functionEvaluations == evaluations)
        try optimizer.loadStateDict(good)
        #expect(optimizer.stateDict().map(\.key) == good.map(\.key))
    }

    /// The hyper-parameters by name, as a training loop sets them; lineSearch is a flag.
    @Test func hyperparametersByName() throws {
        let optimizer = LBFGS([Tensor([1.0]).requiringGrad()])
        #expect(optimizer.learningRate == 1 && optimizer.maxIterations == 20 && optimizer.maxEvaluations == 25)
        #expect(optimizer.gradientTolerance == 1e-7 && optimizer.changeTolerance == 1e-9 && optimizer.historySize == 100)
        #expect(optimizer.lineSearch == nil && optimizer.hyperparameters["lineSearch"] == 0)
        try optimizer.setHyperparameter("lineSearch", to: 1)
        try optimizer.setHyperparameter("maxIterations", to: 7)
        #expect(optimizer.lineSearch == .strongWolfe && optimizer.maxIterations == 7)
        #expect(throws: StateDictError.self) { try optimizer.setHyperparameter("max_iter", to: 7) }
        #expect(LBFGS(groups: [ParameterGroup([Tensor([1.0]).requiringGrad()])]).learningRate == 1)
    }

    /// Misuse stops with a message: step() without a closure, several parameter groups.
    @Test func misuseStopsWithAMessage() async {
        let plain = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            LBFGS([Tensor([1.0]).requiringGrad()]).step()
        }
        let plainMessage = String(decoding: plain?.standardErrorContent ?? [], as: UTF8.self)
        #expect(plainMessage.contains("step() needs a closure"))
        let groups = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = LBFGS(groups: [ParameterGroup([Tensor([1.0]).requiringGrad()]), ParameterGroup([Tensor([2.0]).requiringGrad()])])
        }
        let groupsMessage = String(decoding: groups?.standardErrorContent ?? [], as: UTF8.self)
        #expect(groupsMessage.contains("one parameter group only"))
    }
}
