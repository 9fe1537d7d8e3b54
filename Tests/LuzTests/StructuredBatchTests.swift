import Foundation
import Testing
@testable import Luz

/// Points whose class needs two inputs: class 1 when the mean of a 4-value "image" plus a
/// scalar feature is positive. Either input alone leaves about a quarter of the points wrong.
func imageAndScalar(count: Int, seed: UInt64) -> (images: Tensor, scalars: Tensor, labels: Tensor) {
    let g = Generator(seed: seed)
    let images = Tensor.randn([count, 4], generator: g)
    let scalars = Tensor.randn([count, 1], generator: g)
    let score = images.mean(dims: [1]) + scalars.reshaped([count])
    return (images, scalars, (score .> 0).to(.int64))
}

/// A model of two inputs, an image and a scalar feature.
final class ImageAndScalarNet: Module, StructuredModule {
    var image = Sequential { Linear(4, 8); ReLU() }
    var head = Linear(9, 2)

    func forward(inputs: TensorTree) -> TensorTree {
        let features = image(inputs[0].singleTensor("image"))
        return .tensor(head(Tensor.cat([features, inputs[1].singleTensor("scalar")], dim: 1)))
    }
}

/// A model with two heads: the class of a blob point and the sum of its coordinates.
final class TwoHeadNet: Module, StructuredModule {
    var trunk = Sequential { Linear(2, 16); ReLU() }
    var classHead = Linear(16, 2)
    var valueHead = Linear(16, 1)

    func forward(inputs: TensorTree) -> TensorTree {
        let features = trunk(inputs.singleTensor("points"))
        return ["class": .tensor(classHead(features)), "value": .tensor(valueHead(features))]
    }
}

/// A siamese model: one encoder applied to both points of a pair, then a classifier of the
/// absolute difference of the encodings (same class or not).
final class SiameseNet: Module, StructuredModule {
    var encoder = Sequential { Linear(2, 16); ReLU(); Linear(16, 8) }
    var compare = Sequential { Linear(8, 16); ReLU(); Linear(16, 2) }

    func forward(inputs: TensorTree) -> TensorTree {
        let a = encoder(inputs[0].singleTensor("first")), b = encoder(inputs[1].singleTensor("second"))
        return .tensor(compare((a - b).abs()))
    }
}

@Suite("Structured batches: several inputs and targets")
struct StructuredBatchTests {
    @Test func aTwoInputModelTrainsEvaluatesAndPredicts() throws {
        manualSeed(1)
        let (images, scalars, labels) = imageAndScalar(count: 600, seed: 2)
        let train = TensorDataset(inputs: [images[0..<500], scalars[0..<500]], targets: labels[0..<500])
        let valid = TensorDataset(inputs: [images[500...], scalars[500...]], targets: labels[500...])
        #expect(train[3].inputs.leaves.map(\.shape) == [[4], [1]])
        let fitted = try ImageAndScalarNet()
            .setup(loss: CrossEntropyLoss(), optimizer: Adam.self, metrics: [Accuracy()])
            .learningRate(0.02)
            .fit(train, epochs: 30, validData: .dataset(valid), verbose: false, seed: 3)
        let evaluation = try fitted.evaluate(valid)
        #expect(try #require(evaluation["acc"]) >= 0.95)
        #expect(fitted.records.value(set: "valid", metric: "acc")! >= 0.95)
        let logits = try fitted.predict(valid)
        #expect(logits.shape == [100, 2])
        // The same data as tensors: DataSource.tensors takes several inputs too.
        let again = try fitted.predict(.tensors([images[500...], scalars[500...]], labels[500...], batchSize: 7))
        #expect(again.allClose(logits, rtol: 1e-6, atol: 1e-6))
        let accuracy = (logits.argmax(dim: 1) .== labels[500...]).to(.float32).mean().item
        #expect(Swift.abs(accuracy - evaluation["acc"]!) < 1e-6)
    }

