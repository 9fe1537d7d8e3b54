import Foundation
@testable import Luz
import Testing

/// A model that brings its own loss.
final class SelfScoringNet: Module, LossProviding {
    var layer = Linear(2, 2)
    override func forward(_ input: Tensor) -> Tensor { layer(input) }
    func loss(prediction: Tensor, target: Tensor) -> Tensor { crossEntropy(prediction, target) }
}

/// A model with two optimizers, one per layer, by name.
final class TwoOptimizerNet: Module, OptimizerProviding {
    var first = Linear(2, 4)
    var second = Linear(4, 2)
    override func forward(_ input: Tensor) -> Tensor { second(first(input).relu()) }
    func makeOptimizers(hyperparameters: Hyperparameters) -> [(String, Optimizer)] {
        [("body", SGD(groups: [ParameterGroup(first.parameters())])),
         ("head", Adam(groups: [ParameterGroup(second.parameters())]))]
    }
}

/// A model with its own training step: it calls backward and steps the optimizer itself.
final class CustomStepNet: Module, CustomTrainingStep {
    var layer = Linear(2, 2)
    var steps = 0
    override func forward(_ input: Tensor) -> Tensor { layer(input) }
    func trainingStep(_ context: Context) throws {
        let prediction = self(context.input!)
        let loss = withGradMode(enabled: true) { crossEntropy(prediction, context.target!) }
        context.prediction = prediction
        loss.backward()
        withNoGrad {
            context.optimizer!.step()
            context.optimizer!.zeroGrad()
        }
        context.setLoss(loss.item)
        steps += 1
    }
}

@Suite("Models that bring their own loss, optimizers or step")
struct ModelHooksTests {
    @Test func modelWithItsOwnLoss() throws {
        let (x, y) = blobs(count: 64, seed: 40)
        let fitted = try SelfScoringNet().setup(optimizer: OptimizerFactory(Adam.self))
            .learningRate(0.05).fit(inputs: x, targets: y, epochs: 5, verbose: false)
        let losses = fitted.records.series(set: "train", metric: "loss").map(\.value)
        #expect(losses.last! < losses.first!)
    }

    @Test func namedOptimizersAllStep() throws {
        let (x, y) = blobs(count: 64, seed: 41)
        let net = TwoOptimizerNet()
        let before = net.parameters().map(\.floats)
        let fitted = try net.setup(loss: CrossEntropyLoss()).fit(inputs: x, targets: y, epochs: 1, verbose: false)
        #expect(fitted.optimizers.map(\.name) == ["body", "head"])
        for (old, new) in zip(before, net.parameters().map(\.floats)) { #expect(old != new) }
    }

    @Test func customStepRunsWithMetricsAndCallbacks() throws {
        let (x, y) = blobs(count: 64, seed: 42)
        let net = CustomStepNet()
        let recorder = EventRecorder()
        let fitted = try net.setup(loss: CrossEntropyLoss(), metrics: [Accuracy()])
            .fit(.tensors(x, y, batchSize: 16), epochs: 2, callbacks: [recorder], verbose: false)
        #expect(net.steps == 8)
        #expect(fitted.records.value(set: "train", metric: "acc", epoch: 2) != nil)
        #expect(fitted.records.value(set: "train", metric: "loss", epoch: 2)!.isFinite)
        #expect(recorder.events.filter { $0 == "on_train_batch_end" }.count == 8)
    }

    @Test func evaluateFiresOnlyValidEventsAndPredictItsOwn() throws {
        let (x, y) = blobs(count: 16, seed: 43)
        let fitted = try smallNet().setup(loss: CrossEntropyLoss()).fit(inputs: x, targets: y, epochs: 1, verbose: false,
                                                                        batchSize: 8)
        let recorder = EventRecorder()
        _ = try fitted.evaluate(.tensors(x, y, batchSize: 8), callbacks: [recorder])
        #expect(Set(recorder.events) == ["on_valid_begin", "on_valid_batch_begin", "on_valid_batch_after_pred",
                                         "on_valid_batch_after_loss", "on_valid_batch_end", "on_valid_end"])
        let predictor = EventRecorder()
        let classes = try fitted.predictBatches(.tensors(x, y, batchSize: 8), callbacks: [predictor]) { $0.argmax(dim: 1) }
        #expect(classes.count == 2 && classes[0].shape == [8])
        #expect(predictor.events == ["on_predict_begin", "on_predict_batch_begin", "on_predict_batch_end",
                                     "on_predict_batch_begin", "on_predict_batch_end", "on_predict_end"])
        #expect(fitted.model.isTraining)   // predict and evaluate put the mode back
    }

    @Test func fittedModelDescriptionShowsTimingsMetricsAndModel() throws {
        let (x, y) = blobs(count: 32, seed: 44)
        let fitted = try smallNet().setup(loss: CrossEntropyLoss(), metrics: [Accuracy()])
            .fit(inputs: x, targets: y, epochs: 2, validData: 0.25, verbose: false, batchSize: 8)
        let text = fitted.description
        #expect(text.contains("2 epochs"))
        #expect(text.contains("Train metrics: Loss: "))
        #expect(text.contains("Valid metrics: Loss: "))
        #expect(text.contains("Linear"))
    }

    @Test func consoleOutputLooksLikeLuz() async {
        let result = await #expect(processExitsWith: .success, observing: [\.standardOutputContent]) {
            let (x, y) = blobs(count: 64, seed: 45)
            let stopping = EarlyStopping(monitor: "train_loss", patience: 0, mode: .max, baseline: 1e9)
            _ = try smallNet().setup(loss: CrossEntropyLoss(), metrics: [Accuracy()])
                .fit(inputs: x, targets: y, epochs: 5, validData: 0.25, callbacks: [stopping])
        }
        let text = String(decoding: result?.standardOutputContent ?? [], as: UTF8.self)
        let lines = text.split(separator: "\n").map(String.init)
        #expect(lines.first == "Epoch 1/5")
        #expect(lines.contains { $0.hasPrefix("Train metrics: Loss: ") && $0.contains(" - Acc: ") })
        #expect(lines.contains { $0.hasPrefix("Valid metrics: Loss: ") })
        #expect(lines.last == "Early stopping at epoch 1 of 5")
        #expect(!text.contains("\r"))   // no live bar when stdout is not a terminal
    }

    @Test func quietFitsPrintNothing() async {
        let result = await #expect(processExitsWith: .success, observing: [\.standardOutputContent]) {
            let (x, y) = blobs(count: 32, seed: 46)
            _ = try smallNet().setup(loss: CrossEntropyLoss()).fit(inputs: x, targets: y, epochs: 2, verbose: false)
        }
        #expect(result?.standardOutputContent.isEmpty == true)
    }
}
