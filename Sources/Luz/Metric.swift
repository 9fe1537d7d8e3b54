/// What a metric sees of one batch: the model's output, the target, the loss and the number of
/// examples, after the batch ran.
///
/// Predictions are detached (no gradient recording). For a model with several outputs or
/// targets, ``predictions`` and ``targets`` hold them all; ``prediction`` and ``target`` read
/// the single tensor of the common case.
public struct BatchResult {
    /// The model's output, detached.
    public let predictions: TensorTree
    /// The batch's targets.
    public let targets: TensorTree
    /// The batch's loss: the loss of the optimizer named `"opt"`, or of the first one.
    public let loss: Double?
    /// The loss per optimizer name.
    public let losses: [String: Double]
    /// The number of examples in the batch.
    public let batchSize: Int

    /// Creates a batch result.
    public init(predictions: TensorTree, targets: TensorTree, loss: Double?, losses: [String: Double] = [:],
                batchSize: Int) {
        self.predictions = predictions
        self.targets = targets
        self.loss = loss
        self.losses = losses
        self.batchSize = batchSize
    }

    /// Whether the batch has the model's output: a custom training step that sets no
    /// prediction leaves it empty, and prediction metrics then skip the batch.
    public var hasPredictions: Bool {
        if case .array(let elements) = predictions, elements.isEmpty { return false }
        return true
    }

    /// The single output tensor; stops with a message when the model has several outputs.
    public var prediction: Tensor { predictions.singleTensor("the model's output") }
    /// The single target tensor; stops with a message when the batch has several targets.
    public var target: Tensor { targets.singleTensor("the batch's target") }
}

/// A quantity accumulated over the batches of an epoch and computed at its end, such as the
/// accuracy (luz's `luz_metric`: initialize, update, compute).
///
/// The training loop keeps one instance per set (train, valid), made with ``fresh()``, calls
/// ``reset()`` at the start of every epoch, ``update(_:)`` with each batch's ``BatchResult``
/// and ``compute()`` at the end. Updates run without gradient recording. A metric of the
/// prediction and target alone conforms to ``PredictionMetric`` and writes
/// `update(prediction:target:)` instead.
public protocol Metric: AnyObject {
    /// The key used in records, logs and monitors, e.g. `"acc"` (so `"valid_acc"` can be monitored).
    var name: String { get }
    /// The name shown on the console, e.g. `"Acc"`.
    var displayName: String { get }
    /// Whether larger values are better (used by callbacks that monitor the metric by default).
    var higherIsBetter: Bool { get }
    /// Forgets everything accumulated.
    func reset()
    /// Accumulates one batch.
    func update(_ batch: BatchResult)
    /// The value over everything accumulated since the last reset.
    func compute() -> Double
    /// A new instance with the same settings and nothing accumulated.
    func fresh() -> any Metric
}

extension Metric {
    public var higherIsBetter: Bool { true }
}

/// A metric computed from the prediction and the target tensors of each batch (accuracy,
/// mean squared error, AUROC, …).
public protocol PredictionMetric: Metric {
    /// Accumulates one batch's prediction (detached) and target.
    func update(prediction: Tensor, target: Tensor)
}

extension PredictionMetric {
    /// Passes the batch's single prediction and target to ``update(prediction:target:)``
    /// (nothing for a batch without a prediction).
    public func update(_ batch: BatchResult) {
        guard batch.hasPredictions else { return }
        update(prediction: batch.prediction, target: batch.target)
    }

    /// This metric on one output and target of a model with several (a position or a name):
    /// recorded as `"<head>_<name>"`, e.g. `Accuracy().forHead("class")` is `"class_acc"`.
    public func forHead(_ head: Head) -> any Metric { HeadMetric(self, head: head) }
}

/// One output of a model with several, and its target: a position (`0`) or a name (`"class"`).
public enum Head: Hashable, Sendable, CustomStringConvertible, ExpressibleByIntegerLiteral, ExpressibleByStringLiteral {
    /// The output at this position of an array of outputs.
    case position(Int)
    /// The output of this name in a dictionary of outputs.
    case name(String)

