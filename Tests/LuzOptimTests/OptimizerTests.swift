import Foundation
import LuzNN
import LuzOptim
import LuzTestSupport
import Testing

/// The test problem: loss = ½·Σ cᵢ·θᵢ², whose gradient is gᵢ = cᵢ·θᵢ, so that each expected
/// trajectory can be written out with plain Doubles from torch's documented update rules.
private let curvature = [1.0, 3.0]
private let start = [1.0, -2.0]

/// Runs `steps` optimizer steps on the test problem and returns θ after each.
private func trajectory(_ steps: Int, _ makeOptimizer: ([Tensor]) -> Optimizer) -> [[Double]] {
    let theta = Tensor(start).requiringGrad()
    let optimizer = makeOptimizer([theta])
    let c = Tensor(curvature)
    var result: [[Double]] = []
    for _ in 0..<steps {
        optimizer.zeroGrad()
        ((theta * theta * c).sum() * 0.5).backward()
        optimizer.step()
        result.append(theta.doubles)
    }
    return result
}

private func expectTrajectory(_ actual: [[Double]], _ expected: [[Double]], tolerance: Double = 1e-12,
                              sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(actual.count == expected.count, sourceLocation: sourceLocation)
    for (step, (a, e)) in zip(actual, expected).enumerated() {
        for i in a.indices {
            #expect(abs(a[i] - e[i]) <= tolerance * max(1, abs(e[i])), "step \(step + 1), element \(i): \(a[i]) vs \(e[i])",
                    sourceLocation: sourceLocation)
        }
    }
}

@Suite("Optimizers: first steps against torch's update rules")
struct OptimizerStepTests {
    @Test func sgdWithMomentumDampeningAndWeightDecay() {
        let lr = 0.1, mu = 0.9, tau = 0.1, lambda = 0.01
        var theta = start, buffer = [0.0, 0.0]
        var expected: [[Double]] = []
        for t in 1...3 {
            for i in 0..<2 {
                let g = curvature[i] * theta[i] + lambda * theta[i]
                buffer[i] = t == 1 ? g : mu * buffer[i] + (1 - tau) * g
                theta[i] -= lr * buffer[i]
            }
            expected.append(theta)
        }
        expectTrajectory(trajectory(3) { SGD($0, learningRate: lr, momentum: mu, dampening: tau, weightDecay: lambda) }, expected)
    }

    @Test func sgdNesterovAndPlain() {
        let lr = 0.05, mu = 0.8
        var theta = start, buffer = [0.0, 0.0]
        var expected: [[Double]] = []
        for t in 1...3 {
            for i in 0..<2 {
                let g = curvature[i] * theta[i]
                buffer[i] = t == 1 ? g : mu * buffer[i] + g
                theta[i] -= lr * (g + mu * buffer[i])
            }
            expected.append(theta)
        }
        expectTrajectory(trajectory(3) { SGD($0, learningRate: lr, momentum: mu, nesterov: true) }, expected)
        // Plain SGD with torch's default learning rate 1e-3: θ ← θ − γ·g.
        let plain = trajectory(2) { SGD($0) }
        expectTrajectory(plain, [[1 - 1e-3, -2 + 2 * 3e-3], [(1 - 1e-3) * (1 - 1e-3), -2 * (1 - 3e-3) * (1 - 3e-3)]])
    }

