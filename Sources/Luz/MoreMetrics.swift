/// Intersection over union per class, averaged (torchmetrics' `JaccardIndex`; for segmentation,
/// pass class scores `[N, classes, ...]` flattened to `[N·pixels, classes]`): TP / (TP + FP + FN).
public final class JaccardIndex: ClassificationScore {
    /// Creates the metric (`iou`; `iou_micro`, `iou_weighted` for the other averagings).
    public init(averaging: ClassAveraging = .macro) { super.init(.iou, averaging: averaging) }
    public override func fresh() -> any Metric { JaccardIndex(averaging: averaging) }
}

/// The fraction of examples whose target class is among the `k` highest scores (Keras'
/// `top_k_categorical_accuracy`, torchmetrics' `Accuracy(top_k:)`). A tie with the target's
/// score counts in its favour: an example is right when fewer than `k` classes score higher.
public final class TopKAccuracy: PredictionMetric {
    /// How many of the best-scored classes may hold the target.
    public let k: Int
    public var name: String { "top\(k)_acc" }
    public var displayName: String { "Top-\(k) acc" }
    private var correct = 0
    private var total = 0

    /// Creates the metric (`top5_acc` for k = 5).
    public init(k: Int = 5) {
        require(k >= 1, "TopKAccuracy: k must be at least 1, got \(k)")
        self.k = k
    }
    public func reset() { correct = 0; total = 0 }
    public func update(prediction: Tensor, target: Tensor) {
        require(prediction.rank == 2, "TopKAccuracy: predictions must be scores [N, classes], got \(prediction.shape)")
        let rows = prediction.shape[0], classes = prediction.shape[1]
        let scores = prediction.doubles, actual = targetClasses(target, like: prediction)
        require(actual.count == rows, "TopKAccuracy: \(rows) predictions for \(actual.count) targets (shape \(target.shape))")
        for i in 0..<rows {
            let t = Int(actual[i])
            require((0..<classes).contains(t), "TopKAccuracy: target \(t) is out of range for \(classes) classes")
            let row = scores[(i * classes)..<((i + 1) * classes)], own = row[row.startIndex + t]
            if row.lazy.filter({ $0 > own }).count < k { correct += 1 }
        }
        total += rows
    }
    public func compute() -> Double { total > 0 ? Double(correct) / Double(total) : .nan }
    public func fresh() -> any Metric { TopKAccuracy(k: k) }
}

/// The coefficient of determination, 1 − Σ(y − ŷ)² / Σ(y − ȳ)² (torchmetrics' `R2Score`);
/// for targets `[N, outputs]`, the mean over outputs (its `uniform_average`).
public final class R2Score: PredictionMetric {
    public let name = "r2"
    public let displayName = "R²"
    private var count = 0.0
    private var sums: [Double] = []
    private var squares: [Double] = []
    private var residuals: [Double] = []

    /// Creates the metric.
    public init() {}
    public func reset() { count = 0; sums = []; squares = []; residuals = [] }
    public func update(prediction: Tensor, target: Tensor) {
        let p = prediction.doubles, t = target.doubles
        require(p.count == t.count, "R2Score: \(p.count) predictions (shape \(prediction.shape)) for \(t.count) targets (shape \(target.shape))")
        let outputs = target.rank == 2 ? target.shape[1] : 1
        guard outputs > 0, !t.isEmpty else { return }
        if sums.isEmpty {
            sums = Array(repeating: 0, count: outputs)
            squares = sums
            residuals = sums
        }
        require(sums.count == outputs, "R2Score: \(outputs) outputs after \(sums.count) in earlier batches")
        for (i, (y, yHat)) in zip(t, p).enumerated() {
            let column = i % outputs
            sums[column] += y
            squares[column] += y * y
            residuals[column] += (y - yHat) * (y - yHat)
        }
        count += Double(t.count / outputs)
    }
    public func compute() -> Double {
        guard count > 1 else { return .nan }
        let scores = sums.indices.map { j in 1 - residuals[j] / (squares[j] - sums[j] * sums[j] / count) }
        return scores.reduce(0, +) / Double(scores.count)
    }
    public func fresh() -> any Metric { R2Score() }
}

