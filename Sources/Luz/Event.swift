/// The events of a training run, in the order luz fires them.
///
/// ```
/// fitBegin
///   per epoch: epochBegin, trainBegin
///     per batch: trainBatchBegin, trainBatchAfterPrediction, trainBatchAfterLoss,
///                trainBatchBeforeBackward, trainBatchBeforeStep, (optimizer step, zero grad),
///                trainBatchAfterStep, trainBatchEnd
///     trainEnd
///     with validation data: validBegin,
///       per batch: validBatchBegin, validBatchAfterPrediction, validBatchAfterLoss, validBatchEnd
///     validEnd
///   epochEnd
/// fitEnd
/// ```
/// `earlyStopping` fires when a callback stops the run, `interrupt` on Ctrl+C; `predict` fires
/// the `predict…` events and `evaluate` only the `valid…` ones. The raw values are luz's names.
public enum Event: String, CaseIterable, Sendable {
    case fitBegin = "on_fit_begin"
    case epochBegin = "on_epoch_begin"
    case trainBegin = "on_train_begin"
    case trainBatchBegin = "on_train_batch_begin"
    case trainBatchAfterPrediction = "on_train_batch_after_pred"
    case trainBatchAfterLoss = "on_train_batch_after_loss"
    case trainBatchBeforeBackward = "on_train_batch_before_backward"
    case trainBatchBeforeStep = "on_train_batch_before_step"
    case trainBatchAfterStep = "on_train_batch_after_step"
    case trainBatchEnd = "on_train_batch_end"
    case trainEnd = "on_train_end"
    case validBegin = "on_valid_begin"
    case validBatchBegin = "on_valid_batch_begin"
    case validBatchAfterPrediction = "on_valid_batch_after_pred"
    case validBatchAfterLoss = "on_valid_batch_after_loss"
    case validBatchEnd = "on_valid_batch_end"
    case validEnd = "on_valid_end"
    case epochEnd = "on_epoch_end"
    case fitEnd = "on_fit_end"
    case earlyStopping = "on_early_stopping"
    case interrupt = "on_interrupt"
    case predictBegin = "on_predict_begin"
    case predictBatchBegin = "on_predict_batch_begin"
    case predictBatchEnd = "on_predict_batch_end"
    case predictEnd = "on_predict_end"
}

/// Something that reacts to the events of a training run: logging, early stopping,
/// checkpointing, learning-rate schedules, …
///
/// Implement ``handle(_:_:)`` and switch over the events of interest; the rest have no effect.
/// Callbacks run in increasing ``weight`` (ties keep the order given), without gradient
/// recording. An error thrown by a callback ends the run and is reported as a
/// ``CallbackError`` naming the callback and the event.
public protocol Callback: AnyObject {
    /// The name used in error messages and checkpoints (defaults to the type name).
    var name: String { get }
    /// The position in the running order: lower runs first (default 0; luz runs early
    /// stopping and auto-resume last).
    var weight: Double { get }
    /// Reacts to one event.
    func handle(_ event: Event, _ context: Context) throws
    /// State to keep in checkpoints (tensors by name; scalars as 0-dimensional tensors).
    func checkpointState() -> [String: Tensor]
    /// Restores what ``checkpointState()`` returned.
    func restore(checkpointState: [String: Tensor]) throws
    /// The recorded values this callback reads (early stopping's monitor): a run checks when it
    /// begins that each one is recorded, and stops with the names that exist otherwise.
    var monitors: [Monitor] { get }
    /// The values this callback records itself with ``Context/log(_:value:set:)`` (a learning
    /// rate), which other callbacks may monitor.
    var recordedMetrics: [Monitor] { get }
}

extension Callback {
    public var name: String { String(describing: type(of: self)) }
    public var weight: Double { 0 }
    public func checkpointState() -> [String: Tensor] { [:] }
    public func restore(checkpointState: [String: Tensor]) throws {}
    public var monitors: [Monitor] { [] }
    public var recordedMetrics: [Monitor] { [] }
}

/// A callback failed: which one, during which event, and why.
public struct CallbackError: Error, CustomStringConvertible {
    public let callback: String
    public let event: Event
    public let underlying: any Error

    public var description: String {
        "callback \(callback) failed during \(event.rawValue): \(underlying)"
    }
}

/// A callback made from a closure, for one-off reactions:
/// `LambdaCallback { event, context in if event == .epochEnd { ... } }`.
public final class LambdaCallback: Callback {
    public let name: String
    public let weight: Double
    private let body: (Event, Context) throws -> Void

    /// The values the closure logs (``Context/log(_:value:set:)``) for others to monitor.
    public let recordedMetrics: [Monitor]

    /// A callback running `body` on every event; `recording` lists the values it logs.
    public init(name: String = "LambdaCallback", weight: Double = 0, recording: [Monitor] = [],
                _ body: @escaping (Event, Context) throws -> Void) {
        self.name = name
        self.weight = weight
        self.recordedMetrics = recording
        self.body = body
    }

    public func handle(_ event: Event, _ context: Context) throws { try body(event, context) }
}