    /// float32 runs eight lanes at a time with a scalar tail; float64 runs the scalar loop: the
    /// two must take the same steps.
    @Test(arguments: [false, true])
    func adamFloat32LanesMatchTheScalarUpdate(decoupled: Bool) {
        let values = (0..<21).map { Double($0) / 7 - 1.3 }
        let grads = (0..<21).map { sin(Double($0)) }
        func run(_ dtype: DType) -> [Double] {
            let theta = Tensor(values).to(dtype).requiringGrad()
            let optimizer: Optimizer = decoupled
                ? AdamW([theta], learningRate: 0.05, weightDecay: 0.1)
                : Adam([theta], learningRate: 0.05, weightDecay: 0.1)
            for step in 1...4 {
                theta.grad = Tensor(grads.map { $0 * Double(step) }).to(dtype)
                optimizer.step()
            }
            return theta.to(.float64).doubles
        }
        let lanes = run(.float32), scalar = run(.float64)
        for (a, b) in zip(lanes, scalar) { #expect(abs(a - b) < 1e-5, "float32 \(a) vs float64 \(b)") }
    }

    @Test func adamWithWeightDecay() {
        let lr = 0.1, b1 = 0.9, b2 = 0.999, eps = 1e-8, lambda = 0.1
        var theta = start, m = [0.0, 0.0], v = [0.0, 0.0]
        var expected: [[Double]] = []
        for t in 1...3 {
            for i in 0..<2 {
                let g = curvature[i] * theta[i] + lambda * theta[i]
                m[i] = b1 * m[i] + (1 - b1) * g
                v[i] = b2 * v[i] + (1 - b2) * g * g
                let mHat = m[i] / (1 - pow(b1, Double(t)))
                let vHat = v[i] / (1 - pow(b2, Double(t)))
                theta[i] -= lr * mHat / (vHat.squareRoot() + eps)
            }
            expected.append(theta)
        }
        expectTrajectory(trajectory(3) { Adam($0, learningRate: lr, weightDecay: lambda) }, expected)
    }

    @Test func adamAMSGradKeepsTheLargestSecondMoment() {
        // A large step makes the gradient shrink, so v decreases and the maximum matters.
        let lr = 0.5, b1 = 0.5, b2 = 0.6, eps = 1e-8
        var theta = start, m = [0.0, 0.0], v = [0.0, 0.0], vMax = [0.0, 0.0]
        var expected: [[Double]] = []
        for t in 1...3 {
            for i in 0..<2 {
                let g = curvature[i] * theta[i]
                m[i] = b1 * m[i] + (1 - b1) * g
                v[i] = b2 * v[i] + (1 - b2) * g * g
                vMax[i] = max(vMax[i], v[i])
                let denominator = vMax[i].squareRoot() / (1 - pow(b2, Double(t))).squareRoot() + eps
                theta[i] -= lr / (1 - pow(b1, Double(t))) * m[i] / denominator
            }
            expected.append(theta)
        }
        let actual = trajectory(3) { Adam($0, learningRate: lr, betas: (b1, b2), amsgrad: true) }
        expectTrajectory(actual, expected)
        let withoutMaximum = trajectory(3) { Adam($0, learningRate: lr, betas: (b1, b2)) }
        #expect(withoutMaximum[2] != actual[2])
    }

    @Test func adamWDecouplesWeightDecay() {
        let lr = 0.1, b1 = 0.9, b2 = 0.999, eps = 1e-8, lambda = 0.5
        var theta = start, m = [0.0, 0.0], v = [0.0, 0.0]
        var expected: [[Double]] = []
        for t in 1...3 {
            for i in 0..<2 {
                let g = curvature[i] * theta[i]           // the gradient at the old θ, no decay in it
                theta[i] *= 1 - lr * lambda
                m[i] = b1 * m[i] + (1 - b1) * g
                v[i] = b2 * v[i] + (1 - b2) * g * g
                let mHat = m[i] / (1 - pow(b1, Double(t))), vHat = v[i] / (1 - pow(b2, Double(t)))
                theta[i] -= lr * mHat / (vHat.squareRoot() + eps)
            }
            expected.append(theta)
        }
        expectTrajectory(trajectory(3) { AdamW($0, learningRate: lr, weightDecay: lambda) }, expected)
        #expect(AdamW.withDefaults([Tensor.zeros([1], requiresGrad: true)]).weightDecay == 1e-2)
    }

    @Test func rmspropCenteredWithMomentum() {
        let lr = 0.01, alpha = 0.9, eps = 1e-8, mu = 0.5, lambda = 0.1
        var theta = start, v = [0.0, 0.0], gAvg = [0.0, 0.0], buffer = [0.0, 0.0]
        var expected: [[Double]] = []
        for _ in 1...3 {
            for i in 0..<2 {
                let g = curvature[i] * theta[i] + lambda * theta[i]
                v[i] = alpha * v[i] + (1 - alpha) * g * g
                gAvg[i] = alpha * gAvg[i] + (1 - alpha) * g
                let denominator = (v[i] - gAvg[i] * gAvg[i]).squareRoot() + eps
                buffer[i] = mu * buffer[i] + g / denominator
                theta[i] -= lr * buffer[i]
            }
            expected.append(theta)
        }
        expectTrajectory(trajectory(3) {
            RMSprop($0, learningRate: lr, alpha: alpha, epsilon: eps, weightDecay: lambda, momentum: mu, centered: true)
        }, expected, tolerance: 1e-10)
    }

    @Test func rmspropDefaults() {
        let lr = 1e-2, alpha = 0.99, eps = 1e-8
        var theta = start, v = [0.0, 0.0]
        var expected: [[Double]] = []
        for _ in 1...3 {
            for i in 0..<2 {
                let g = curvature[i] * theta[i]
                v[i] = alpha * v[i] + (1 - alpha) * g * g
                theta[i] -= lr * g / (v[i].squareRoot() + eps)
            }
            expected.append(theta)
        }
        expectTrajectory(trajectory(3) { RMSprop.withDefaults($0) }, expected)
    }

    @Test func adagradWithDecayAndInitialAccumulator() {
        let lr = 0.1, eta = 0.1, lambda = 0.1, initial = 0.2, eps = 1e-10
        var theta = start, sum = [initial, initial]
        var expected: [[Double]] = []
        for t in 1...3 {
            let rate = lr / (1 + Double(t - 1) * eta)
            for i in 0..<2 {
                let g = curvature[i] * theta[i] + lambda * theta[i]
                sum[i] += g * g
                theta[i] -= rate * g / (sum[i].squareRoot() + eps)
            }
            expected.append(theta)
        }
        expectTrajectory(trajectory(3) {
            Adagrad($0, learningRate: lr, learningRateDecay: eta, weightDecay: lambda, initialAccumulatorValue: initial)
        }, expected)
    }

    @Test func float32ParametersFollowTheSameRule() {
        let theta = Tensor([Float(1), -2]).requiringGrad()
        let optimizer = Adam([theta], learningRate: 0.1)
        (theta * theta * Tensor([Float(1), 3])).sum().multiplyByHalf().backward()
        optimizer.step()
        // First Adam step: θ − γ·sign(g) (m̂ = g, v̂ = g²).
        assertClose(theta, [0.9, -1.9], rtol: 1e-6)
    }
}

private extension Tensor {
    func multiplyByHalf() -> Tensor { self * 0.5 }
}

@Suite("Optimizers: groups, state and convergence")
struct OptimizerBehaviourTests {
    @Test func parameterGroupsHaveTheirOwnLearningRateAndWeightDecay() {
        let a = Tensor([1.0]).requiringGrad(), b = Tensor([1.0]).requiringGrad(), c = Tensor([1.0]).requiringGrad()
        let optimizer = SGD(groups: [ParameterGroup([a], learningRate: 0.5), ParameterGroup([b]),
                                     ParameterGroup([c], weightDecay: 1)], learningRate: 0.1)
        #expect(optimizer.parameterGroups.map(\.learningRate) == [0.5, 0.1, 0.1])
        for p in [a, b, c] { (p * 2).sum().backward() }      // g = 2
        optimizer.step()
        let expectedA: Double = 1 - 0.5 * 2, expectedB: Double = 1 - 0.1 * 2, expectedC: Double = 1 - 0.1 * 3
        #expect(a.item == expectedA)
        #expect(b.item == expectedB)
        #expect(abs(c.item - expectedC) < 1e-15)
        optimizer.learningRate = 0.01
        #expect(optimizer.parameterGroups.map(\.learningRate) == [0.01, 0.01, 0.01])
    }

