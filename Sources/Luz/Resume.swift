import Foundation

/// Makes a run survive a crash: a checkpoint is written at the end of every epoch, a rerun of
/// the same program continues from the last completed epoch, and the file is deleted when the
/// run completes (luz's `luz_callback_auto_resume`).
///
/// With the same seed, a run killed at any moment and rerun ends with the same weights as an
/// uninterrupted run: the checkpoint holds the weights, the optimizer and callback state, the
/// records and the state of the random generators. Runs last (after every other callback has
/// updated its state for the epoch).
public final class AutoResume: Callback, RestoresBeforeFit {
    public let path: String
    public var weight: Double { 2000 }
    /// The epoch the run resumed after, if it did.
    public private(set) var resumedFromEpoch: Int?

    public init(path: String) { self.path = path }

    public func restoreBeforeFit(_ context: Context) throws {
        resumedFromEpoch = nil
        guard FileManager.default.fileExists(atPath: path) else { return }
        let checkpoint = try Checkpoint(contentsOf: path)
        try checkpoint.restore(into: context, path: path)
        resumedFromEpoch = checkpoint.epoch
        if context.verbose && context.isPrimaryProcess {
            print("Resuming from \(path) after epoch \(checkpoint.epoch)")
        }
    }

    /// In a data-parallel run only rank 0 writes and deletes the file (every process reads it).
    public func handle(_ event: Event, _ context: Context) throws {
        guard context.isPrimaryProcess else { return }
        switch event {
        case .epochEnd:
            let directory = (path as NSString).deletingLastPathComponent
            if !directory.isEmpty {
                try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            }
            try Checkpoint(context: context).save(to: path)
        case .fitEnd where !context.interrupted:
            try? FileManager.default.removeItem(atPath: path)
        default:
            break
        }
    }
}

/// Starts a run from a checkpoint written by ``ModelCheckpoint`` or ``AutoResume`` (luz's
/// `luz_callback_resume_from_checkpoint`): weights, optimizer state, records and epoch.
public final class ResumeFromCheckpoint: Callback, RestoresBeforeFit {
    public let path: String
    public let restoresOptimizer: Bool

    public init(path: String, restoresOptimizer: Bool = true) {
        self.path = path
        self.restoresOptimizer = restoresOptimizer
    }

    public func restoreBeforeFit(_ context: Context) throws {
        let checkpoint = try Checkpoint(contentsOf: path)
        if restoresOptimizer {
            try checkpoint.restore(into: context, path: path)
        } else {
            try context.model.loadStateDict(checkpoint.state.scoped(to: "model"))
        }
    }

    public func handle(_ event: Event, _ context: Context) throws {}
}

extension FittedModel {
    /// Saves the fitted model: weights (safetensors, keys as in the model's state dict) with the
    /// records, timings and hyper-parameters in the file's metadata (luz's `luz_save`).
    public func save(to path: String) throws {
        var state = model.stateDict()
        state.metadata = [
            "luz.fitted": "1",
            "luz.epochs": String(epochsTrained),
            "luz.records": Checkpoint.json(records),
            "luz.timings": Checkpoint.json(timings),
            "luz.hyperparameters": Checkpoint.json(setup.hyperparameters),
            "luz.optimizerHyperparameters": Checkpoint.json(setup.optimizerHyperparameters),
        ]
        try state.save(to: path)
    }

    /// Loads a fitted model saved with ``save(to:)`` into a model built by `setup` from the saved
    /// hyper-parameters; the result can predict, evaluate and continue training.
    public static func load(from path: String, setup: TrainingSetup) throws -> FittedModel {
        let state = try StateDict(contentsOf: path)
        guard state.metadata["luz.fitted"] == "1" else {
            throw LuzError.checkpoint(path: path, reason: "not a fitted Luz model (no luz.fitted metadata)")
        }
        let hyperparameters = try Checkpoint.decode(Hyperparameters.self, state.metadata["luz.hyperparameters"],
                                                    path: path, field: "luz.hyperparameters")
        let optimizerHyperparameters = try Checkpoint.decode(Hyperparameters.self, state.metadata["luz.optimizerHyperparameters"],
                                                             path: path, field: "luz.optimizerHyperparameters")
        let restoredSetup = setup.hyperparameters(hyperparameters).optimizerHyperparameters(optimizerHyperparameters)
        let model = try restoredSetup.makeModel(restoredSetup.hyperparameters)
        do {
            try model.loadStateDict(state)
        } catch {
            throw LuzError.checkpoint(path: path, reason: "weights do not fit the model: \(error)")
        }
        let fitted = FittedModel(setup: restoredSetup, model: model, optimizers: try restoredSetup.makeOptimizers(for: model))
        fitted.records = try Checkpoint.decode(Records.self, state.metadata["luz.records"], path: path, field: "luz.records")
        fitted.timings = try Checkpoint.decode(Timings.self, state.metadata["luz.timings"], path: path, field: "luz.timings")
        fitted.epochsTrained = Int(state.metadata["luz.epochs"] ?? "") ?? fitted.records.lastEpoch
        return fitted
    }
}