/// The average precision for binary targets (scikit-learn's `average_precision_score`,
/// torchmetrics' `AveragePrecision`): Σₙ (Rₙ − Rₙ₋₁)·Pₙ over the thresholds at each distinct
/// score, from the highest down. Predictions are scores or probabilities of the positive class.
public final class AveragePrecision: PredictionMetric {
    public let name = "ap"
    public let displayName = "AP"
    private var collected = BinaryScores()

    /// Creates the metric.
    public init() {}
    public func reset() { collected = BinaryScores() }
    public func update(prediction: Tensor, target: Tensor) { collected.add(prediction, target, metric: "AveragePrecision") }
    public func compute() -> Double {
        let scores = collected.scores, positives = collected.positives
        let totalPositives = positives.filter { $0 }.count
        guard totalPositives > 0 else { return .nan }
        let order = scores.indices.sorted { scores[$0] > scores[$1] }
        var truePositives = 0, seen = 0, previousRecall = 0.0, sum = 0.0
        var index = 0
        while index < order.count {
            // Every example tied at this score crosses the threshold together.
            let score = scores[order[index]]
            while index < order.count && scores[order[index]] == score {
                if positives[order[index]] { truePositives += 1 }
                seen += 1
                index += 1
            }
            let recall = Double(truePositives) / Double(totalPositives)
            sum += (recall - previousRecall) * Double(truePositives) / Double(seen)
            previousRecall = recall
        }
        return sum
    }
    public func fresh() -> any Metric { AveragePrecision() }
}

/// The counts of (true class, predicted class) pairs, accumulated over batches (torchmetrics'
/// `ConfusionMatrix`, scikit-learn's `confusion_matrix`): row i is the true class, column j the
/// predicted one. As a metric it reports the accuracy (the diagonal's share) under the name
/// `confusion_acc`; the matrix itself is ``counts`` (LuzPlot draws it with `plot(classNames:)`).
public final class ConfusionMatrix: PredictionMetric {
    public let name = "confusion_acc"
    public let displayName = "Acc (confusion)"
    /// The number of classes, or 0 to grow with the classes seen.
    public let classCount: Int
    /// `counts[true][predicted]`.
    public private(set) var counts: [[Int]]

    /// Creates an empty matrix of `classCount` classes (0: as many as the data show).
    public init(classCount: Int = 0) {
        require(classCount >= 0, "ConfusionMatrix: classCount must not be negative, got \(classCount)")
        self.classCount = classCount
        counts = Array(repeating: Array(repeating: 0, count: classCount), count: classCount)
    }

    /// The matrix of `prediction` (scores `[N, classes]` or class indices) against `target`.
    public convenience init(prediction: Tensor, target: Tensor, classCount: Int = 0) {
        self.init(classCount: classCount)
        update(prediction: prediction, target: target)
    }

    public func reset() {
        counts = Array(repeating: Array(repeating: 0, count: classCount), count: classCount)
    }

    public func update(prediction: Tensor, target: Tensor) {
        let predicted = predictedClasses(prediction), actual = targetClasses(target, like: prediction)
        require(predicted.count == actual.count,
                "ConfusionMatrix: \(predicted.count) predictions (shape \(prediction.shape)) for \(actual.count) targets (shape \(target.shape))")
        let needed = Swift.max(prediction.rank >= 2 ? prediction.shape[1] : 0, Int((predicted + actual).max() ?? -1) + 1)
        if classCount > 0 {
            require(needed <= classCount, "ConfusionMatrix: class \(needed - 1) is out of range for \(classCount) classes")
        } else if needed > counts.count {
            counts = (0..<needed).map { i in (0..<needed).map { j in i < counts.count && j < counts.count ? counts[i][j] : 0 } }
        }
        for (p, t) in zip(predicted, actual) {
            require(p >= 0 && t >= 0, "ConfusionMatrix: class indices must not be negative, got \(Swift.min(p, t))")
            counts[Int(t)][Int(p)] += 1
        }
    }

    /// Each row divided by its total (the recall of each class on the diagonal); empty rows are 0.
    public var normalizedByRow: [[Double]] {
        counts.map { row in
            let total = row.reduce(0, +)
            return row.map { total > 0 ? Double($0) / Double(total) : 0 }
        }
    }

    public func compute() -> Double {
        let total = counts.joined().reduce(0, +)
        guard total > 0 else { return .nan }
        return Double(counts.indices.reduce(0) { $0 + counts[$1][$1] }) / Double(total)
    }

    public func fresh() -> any Metric { ConfusionMatrix(classCount: classCount) }
}
