import Foundation
@testable import Luz
import Testing

@Suite("fit with LBFGS")
struct LBFGSFitTests {
    /// y = 3x₁ − 2x₂ + 0.5 + noise (σ = 0.01): LBFGS through the optimizer type (its
    /// defaults, strong Wolfe by name) fits it to the noise level in three epochs; the loop
    /// re-evaluates the batch for every iteration but fires the batch events once.
    @Test func fitsALinearRegressionInFewEpochs() throws {
        let generator = Generator(seed: 5)
        let x = Tensor.randn([128, 2], generator: generator)
        let y = x.matmul(Tensor([[Float(3)], [-2]])) + 0.5 + Tensor.randn([128, 1], generator: generator) * 0.01
        let recorder = EventRecorder()
        let fitted = try Sequential { Linear(2, 1) }
            .setup(loss: MSELoss(), optimizer: LBFGS.self)
            .optimizerHyperparameters(["lineSearch": 1])
            .fit(inputs: x, targets: y, epochs: 3, callbacks: [recorder], verbose: false, seed: 1)
        let firstLoss = try #require(fitted.records.value(set: "train", metric: "loss", epoch: 1))
        let lastLoss = try #require(fitted.records.value(set: "train", metric: "loss", epoch: 3))
        #expect(lastLoss < 2e-4, "train loss \(lastLoss) after 3 epochs")
        #expect(lastLoss < firstLoss)
        let evaluation = try fitted.evaluate(inputs: x, targets: y)
        #expect(try #require(evaluation["loss"]) < 2e-4)
        let weights = fitted.model.parameters().flatMap(\.doubles)   // weight [1, 2], then bias [1]
        for (found, expected) in zip(weights, [3.0, -2, 0.5]) { #expect(abs(found - expected) < 0.01, "\(weights)") }

        let optimizer = try #require(fitted.optimizers.first?.optimizer as? LBFGS)
        #expect(optimizer.lineSearch == .strongWolfe)
        let batches = 3 * (128 / 32)
        #expect(recorder.events.filter { $0 == Event.trainBatchBegin.rawValue }.count == batches)
        #expect(recorder.events.filter { $0 == Event.trainBatchAfterStep.rawValue }.count == batches)
        #expect(optimizer.stepCount == batches && optimizer.functionEvaluations > 2 * batches)
    }

    /// The learning-rate finder steps LBFGS with a closure too (in a child process: it seeds the
    /// default generator).
    @Test func learningRateFinderStepsLBFGS() async {
        await #expect(processExitsWith: .success) {
            let generator = Generator(seed: 8)
            let x = Tensor.randn([64, 2], generator: generator)
            let y = x.matmul(Tensor([[Float(1)], [2]]))
            let setup = TrainingSetup(model: { _ in Sequential { Linear(2, 1) } }, loss: MSELoss(), optimizer: LBFGS.self)
            guard let result = try? setup.learningRateFinder(.tensors(x, y, batchSize: 16), steps: 8, startLearningRate: 1e-3,
                                                             endLearningRate: 1, seed: 2) else { exit(1) }
            exit(result.records.count >= 2 && result.records.allSatisfy { $0.loss.isFinite } ? 0 : 2)
        }
    }

    /// An optimizer that steps once per batch is unchanged by the closure path: SGD's
    /// step(closure) evaluates once and steps from those gradients.
    @Test func stepWithAClosureEvaluatesOnceForOtherOptimizers() {
        let parameter = Tensor([1.0, -2]).requiringGrad()
        let optimizer = SGD([parameter], learningRate: 0.1)
        var evaluations = 0
        let loss = withNoGrad {
            optimizer.step {
                evaluations += 1
                optimizer.zeroGrad()
                let loss = (parameter * parameter).sum()
                loss.backward()
                return loss.item
            }
        }
        #expect(evaluations == 1 && loss == 5 && !optimizer.reevaluatesLoss)
        #expect(parameter.doubles == [0.8, -1.6])
    }
}
