import Foundation
import Luz
import LuzDatasets
import LuzPlot

/// The options of `c-shape`.
public struct CShapeOptions: Sendable {
    /// The shared settings.
    public var settings: ExampleSettings
    /// The number of training points of each class (the seed's 1000).
    public var pointsPerClass = 1000
    /// The number of freshly generated points of each class the accuracy is measured on.
    public var testPointsPerClass = 1000
    /// The number of `Linear(2, 2)` + tanh layers (the seed's 7).
    public var depth = 7
    /// Adam's learning rate.
    public var learningRate = 0.01
    /// The batch size (the seed's 100).
    public var batchSize = 100
    /// The number of cells along each side of the decision-region grid.
    public var gridSize = 90
    /// The most trainings from new initial weights (see ``retryBelow``).
    public var attempts = 5
    /// The last epoch's training accuracy below which a training is taken as stuck and run
    /// again from new weights, up to ``attempts`` times.
    public var retryBelow = 0.97

    /// The number of epochs when `settings.epochs` is `nil`.
    public static let defaultEpochs = 150

    /// Creates the options.
    public init(settings: ExampleSettings = ExampleSettings()) { self.settings = settings }
}

/// `c-shape`: the seed's deep narrow network, `depth` layers of `Linear(2, 2)` + tanh, learns to
/// separate two interleaved C-shaped classes, trained with `fit`.
///
/// Every hidden layer has two units, so each layer's output is again a point in the plane: the
/// activations figure shows, layer by layer, how the network bends the two classes apart until
/// a straight line separates them (the book's picture of what depth does).
///
/// The last tanh's two outputs are the logits of the cross-entropy. (The seed adds a softmax
/// before `nn_cross_entropy`, which applies log-softmax itself; the extra softmax only flattens
/// the gradients, so it is left out.)
public enum CShape {
    /// The command name, also the figures' folder.
    public static let name = "c-shape"

    /// The network: `depth` × (`Linear(2, 2)`, `Tanh()`), children named `0`, `1`, … .
    ///
    /// The weights are drawn with Xavier's normal initialization and tanh's gain 5/3 rather
    /// than the layers' default (uniform in ±1/√2 for two inputs): with the default, the signal
    /// shrinks through seven layers and most trainings stall near 93% accuracy.
    public static func model(depth: Int = 7, generator: Generator? = nil) -> Sequential {
        let network = Sequential {
            for _ in 0..<depth {
                Linear(2, 2, generator: generator)
                Tanh()
            }
        }
        for case let layer as Linear in network.layers {
            Initializer.xavierNormal(layer.weight, gain: Initializer.gain(for: .tanh), generator: generator)
        }
        return network
    }

