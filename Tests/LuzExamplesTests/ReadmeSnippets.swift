import Foundation
import Luz
import LuzDatasets
import LuzDistributed
import LuzModels
import LuzPlot
import LuzTensor

// Every ```swift block of README.md, verbatim (imports aside, which sit at the top of this
// file), so that the compiler checks them: ReadmeTests fails when a block is not found here.
// The functions are compiled, not run: the tour seeds the default generator and writes files
// in the current folder, which a test running beside others must not do.

/// README: the opening example, the seed's hand-written loop.
func readmeSeedLoop() {
// The seed's hand-written loop: autograd, no-grad, in-place update.
let x = Tensor.linspace(-1, 1, steps: 50)
let y = (1 - x * x).sqrt()
let centres = Tensor.linspace(-1, 1, steps: 10)
let w = Tensor.randn([10], requiresGrad: true)
for _ in 0..<5000 {
    let features = Tensor.stack((0..<10).map { (-((x - centres[$0]).pow(2)) / 0.02).exp() }, dim: 1)
    let loss = (features.matmul(w) - y).pow(2).mean()
    loss.backward()
    withNoGrad {
        w.addInPlace(w.grad!, alpha: -0.01)
        w.zeroGrad()
    }
}
}

/// README: LBFGS in a hand-written loop.
func readmeLBFGSLoop() {
let x = Tensor.linspace(-1, 1, steps: 50)
let y = (1 - x * x).sqrt()
let features = Tensor.stack((0..<10).map { (-((x - Tensor.linspace(-1, 1, steps: 10)[$0]).pow(2)) / 0.02).exp() }, dim: 1)
let w = Tensor.randn([10], requiresGrad: true)
let lbfgs = LBFGS([w], lineSearch: .strongWolfe)
for _ in 0..<20 {
    lbfgs.step {
        lbfgs.zeroGrad()
        let loss = (features.matmul(w) - y).pow(2).mean()
        loss.backward()
        return loss.item
    }
}
}

/// README: "A short tour", its blocks in order.
func readmeTour() throws {
// A dataset: the Palmer penguins ship with the package (333 complete rows).
let penguins = try Penguins()
let x = penguins.features                  // [333, 4] float32: bill, flipper, body mass
let y = penguins.labels                    // [333] int64: 0 Adelie, 1 Chinstrap, 2 Gentoo
let standardized = (x - x.mean(dim: 0, keepDim: true)) / x.standardDeviation(dim: 0, keepDim: true)

let model = Sequential {
    Linear(4, 32); ReLU()
    Linear(32, 3)
}

let fitted = try model
    .setup(loss: CrossEntropyLoss(), optimizer: Adam.self, metrics: [Accuracy()])
    .learningRate(0.01)
    .fit(inputs: standardized, targets: y, epochs: 30, validData: 0.2,
         callbacks: [EarlyStopping(monitor: .valid(.loss), patience: 5)], seed: 1)

let evaluation = try fitted.evaluate(inputs: standardized, targets: y)
print(evaluation)                          // Loss: 0.0113 - Acc: 1.0000
let accuracy = evaluation["acc"]!
let predicted = try fitted.predict(standardized).argmax(dim: 1)   // [333] class indices
print(accuracy, predicted.shape)

try fitted.plot().write(to: "curves.svg")
let scatter = Plot(title: "Penguins", xLabel: "bill length (mm)", yLabel: "bill depth (mm)")
    .scatter(x: x[.all, 0].floats, y: x[.all, 1].floats,
             classes: y.scalars(as: Int64.self), classNames: Penguins.speciesLevels)
try Figure(scatter).write(to: "penguins.svg")
let scheduled = try model
    .setup(loss: CrossEntropyLoss(), optimizer: AdamW.self, metrics: [Accuracy()])
    .fit(inputs: standardized, targets: y, epochs: 30, validData: 0.2, callbacks: [
        LRSchedulerCallback { optimizer in
            SequentialLR(optimizer: optimizer, schedulers: [
                LinearLR(optimizer: optimizer, startFactor: 0.1, totalSteps: 5),
                CosineAnnealingLR(optimizer: optimizer, maximumEpochs: 25),
            ], milestones: [5])
        },
        TensorBoardLogger(logDirectory: "logs", runName: "penguins", histogramEvery: 5),
    ])
print(scheduled.records.lastEpoch)

final class TwoHeads: Module, StructuredModule {
    var trunk = Sequential { Linear(3, 16); ReLU() }
    var species = Linear(16, 3)
    var mass = Linear(16, 1)
    func forward(inputs: TensorTree) -> TensorTree {
        let features = trunk(inputs.singleTensor("measurements"))
        return ["species": .tensor(species(features)), "mass": .tensor(mass(features))]
    }
}
let massTarget = standardized[.all, .from(3)]          // [333, 1]: the body mass, to predict
let heads = TensorDataset(inputs: .tensor(standardized[.all, .range(0..<3)]),
                          targets: ["species": .tensor(y), "mass": .tensor(massTarget)])
let twoHeads = try TwoHeads()
    .setup(loss: .weightedSum([.init(CrossEntropyLoss(), head: "species"), .init(MSELoss(), head: "mass", weight: 0.5)]),
           optimizer: Adam.self, metrics: [Accuracy().forHead("species"), MAE().forHead("mass")])
    .fit(heads, epochs: 20, validData: 0.2, callbacks: [EarlyStopping(monitor: .valid("species_acc"), patience: 5)])
let both = try twoHeads.predictTree(heads)
print(both["species"].tensor!.shape, both["mass"].tensor!.shape)   // [333, 3] [333, 1]
}