    @Test func aTwoHeadModelTrainsWithTwoLossesAndRecordsAMetricPerHead() throws {
        manualSeed(4)
        let (points, labels) = blobs(count: 400, seed: 5)
        let values = points.sum(dims: [1], keepDim: true)
        let data = TensorDataset(inputs: .tensor(points), targets: ["class": .tensor(labels), "value": .tensor(values)])
        let loss = LossFunction.weightedSum([.init(CrossEntropyLoss(), head: "class"),
                                             .init(MSELoss(), head: "value", weight: 0.5)])
        let fitted = try TwoHeadNet()
            .setup(loss: loss, optimizer: Adam.self, metrics: [Accuracy().forHead("class"), MAE().forHead("value")])
            .learningRate(0.01)
            .fit(data, epochs: 40, validData: 0.25, verbose: false, seed: 6)
        #expect(fitted.records.metrics == ["loss", "class_acc", "value_mae"])
        #expect(fitted.records.value(set: "valid", metric: "class_acc")! >= 0.95)
        #expect(fitted.records.value(set: "valid", metric: "value_mae")! < 0.3)
        let evaluation = try fitted.evaluate(data)
        #expect(evaluation["class_acc"]! >= 0.95 && evaluation["value_mae"]! < 0.3)
        // predict returns what the model returns, each head's batches concatenated.
        let predictions = try fitted.predictTree(.dataset(data, batchSize: 64))
        #expect(predictions["class"].tensor?.shape == [400, 2])
        #expect(predictions["value"].tensor?.shape == [400, 1])
        let error = (predictions["value"].tensor! - values).abs().mean().item
        #expect(Swift.abs(error - evaluation["value_mae"]!) < 1e-5)
    }

    @Test func aSiameseModelLearnsWhetherTwoPointsShareAClass() throws {
        manualSeed(7)
        let (points, labels) = blobs(count: 1200, seed: 8)
        let first = points[0..<600], second = points[600...]
        let same = (labels[0..<600] .== labels[600...]).to(.int64)
        let data = TensorDataset(inputs: [first, second], targets: same)
        let fitted = try SiameseNet()
            .setup(loss: CrossEntropyLoss(), optimizer: Adam.self, metrics: [Accuracy()])
            .learningRate(0.01)
            .fit(data, epochs: 40, validData: 0.2, verbose: false, seed: 9)
        // Two blobs at ±2 with unit spread: about 2 % of the pairs are ambiguous.
        #expect(fitted.records.value(set: "valid", metric: "acc")! >= 0.9)
    }

    @Test func anAutoencoderTrainsOnTargetsEqualToItsInputs() throws {
        manualSeed(10)
        let g = Generator(seed: 11)
        // Four coordinates on a plane: a two-unit bottleneck can reproduce them.
        let codes = Tensor.randn([512, 2], generator: g)
        let x = codes.matmul(Tensor.randn([2, 4], generator: g))
        let variance = x.variance().item
        let model = Sequential { Linear(4, 2); Linear(2, 4) }
        let fitted = try model.setup(loss: MSELoss(), optimizer: Adam.self)
            .learningRate(0.02)
            .fit(TensorDataset(inputs: x, targets: x), epochs: 60, verbose: false, seed: 12)
        let loss = try fitted.evaluate(inputs: x, targets: x)["loss"]!
        #expect(loss < 0.01 * variance)
    }
}

