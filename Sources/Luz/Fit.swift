import Foundation

extension TrainingSetup {
    /// Trains a new model (or the setup's instance) on `data`.
    ///
    /// - Parameters:
    ///   - data: the training batches: a data loader, a dataset (``DataSource/dataset(_:batchSize:shuffle:dropLast:generator:)``)
    ///     or tensors (``DataSource/tensors(_:_:batchSize:shuffle:dropLast:generator:)``).
    ///   - epochs: a count, or `EpochSpec(5...20)` for at least 5 and at most 20 epochs.
    ///   - validData: validation data, or a fraction of the training data (`0.2`).
    ///   - callbacks: callbacks in addition to the default ones (timings, train/eval mode,
    ///     metrics, progress, interrupt).
    ///   - verbose: print progress (a live bar only on a terminal) and per-epoch metrics.
    ///   - seed: seeds the default generator and the data order, so that two fits with the
    ///     same seed give identical weights and records.
    public func fit(_ data: DataSource, epochs: EpochSpec = 10, validData: ValidationData? = nil,
                    callbacks: [any Callback] = [], verbose: Bool = true, seed: UInt64? = nil) throws -> FittedModel {
        if let seed {
            manualSeed(seed)
            // The data order too, as promised: a loader seeds its generator when it is made,
            // from wherever the default generator then was (see `fit(_:…)` on a dataset: seed + 1).
            data.generator?.manualSeed(seed &+ 1)
        }
        let model = try makeModel(hyperparameters)
        let optimizers = try makeOptimizers(for: model)
        let (train, valid) = try resolveData(data, validData: validData, seed: seed)
        let fitted = FittedModel(setup: self, model: model, optimizers: optimizers)
        let context = fitted.makeContext(.fit, callbacks: callbacks, verbose: verbose)
        context.trainData = train
        context.validData = valid
        context.minEpochs = epochs.minimum
        context.maxEpochs = epochs.maximum
        try fitted.run(context)
        return fitted
    }

    /// Trains on a data loader.
    public func fit<Source: Dataset>(_ loader: DataLoader<Source, Example>, epochs: EpochSpec = 10,
                                     validData: ValidationData? = nil, callbacks: [any Callback] = [],
                                     verbose: Bool = true, seed: UInt64? = nil) throws -> FittedModel {
        try fit(.loader(loader), epochs: epochs, validData: validData, callbacks: callbacks, verbose: verbose, seed: seed)
    }

    /// Trains on a dataset with luz's loader defaults (batches of `batchSize`, shuffled, last
    /// partial batch dropped).
    public func fit<D: Dataset>(_ dataset: D, epochs: EpochSpec = 10, validData: ValidationData? = nil,
                                callbacks: [any Callback] = [], verbose: Bool = true, seed: UInt64? = nil,
                                batchSize: Int = 32, dropLast: Bool = true) throws -> FittedModel
    where D.Element == Example {
        if let seed { manualSeed(seed) }
        let source = DataSource.dataset(dataset, batchSize: batchSize, shuffle: true, dropLast: dropLast,
                                        generator: Generator(seed: seed.map { $0 &+ 1 } ?? Generator.default.nextUInt64()))
        return try fit(source, epochs: epochs, validData: validData, callbacks: callbacks, verbose: verbose, seed: seed)
    }

    /// Trains on inputs and targets sharing their first dimension (luz's `list(x, y)`).
    public func fit(inputs: Tensor, targets: Tensor, epochs: EpochSpec = 10, validData: ValidationData? = nil,
                    callbacks: [any Callback] = [], verbose: Bool = true, seed: UInt64? = nil,
                    batchSize: Int = 32, dropLast: Bool = true) throws -> FittedModel {
        try fit(TensorDataset(inputs: inputs, targets: targets), epochs: epochs, validData: validData,
                callbacks: callbacks, verbose: verbose, seed: seed, batchSize: batchSize, dropLast: dropLast)
    }

    func makeOptimizers(for model: Module) throws -> [(String, Optimizer)] {
        if let provider = model as? OptimizerProviding {
            return provider.makeOptimizers(hyperparameters: optimizerHyperparameters)
        }
        return [("opt", try optimizer.make(model.parameters(), optimizerHyperparameters))]
    }

    /// The training and validation batches, splitting off a fraction when asked.
    func resolveData(_ data: DataSource, validData: ValidationData?, seed: UInt64?) throws
        -> (DataSource, DataSource?) {
        guard let validData else { return (data, nil) }
        switch validData.kind {
        case .source(let source):
            return (data, source)
        case .dataset(let dataset):
            return (data, .dataset(dataset, batchSize: data.batchSize ?? 32))
        case .fraction(let fraction):
            guard fraction > 0 && fraction < 1 else {
                throw LuzError.invalidArgument("validData: a fraction must be in (0, 1), got \(fraction)")
            }
            guard let dataset = data.dataset else {
                throw LuzError.invalidArgument("validData: a fraction can only be split off a dataset or tensors, not a data loader; pass a validation loader instead")
            }
            let generator = Generator(seed: seed.map { $0 &+ 2 } ?? Generator.default.nextUInt64())
            let validCount = Int((Double(dataset.count) * fraction).rounded())
            let parts = dataset.randomSplit(counts: [dataset.count - validCount, validCount], generator: generator)
            let batchSize = data.batchSize ?? 32
            let train = DataSource.dataset(parts[0], batchSize: batchSize, shuffle: data.shuffles,
                                           dropLast: data.dropsLast, generator: data.generator)
            return (train, .dataset(parts[1], batchSize: batchSize))
        }
    }
}

/// Errors of the training layer that are not a callback's.
public enum LuzError: Error, CustomStringConvertible {
    case invalidArgument(String)
    case checkpoint(path: String, reason: String)

    public var description: String {
        switch self {
        case .invalidArgument(let message): return message
        case .checkpoint(let path, let reason): return "checkpoint \(path): \(reason)"
        }
    }
}