// README: the callback of the tour.
final class PrintValidationAccuracy: Callback {
    func handle(_ event: Event, _ context: Context) throws {
        if event == .epochEnd, let accuracy = context.metric(.valid(.accuracy)) {
            print("epoch \(context.epoch): validation accuracy \(accuracy)")
        }
    }
}

/// README: "Data augmentation".
func readmeAugmentation() throws {
let cifarStyle = Transform<Tensor, Tensor>.composed([
    .randomCrop(size: 28, padding: 4),
    .randomHorizontalFlip(),
    .normalize(mean: [0.2860], std: [0.3530]),
])
let images = TensorDataset(inputs: Tensor.rand([512, 1, 28, 28]), targets: Tensor.randint(0, 10, [512]))
let augmented = images.transformed(cifarStyle)
let augmentedLoader = DataLoader(augmented, batchSize: 128, shuffle: true, generator: Generator(seed: 1), prefetch: 2)
let mixed = try Sequential { Flatten(); Linear(784, 128); ReLU(); Linear(128, 10) }
    .setup(loss: MixupLoss(CrossEntropyLoss()), optimizer: Adam.self, metrics: [Accuracy()])
    .fit(augmentedLoader, epochs: 5, callbacks: [Mixup(alpha: 0.4)])   // or CutMix()
print(mixed.records.lastEpoch)
}

/// README: the WordPiece tokenizer.
func readmeWordPiece() throws {
let tokenizer = try WordPieceTokenizer(folder: URL(fileURLWithPath: "all-MiniLM-L6-v2"))
let batch = tokenizer.encode(batch: ["A cat sat.", "Dogs bark!"], maximumLength: 128)
let ids = batch.idTensor, mask = batch.attentionMaskTensor   // int64 [2, length], 1 = a token
_ = (ids, mask)
let bert = try BertModel.from(folder: "all-MiniLM-L6-v2")
let states = bert(ids: ids, attentionMask: mask).lastHiddenState     // [2, length, 384]
let embedder = try SentenceEmbedder(folder: "all-MiniLM-L6-v2")
let vectors = try embedder.embed(["A cat sat.", "A kitten is sitting.", "Stocks fell."])   // [3, 384]
print(states.shape, vectors[0].cosineSimilarity(vectors[1], dim: 0).item)
}

/// README: "Several processes: data-parallel training".
func readmeDataParallel() throws {
    let group = try MPIProcessGroup.world()          // every process that mpirun started
    let penguins = try Penguins()
    let model = Sequential { Linear(4, 32); ReLU(); Linear(32, 3) }
    let fitted = try model
        .setup(loss: CrossEntropyLoss(), optimizer: Adam.self, metrics: [Accuracy()])
        .fit(inputs: penguins.features, targets: penguins.labels, epochs: 10, validData: 0.2,
             callbacks: [DistributedDataParallel(group)])
    print(group.rank, fitted.records.lastEpoch)       // the same records on every process
}
