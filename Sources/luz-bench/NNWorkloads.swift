import Foundation
import Luz
import LuzData
import LuzNN
import LuzOptim
import LuzTensor

// The cshape and penguins workloads of shared/bench/WORKLOADS.md: small classifiers trained
// with Adam and cross-entropy in a plain loop (shuffled mini-batches, last partial batch kept),
// the same work as train_loop in torch_workloads.py. Their speed is all per-op overhead.

/// The two interleaved C-shaped classes of torch_workloads.py's `c_data`, `n` points each:
/// class 0 is the flipped, shifted C (x ↦ 1 − x, y mirrored and lowered), class 1 the plain one.
func cShapeData(_ n: Int, generator: Generator) -> (x: Tensor, y: Tensor) {
    func c(_ xOffset: Double, _ yOffset: Double, _ yScale: Double, flip: Bool) -> [[Float]] {
        // Drawn in the script's order: all angles, then the x noise, then the y noise.
        let angles = (0..<n).map { _ in Double.pi / 2 + generator.nextDouble() * Double.pi }
        let xNoise = (0..<n).map { _ in 0.1 * generator.nextNormal() }
        let yNoise = (0..<n).map { _ in 0.1 * generator.nextNormal() }
        return (0..<n).map { i in
            var x = cos(angles[i]) + xNoise[i] + xOffset
            if flip { x = 1 - x }
            let y = sin(angles[i]) * yScale + yNoise[i] + yOffset
            return [Float(x), Float(y)]
        }
    }
    let plain = c(0, 0, 1, flip: false)
    let flipped = c(1.25, -1, -1, flip: true)
    let x = Tensor(flipped + plain)
    let y = Tensor([Int64](repeating: 0, count: n) + [Int64](repeating: 1, count: n))
    return (x, y)
}

/// The cshape model: seven Linear(2, 2) layers each followed by tanh, then a softmax.
final class DeepTanh: Module {
    let layers = ModuleList((0..<7).map { _ in Linear(2, 2) })

    override func forward(_ input: Tensor) -> Tensor {
        var x = input
        for layer in layers { x = layer(x).tanh() }
        return x.softmax(dim: 1)
    }
}

/// torch_workloads.py's `train_loop`, through Luz's `fit`: Adam (lr 1e-3), cross-entropy, a
/// new shuffle each epoch, batches of `batchSize` with the last partial one kept, the default
/// callbacks (timings, train/eval mode, metrics, progress, interrupt) and an accuracy metric.
/// Returns the steps, the seconds of the whole fit and the accuracy on the training set after it.
func trainClassifier(_ model: Module, x: Tensor, y: Tensor, batchSize: Int, epochs: Int,
                     generator: Generator) -> (steps: Int, seconds: Double, accuracy: Double) {
    let data = DataSource.tensors(x, y, batchSize: batchSize, shuffle: true, dropLast: false, generator: generator)
    let setup = model.setup(loss: CrossEntropyLoss(), optimizer: Adam.self, metrics: [Accuracy()])
        .learningRate(1e-3)
    var fitted: FittedModel?
    let seconds = timed {
        do {
            fitted = try setup.fit(data, epochs: EpochSpec(integerLiteral: epochs), verbose: false)
        } catch {
            FileHandle.standardError.write("luz-bench: fit failed: \(error)\n".data(using: .utf8)!)
            exit(1)
        }
    }
    let steps = fitted?.timings.trainBatches ?? 0
    model.eval()
    let accuracy = withNoGrad { (model(x).argmax(dim: 1) .== y).to(.float32).mean().item }
    return (steps, seconds, accuracy)
}

/// cshape: 200 epochs over 2 × 1000 points in batches of 100.
func cshape(epochs: Int = 200) {
    let generator = Generator(seed: benchSeed)
    manualSeed(benchSeed)
    let (x, y) = cShapeData(1000, generator: generator)
    let result = trainClassifier(DeepTanh(), x: x, y: y, batchSize: 100, epochs: epochs, generator: generator)
    report("cshape", steps: result.steps, seconds: result.seconds, quality: result.accuracy)
}

/// The complete rows of penguins.csv: the four measurements and the species as a class index
/// (Adelie 0, Chinstrap 1, Gentoo 2, the sorted levels pandas' category codes give). A minimal
/// reader: LuzDatasets has the general one, which luz-bench does not depend on.
func penguinRows() -> (x: Tensor, y: Tensor) {
    let path = ProcessInfo.processInfo.environment["PENGUINS_CSV"] ?? "Datasets/penguins.csv"
    guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
        FileHandle.standardError.write("luz-bench: cannot read \(path) (run from the package root or set PENGUINS_CSV)\n".data(using: .utf8)!)
        exit(1)
    }
    let lines = text.split(whereSeparator: \.isNewline)
    let header = lines[0].split(separator: ",").map(String.init)
    let measurements = ["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"]
    guard let speciesColumn = header.firstIndex(of: "species"),
          case let columns = measurements.compactMap({ header.firstIndex(of: $0) }), columns.count == 4 else {
        FileHandle.standardError.write("luz-bench: \(path) lacks the penguin columns\n".data(using: .utf8)!)
        exit(1)
    }
    let species = ["Adelie", "Chinstrap", "Gentoo"]
    var features: [[Float]] = []
    var labels: [Int64] = []
    for line in lines.dropFirst() {
        let fields = line.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        // pandas' dropna: a row with NA (or an empty field) anywhere is dropped.
        guard fields.count == header.count, !fields.contains(where: { $0 == "NA" || $0.isEmpty }),
              let label = species.firstIndex(of: fields[speciesColumn]) else { continue }
        let values = columns.compactMap { Float(fields[$0]) }
        guard values.count == 4 else { continue }
        features.append(values)
        labels.append(Int64(label))
    }
    return (Tensor(features), Tensor(labels))
}

/// penguins: 200 epochs over the 333 complete rows in batches of 32, with
/// Linear(4,2)-ReLU-Linear(2,2)-ReLU-Linear(2,2)-ReLU-Linear(2,3).
func penguins(epochs: Int = 200) {
    let generator = Generator(seed: benchSeed)
    manualSeed(benchSeed)
    let (x, y) = penguinRows()
    let model = Sequential {
        Linear(4, 2); ReLU()
        Linear(2, 2); ReLU()
        Linear(2, 2); ReLU()
        Linear(2, 3)
    }
    let result = trainClassifier(model, x: x, y: y, batchSize: 32, epochs: epochs, generator: generator)
    report("penguins", steps: result.steps, seconds: result.seconds, quality: result.accuracy)
}