    /// A head by position: `0`.
    public init(integerLiteral value: Int) { self = .position(value) }
    /// A head by name: `"class"`.
    public init(stringLiteral value: String) { self = .name(value) }

    /// The head's part of `tree`.
    public func select(in tree: TensorTree) -> TensorTree {
        switch self {
        case .position(let position): return tree[position]
        case .name(let name): return tree[name]
        }
    }

    public var description: String {
        switch self {
        case .position(let position): return String(position)
        case .name(let name): return name
        }
    }
}

/// A prediction metric applied to one head's output and target.
final class HeadMetric: Metric {
    let inner: any PredictionMetric
    let head: Head

    init(_ inner: any PredictionMetric, head: Head) {
        self.inner = inner
        self.head = head
    }

    var name: String { "\(head)_\(inner.name)" }
    var displayName: String { "\(head) \(inner.displayName)" }
    var higherIsBetter: Bool { inner.higherIsBetter }
    func reset() { inner.reset() }
    func update(_ batch: BatchResult) {
        guard batch.hasPredictions else { return }
        inner.update(prediction: head.select(in: batch.predictions).singleTensor("head \(head) of the model's output"),
                     target: head.select(in: batch.targets).singleTensor("head \(head) of the batch's target"))
    }
    func compute() -> Double { inner.compute() }
    func fresh() -> any Metric {
        guard let fresh = inner.fresh() as? any PredictionMetric else {
            requirementFailure("\(inner.name).fresh() returned a metric that is not a PredictionMetric")
        }
        return HeadMetric(fresh, head: head)
    }
}

/// Class indices from a prediction: the argmax over the class dimension (dimension 1) of
/// scores, or the values themselves when they are already indices.
func predictedClasses(_ prediction: Tensor) -> [Int64] {
    if prediction.rank >= 2 {
        return prediction.argmax(dim: 1).scalars(as: Int64.self)
    }
    return prediction.to(.int64).scalars(as: Int64.self)
}

/// Class indices from a target: indices as given, or the argmax of one-hot / probability rows.
func targetClasses(_ target: Tensor, like prediction: Tensor) -> [Int64] {
    if target.dtype.isFloatingPoint && target.shape == prediction.shape && target.rank >= 2 {
        return target.argmax(dim: 1).scalars(as: Int64.self)
    }
    return target.to(.int64).scalars(as: Int64.self)
}

/// The average loss over an epoch, weighted by batch size: always the first metric.
public final class LossAverage: Metric {
    public let name = "loss"
    public let displayName = "Loss"
    public var higherIsBetter: Bool { false }
    private var total = 0.0
    private var count = 0.0

    public init() {}
    public func reset() { total = 0; count = 0 }
    /// Adds the batch's loss, weighted by its number of examples.
    public func update(_ batch: BatchResult) {
        if let loss = batch.loss { add(loss: loss, batchSize: batch.batchSize) }
    }
    /// Adds the loss of a batch of `size` examples.
    public func add(loss: Double, batchSize: Int) {
        total += loss * Double(batchSize)
        count += Double(batchSize)
    }
    public func compute() -> Double { count > 0 ? total / count : .nan }
    public func fresh() -> any Metric { LossAverage() }
}

/// The fraction of examples whose predicted class (argmax of the scores over dimension 1)
/// equals the target class (luz's `luz_metric_accuracy`).
public final class Accuracy: PredictionMetric {
    public let name = "acc"
    public let displayName = "Acc"
    private var correct = 0
    private var total = 0

    public init() {}
    public func reset() { correct = 0; total = 0 }
    public func update(prediction: Tensor, target: Tensor) {
        let predicted = predictedClasses(prediction)
        let actual = targetClasses(target, like: prediction)
        require(predicted.count == actual.count,
                "Accuracy: \(predicted.count) predictions (shape \(prediction.shape)) for \(actual.count) targets (shape \(target.shape))")
        for i in 0..<predicted.count where predicted[i] == actual[i] { correct += 1 }
        total += predicted.count
    }
    public func compute() -> Double { total > 0 ? Double(correct) / Double(total) : .nan }
    public func fresh() -> any Metric { Accuracy() }
}

