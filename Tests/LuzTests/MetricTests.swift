import Luz
import LuzTestSupport
import Testing

@Suite("Metrics")
struct MetricTests {
    let scores = Tensor([[0.1, 0.7, 0.2], [0.8, 0.1, 0.1], [0.3, 0.3, 0.4], [0.2, 0.5, 0.3], [0.6, 0.3, 0.1]] as [[Float]])
    // Predicted classes: 1, 0, 2, 1, 0.
    let targets = Tensor([1, 0, 1, 2, 0] as [Int64])

    @Test func accuracyAccumulatesOverBatches() {
        let metric = Accuracy()
        metric.update(prediction: scores[0..<2], target: targets[0..<2])
        metric.update(prediction: scores[2..<5], target: targets[2..<5])
        #expect(metric.compute() == 3.0 / 5.0)
        metric.reset()
        metric.update(prediction: scores[0..<1], target: targets[0..<1])
        #expect(metric.compute() == 1)
        #expect(metric.fresh().compute().isNaN)
    }

    @Test func accuracyAcceptsOneHotTargets() {
        let oneHot = Tensor([[0, 1, 0], [0, 0, 1]] as [[Float]])
        let metric = Accuracy()
        metric.update(prediction: scores[0..<2], target: oneHot)
        #expect(metric.compute() == 0.5)
    }

    @Test func binaryAccuracies() {
        let probabilities = Tensor([0.9, 0.4, 0.6, 0.2] as [Float])
        let labels = Tensor([1, 1, 0, 0] as [Float])
        let plain = BinaryAccuracy()
        plain.update(prediction: probabilities, target: labels)
        #expect(plain.compute() == 0.5)
        let strict = BinaryAccuracy(threshold: 0.95)
        strict.update(prediction: probabilities, target: labels)
        #expect(strict.compute() == 0.5)
        let logits = BinaryAccuracyWithLogits()
        logits.update(prediction: Tensor([2, -1, -3, 0.5] as [Float]), target: labels)
        #expect(logits.compute() == 0.5)   // predicted 1, 0, 0, 1
    }

    @Test func precisionRecallF1() {
        // Per class (tp, fp, fn): class 0 (2, 0, 0), class 1 (1, 1, 1), class 2 (0, 1, 1).
        let precision = Precision(), recall = Recall(), f1 = F1Score()
        let microF1 = F1Score(averaging: .micro), weighted = Recall(averaging: .weighted)
        for m in [precision, recall, f1, microF1, weighted] as [any PredictionMetric] {
            m.update(prediction: scores, target: targets)
        }
        #expect(Swift.abs(precision.compute() - (1 + 0.5 + 0) / 3) < 1e-12)
        #expect(Swift.abs(recall.compute() - (1 + 0.5 + 0) / 3) < 1e-12)
        #expect(Swift.abs(f1.compute() - (1 + 0.5 + 0) / 3) < 1e-12)
        #expect(Swift.abs(microF1.compute() - 0.6) < 1e-12)
        #expect(Swift.abs(weighted.compute() - (2 * 1 + 2 * 0.5 + 1 * 0) / 5) < 1e-12)
        #expect(precision.name == "precision" && microF1.name == "f1_micro")
    }

    @Test func regressionErrors() {
        let prediction = Tensor([1, 2, 3, 4] as [Float])
        let target = Tensor([1, 0, 3, 8] as [Float])
        let mae = MAE(), mse = MSE(), rmse = RMSE()
        for m in [mae, mse, rmse] as [any PredictionMetric] {
            m.update(prediction: prediction[0..<2], target: target[0..<2])
            m.update(prediction: prediction[2...], target: target[2...])
        }
        #expect(mae.compute() == 1.5)
        #expect(mse.compute() == 5)
        #expect(rmse.compute() == 5.0.squareRoot())
        #expect(!mse.higherIsBetter)
    }

    @Test func binaryAUROCFromRanks() {
        // Positives 0.8, 0.4, 0.35; negatives 0.1, 0.4, 0.7: of 9 pairs, positive wins
        // (0.8 > all 3) + (0.4 > 0.1, tie with 0.4) + (0.35 > 0.1) = 3 + 1.5 + 1 = 5.5.
        let auc = BinaryAUROC()
        auc.update(prediction: Tensor([0.8, 0.1, 0.4, 0.4] as [Float]), target: Tensor([1, 0, 1, 0] as [Float]))
        auc.update(prediction: Tensor([0.35, 0.7] as [Float]), target: Tensor([1, 0] as [Float]))
        #expect(Swift.abs(auc.compute() - 5.5 / 9) < 1e-12)
    }