    /// Runs the example.
    /// - Returns: `accuracy` on freshly generated points, `train_accuracy`, `train_loss`,
    ///   `epochs`, `attempts` (trainings run, see ``CShapeOptions/retryBelow``), `seconds`.
    public static func run(_ options: CShapeOptions) throws -> ExampleResult {
        let settings = options.settings
        let epochs = settings.epochs ?? CShapeOptions.defaultEpochs
        guard options.depth >= 1, options.pointsPerClass >= 1, options.testPointsPerClass >= 1, options.batchSize >= 1 else {
            throw ExampleError.invalidOption("c-shape: depth, point counts and batch size must be positive")
        }
        settings.say("c-shape: \(options.depth) × (Linear(2, 2) + tanh) on 2 × \(options.pointsPerClass) points, \(epochs) epochs")
        let train = SyntheticData.cShapes(pointsPerClass: options.pointsPerClass, generator: settings.generator(1))
        let test = SyntheticData.cShapes(pointsPerClass: options.testPointsPerClass, generator: settings.generator(2))

        let batches = DataSource.tensors(train.input, train.target, batchSize: options.batchSize, shuffle: true,
                                         generator: settings.generator(4))
        // A network two units wide can settle where one tip of a C is on the wrong side (about
        // 93% right) and never leave: when training ends there, start again from new weights.
        let initialization = settings.generator(3)
        var attempt = 0
        var fitted: FittedModel
        var seconds = 0.0
        repeat {
            attempt += 1
            let network = model(depth: options.depth, generator: initialization)
            let (run, time) = try timed {
                try network
                    .setup(loss: CrossEntropyLoss(), optimizer: Adam.self, metrics: [Accuracy()])
                    .learningRate(options.learningRate)
                    .fit(batches, epochs: EpochSpec(epochs),
                         callbacks: [EpochLogger(settings: settings, every: max(1, epochs / 5))] + settings.fitCallbacks("c-shape"), verbose: false)
            }
            fitted = run
            seconds += time
            let trainAccuracy = fitted.records.value(set: "train", metric: "acc") ?? 0
            if trainAccuracy >= options.retryBelow || attempt >= options.attempts { break }
            settings.say(String(format: "  attempt %d stuck at training accuracy %.4f: starting again from new weights",
                                attempt, trainAccuracy))
        } while true
        let testEvaluation = try fitted.evaluate(.tensors(test.input, test.target, batchSize: 1000))
        let trainEvaluation = try fitted.evaluate(.tensors(train.input, train.target, batchSize: 1000))
        let accuracy = testEvaluation["acc"] ?? .nan
        settings.say(String(format: "  accuracy on %d fresh points: %.4f (training points: %.4f)",
                            2 * options.testPointsPerClass, accuracy, trainEvaluation["acc"] ?? .nan))

        var result = ExampleResult(example: name)
        result.add("accuracy", accuracy)
        result.add("train_accuracy", trainEvaluation["acc"] ?? .nan)
        result.add("train_loss", trainEvaluation["loss"] ?? .nan)
        result.add("epochs", fitted.epochsTrained)
        result.add("attempts", attempt)
        result.add("seconds", seconds)

        let points = train.input.floats
        let xs = stride(from: 0, to: points.count, by: 2).map { points[$0] }
        let ys = stride(from: 1, to: points.count, by: 2).map { points[$0] }
        let labels = train.target.scalars(as: Int64.self)
        let classNames = ["class 0", "class 1"]
        let data = Plot(title: "Two C-shaped classes", xLabel: "x₁", yLabel: "x₂")
            .scatter(x: xs, y: ys, classes: labels, classNames: classNames, radius: 1.8)
        result.figures.append(try settings.write(Figure(data, width: 560, height: 460), example: name, name: "data"))

        // Decision regions: the predicted class at every cell centre of a grid over the data.
        let (gridX, gridY) = (axis(xs, count: options.gridSize), axis(ys, count: options.gridSize))
        var cells: [Float] = []
        cells.reserveCapacity(2 * gridX.count * gridY.count)
        for y in gridY { for x in gridX { cells += [Float(x), Float(y)] } }
        let predicted = try fitted.predict(Tensor(cells, shape: [cells.count / 2, 2]), batchSize: 4096)
            .argmax(dim: 1).scalars(as: Int64.self)
        let regions = Plot(title: String(format: "Decision regions (accuracy %.4f on fresh points)", accuracy),
                           xLabel: "x₁", yLabel: "x₂")
            .regions(x: gridX, y: gridY, flatClasses: predicted)
            .scatter(x: xs, y: ys, classes: labels, classNames: classNames, radius: 1.8)
        result.figures.append(try settings.write(Figure(regions, width: 560, height: 460), example: name, name: "regions"))

        // Each tanh's output for the training points: 2-D again, so it can be drawn as is.
        let activations = fitted.activations(for: train.input)
        var panels = [Plot(title: "input", xLabel: "x₁", yLabel: "x₂")
            .scatter(x: xs, y: ys, classes: labels, radius: 1.2)]
        for layer in 0..<options.depth {
            guard let output = activations[String(2 * layer + 1)] else { continue }
            let values = output.floats
            var panel = Plot(title: "layer \(layer + 1) (tanh)", xLabel: "unit 1", yLabel: "unit 2")
                .scatter(x: stride(from: 0, to: values.count, by: 2).map { values[$0] },
                         y: stride(from: 1, to: values.count, by: 2).map { values[$0] }, classes: labels, radius: 1.2)
            panel.xLimits = -1.05...1.05
            panel.yLimits = -1.05...1.05
            panel.showsLegend = false
            panels.append(panel)
        }
        panels[0].showsLegend = false
        let grid = Figure.grid(panels: panels, columns: 4, title: "What each layer does to the training points",
                               panelWidth: 260, panelHeight: 240)
        result.figures.append(try settings.write(grid, example: name, name: "activations"))
        result.figures.append(try settings.write(fitted.plot(title: "c-shape: training curves"), example: name, name: "curves"))
        return result
    }

    /// `count` evenly spaced cell centres covering the values with a 10% margin.
    static func axis(_ values: [Float], count: Int) -> [Double] {
        let low = Double(values.min() ?? 0), high = Double(values.max() ?? 1)
        let margin = 0.1 * max(high - low, 1e-6)
        let (start, end) = (low - margin, high + margin)
        return (0..<count).map { start + (end - start) * (Double($0) + 0.5) / Double(count) }
    }
}