/// Accuracy for probabilities of the positive class: predicted positive above `threshold`.
public final class BinaryAccuracy: PredictionMetric {
    public let name = "acc"
    public let displayName = "Acc"
    public let threshold: Double
    private var correct = 0
    private var total = 0

    public init(threshold: Double = 0.5) { self.threshold = threshold }
    public func reset() { correct = 0; total = 0 }
    public func update(prediction: Tensor, target: Tensor) {
        let p = prediction.doubles, t = target.doubles
        require(p.count == t.count, "BinaryAccuracy: \(p.count) predictions for \(t.count) targets")
        for i in 0..<p.count where (p[i] > threshold) == (t[i] > 0.5) { correct += 1 }
        total += p.count
    }
    public func compute() -> Double { total > 0 ? Double(correct) / Double(total) : .nan }
    public func fresh() -> any Metric { BinaryAccuracy(threshold: threshold) }
}

/// Accuracy for logits of the positive class: the sigmoid of the logit is compared with `threshold`.
public final class BinaryAccuracyWithLogits: PredictionMetric {
    public let name = "acc"
    public let displayName = "Acc"
    public let threshold: Double
    private let inner: BinaryAccuracy

    public init(threshold: Double = 0.5) {
        self.threshold = threshold
        inner = BinaryAccuracy(threshold: threshold)
    }
    public func reset() { inner.reset() }
    public func update(prediction: Tensor, target: Tensor) { inner.update(prediction: prediction.sigmoid(), target: target) }
    public func compute() -> Double { inner.compute() }
    public func fresh() -> any Metric { BinaryAccuracyWithLogits(threshold: threshold) }
}

/// How per-class scores are combined into one figure.
public enum ClassAveraging: String, Sendable {
    /// The unweighted mean over classes.
    case macro
    /// Computed from the counts pooled over all classes.
    case micro
    /// The mean over classes weighted by each class's number of true examples.
    case weighted
}

/// Precision, recall or F1 for multi-class predictions, from a confusion count per class.
public class ClassificationScore: PredictionMetric {
    /// Which score to compute.
    public enum Kind: String, Sendable {
        /// TP / (TP + FP).
        case precision
        /// TP / (TP + FN).
        case recall
        /// The harmonic mean of precision and recall.
        case f1
        /// Intersection over union, TP / (TP + FP + FN) (the Jaccard index).
        case iou
    }

    public let kind: Kind
    public let averaging: ClassAveraging
    public var name: String { averaging == .macro ? kind.rawValue : "\(kind.rawValue)_\(averaging.rawValue)" }
    public var displayName: String {
        let base = kind == .f1 ? "F1" : kind == .iou ? "IoU" : kind.rawValue.prefix(1).uppercased() + kind.rawValue.dropFirst()
        return averaging == .macro ? base : "\(base) (\(averaging.rawValue))"
    }
    private var truePositives: [Int] = []
    private var falsePositives: [Int] = []
    private var falseNegatives: [Int] = []

    public init(_ kind: Kind, averaging: ClassAveraging = .macro) {
        self.kind = kind
        self.averaging = averaging
    }

    public func reset() { truePositives = []; falsePositives = []; falseNegatives = [] }

    private func grow(to classes: Int) {
        while truePositives.count < classes {
            truePositives.append(0); falsePositives.append(0); falseNegatives.append(0)
        }
    }

    public func update(prediction: Tensor, target: Tensor) {
        let predicted = predictedClasses(prediction)
        let actual = targetClasses(target, like: prediction)
        require(predicted.count == actual.count,
                "\(displayName): \(predicted.count) predictions for \(actual.count) targets")
        let classes = Swift.max(prediction.rank >= 2 ? prediction.shape[1] : 0,
                                Int((predicted + actual).max() ?? -1) + 1)
        grow(to: classes)
        for i in 0..<predicted.count {
            let p = Int(predicted[i]), t = Int(actual[i])
            if p == t { truePositives[p] += 1 } else { falsePositives[p] += 1; falseNegatives[t] += 1 }
        }
    }