    @Test func parametersWithoutGradientAreSkipped() {
        let a = Tensor([1.0]).requiringGrad(), b = Tensor([1.0]).requiringGrad()
        let optimizer = Adam([a, b], learningRate: 0.1)
        (a * 3).sum().backward()
        optimizer.step()
        #expect(a.item != 1 && b.item == 1)
        optimizer.zeroGrad()
        #expect(a.grad == nil)
        optimizer.step()                                    // nothing has a gradient: nothing moves
        #expect(abs(a.item - 0.9) < 1e-8)     // 1 − 0.1·g/(|g| + ε)
    }

    @Test func hyperparametersCanBeSetByName() throws {
        let optimizer = Adam.withDefaults([Tensor.zeros([1], requiresGrad: true)])
        try optimizer.setHyperparameter("learningRate", to: 0.5)
        try optimizer.setHyperparameter("weightDecay", to: 0.25)
        try optimizer.setHyperparameter("amsgrad", to: 1)
        #expect(optimizer.learningRate == 0.5 && optimizer.weightDecay == 0.25 && optimizer.amsgrad)
        #expect(throws: StateDictError.self) { try optimizer.setHyperparameter("momentum", to: 0.9) }
        // The initializer a training loop uses with an optimizer type.
        func make<O: Optimizer>(_ type: O.Type, _ parameters: [Tensor]) -> O { O(groups: [ParameterGroup(parameters)]) }
        #expect(make(RMSprop.self, [Tensor.zeros([1], requiresGrad: true)]).learningRate == 1e-2)
        #expect(make(SGD.self, [Tensor.zeros([1], requiresGrad: true)]).learningRate == 1e-3)
    }