    @Test func multiclassAUROC() {
        let perfect = MulticlassAUROC()
        perfect.update(prediction: Tensor([[0.9, 0.1], [0.2, 0.8], [0.7, 0.3]] as [[Float]]),
                       target: Tensor([0, 1, 0] as [Int64]))
        #expect(perfect.compute() == 1)
        let macro = MulticlassAUROC(), micro = MulticlassAUROC(averaging: .micro)
        for m in [macro, micro] { m.update(prediction: scores, target: targets) }
        // Class 0: positives {0.8, 0.6} vs {0.1, 0.3, 0.2} → 1. Class 1: positives {0.7, 0.3}
        // vs {0.1, 0.5, 0.3} → (3 + 1.5) / 6 = 0.75. Class 2: positive {0.3} vs {0.2, 0.1, 0.4, 0.1}
        // → 3 / 4 = 0.75.
        #expect(Swift.abs(macro.compute() - (1 + 0.75 + 0.75) / 3) < 1e-12)
        #expect(micro.compute() > 0.5 && micro.compute() <= 1)
    }

    @Test func lossAverageIsWeightedByBatchSize() {
        let loss = LossAverage()
        loss.add(loss: 1, batchSize: 3)
        loss.add(loss: 3, batchSize: 1)
        #expect(loss.compute() == 1.5)
    }

    @Test func topKAccuracyCountsTiesForTheTarget() {
        let top1 = TopKAccuracy(k: 1), top2 = TopKAccuracy(k: 2)
        top1.update(prediction: scores, target: targets)
        top2.update(prediction: scores[0..<2], target: targets[0..<2])
        top2.update(prediction: scores[2..<5], target: targets[2..<5])
        // Rows 2 and 3 have one class above the target's score (row 2's target ties another class).
        #expect(top1.compute() == 3.0 / 5.0)
        #expect(top2.compute() == 1)
        #expect(top2.name == "top2_acc" && top2.fresh().compute().isNaN)
    }

    @Test func jaccardIndexPerClass() {
        // (tp, fp, fn): class 0 (2, 0, 0), class 1 (1, 1, 1), class 2 (0, 1, 1).
        let macro = JaccardIndex(), micro = JaccardIndex(averaging: .micro)
        macro.update(prediction: scores, target: targets)
        micro.update(prediction: scores, target: targets)
        #expect(Swift.abs(macro.compute() - (1 + 1.0 / 3 + 0) / 3) < 1e-12)
        #expect(Swift.abs(micro.compute() - 3.0 / 7.0) < 1e-12)
        #expect(macro.name == "iou" && macro.fresh() is JaccardIndex)
    }

    @Test func r2Score() {
        // ȳ = 3, Σ(y − ȳ)² = 38, Σ(y − ŷ)² = 20, over two batches.
        let metric = R2Score()
        metric.update(prediction: Tensor([1, 2] as [Float]), target: Tensor([1, 0] as [Float]))
        metric.update(prediction: Tensor([3, 4] as [Float]), target: Tensor([3, 8] as [Float]))
        #expect(Swift.abs(metric.compute() - (1 - 20.0 / 38.0)) < 1e-12)
        // Two outputs, averaged: a perfect one (1) and one predicting its mean (0).
        let two = R2Score()
        two.update(prediction: Tensor([[1, 2], [2, 2], [3, 2]] as [[Float]]), target: Tensor([[1, 1], [2, 2], [3, 3]] as [[Float]]))
        #expect(Swift.abs(two.compute() - 0.5) < 1e-12)
    }

    @Test func averagePrecisionStepsAtEachDistinctScore() {
        let metric = AveragePrecision()
        metric.update(prediction: Tensor([0.9, 0.8, 0.7, 0.6, 0.55] as [Float]), target: Tensor([1, 0, 1, 0, 1] as [Float]))
        // (1/3)·1 + (1/3)·(2/3) + (1/3)·(3/5)
        #expect(Swift.abs(metric.compute() - 34.0 / 45.0) < 1e-12)
        let tied = AveragePrecision()
        tied.update(prediction: Tensor([0.9, 0.5, 0.5] as [Float]), target: Tensor([1, 0, 1] as [Float]))
        #expect(Swift.abs(tied.compute() - (0.5 + 0.5 * 2 / 3)) < 1e-12)
    }

    @Test func confusionMatrixCountsTrueAgainstPredicted() {
        // Predicted 1, 0, 2, 1, 0 for targets 1, 0, 1, 2, 0.
        let matrix = ConfusionMatrix()
        matrix.update(prediction: scores[0..<3], target: targets[0..<3])
        matrix.update(prediction: scores[3..<5], target: targets[3..<5])
        #expect(matrix.counts == [[2, 0, 0], [0, 1, 1], [0, 1, 0]])
        #expect(matrix.compute() == 3.0 / 5.0)
        #expect(matrix.normalizedByRow[1] == [0, 0.5, 0.5])
        let fixed = ConfusionMatrix(prediction: Tensor([0, 1] as [Int64]), target: Tensor([1, 1] as [Int64]), classCount: 4)
        #expect(fixed.counts.count == 4 && fixed.counts[1] == [1, 1, 0, 0])
        #expect((fixed.fresh() as? ConfusionMatrix)?.counts == Array(repeating: [0, 0, 0, 0], count: 4))
    }
}
