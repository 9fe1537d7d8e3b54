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
public final class TopKAccuracy: Metric {
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
public final class R2Score: Metric {
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
public final class AveragePrecision: Metric {
    public let name = "ap"
    public let displayName = "AP"
    private var scores: [Double] = []
    private var positives: [Bool] = []

    /// Creates the metric.
    public init() {}
    public func reset() { scores = []; positives = [] }
    public func update(prediction: Tensor, target: Tensor) {
        let p = prediction.doubles, t = target.doubles
        require(p.count == t.count, "AveragePrecision: \(p.count) scores for \(t.count) targets")
        scores += p
        positives += t.map { $0 > 0.5 }
    }
    public func compute() -> Double {
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
