import Foundation
@testable import Luz
import Testing

/// `-log softmax(logits)[target]`, by hand.
func crossEntropyByHand(_ logits: [Double], _ target: Int) -> Double {
    let top = logits.max()!
    return log(logits.map { exp($0 - top) }.reduce(0, +)) + top - logits[target]
}

/// A context on the training batch `batch`, with the setup's loss `loss`.
func trainingContext(batch: Example, loss: LossFunction?) -> Context {
    let context = Context(mode: .fit, model: Linear(2, 2), optimizers: [], lossFunction: loss, hyperparameters: Hyperparameters(),
                          optimizerHyperparameters: Hyperparameters(), verbose: false)
    context.isTraining = true
    context.batch = batch
    return context
}

/// 8 × 8 images of a bright bar on noise: class 0 horizontal, class 1 vertical, at a random
/// row or column and offset.
func barImages(count: Int, seed: UInt64) -> TensorDataset {
    let g = Generator(seed: seed)
    var pixels = [Float](repeating: 0, count: count * 64)
    var labels: [Int64] = []
    for n in 0..<count {
        let label = g.nextInt(below: 2)
        labels.append(Int64(label))
        for i in 0..<64 { pixels[n * 64 + i] = Float(0.3 * g.nextDouble()) }
        let line = 1 + g.nextInt(below: 6), start = g.nextInt(below: 3)
        for k in start..<(start + 5) {
            let (y, x) = label == 0 ? (line, k) : (k, line)
            pixels[n * 64 + y * 8 + x] = 1
        }
    }
    return TensorDataset(inputs: Tensor(pixels, shape: [count, 1, 8, 8]), targets: Tensor(labels, shape: [count]))
}

func barClassifier() -> Module {
    Sequential { Flatten(); Linear(64, 32); ReLU(); Linear(32, 2) }
}

@Suite("Mixup and CutMix")
struct MixupTests {
    @Test("MixupLoss weights the per-example losses of both targets; unmixed, it is the wrapped loss")
    func lossByHand() {
        let logits: [[Double]] = [[2, 0, -1], [0.5, 1.5, 0], [-1, 0.2, 0.7]]
        let prediction = Tensor(logits)
        let (first, second, weights): ([Int], [Int], [Float]) = ([0, 1, 2], [2, 0, 2], [0.75, 0.5, 0.625])
        let mixed = MixedTargets(first: Tensor(first.map(Int64.init), shape: [3]), second: Tensor(second.map(Int64.init), shape: [3]),
                                 weights: Tensor(weights, shape: [3]))
        let loss = MixupLoss(CrossEntropyLoss())
        let expected = (0..<3).map { i in
            Double(weights[i]) * crossEntropyByHand(logits[i], first[i]) + (1 - Double(weights[i])) * crossEntropyByHand(logits[i], second[i])
        }.reduce(0, +) / 3
        #expect(abs(loss(prediction, mixed).item - expected) < 1e-12)
        let plain = (0..<3).map { crossEntropyByHand(logits[$0], first[$0]) }.reduce(0, +) / 3
        #expect(abs(loss(prediction, mixed.first).item - plain) < 1e-12)
        // A regression loss keeps a value per element: each example's weight covers its row.
        let mse = MixupLoss(MSELoss())
        let p = Tensor([[1.0, 2.0], [3.0, 5.0]])
        let y1 = Tensor([[0.0, 2.0], [3.0, 3.0]]), y2 = Tensor([[1.0, 0.0], [0.0, 5.0]])
        let value = mse(p, MixedTargets(first: y1, second: y2, weights: Tensor([Float(0.75), 0.5])))
        let byHand = (0.75 * 1 + 0.25 * 0 + 0.75 * 0 + 0.25 * 4 + 0.5 * 0 + 0.5 * 9 + 0.5 * 4 + 0.5 * 0) / 4
        #expect(abs(value.item - byHand) < 1e-12)
    }