@Suite("The training engine")
struct EngineTests {
    @Test func eachModeHasItsListOfDefaultCallbacks() {
        #expect(RunMode.fit.defaultCallbackNames
                == ["TimingsCallback", "InterruptCallback", "TrainValidCallback", "MetricsCallback", "ProgressCallback"])
        #expect(RunMode.evaluate.defaultCallbackNames
                == ["InterruptCallback", "TrainValidCallback", "MetricsCallback", "ProgressCallback"])
        #expect(RunMode.predict.defaultCallbackNames == ["InterruptCallback"])
    }

    @Test func aMisspeltMonitorStopsTheRunBeforeTrainingAndListsTheNames() throws {
        let (x, y) = blobs(count: 64, seed: 13)
        let recorder = EventRecorder()
        #expect {
            _ = try smallNet().setup(loss: CrossEntropyLoss(), metrics: [Accuracy()])
                .fit(inputs: x, targets: y, epochs: 3, validData: 0.25,
                     callbacks: [recorder, EarlyStopping(monitor: "valid_los")], verbose: false)
        } throws: { error in
            let text = String(describing: error)
            return text.contains("EarlyStopping") && text.contains("'valid_los'")
                && text.contains("train_acc, train_loss, valid_acc, valid_loss")
        }
        #expect(recorder.events.isEmpty)
        // Typed monitors, and names a callback declares it logs, are accepted.
        let logger = LambdaCallback(recording: [.train("double_loss")]) { event, context in
            if event == .epochEnd { context.log("double_loss", value: 2 * context.metric(.train(.loss))!, set: "train") }
        }
        let fitted = try smallNet().setup(loss: CrossEntropyLoss(), metrics: [Accuracy()])
            .fit(inputs: x, targets: y, epochs: 2, validData: 0.25,
                 callbacks: [logger, EarlyStopping(monitor: .valid(.accuracy)), KeepBestModel(monitor: "train_double_loss")],
                 verbose: false)
        #expect(fitted.epochsTrained == 2)
        #expect(Monitor("valid_class_acc") == .valid("class_acc"))
    }

    /// Two optimizers, each trained on its own loss: luz's loop over `ctx$optimizers`.
    final class TwoLosses: Module, LossProviding, OptimizerProviding {
        var first = Linear(2, 2)
        var second = Linear(2, 2)
        var calls: [String] = []
        override func forward(_ x: Tensor) -> Tensor { first(x) + second(x) }
        func loss(prediction: Tensor, target: Tensor) -> Tensor { crossEntropy(prediction, target) }
        func loss(predictions: TensorTree, targets: TensorTree, optimizer: String) -> Tensor {
            calls.append(optimizer)
            let value = crossEntropy(predictions.tensor!, targets.tensor!)
            return optimizer == "first" ? value : 2 * value
        }
        func makeOptimizers(hyperparameters: Hyperparameters) -> [(String, Optimizer)] {
            [("first", SGD(first.parameters(), learningRate: 0.1)), ("second", SGD(second.parameters(), learningRate: 0.1))]
        }
    }

    @Test func severalOptimizersEachStepOnTheirOwnLoss() throws {
        let (x, y) = blobs(count: 64, seed: 14)
        let model = TwoLosses()
        var lossesSeen: [[String: Double]] = []
        let watcher = LambdaCallback { event, context in
            if event == .trainBatchEnd { lossesSeen.append(context.loss) }
        }
        _ = try model.setup(optimizer: OptimizerFactory(SGD.self))
            .fit(inputs: x, targets: y, epochs: 1, callbacks: [watcher], verbose: false, batchSize: 32)
        // Each batch: one forward pass, loss and step per optimizer, in their order.
        #expect(model.calls == ["first", "second", "first", "second"])
        #expect(lossesSeen.count == 2)
        for losses in lossesSeen {
            #expect(Set(losses.keys) == ["first", "second"])
        }
    }

    @Test func float64InputsAreConvertedToTheModelsFloat32() throws {
        // Swift's float literals make float64 tensors; the layers are float32.
        let x = Tensor([[0.5, 1.0], [-1.0, 0.25], [2.0, -0.5], [0.0, 1.5]])
        let y = Tensor([1, 0, 1, 0] as [Int64])
        #expect(x.dtype == .float64)
        var inputTypes: Set<DType> = [], targetTypes: Set<DType> = []
        let watcher = LambdaCallback { event, context in
            if event == .trainBatchBegin {
                inputTypes.insert(context.input!.dtype)
                targetTypes.insert(context.target!.dtype)
            }
        }
        let fitted = try smallNet().setup(loss: CrossEntropyLoss())
            .fit(inputs: x, targets: y, epochs: 2, callbacks: [watcher], verbose: false, batchSize: 2)
        #expect(inputTypes == [.float32])
        #expect(targetTypes == [.int64])                   // class indices stay int64
        #expect(try fitted.predict(x).dtype == .float32)
    }

    @Test func everyEntryPointTakesTheSameDataForms() throws {
        let (x, y) = blobs(count: 96, seed: 15)
        let dataset = TensorDataset(inputs: x, targets: y)
        let loader = DataLoader(dataset, batchSize: 16)
        // A loss closure and an optimizer type go together.
        let fitted = try smallNet().setup(loss: { crossEntropy($0, $1) }, optimizer: Adam.self, metrics: [Accuracy()])
            .fit(loader, epochs: 2, verbose: false)
        try fitted.fit(loader, epochs: 1, verbose: false)
        try fitted.fit(dataset, epochs: 1, verbose: false)
        #expect(fitted.epochsTrained == 4)
        let fromLoader = try fitted.evaluate(loader), fromDataset = try fitted.evaluate(dataset)
        #expect(Swift.abs(fromLoader["acc"]! - fromDataset["acc"]!) < 1e-12)
        #expect(try fitted.predict(loader).shape == [96, 2])
        #expect(try fitted.predict(dataset, batchSize: 10).shape == [96, 2])
    }

    /// A custom step that sets the loss but no prediction.
    final class LossOnlyStep: Module, CustomTrainingStep {
        var layer = Linear(2, 2)
        override func forward(_ x: Tensor) -> Tensor { layer(x) }
        func trainingStep(_ context: Context) throws {
            let loss = crossEntropy(layer(context.input!), context.target!)
            loss.backward()
            withNoGrad { context.optimizer?.step() }
            context.optimizer?.zeroGrad()
            context.setLoss(loss.item)
        }
    }

    @Test func aCustomStepWithoutAPredictionSkipsThePredictionMetrics() throws {
        let (x, y) = blobs(count: 64, seed: 20)
        let fitted = try LossOnlyStep().setup(loss: CrossEntropyLoss(), metrics: [Accuracy()])
            .fit(inputs: x, targets: y, epochs: 2, validData: 0.25, verbose: false)
        #expect(fitted.records.value(set: "train", metric: "loss")!.isFinite)
        #expect(fitted.records.value(set: "train", metric: "acc")!.isNaN)       // no batch to count
        #expect(fitted.records.value(set: "valid", metric: "acc")! >= 0)        // validation predicts
    }

    @Test func theProgressLossIsTheRunningMeanTheEpochLineRepeats() throws {
        let (x, y) = blobs(count: 100, seed: 16)
        var atTrainEnd: [Double] = []
        let watcher = LambdaCallback(weight: 1000) { event, context in
            if event == .trainEnd { atTrainEnd.append(context.runningLoss!) }
        }
        let fitted = try smallNet().setup(loss: CrossEntropyLoss())
            .fit(inputs: x, targets: y, epochs: 3, callbacks: [watcher], verbose: false, batchSize: 32, dropLast: false)
        let recorded = fitted.records.series(set: "train", metric: "loss").map(\.value)
        #expect(atTrainEnd.count == 3)
        for (running, epoch) in zip(atTrainEnd, recorded) { #expect(Swift.abs(running - epoch) < 1e-12) }
    }
}

