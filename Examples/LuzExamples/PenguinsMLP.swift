import Foundation
import Luz
import LuzDatasets
import LuzPlot

/// The options of `penguins-mlp`.
public struct PenguinsMLPOptions: Sendable {
    /// The shared settings.
    public var settings: ExampleSettings
    /// The widths of the hidden layers, each followed by ReLU. `[2, 2, 2]` is the seed's
    /// architecture; the default is wide enough to learn reliably.
    public var hidden = [32, 16]
    /// Whether to standardize the four measurements with the training part's mean and standard
    /// deviation. The seed feeds the raw values (body mass in grams next to bill depth in
    /// millimetres), which makes a narrow ReLU network slow and fragile to train.
    public var standardize = true
    /// Adam's learning rate.
    public var learningRate = 0.01
    /// The batch size (luz's default 32).
    public var batchSize = 32
    /// The fraction of the penguins held out for validation (the seed's 20%).
    public var validationFraction = 0.2

    /// The number of epochs when `settings.epochs` is `nil`.
    public static let defaultEpochs = 60

    /// Creates the options.
    public init(settings: ExampleSettings = ExampleSettings()) { self.settings = settings }
}

/// `penguins-mlp`: the species of the Palmer penguins from their four measurements, with a
/// multi-layer perceptron trained by `fit` on 80% of the 333 complete rows and validated on the
/// other 20% (split with the seed).
public enum PenguinsMLP {
    /// The command name, also the figures' folder.
    public static let name = "penguins-mlp"

    /// The network: `Linear(4, h₁)`, ReLU, …, `Linear(hₙ, 3)`.
    public static func model(hidden: [Int], generator: Generator? = nil) -> Sequential {
        let widths = [4] + hidden
        return Sequential {
            for i in 0..<hidden.count {
                Linear(widths[i], widths[i + 1], generator: generator)
                ReLU()
            }
            Linear(widths.last!, 3, generator: generator)
        }
    }

    /// Runs the example.
    /// - Returns: `valid_accuracy`, `train_accuracy`, `valid_loss`, `epochs`, `hidden`, `seconds`.
    public static func run(_ options: PenguinsMLPOptions) throws -> ExampleResult {
        let settings = options.settings
        let epochs = settings.epochs ?? PenguinsMLPOptions.defaultEpochs
        guard options.hidden.allSatisfy({ $0 > 0 }), options.batchSize > 0,
              options.validationFraction > 0, options.validationFraction < 1 else {
            throw ExampleError.invalidOption("penguins-mlp: hidden widths and batch size must be positive, the validation fraction in (0, 1)")
        }
        let penguins = try Penguins()
        let count = penguins.count
        let validCount = Int((Double(count) * options.validationFraction).rounded())
        let order = Tensor.randperm(count, generator: settings.generator(1))
        let trainIndex = order[0..<(count - validCount)], validIndex = order[(count - validCount)..<count]
        var trainX = penguins.features[trainIndex], validX = penguins.features[validIndex]
        let trainY = penguins.labels[trainIndex], validY = penguins.labels[validIndex]
        if options.standardize {
            let mean = trainX.mean(dim: 0, keepDim: true)
            let deviation = trainX.standardDeviation(dim: 0, keepDim: true)
            trainX = (trainX - mean) / deviation
            validX = (validX - mean) / deviation
        }
        let architecture = options.hidden.map(String.init).joined(separator: ",")
        settings.say("penguins-mlp: 4 → \(options.hidden.map(String.init).joined(separator: " → ")) → 3, "
                     + "\(count - validCount) training and \(validCount) validation penguins, "
                     + "\(options.standardize ? "standardized" : "raw") features, \(epochs) epochs")

        let network = model(hidden: options.hidden, generator: settings.generator(2))
        let batches = DataSource.tensors(trainX, trainY, batchSize: options.batchSize, shuffle: true,
                                         generator: settings.generator(3))
        let (fitted, seconds) = try timed {
            try network
                .setup(loss: CrossEntropyLoss(), optimizer: Adam.self, metrics: [Accuracy()])
                .learningRate(options.learningRate)
                .fit(batches, epochs: EpochSpec(epochs), validData: .tensors(validX, validY),
                     callbacks: [EpochLogger(settings: settings, every: max(1, epochs / 6))] + settings.fitCallbacks("penguins-mlp"), verbose: false)
        }
        let valid = try fitted.evaluate(.tensors(validX, validY, batchSize: 256))
        let train = try fitted.evaluate(.tensors(trainX, trainY, batchSize: 256))
        settings.say(String(format: "  validation accuracy %.4f, training accuracy %.4f", valid["acc"] ?? .nan, train["acc"] ?? .nan))

        var result = ExampleResult(example: name)
        result.add("valid_accuracy", valid["acc"] ?? .nan)
        result.add("train_accuracy", train["acc"] ?? .nan)
        result.add("valid_loss", valid["loss"] ?? .nan)
        result.add("epochs", fitted.epochsTrained)
        result.add("hidden", architecture)
        result.add("seconds", seconds)

        let curves = fitted.plot(title: "penguins-mlp (hidden \(architecture)): loss and accuracy")
        result.figures.append(try settings.write(curves, example: name, name: "curves"))
        let bill = try penguins.table.numbers("bill_length_mm").map { $0 ?? .nan }
        let flipper = try penguins.table.numbers("flipper_length_mm").map { $0 ?? .nan }
        var data = Plot(title: "Palmer penguins", xLabel: "bill length (mm)", yLabel: "flipper length (mm)")
            .scatter(x: bill, y: flipper, classes: penguins.labels.scalars(as: Int64.self),
                     classNames: Penguins.speciesLevels, radius: 2.5)
        data.legendTitle = "species"
        result.figures.append(try settings.write(Figure(data, width: 600, height: 440), example: name, name: "data"))
        return result
    }
}