    @Test("Mixup mixes each example with the permuted one by max(λ, 1 − λ), λ ~ Beta(α, α)")
    func mixupBatch() throws {
        let inputs: [Float] = (0..<12).map { Float($0) * 0.5 - 2 }
        let batch = Example(input: Tensor(inputs, shape: [4, 3]), target: Tensor([Int64(0), 1, 2, 3], shape: [4]))
        let context = trainingContext(batch: batch, loss: LossFunction(MixupLoss(CrossEntropyLoss())))
        try Mixup(alpha: 0.4, generator: Generator(seed: 3)).handle(.trainBatchBegin, context)
        let replay = Generator(seed: 3)
        let permutation = replay.permutation(4)
        let weights = (0..<4).map { _ -> Float in
            let lambda = replay.nextBeta(0.4, 0.4)
            return Float(max(lambda, 1 - lambda))
        }
        let mixed = try #require(context.mixedTargets)
        #expect(mixed.first.scalars(as: Int64.self) == [0, 1, 2, 3])
        #expect(mixed.second.scalars(as: Int64.self) == permutation.map(Int64.init))
        #expect(mixed.weights.scalars(as: Float.self) == weights)
        #expect(weights.allSatisfy { $0 >= 0.5 && $0 <= 1 })
        let output = try #require(context.input).scalars(as: Float.self)
        for i in 0..<4 {
            for k in 0..<3 {
                let expected = weights[i] * inputs[i * 3 + k] + (1 - weights[i]) * inputs[permutation[i] * 3 + k]
                #expect(abs(output[i * 3 + k] - expected) < 1e-6)
            }
        }
        #expect(context.target?.scalars(as: Int64.self) == [0, 1, 2, 3], "the batch's target stays each example's own")
    }

    @Test("Mixup acts at the start of training batches only, and needs a MixupLoss")
    func mixupEvents() throws {
        let batch = Example(input: Tensor.ones([2, 3]), target: Tensor([Int64(0), 1], shape: [2]))
        let context = trainingContext(batch: batch, loss: LossFunction(MixupLoss(CrossEntropyLoss())))
        try Mixup().handle(.validBatchBegin, context)
        try Mixup().handle(.trainBatchAfterPrediction, context)
        #expect(context.mixedTargets == nil)
        #expect(context.input?.scalars(as: Float.self) == Array(repeating: 1, count: 6))
        // Without a MixupLoss the batch cannot be scored: a clear error, not a silent plain loss.
        let plain = trainingContext(batch: batch, loss: LossFunction(CrossEntropyLoss()))
        #expect(throws: LuzError.self) { try Mixup().handle(.trainBatchBegin, plain) }
    }

    @Test("the CutMix box: ⌊r·side⌋ either side of the center, r = √(1 − λ) / 2, clipped")
    func cutMixBox() {
        let box = CutMix.box(lambda: 0.75, centerY: 1, centerX: 6, height: 8, width: 8)
        #expect(box == (0, 3, 4, 8))
        #expect(CutMix.box(lambda: 1, centerY: 4, centerX: 4, height: 8, width: 8) == (4, 4, 4, 4))
        #expect(CutMix.box(lambda: 0, centerY: 4, centerX: 4, height: 8, width: 8) == (0, 8, 0, 8))
    }

