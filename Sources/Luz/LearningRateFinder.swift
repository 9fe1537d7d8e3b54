import Foundation

/// What ``TrainingSetup/learningRateFinder(_:steps:startLearningRate:endLearningRate:smoothing:divergenceFactor:seed:)``
/// found: the loss at each learning rate tried, and a suggestion.
public struct LearningRateFinderResult: CustomStringConvertible {
    /// The learning rate of each step and the loss of its batch.
    public let records: [(learningRate: Double, loss: Double)]
    /// The losses smoothed by an exponential moving average (bias-corrected), aligned with `records`.
    public let smoothedLosses: [Double]
    /// The learning rate where the smoothed loss falls fastest (per unit of log learning rate),
    /// a good starting point one usually takes as it is or a little lower.
    public let suggestedLearningRate: Double

    /// Creates a result (the finder makes them; this is for tools and tests).
    public init(records: [(learningRate: Double, loss: Double)], smoothedLosses: [Double], suggestedLearningRate: Double) {
        self.records = records
        self.smoothedLosses = smoothedLosses
        self.suggestedLearningRate = suggestedLearningRate
    }

    public var description: String {
        String(format: "learning-rate finder: %d steps from %.2e to %.2e, suggested %.2e", records.count,
               records.first?.learningRate ?? 0, records.last?.learningRate ?? 0, suggestedLearningRate)
    }
}

extension TrainingSetup {
    /// Trains for `steps` batches with the learning rate growing exponentially from
    /// `startLearningRate` to `endLearningRate`, recording each batch's loss (luz's
    /// `lr_finder`, with fastai's suggestion and early stop once the loss diverges).
    ///
    /// A model built by the setup is thrown away afterwards; a ready instance given to
    /// `setup` has its weights put back, so the finder leaves it as it was.
    public func learningRateFinder(_ data: DataSource, steps: Int = 100, startLearningRate: Double = 1e-7,
                                   endLearningRate: Double = 0.1, smoothing: Double = 0.05,
                                   divergenceFactor: Double = 4, seed: UInt64? = nil) throws -> LearningRateFinderResult {
        require(steps >= 2, "learningRateFinder: needs at least 2 steps, got \(steps)")
        require(startLearningRate > 0 && endLearningRate > startLearningRate,
                "learningRateFinder: needs 0 < start < end, got \(startLearningRate) and \(endLearningRate)")
        if let seed { manualSeed(seed) }
        let model = try makeModel(hyperparameters)
        let savedWeights = model.stateDict().cloned()
        defer { try? model.loadStateDict(savedWeights) }
        let optimizers = try makeOptimizers(for: model).map(\.1)
        let wasTraining = model.isTraining
        model.train()
        defer { model.train(wasTraining) }

        var records: [(learningRate: Double, loss: Double)] = []
        var smoothed: [Double] = []
        var average = 0.0
        var best = Double.infinity
        var iterator = data.makeIterator()
        let ratio = endLearningRate / startLearningRate
        for step in 0..<steps {
            guard let batch = iterator.next() ?? { iterator = data.makeIterator(); return iterator.next() }() else {
                throw LuzError.invalidArgument("learningRateFinder: the data has no batches")
            }
            let learningRate = startLearningRate * Foundation.pow(ratio, Double(step) / Double(steps - 1))
            for optimizer in optimizers { optimizer.learningRate = learningRate }
            func batchLoss() throws -> Tensor {
                let prediction = model(batch.input)
                if let lossFunction = self.loss { return lossFunction(prediction, batch.target) }
                if let provider = model as? LossProviding { return provider.loss(prediction: prediction, target: batch.target) }
                throw LuzError.invalidArgument("learningRateFinder: the setup has no loss")
            }
            let loss = try batchLoss()
            loss.backward()
            for optimizer in optimizers {
                if optimizer.reevaluatesLoss {
                    // As the fit loop: the first evaluation is this one, later ones recompute the batch's loss.
                    var isFirst = true
                    try optimizer.step {
                        if isFirst {
                            isFirst = false
                            return loss.item
                        }
                        optimizer.zeroGrad()
                        let again = try batchLoss()
                        again.backward()
                        return again.item
                    }
                } else {
                    withNoGrad { optimizer.step() }
                }
                optimizer.zeroGrad()
            }
            let value = loss.item
            records.append((learningRate, value))
            average = (1 - smoothing) * average + smoothing * value
            let corrected = average / (1 - Foundation.pow(1 - smoothing, Double(step + 1)))
            smoothed.append(corrected)
            best = Swift.min(best, corrected)
            if !value.isFinite || corrected > divergenceFactor * best { break }
        }
        return LearningRateFinderResult(records: records, smoothedLosses: smoothed,
                                        suggestedLearningRate: Self.steepestDescent(records.map(\.learningRate), smoothed))
    }

    /// The learning rate at which the smoothed loss decreases fastest against log(lr), ignoring
    /// the last points (where the loss has begun to diverge).
    static func steepestDescent(_ rates: [Double], _ losses: [Double]) -> Double {
        guard rates.count >= 3 else { return rates.first ?? 0 }
        let usable = Swift.max(3, losses.count - Swift.max(1, losses.count / 10))
        var bestIndex = 0
        var bestSlope = Double.infinity
        for i in 1..<(usable - 1) {
            let slope = (losses[i + 1] - losses[i - 1]) / (Foundation.log(rates[i + 1]) - Foundation.log(rates[i - 1]))
            if slope < bestSlope { bestSlope = slope; bestIndex = i }
        }
        return rates[bestIndex]
    }
}