    private func score(tp: Int, fp: Int, fn: Int) -> Double {
        let precision = tp + fp > 0 ? Double(tp) / Double(tp + fp) : 0
        let recall = tp + fn > 0 ? Double(tp) / Double(tp + fn) : 0
        switch kind {
        case .precision: return precision
        case .recall: return recall
        case .f1: return precision + recall > 0 ? 2 * precision * recall / (precision + recall) : 0
        case .iou: return tp + fp + fn > 0 ? Double(tp) / Double(tp + fp + fn) : 0
        }
    }

    public func compute() -> Double {
        let classes = truePositives.count
        guard classes > 0 else { return .nan }
        switch averaging {
        case .micro:
            return score(tp: truePositives.reduce(0, +), fp: falsePositives.reduce(0, +),
                         fn: falseNegatives.reduce(0, +))
        case .macro:
            let scores = (0..<classes).map { score(tp: truePositives[$0], fp: falsePositives[$0], fn: falseNegatives[$0]) }
            return scores.reduce(0, +) / Double(classes)
        case .weighted:
            let support = (0..<classes).map { truePositives[$0] + falseNegatives[$0] }
            let total = support.reduce(0, +)
            guard total > 0 else { return .nan }
            return (0..<classes).reduce(0.0) {
                $0 + Double(support[$1]) * score(tp: truePositives[$1], fp: falsePositives[$1], fn: falseNegatives[$1])
            } / Double(total)
        }
    }

    public func fresh() -> any Metric { ClassificationScore(kind, averaging: averaging) }
}

/// Precision: of the examples predicted as a class, the fraction that belong to it.
public final class Precision: ClassificationScore {
    public init(averaging: ClassAveraging = .macro) { super.init(.precision, averaging: averaging) }
}
/// Recall: of the examples of a class, the fraction predicted as it.
public final class Recall: ClassificationScore {
    public init(averaging: ClassAveraging = .macro) { super.init(.recall, averaging: averaging) }
}
/// F1: the harmonic mean of precision and recall.
public final class F1Score: ClassificationScore {
    public init(averaging: ClassAveraging = .macro) { super.init(.f1, averaging: averaging) }
}

/// Mean absolute error, mean squared error or its root, over all elements.
public class RegressionError: PredictionMetric {
    /// Which error to compute.
    public enum Kind: String, Sendable { case mae, mse, rmse }
    public let kind: Kind
    public var name: String { kind.rawValue }
    public var displayName: String { kind.rawValue.uppercased() }
    public var higherIsBetter: Bool { false }
    private var total = 0.0
    private var count = 0

    public init(_ kind: Kind) { self.kind = kind }
    public func reset() { total = 0; count = 0 }
    public func update(prediction: Tensor, target: Tensor) {
        let p = prediction.doubles, t = target.doubles
        require(p.count == t.count,
                "\(displayName): prediction shape \(prediction.shape) and target shape \(target.shape) differ in size")
        for i in 0..<p.count {
            let d = p[i] - t[i]
            total += kind == .mae ? Swift.abs(d) : d * d
        }
        count += p.count
    }
    public func compute() -> Double {
        guard count > 0 else { return .nan }
        let mean = total / Double(count)
        return kind == .rmse ? mean.squareRoot() : mean
    }
    public func fresh() -> any Metric { RegressionError(kind) }
}

/// Mean absolute error.
public final class MAE: RegressionError { public init() { super.init(.mae) } }
/// Mean squared error.
public final class MSE: RegressionError { public init() { super.init(.mse) } }
/// Root mean squared error.
public final class RMSE: RegressionError { public init() { super.init(.rmse) } }

