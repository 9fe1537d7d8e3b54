import Foundation
import LuzOptim
import LuzSerialization
import LuzTensor
import Testing

/// Every optimizer on the elementwise base, with its options on so that each branch of its
/// rule runs.
private let elementwiseOptimizers: [(name: String, make: ([Tensor]) -> Optimizer)] = [
    ("SGD momentum, dampening, decay", { SGD($0, learningRate: 0.05, momentum: 0.9, dampening: 0.1, weightDecay: 0.01) }),
    ("SGD Nesterov", { SGD($0, learningRate: 0.05, momentum: 0.9, nesterov: true) }),
    ("Adam AMSGrad", { Adam($0, learningRate: 0.01, weightDecay: 0.01, amsgrad: true) }),
    ("AdamW", { AdamW($0, learningRate: 0.01) }),
    ("RMSprop centered, momentum", { RMSprop($0, learningRate: 0.01, weightDecay: 0.01, momentum: 0.5, centered: true) }),
    ("Adagrad", { Adagrad($0, learningRate: 0.1, learningRateDecay: 0.01, weightDecay: 0.01, initialAccumulatorValue: 0.1) }),
    ("NAdam decoupled", { NAdam($0, learningRate: 0.01, weightDecay: 0.01, decoupledWeightDecay: true) }),
    ("RAdam", { RAdam($0, learningRate: 0.01, weightDecay: 0.01) }),
    ("Adamax", { Adamax($0, learningRate: 0.01, weightDecay: 0.01) }),
    ("Adadelta", { Adadelta($0, weightDecay: 0.01) }),
    ("ASGD", { ASGD($0, learningRate: 0.01, averagingStart: 2, weightDecay: 0.01) }),
    ("Rprop", { Rprop($0, learningRate: 0.01) }),
]

/// Runs `steps` steps on the elements `start` with gradients that change sign, either as one
/// parameter or as one parameter per element.
private func run(_ make: ([Tensor]) -> Optimizer, dtype: DType, split: Bool, start: [Double], steps: Int) -> [Double] {
    let parameters = split ? start.map { Tensor([$0]).to(dtype).requiringGrad() } : [Tensor(start).to(dtype).requiringGrad()]
    let optimizer = make(parameters)
    for step in 0..<steps {
        for parameter in parameters {
            let p = parameter.doubles
            parameter.grad = Tensor(p.map { sin(3 * $0 + Double(step)) + 0.1 * $0 }).to(dtype)
        }
        withNoGrad { optimizer.step() }
    }
    return parameters.flatMap(\.doubles)
}

@Suite("The elementwise optimizer base")
struct ElementwiseBaseTests {
    /// The lanes (eight floats, four doubles) and the one-by-one tail run the same rule: an
    /// element updated inside a 37-element parameter ends bit-equal to the same element updated
    /// alone.
    @Test(arguments: elementwiseOptimizers.indices, [DType.float32, .float64])
    func lanesAndTailAgreeBitForBit(index: Int, dtype: DType) {
        let (name, make) = elementwiseOptimizers[index]
        let start = (0..<37).map { sin(Double($0)) * 2 }
        let together = run(make, dtype: dtype, split: false, start: start, steps: 7)
        let alone = run(make, dtype: dtype, split: true, start: start, steps: 7)
        #expect(together == alone, "\(name) \(dtype)")
        #expect(together != start, "\(name) moved the parameters")
    }

    /// A value out of range is refused by name, with the range.
    @Test func outOfRangeHyperparametersAreRefused() throws {
        let optimizer = Adam([Tensor([1.0]).requiringGrad()])
        #expect { try optimizer.setHyperparameter("beta1", to: 1.5) } throws: { error in
            "\(error)".contains("Adam: beta1 must be in [0, 1), got 1.5")
        }
        #expect { try optimizer.setHyperparameter("amsgrad", to: 2) } throws: { error in
            "\(error)".contains("amsgrad must be 0 or 1")
        }
        #expect { try optimizer.setHyperparameter("beta3", to: 0.5) } throws: { error in
            "\(error)".contains("Adam has no hyper-parameter 'beta3'; it has learningRate, beta1, beta2, epsilon, weightDecay, amsgrad")
        }
        #expect(optimizer.beta1 == 0.9)
        try optimizer.setHyperparameter("beta1", to: 0.5)
        #expect(optimizer.beta1 == 0.5)
    }

    /// A saved state whose hyper-parameter is out of range does not load, and changes nothing.
    @Test func aStateWithAnOutOfRangeHyperparameterDoesNotLoad() throws {
        let parameter = Tensor([1.0, 2]).requiringGrad()
        let optimizer = RMSprop([parameter], momentum: 0.5)
        parameter.grad = Tensor([0.5, -0.5])
        optimizer.step()
        var state = optimizer.stateDict()
        state["hyperparameters.momentum"] = Tensor(scalar: -1.0)
        let fresh = RMSprop([parameter], momentum: 0.5)
        #expect { try fresh.loadStateDict(state) } throws: { error in
            "\(error)".contains("'hyperparameters.momentum': RMSprop: momentum must be ≥ 0, got -1.0")
        }
        #expect(fresh.stepCount == 0)
    }

    /// Every optimizer's table names the hyper-parameters its saved state holds.
    @Test(arguments: elementwiseOptimizers.indices)
    func savedStatesHoldTheDeclaredHyperparameters(index: Int) {
        let optimizer = elementwiseOptimizers[index].make([Tensor([1.0]).requiringGrad()])
        let saved = Set(optimizer.stateDict().keys.filter { $0.hasPrefix("hyperparameters.") })
        #expect(saved == Set(type(of: optimizer).hyperparameterTable.map { "hyperparameters.\($0.name)" }))
        #expect(!saved.isEmpty)
    }

    /// The initializer's check speaks in release builds too.
    @Test func anInitializerOutOfRangeStopsWithTheMessage() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = Adam([Tensor([1.0]).requiringGrad()], betas: (0.9, 1))
        }
        let text = String(decoding: result?.standardErrorContent ?? [], as: UTF8.self)
        #expect(text.contains("Adam: beta2 must be in [0, 1), got 1.0"))
    }
}