    @Test(arguments: ["SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "NAdam", "RAdam", "Adamax", "Adadelta", "ASGD", "Rprop"])
    func stateRestoresTrainingExactly(name: String) throws {
        func makeOptimizer(_ parameters: [Tensor]) -> Optimizer {
            switch name {
            case "NAdam": return NAdam(parameters, learningRate: 0.05, weightDecay: 0.01)
            case "RAdam": return RAdam(parameters, learningRate: 0.05)
            case "Adamax": return Adamax(parameters, learningRate: 0.05)
            case "Adadelta": return Adadelta(parameters)
            case "ASGD": return ASGD(parameters, learningRate: 0.05, averagingStart: 2)
            case "Rprop": return Rprop(parameters)
            case "SGD": return SGD(parameters, learningRate: 0.05, momentum: 0.9)
            case "Adam": return Adam(parameters, learningRate: 0.05, amsgrad: true)
            case "AdamW": return AdamW(parameters, learningRate: 0.05)
            case "RMSprop": return RMSprop(parameters, momentum: 0.5, centered: true)
            default: return Adagrad(parameters, learningRate: 0.05)
            }
        }
        let x = Tensor.randn([16, 3], generator: Generator(seed: 1)), y = Tensor.randn([16, 1], generator: Generator(seed: 2))
        func train(_ model: Module, _ optimizer: Optimizer, steps: Int) {
            for _ in 0..<steps {
                optimizer.zeroGrad()
                mseLoss(model(x), y).backward()
                optimizer.step()
            }
        }
        func makeModel() -> Sequential { Sequential { Linear(3, 4, generator: Generator(seed: 3)); Tanh(); Linear(4, 1) } }
        let model = makeModel()
        let optimizer = makeOptimizer(model.parameters())
        train(model, optimizer, steps: 3)
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("luz-optim-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try model.save(to: directory + "/model.safetensors")
        try optimizer.stateDict().save(to: directory + "/optimizer.safetensors")
        train(model, optimizer, steps: 3)

        let resumed = makeModel()
        let resumedOptimizer = makeOptimizer(resumed.parameters())
        try resumed.load(from: directory + "/model.safetensors")
        try resumedOptimizer.loadStateDict(StateDict(contentsOf: directory + "/optimizer.safetensors"))
        #expect(resumedOptimizer.stepCount == 3)
        train(resumed, resumedOptimizer, steps: 3)
        for (a, b) in zip(model.parameters(), resumed.parameters()) { #expect(a.doubles == b.doubles, "\(name)") }
    }

    @Test func loadingMismatchedOptimizerStateFails() throws {
        let p = Tensor.zeros([2], requiresGrad: true)
        let adam = Adam([p])
        (p * 2).sum().backward()
        adam.step()
        let state = adam.stateDict()
        #expect(state.keys.contains("state.0.exp_avg"))
        #expect(throws: StateDictError.self) { try SGD([p]).loadStateDict(state) }
        let other = Adam([Tensor.zeros([3], requiresGrad: true)])
        #expect(throws: StateDictError.shapeMismatch(key: "state.0.exp_avg", expected: [3], found: [2])) {
            try other.loadStateDict(state)
        }
        var missing = state
        missing["state.0.exp_avg_sq"] = nil
        #expect(throws: StateDictError.missingKey("state.0.exp_avg_sq")) { try Adam([p]).loadStateDict(missing) }
    }

    @Test(arguments: ["SGD", "Adam", "RMSprop", "Adagrad", "NAdam", "RAdam", "Adamax", "Adadelta", "ASGD", "Rprop"])
    func fitsALine(name: String) {
        // y = 3x + 2 from 64 points: a Linear(1, 1) recovers the slope and intercept.
        let x = Tensor.uniform([64, 1], low: -1, high: 1, generator: Generator(seed: 4))
        let y = x * 3 + 2
        let model = Linear(1, 1, generator: Generator(seed: 5))
        let optimizer: Optimizer
        switch name {
        case "SGD": optimizer = SGD(model.parameters(), learningRate: 0.1, momentum: 0.9)
        case "Adam": optimizer = Adam(model.parameters(), learningRate: 0.05)
        case "RMSprop": optimizer = RMSprop(model.parameters(), learningRate: 0.01)
        case "NAdam": optimizer = NAdam(model.parameters(), learningRate: 0.05)
        case "RAdam": optimizer = RAdam(model.parameters(), learningRate: 0.05)
        case "Adamax": optimizer = Adamax(model.parameters(), learningRate: 0.05)
        case "Adadelta": optimizer = Adadelta(model.parameters(), learningRate: 1, rho: 0.5)
        case "ASGD": optimizer = ASGD(model.parameters(), learningRate: 0.1)
        case "Rprop": optimizer = Rprop(model.parameters())
        default: optimizer = Adagrad(model.parameters(), learningRate: 0.5)
        }
        for _ in 0..<600 {
            optimizer.zeroGrad()
            mseLoss(model(x), y).backward()
            optimizer.step()
        }
        #expect(abs(model.weight.item - 3) < 0.02, "\(name): slope \(model.weight.item)")
        #expect(abs(model.bias!.item - 2) < 0.02, "\(name): intercept \(model.bias!.item)")
    }

    @Test func aSmallNetSeparatesTwoClasses() {
        // Two Gaussian clouds around (−1, −1) and (1, 1).
        let generator = Generator(seed: 6)
        let noise = Tensor.normal([200, 2], mean: 0, std: 0.5, generator: generator)
        let labels = Tensor((0..<200).map { Int64($0 % 2) })
        let centres = (labels.to(.float32) * 2 - 1).reshaped([200, 1])
        let x = noise + centres
        let model = Sequential { Linear(2, 8, generator: generator); ReLU(); Linear(8, 2, generator: generator) }
        let optimizer = Adam(model.parameters(), learningRate: 0.05)
        for _ in 0..<150 {
            optimizer.zeroGrad()
            crossEntropy(model(x), labels).backward()
            optimizer.step()
        }
        let accuracy = withNoGrad { (model(x).argmax(dim: 1) .== labels).to(.float64).mean().item }
        #expect(accuracy > 0.95, "accuracy \(accuracy)")
    }
}

@Suite("Gradient clipping")
struct GradientClippingTests {
    @Test func clippingByNormScalesAllGradientsTogether() {
        let a = Tensor([0.0, 0.0]).requiringGrad(), b = Tensor([0.0]).requiringGrad()
        (a * Tensor([3.0, 4.0])).sum().backward()
        (b * 12).sum().backward()
        let norm = clipGradientNorm([a, b], maximumNorm: 6.5)
        #expect(abs(norm - 13) < 1e-12)
        let scale = 6.5 / (13 + 1e-6)
        assertClose(a.grad!, [3 * scale, 4 * scale], rtol: 1e-12)
        assertClose(b.grad!, [12 * scale], rtol: 1e-12)
        // Below the limit nothing changes; the infinity norm is the largest magnitude.
        #expect(abs(clipGradientNorm([a, b], maximumNorm: 100) - 6.5) < 1e-5)
        let infinity = clipGradientNorm([a, b], maximumNorm: 1, normType: .infinity)
        #expect(abs(infinity - 12 * scale) < 1e-12)
        assertClose(b.grad!, [12 * scale / (12 * scale + 1e-6)], rtol: 1e-9)
    }

    @Test func clippingByValueLimitsEachElement() {
        let a = Tensor([0.0, 0.0, 0.0]).requiringGrad()
        (a * Tensor([-3.0, 0.5, 2.0])).sum().backward()
        clipGradientValue([a], maximumValue: 1)
        assertClose(a.grad!, [-1, 0.5, 1])
    }
}

/// An optimizer built after a child was replaced steps the new child's parameters.
@Suite struct ReplacedModuleOptimizerTests {
    private final class Model: Module {
        var fc = LuzNN.Linear(2, 1)
        override func forward(_ input: Tensor) -> Tensor { fc(input) }
    }

    @Test func sgdBuiltAfterAReplacementStepsTheNewParameters() {
        let model = Model()
        _ = model.parameters()
        let old = model.fc
        let oldWeight = old.weight.floats
        model.fc = LuzNN.Linear(2, 1)
        let before = model.fc.weight.floats
        let optimizer = SGD(model.parameters(), learningRate: 0.1)
        #expect(optimizer.parameters.count == 2)
        #expect(optimizer.parameters[0] === model.fc.weight)
        let loss = model(Tensor([[1, 2]] as [[Float]])).sum()
        loss.backward()
        optimizer.step()
        let after = model.fc.weight.floats
        // d(sum)/dw = x = [1, 2]: each weight moves by -0.1·x.
        #expect(abs(after[0] - (before[0] - 0.1)) < 1e-6 && abs(after[1] - (before[1] - 0.2)) < 1e-6)
        #expect(old.weight.floats == oldWeight)
    }
}