/// The area under the ROC curve of scores for a binary target, computed exactly from ranks
/// (the Mann–Whitney statistic; tied scores count one half).
func areaUnderROC(scores: [Double], positives: [Bool]) -> Double {
    let order = scores.indices.sorted { scores[$0] < scores[$1] }
    var rankSumPositive = 0.0
    var i = 0
    while i < order.count {
        var j = i
        while j + 1 < order.count && scores[order[j + 1]] == scores[order[i]] { j += 1 }
        let averageRank = Double(i + j) / 2 + 1
        for k in i...j where positives[order[k]] { rankSumPositive += averageRank }
        i = j + 1
    }
    let p = Double(positives.filter { $0 }.count)
    let n = Double(positives.count) - p
    guard p > 0 && n > 0 else { return .nan }
    return (rankSumPositive - p * (p + 1) / 2) / (p * n)
}

/// Every score of an epoch and whether its target is positive (above 0.5): what ranking
/// metrics (``BinaryAUROC``, ``AveragePrecision``) need.
struct BinaryScores {
    private(set) var scores: [Double] = []
    private(set) var positives: [Bool] = []

    mutating func add(_ prediction: Tensor, _ target: Tensor, metric: String) {
        let p = prediction.doubles, t = target.doubles
        require(p.count == t.count, "\(metric): \(p.count) scores for \(t.count) targets")
        scores += p
        positives += t.map { $0 > 0.5 }
    }
}

/// The area under the ROC curve for binary targets; predictions are scores or probabilities of
/// the positive class (set `fromLogits` to apply the sigmoid first — the AUC is the same).
public final class BinaryAUROC: PredictionMetric {
    public let name = "auc"
    public let displayName = "AUC"
    private var collected = BinaryScores()

    public init() {}
    public func reset() { collected = BinaryScores() }
    public func update(prediction: Tensor, target: Tensor) { collected.add(prediction, target, metric: "BinaryAUROC") }
    public func compute() -> Double { areaUnderROC(scores: collected.scores, positives: collected.positives) }
    public func fresh() -> any Metric { BinaryAUROC() }
}

/// One-vs-rest area under the ROC curve for multi-class scores `[N, classes]` and class-index
/// targets, averaged over classes (macro, weighted by support) or pooled (micro).
public final class MulticlassAUROC: PredictionMetric {
    public let name: String
    public let displayName = "AUC"
    public let averaging: ClassAveraging
    private var scores: [[Double]] = []
    private var targets: [Int] = []

    public init(averaging: ClassAveraging = .macro) {
        self.averaging = averaging
        name = averaging == .macro ? "auc" : "auc_\(averaging.rawValue)"
    }
    public func reset() { scores = []; targets = [] }
    public func update(prediction: Tensor, target: Tensor) {
        require(prediction.rank == 2, "MulticlassAUROC: predictions must be [N, classes], got \(prediction.shape)")
        let classes = prediction.shape[1]
        let values = prediction.doubles
        let t = targetClasses(target, like: prediction)
        require(t.count == prediction.shape[0], "MulticlassAUROC: \(prediction.shape[0]) predictions for \(t.count) targets")
        for i in 0..<prediction.shape[0] {
            scores.append(Array(values[(i * classes)..<((i + 1) * classes)]))
            targets.append(Int(t[i]))
        }
    }
    public func compute() -> Double {
        guard let classes = scores.first?.count else { return .nan }
        switch averaging {
        case .micro:
            var flatScores: [Double] = [], flatPositives: [Bool] = []
            for (row, t) in zip(scores, targets) {
                flatScores += row
                flatPositives += (0..<classes).map { $0 == t }
            }
            return areaUnderROC(scores: flatScores, positives: flatPositives)
        case .macro, .weighted:
            var sum = 0.0, weightSum = 0.0
            for c in 0..<classes {
                let positives = targets.map { $0 == c }
                let support = Double(positives.filter { $0 }.count)
                let auc = areaUnderROC(scores: scores.map { $0[c] }, positives: positives)
                guard !auc.isNaN else { continue }
                let weight = averaging == .macro ? 1 : support
                sum += weight * auc
                weightSum += weight
            }
            return weightSum > 0 ? sum / weightSum : .nan
        }
    }
    public func fresh() -> any Metric { MulticlassAUROC(averaging: averaging) }
}
