import Foundation
@testable import Luz
import LuzTestSupport
import Testing

@Suite("Weight averaging")
struct WeightAveragingTests {
    /// The averages follow a ← a + (1 − d)·(θ − a) after every step, from the initial weights;
    /// validation sees them, training goes on from the training weights, and the fit ends with them.
    @Test(arguments: [false, true])
    func exponentialMovingAverageFollowsItsRule(warmup: Bool) throws {
        let (x, y) = blobs(count: 64, seed: 3)
        let decay = 0.8
        var expected: [[Double]] = []
        var stepped: [[Double]] = []
        var seenInValidation: [[Double]] = []
        var trainingAfterValidation: [[Double]] = []
        var updates = 0
        let recorder = LambdaCallback(name: "recorder", weight: 60) { event, context in
            let values = context.model.parameters().map(\.doubles)
            switch event {
            case .fitBegin:
                expected = values
            case .trainBatchAfterStep:
                let d = warmup ? min(decay, Double(1 + updates) / Double(10 + updates)) : decay
                expected = zip(expected, values).map { a, v in zip(a, v).map { $0 + (1 - d) * ($1 - $0) } }
                stepped = values
                updates += 1
            case .validBegin:
                seenInValidation.append(contentsOf: [values.flatMap { $0 }, expected.flatMap { $0 }])
            case .epochBegin where context.epoch > 1:
                trainingAfterValidation.append(contentsOf: [values.flatMap { $0 }, stepped.flatMap { $0 }])
            default:
                break
            }
        }
        let setup = TrainingSetup(
            model: { _ in Sequential { Linear(2, 4, generator: Generator(seed: 1)); Tanh(); Linear(4, 2, generator: Generator(seed: 2)) } },
            loss: CrossEntropyLoss())
        let fitted = try setup.learningRate(0.05)
            .fit(.tensors(x, y, batchSize: 16, shuffle: false), epochs: 3, validData: 0.25,
                 callbacks: [ExponentialMovingAverage(decay: decay, warmup: warmup), recorder], verbose: false)
        func close(_ a: [Double], _ b: [Double]) -> Bool { zip(a, b).allSatisfy { abs($0 - $1) <= 1e-6 * max(1, abs($1)) } }
        #expect(updates == 9)
        let final = fitted.model.parameters().flatMap(\.doubles)
        #expect(close(final, expected.flatMap { $0 }), "the fit ends with the averages")
        #expect(!close(final, stepped.flatMap { $0 }))
        for pair in stride(from: 0, to: seenInValidation.count, by: 2) {
            #expect(close(seenInValidation[pair], seenInValidation[pair + 1]), "validation runs on the averages")
        }
        for pair in stride(from: 0, to: trainingAfterValidation.count, by: 2) {
            #expect(trainingAfterValidation[pair] == trainingAfterValidation[pair + 1], "training resumes from its own weights")
        }
    }

    @Test func aCheckpointWithTheWrongAveragesIsRefused() throws {
        let average = ExponentialMovingAverage()
        try average.restore(checkpointState: ["updates": Tensor(scalar: Int64(3)), "average.0": Tensor([1.0])])
        let (x, y) = blobs(count: 32, seed: 3)
        let setup = TrainingSetup(model: { _ in Linear(2, 2, generator: Generator(seed: 1)) }, loss: CrossEntropyLoss())
        #expect(throws: (any Error).self) {
            try setup.fit(.tensors(x, y, batchSize: 16), epochs: 1, callbacks: [average], verbose: false)
        }
        #expect(throws: StateDictError.self) {
            try ExponentialMovingAverage().restore(checkpointState: ["updates": Tensor(scalar: Int64(1)), "average.1": Tensor([1.0])])
        }
    }

    /// The parameters at the end of epochs 3, 4 and 5 averaged; the rate annealed to the SWA
    /// rate; BatchNorm's running mean recomputed for the averaged weights.
    @Test func stochasticWeightAveragingAveragesEpochEndsAndUpdatesBatchNorm() throws {
        let (x, y) = blobs(count: 64, seed: 3)
        var ends: [[Double]] = []
        var rates: [Double] = []
        let recorder = LambdaCallback(name: "recorder", weight: 40) { event, context in
            if event == .epochEnd, context.epoch >= 3 { ends.append(context.model.parameters().flatMap(\.doubles)) }
            if event == .epochBegin, let optimizer = context.optimizer { rates.append(optimizer.learningRate) }
        }
        let setup = TrainingSetup(
            model: { _ in
                Sequential { Linear(2, 8, generator: Generator(seed: 1)); BatchNorm1d(8); ReLU(); Linear(8, 2, generator: Generator(seed: 2)) }
            },
            loss: CrossEntropyLoss())
        let fitted = try setup.learningRate(0.05)
            .fit(.tensors(x, y, batchSize: 16, shuffle: true), epochs: 5,
                 callbacks: [StochasticWeightAveraging(startEpoch: 3, learningRate: 0.01, annealEpochs: 2), recorder],
                 verbose: false, seed: 4)
        #expect(ends.count == 3)
        let mean = (0..<ends[0].count).map { j in ends.reduce(0) { $0 + $1[j] } / 3 }
        let final = fitted.model.parameters().flatMap(\.doubles)
        #expect(zip(final, mean).allSatisfy { abs($0 - $1) <= 1e-6 * max(1, abs($1)) })
        // SWALR over 2 epochs from 0.05 (cosine): halfway at epoch 4, the SWA rate at 5.
        #expect(rates.count == 5 && abs(rates[3] - 0.03) < 1e-12 && abs(rates[4] - 0.01) < 1e-12, "\(rates)")
        // The running mean is the mean of the first layer's outputs under the averaged weights.
        let model = fitted.model as! Sequential
        let expected = withNoGrad { model[0](x).mean(dim: 0) }.doubles
        let running = (model[1] as! BatchNorm1d).runningMean!.doubles
        #expect(zip(running, expected).allSatisfy { abs($0 - $1) < 1e-5 }, "\(running) vs \(expected)")
    }
}