@Suite("Modules replaced after construction")
struct ReplacedModuleFitTests {
    final class Net: Module {
        var hidden = Linear(2, 8)
        var output = Linear(8, 2)
        override func forward(_ x: Tensor) -> Tensor { output(hidden(x).relu()) }
    }

    @Test func aChildReplacedAfterConstructionIsTrainedAndSaved() throws {
        let (x, y) = blobs(count: 200, seed: 17)
        let net = Net()
        _ = net.parameters()                       // inspected before the replacement
        let old = net.output
        net.output = Linear(8, 2)
        let replacement = net.output
        let before = replacement.weight.cloned()
        let fitted = try net.setup(loss: CrossEntropyLoss(), metrics: [Accuracy()]).learningRate(0.05)
            .fit(inputs: x, targets: y, epochs: 10, verbose: false, seed: 18)
        // The new child's parameters were in the optimizer: they moved, and the net learned.
        #expect(!replacement.weight.allClose(before))
        #expect(fitted.records.value(set: "train", metric: "acc")! >= 0.95)
        #expect(fitted.optimizers[0].optimizer.parameterGroups[0].parameters.contains { $0 === replacement.weight })
        #expect(!fitted.optimizers[0].optimizer.parameterGroups[0].parameters.contains { $0 === old.weight })
        // And saved: the state dict holds the new child's weights.
        let state = net.stateDict()
        #expect(state["output.weight"]! === replacement.weight)
    }
}

@Suite("Console output")
struct ConsoleOrderTests {
    /// Piped output keeps its order: the progress lines go through the same buffered stream
    /// as the script's own `print`, flushed as they are written.
    @Test func progressAndPrintsComeOutInTheOrderTheyHappened() async throws {
        let result = await #expect(processExitsWith: .success, observing: [\.standardOutputContent]) {
            let (x, y) = blobs(count: 64, seed: 19)
            print("before fit")
            let callback = LambdaCallback { event, context in
                if event == .epochEnd { print("callback at epoch \(context.epoch)") }
            }
            _ = try? smallNet().setup(loss: CrossEntropyLoss())
                .fit(inputs: x, targets: y, epochs: 2, callbacks: [callback], verbose: true)
            print("after fit")
            exit(0)
        }
        let lines = String(decoding: result?.standardOutputContent ?? [], as: UTF8.self)
            .split(separator: "\n").map(String.init)
        let order = ["before fit", "Epoch 1/2", "callback at epoch 1", "Train metrics", "Epoch 2/2",
                     "callback at epoch 2", "Train metrics", "after fit"]
        var position = 0
        for line in lines where position < order.count && line.hasPrefix(order[position]) { position += 1 }
        #expect(position == order.count, "stdout was: \(lines)")
    }
}
