import Foundation
import LuzNN

/// Logs a fit for TensorBoard (luz's `luz_callback_tfevents`): every metric of every epoch,
/// each optimizer's learning rate, optionally the training loss of every batch, histograms of
/// the weights and gradients every few epochs, and the hyper-parameters as text.
///
/// Each fit writes into its own run folder, `<logDirectory>/<runName>/<yyyyMMdd-HHmmss>`, so
/// that `tensorboard --logdir <logDirectory>` shows runs side by side. The step of every value
/// is the number of training batches so far (epoch values at the epoch's last batch; the
/// epoch itself is logged as `epoch`). The file is flushed at each epoch end, so TensorBoard
/// can read it during training.
///
/// A resumed fit continues the same run folder in a new file that starts with a session start
/// at the checkpoint's step: TensorBoard then drops what the interrupted fit wrote after its
/// last checkpoint, and the run reads as if it had not been interrupted.
///
/// ```swift
/// try setup.fit(data, epochs: 10, callbacks: [TensorBoardLogger(logDirectory: "logs", histogramEvery: 2)])
/// ```
public final class TensorBoardLogger: PrimaryProcessCallback {
    /// The folder that holds the runs.
    public let logDirectory: String
    /// The folder of this kind of run inside ``logDirectory``.
    public let runName: String
    /// Whether the training loss of every batch is logged (`batch/loss`).
    public let logsBatches: Bool
    /// Every how many epochs histograms of the weights and gradients are written (`nil`: never).
    public let histogramEvery: Int?
    /// The folder of the current (or last) fit's events.
    public private(set) var runFolder: String?
    public var weight: Double { 110 }

    private var writer: TensorBoardEventWriter?
    private var globalStep = 0
    private var restoredStep: Int?
    private var gradients: [(name: String, values: [Double])] = []

    /// Creates the logger.
    /// - Parameters:
    ///   - logDirectory: where the runs go (`logs`).
    ///   - runName: the folder of this kind of run (`run`).
    ///   - logsBatches: log the training loss of every batch too.
    ///   - histogramEvery: write weight and gradient histograms every this many epochs.
    public init(logDirectory: String = "logs", runName: String = "run", logsBatches: Bool = false,
                histogramEvery: Int? = nil) {
        require(histogramEvery.map { $0 > 0 } ?? true, "TensorBoardLogger: histogramEvery must be positive, got \(histogramEvery ?? 0)")
        self.logDirectory = logDirectory
        self.runName = runName
        self.logsBatches = logsBatches
        self.histogramEvery = histogramEvery
    }

    private func histogramsDue(_ context: Context) -> Bool {
        guard let every = histogramEvery else { return false }
        return context.epoch % every == 0
    }

    public func handle(_ event: Event, _ context: Context) throws {
        switch event {
        case .fitBegin:
            gradients = []
            if let restoredStep, context.startEpoch > 1, let runFolder {
                globalStep = restoredStep
                let writer = try TensorBoardEventWriter(directory: runFolder)
                try writer.addSessionStart(step: globalStep + 1)
                self.writer = writer
            } else {
                globalStep = 0
                let formatter = DateFormatter()
                formatter.locale = Locale(identifier: "en_US_POSIX")
                formatter.dateFormat = "yyyyMMdd-HHmmss"
                let base = logDirectory + "/" + runName + "/" + formatter.string(from: Date())
                var folder = base, suffix = 1
                while FileManager.default.fileExists(atPath: folder) {
                    suffix += 1
                    folder = base + "-\(suffix)"
                }
                runFolder = folder
                let writer = try TensorBoardEventWriter(directory: folder)
                try writer.addText("hyperparameters", text: hyperparameterTable(context), step: 0)
                try writer.flush()
                self.writer = writer
            }
            restoredStep = nil
        case .trainBatchBeforeStep where histogramsDue(context) && context.iteration == context.batchCount:
            // The gradients are cleared after the step: taken from the epoch's last batch now.
            gradients = context.model.namedParameters().compactMap { name, parameter in
                parameter.grad.map { (name, $0.doubles) }
            }
        case .trainBatchEnd:
            globalStep += 1
            if logsBatches, let writer {
                for (name, loss) in context.loss.sorted(by: { $0.key < $1.key }) {
                    try writer.addScalar(context.loss.count == 1 ? "batch/loss" : "batch/loss_\(name)", value: loss, step: globalStep)
                }
            }
        case .epochEnd:
            guard let writer else { return }
            try writer.addScalar("epoch", value: Double(context.epoch), step: globalStep)
            for row in context.records.rows where row.epoch == context.epoch {
                try writer.addScalar("\(row.set)/\(row.metric)", value: row.value, step: globalStep)
            }
            for (name, optimizer) in context.optimizers {
                try writer.addScalar(context.optimizers.count == 1 ? "lr" : "lr/\(name)", value: optimizer.learningRate,
                                     step: globalStep)
            }
            if histogramsDue(context) {
                for (name, parameter) in context.model.namedParameters() {
                    try writer.addHistogram("weights/\(name)", values: parameter.doubles, step: globalStep)
                }
                for (name, values) in gradients { try writer.addHistogram("gradients/\(name)", values: values, step: globalStep) }
                gradients = []
            }
            try writer.flush()
        case .fitEnd:
            try writer?.flush()
            writer = nil
        default:
            break
        }
    }

    private func hyperparameterTable(_ context: Context) -> String {
        var lines = ["| hyper-parameter | value |", "| --- | --- |"]
        for (name, value) in context.hyperparameters.values.sorted(by: { $0.key < $1.key }) { lines.append("| \(name) | \(value) |") }
        for (name, value) in context.optimizerHyperparameters.values.sorted(by: { $0.key < $1.key }) {
            lines.append("| optimizer \(name) | \(value) |")
        }
        for (name, optimizer) in context.optimizers {
            lines.append("| optimizer \(name) | \(type(of: optimizer)), learning rate \(optimizer.learningRate) |")
        }
        return lines.joined(separator: "\n")
    }

    /// The run folder (as UTF-8 codes) and the step count, so that a resumed fit continues the run.
    public func checkpointState() -> [String: Tensor] {
        guard let runFolder else { return [:] }
        return ["runFolder": Tensor(Array(runFolder.utf8).map(Int64.init)), "globalStep": Tensor(scalar: Int64(globalStep))]
    }

    /// Restores the run folder and step count saved by ``checkpointState()``.
    public func restore(checkpointState state: [String: Tensor]) throws {
        guard let codes = state["runFolder"], let step = state["globalStep"] else { return }
        let values = codes.doubles
        guard codes.shape.count == 1, values.allSatisfy({ $0 >= 1 && $0 <= 255 && $0 == $0.rounded() }),
              let folder = String(bytes: values.map { UInt8($0) }, encoding: .utf8) else {
            throw StateDictError.incompatible("'runFolder' does not hold a folder name")
        }
        restoredStep = try StateDict.counter(of: step, key: "globalStep")
        runFolder = folder
    }
}