    @Test("CutMix pastes the permuted image's box into every channel; λ is the share left")
    func cutMixBatch() throws {
        let input = Tensor.rand([3, 2, 8, 8], generator: Generator(seed: 1))
        let batch = Example(input: input, target: Tensor([Int64(0), 1, 2], shape: [3]))
        let context = trainingContext(batch: batch, loss: LossFunction(MixupLoss(CrossEntropyLoss())))
        try CutMix(generator: Generator(seed: 9)).handle(.trainBatchBegin, context)
        let replay = Generator(seed: 9)
        let permutation = replay.permutation(3)
        let lambda = replay.nextBeta(1, 1)
        let (cy, cx) = (replay.nextInt(below: 8), replay.nextInt(below: 8))
        let box = CutMix.box(lambda: lambda, centerY: cy, centerX: cx, height: 8, width: 8)
        let area = (box.bottom - box.top) * (box.right - box.left)
        let source = input.scalars(as: Float.self), output = try #require(context.input).scalars(as: Float.self)
        for i in 0..<3 {
            for c in 0..<2 {
                for y in 0..<8 {
                    for x in 0..<8 {
                        let inBox = (box.top..<box.bottom).contains(y) && (box.left..<box.right).contains(x)
                        let from = inBox ? permutation[i] : i
                        #expect(output[((i * 2 + c) * 8 + y) * 8 + x] == source[((from * 2 + c) * 8 + y) * 8 + x])
                    }
                }
            }
        }
        let mixed = try #require(context.mixedTargets)
        #expect(mixed.weights.scalars(as: Float.self) == Array(repeating: Float(1 - Double(area) / 64), count: 3))
        #expect(mixed.second.scalars(as: Int64.self) == permutation.map(Int64.init))
        #expect(throws: LuzError.self) {
            try CutMix().handle(.trainBatchBegin, trainingContext(batch: Example(input: Tensor.ones([2, 3]), target: Tensor([Int64(0), 1])),
                                                                  loss: LossFunction(MixupLoss(CrossEntropyLoss()))))
        }
    }

    @Test("Mixup and CutMix in a fit: the model learns; without a MixupLoss the fit stops with an error")
    func fits() throws {
        let (x, y) = blobs(count: 256, seed: 5)
        let mixup = try smallNet()
            .setup(loss: MixupLoss(CrossEntropyLoss()), metrics: [Accuracy()])
            .learningRate(0.05)
            .fit(inputs: x, targets: y, epochs: 10, validData: 0.25, callbacks: [Mixup()], verbose: false, seed: 2)
        let accuracy = try #require(mixup.records.value(set: "valid", metric: "acc"))
        #expect(accuracy > 0.9, "Mixup reached \(accuracy)")
        let train = barImages(count: 384, seed: 3), test = barImages(count: 200, seed: 4)
        let cutMix = try barClassifier()
            .setup(loss: MixupLoss(CrossEntropyLoss()), metrics: [Accuracy()])
            .learningRate(0.01)
            .fit(train, epochs: 12, callbacks: [CutMix()], verbose: false, seed: 2)
        let cutMixAccuracy = try #require(try cutMix.evaluate(.dataset(test))["acc"])
        #expect(cutMixAccuracy > 0.85, "CutMix reached \(cutMixAccuracy)")
        #expect(throws: CallbackError.self) {
            _ = try smallNet().setup(loss: CrossEntropyLoss())
                .fit(inputs: x, targets: y, epochs: 1, callbacks: [Mixup()], verbose: false)
        }
    }

    @Test("training on augmented images reaches a high accuracy on clean ones")
    func augmentedTraining() throws {
        let augmentation = Transform<Tensor, Tensor>.composed([
            .randomCrop(size: 8, padding: 1, border: .edge),
            .randomHorizontalFlip(),
            .randomApply([.randomAffine(degrees: -10...10, interpolation: .bilinear)], probability: 0.3),
            .randomErasing(probability: 0.25, scale: 0.02...0.1),
        ])
        let train = barImages(count: 384, seed: 3).transformed(augmentation), test = barImages(count: 200, seed: 4)
        let loader = DataLoader(train, batchSize: 32, shuffle: true, dropLast: true, generator: Generator(seed: 6), prefetch: 2)
        let fitted = try barClassifier()
            .setup(loss: CrossEntropyLoss(), metrics: [Accuracy()])
            .learningRate(0.01)
            .fit(loader, epochs: 10, verbose: false, seed: 7)
        let accuracy = try #require(try fitted.evaluate(.dataset(test))["acc"])
        #expect(accuracy > 0.9, "reached \(accuracy)")
    }
}
