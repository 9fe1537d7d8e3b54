import ArgumentParser
import Foundation

/// `luz-examples`: the Little Book of Deep Learning examples, one subcommand each. With no
/// subcommand, it runs every example that needs no download.
public struct LuzExamplesCommand: ParsableCommand {
    /// The subcommands, and `all` as the default.
    public static let configuration = CommandConfiguration(
        commandName: "luz-examples",
        abstract: "The Little Book of Deep Learning examples, trained with Luz, with their figures.",
        discussion: """
            Each example prints its progress, writes SVG figures to <output>/<example>/ and ends \
            with one line `result: example=<name> key=value ...`. With no subcommand, every \
            example that needs no download runs: basis-regression, c-shape, penguins-mlp, attention, \
            gpt (its GPT; about 40 s in release on 2 cores). addition needs no download either but \
            trains for nearly 3 minutes, so it runs only when named; kmnist-resnet and denoise read \
            Fashion-MNIST (or download their data); embed and finetune read a pretrained encoder's folder.
            """,
        subcommands: [AllExamples.self, BasisRegressionCommand.self, CShapeCommand.self, PenguinsMLPCommand.self,
                      KMNISTResNetCommand.self, AttentionCommand.self,
                      AdditionCommand.self, GPTCommand.self, DenoiseCommand.self, EmbedCommand.self,
                      FinetuneCommand.self],
        defaultSubcommand: AllExamples.self)

    /// Creates the command (ArgumentParser fills it in).
    public init() {}
}

/// The options every example takes.
public struct CommonOptions: ParsableArguments {
    /// `--seed`: the seed of every random draw.
    @Option(help: "The seed of every random draw (data, initial weights, batch order).")
    public var seed: UInt64 = 1

    /// `--epochs`: overrides the example's number of epochs.
    @Option(help: "The number of epochs (optimizer steps for basis-regression); each example has its own default.")
    public var epochs: Int?

    /// `--quiet`: print only the result lines.
    @Flag(help: "Print only the result line of each example.")
    public var quiet = false

    /// `--output`: where the figures go.
    @Option(help: "The folder for the figures, one subfolder per example.")
    public var output = "luz-output"

    /// `--tensorboard`: where TensorBoard logs of each fit go.
    @Option(help: "A folder for TensorBoard logs of every fit (one run folder per example and fit).")
    public var tensorboard: String?

    /// Creates the options (ArgumentParser fills them in).
    public init() {}

    /// The options as the examples take them.
    public var settings: ExampleSettings {
        ExampleSettings(seed: seed, epochs: epochs, quiet: quiet,
                        outputDirectory: URL(fileURLWithPath: output, isDirectory: true),
                        tensorBoardDirectory: tensorboard)
    }

    /// Rejects a negative `--epochs`.
    public mutating func validate() throws {
        if let epochs, epochs < 0 { throw ValidationError("--epochs must not be negative, got \(epochs)") }
    }
}

/// Prints an example's result line (after flushing its progress output).
func report(_ result: ExampleResult) {
    print(result.line)
    fflush(stdout)
}

/// `luz-examples all`: every example that needs no download.
public struct AllExamples: ParsableCommand {
    /// The command's name and help.
    public static let configuration = CommandConfiguration(
        commandName: "all",
        abstract: "Run every example that needs no download and trains in under a minute (the default): basis-regression, c-shape, penguins-mlp, attention, gpt.")

    /// The shared options.
    @OptionGroup public var common: CommonOptions

    /// Creates the command (ArgumentParser fills it in).
    public init() {}

    /// Runs the examples one after the other.
    public func run() throws {
        let settings = common.settings
        report(try BasisRegression.run(BasisRegressionOptions(settings: settings)))
        report(try CShape.run(CShapeOptions(settings: settings)))
        report(try PenguinsMLP.run(PenguinsMLPOptions(settings: settings)))
        report(try Attention.run(AttentionOptions(settings: settings)))
        report(try GPT.run(GPTOptions(settings: settings)))
    }
}

/// `luz-examples basis-regression`.
public struct BasisRegressionCommand: ParsableCommand {
    /// The command's name and help.
    public static let configuration = CommandConfiguration(
        commandName: BasisRegression.name,
        abstract: "Gradient descent (or LBFGS) on 10 Gaussian basis functions fitting a semi-circle; underfitting and overfitting.")

    /// The shared options.
    @OptionGroup public var common: CommonOptions

    /// `--learning-rate`.
    @Option(help: "The gradient-descent step size (sgd only; lbfgs uses its line search from 1).")
    public var learningRate = 0.01

    /// `--optimizer`.
    @Option(help: "sgd (the seed's gradient descent, 5000 steps by default) or lbfgs (LBFGS with the strong-Wolfe line search, 20 steps by default).")
    public var optimizer = BasisRegressionOptimizer.sgd

    /// Creates the command (ArgumentParser fills it in).
    public init() {}

    /// The example's options.
    public var options: BasisRegressionOptions {
        var options = BasisRegressionOptions(settings: common.settings)
        options.learningRate = learningRate
        options.optimizer = optimizer
        return options
    }

    /// Runs the example.
    public func run() throws { report(try BasisRegression.run(options)) }
}

extension BasisRegressionOptimizer: ExpressibleByArgument {}

/// `luz-examples c-shape`.
public struct CShapeCommand: ParsableCommand {
    /// The command's name and help.
    public static let configuration = CommandConfiguration(
        commandName: CShape.name,
        abstract: "A deep narrow tanh network separates two C-shaped classes; data, regions and per-layer activations.")

    /// The shared options.
    @OptionGroup public var common: CommonOptions

    /// `--points`.
    @Option(help: "Training points per class.")
    public var points = 1000

    /// `--depth`.
    @Option(help: "The number of Linear(2, 2) + tanh layers.")
    public var depth = 7

    /// `--learning-rate`.
    @Option(help: "Adam's learning rate.")
    public var learningRate = 0.01

    /// Creates the command (ArgumentParser fills it in).
    public init() {}

    /// The example's options.
    public var options: CShapeOptions {
        var options = CShapeOptions(settings: common.settings)
        options.pointsPerClass = points
        options.depth = depth
        options.learningRate = learningRate
        return options
    }

    /// Runs the example.
    public func run() throws { report(try CShape.run(options)) }
}

/// `luz-examples penguins-mlp`.
public struct PenguinsMLPCommand: ParsableCommand {
    /// The command's name and help.
    public static let configuration = CommandConfiguration(
        commandName: PenguinsMLP.name,
        abstract: "Penguin species from four measurements with a multi-layer perceptron; loss and accuracy curves.")

    /// The shared options.
    @OptionGroup public var common: CommonOptions

    /// `--hidden`: the hidden widths.
    @Option(help: "The hidden layer widths, comma-separated (2,2,2 is the seed's architecture).",
            transform: { try PenguinsMLPCommand.parseWidths($0) })
    public var hidden: [Int] = [32, 16]

    /// `--standardize` / `--no-standardize`.
    @Flag(inversion: .prefixedNo, help: "Standardize the features with the training part's mean and deviation (the seed does not).")
    public var standardize = true

    /// `--learning-rate`.
    @Option(help: "Adam's learning rate.")
    public var learningRate = 0.01

    /// Creates the command (ArgumentParser fills it in).
    public init() {}

    static func parseWidths(_ text: String) throws -> [Int] {
        let widths = text.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !widths.isEmpty, widths.allSatisfy({ ($0 ?? 0) > 0 }) else {
            throw ValidationError("--hidden takes positive widths separated by commas, like 32,16; got '\(text)'")
        }
        return widths.map { $0! }
    }

    /// The example's options.
    public var options: PenguinsMLPOptions {
        var options = PenguinsMLPOptions(settings: common.settings)
        options.hidden = hidden
        options.standardize = standardize
        options.learningRate = learningRate
        return options
    }

    /// Runs the example.
    public func run() throws { report(try PenguinsMLP.run(options)) }
}

extension ImageDataset: ExpressibleByArgument {}

/// `luz-examples kmnist-resnet`.
public struct KMNISTResNetCommand: ParsableCommand {
    /// The command's name and help.
    public static let configuration = CommandConfiguration(
        commandName: KMNISTResNet.name,
        abstract: "The seed's residual network on KMNIST, MNIST or Fashion-MNIST (downloads KMNIST and MNIST).",
        discussion: """
            Files are read from the cache (LUZ_DATA_DIR, else ~/.cache/luz) and downloaded there \
            when missing; Fashion-MNIST is also found where Debian's dataset-fashion-mnist puts it. \
            Without network, set LUZ_DATASET_MIRROR to a mirror URL or a local folder holding \
            <dataset>/<file>.
            """)

    /// The shared options.
    @OptionGroup public var common: CommonOptions

    /// `--dataset`.
    @Option(help: "The data set: \(ImageDataset.allCases.map(\.rawValue).joined(separator: ", ")).")
    public var dataset = ImageDataset.kmnist

    /// `--limit`.
    @Option(help: "Use only the first N training and test images, for a quick run.")
    public var limit: Int?

    /// `--batch-size`.
    @Option(help: "The batch size.")
    public var batchSize = 128

    /// `--data-dir`.
    @Option(help: "A folder holding <dataset>/<file>, instead of the cache.")
    public var dataDir: String?

    /// Creates the command (ArgumentParser fills it in).
    public init() {}

    /// Rejects a non-positive `--limit` or `--batch-size`.
    public mutating func validate() throws {
        if let limit, limit < 1 { throw ValidationError("--limit must be positive, got \(limit)") }
        if batchSize < 1 { throw ValidationError("--batch-size must be positive, got \(batchSize)") }
    }

    /// The example's options.
    public var options: KMNISTResNetOptions {
        var options = KMNISTResNetOptions(settings: common.settings)
        options.dataset = dataset
        options.limit = limit
        options.batchSize = batchSize
        options.dataDirectory = dataDir.map { URL(fileURLWithPath: $0, isDirectory: true) }
        return options
    }

    /// Runs the example.
    public func run() throws { report(try KMNISTResNet.run(options)) }
}

/// `luz-examples attention`.
public struct AttentionCommand: ParsableCommand {
    /// The command's name and help.
    public static let configuration = CommandConfiguration(
        commandName: Attention.name,
        abstract: "A small transformer learns to reverse sequences; its attention weights as a heat map.")

    /// The shared options.
    @OptionGroup public var common: CommonOptions

    /// `--length`.
    @Option(help: "The sequence length.")
    public var length = 12

    /// `--sequences`.
    @Option(help: "The number of training sequences.")
    public var sequences = 6144

    /// Creates the command (ArgumentParser fills it in).
    public init() {}

    /// The example's options.
    public var options: AttentionOptions {
        var options = AttentionOptions(settings: common.settings)
        options.length = length
        options.trainingSequences = sequences
        return options
    }

    /// Runs the example.
    public func run() throws { report(try Attention.run(options)) }
}

extension RecurrentCellKind: ExpressibleByArgument {}

/// `luz-examples addition`.
public struct AdditionCommand: ParsableCommand {
    /// The command's name and help.
    public static let configuration = CommandConfiguration(
        commandName: Addition.name,
        abstract: "An LSTM (or GRU) encoder-decoder learns to add numbers given as text, \"123+45\" → \"168\" (about 3 minutes: not in the default set).")

    /// The shared options.
    @OptionGroup public var common: CommonOptions

    /// `--digits`.
    @Option(help: "The most digits of each operand.")
    public var digits = 3

    /// `--sums`.
    @Option(help: "The number of distinct training sums.")
    public var sums = 50_000

    /// `--cell`.
    @Option(help: "The recurrent cell: \(RecurrentCellKind.allCases.map(\.rawValue).joined(separator: ", ")).")
    public var cell = RecurrentCellKind.lstm

    /// `--hidden`.
    @Option(help: "The hidden width of the encoder and decoder.")
    public var hidden = 128

    /// `--reverse` / `--no-reverse`.
    @Flag(inversion: .prefixedNo, help: "Feed the question reversed, last character first.")
    public var reverse = true

    /// `--batch-size`.
    @Option(help: "The batch size.")
    public var batchSize = 128

    /// `--learning-rate`.
    @Option(help: "Adam's peak learning rate (one-cycle schedule).")
    public var learningRate = 1e-2

    /// Creates the command (ArgumentParser fills it in).
    public init() {}

    /// Rejects non-positive sizes.
    public mutating func validate() throws {
        if !(1...6).contains(digits) { throw ValidationError("--digits must be in 1...6, got \(digits)") }
        if sums < 1 { throw ValidationError("--sums must be positive, got \(sums)") }
        if hidden < 1 { throw ValidationError("--hidden must be positive, got \(hidden)") }
        if batchSize < 1 { throw ValidationError("--batch-size must be positive, got \(batchSize)") }
        if !(learningRate > 0) { throw ValidationError("--learning-rate must be positive, got \(learningRate)") }
    }

    /// The example's options.
    public var options: AdditionOptions {
        var options = AdditionOptions(settings: common.settings)
        options.digits = digits
        options.trainingSums = sums
        options.cell = cell
        options.hidden = hidden
        options.reverse = reverse
        options.batchSize = batchSize
        options.learningRate = learningRate
        return options
    }

    /// Runs the example.
    public func run() throws { report(try Addition.run(options)) }
}

extension LanguageModelKind: ExpressibleByArgument {}

/// `luz-examples gpt`.
public struct GPTCommand: ParsableCommand {
    /// The command's name and help.
    public static let configuration = CommandConfiguration(
        commandName: GPT.name,
        abstract: "A character-level GPT (or, with --model lstm, an LSTM) learns a text, Luz's own documentation by default.",
        discussion: """
            Prints a sample before and after training and reports the held-out end of the text in \
            bits per character (valid_bpc); the attention figure shows each head of the last \
            layer over a generated line.
            """)

    /// The shared options.
    @OptionGroup public var common: CommonOptions

    /// `--text`.
    @Option(help: "A UTF-8 text file to learn (default: Luz's documentation, shipped with the package).")
    public var text: String?

    /// `--model`.
    @Option(help: "The language model: \(LanguageModelKind.allCases.map(\.rawValue).joined(separator: ", ")).")
    public var model = LanguageModelKind.gpt

    /// `--context`.
    @Option(help: "The number of characters the model sees at once.")
    public var context = 64

    /// `--layers`.
    @Option(help: "The number of transformer layers.")
    public var layers = 2

    /// `--dimension`.
    @Option(help: "The transformer's width (the LSTM's embedding width).")
    public var dimension = 64

    /// `--temperature`.
    @Option(help: "The sampling temperature (0: always the most likely character).")
    public var temperature = 0.8

    /// `--prompt`.
    @Option(help: "The text the samples continue.")
    public var prompt = "The "

    /// Creates the command (ArgumentParser fills it in).
    public init() {}

    /// Rejects unusable sizes.
    public mutating func validate() throws {
        if context < 2 { throw ValidationError("--context must be at least 2, got \(context)") }
        if layers < 1 { throw ValidationError("--layers must be positive, got \(layers)") }
        if dimension < 1 || dimension % 4 != 0 { throw ValidationError("--dimension must be a positive multiple of 4 (the heads), got \(dimension)") }
        if temperature < 0 { throw ValidationError("--temperature must not be negative, got \(temperature)") }
        if prompt.isEmpty { throw ValidationError("--prompt must not be empty") }
    }

    /// The example's options.
    public var options: GPTOptions {
        var options = GPTOptions(settings: common.settings)
        options.textFile = text.map { URL(fileURLWithPath: $0) }
        options.model = model
        options.context = context
        options.layers = layers
        options.dimension = dimension
        options.temperature = temperature
        options.prompt = prompt
        return options
    }

    /// Runs the example.
    public func run() throws { report(try GPT.run(options)) }
}

/// `luz-examples denoise`.
public struct DenoiseCommand: ParsableCommand {
    /// The command's name and help.
    public static let configuration = CommandConfiguration(
        commandName: Denoise.name,
        abstract: "A convolutional autoencoder removes Gaussian noise from Fashion-MNIST images (augmented); test MSE and PSNR.",
        discussion: """
            Fashion-MNIST is read from the cache (LUZ_DATA_DIR, else ~/.cache/luz), from where Debian's \
            dataset-fashion-mnist puts it, or downloaded; without network, set LUZ_DATASET_MIRROR to a \
            mirror URL or a local folder holding fashion-mnist/<file>.
            """)

    /// The shared options.
    @OptionGroup public var common: CommonOptions

    /// `--limit`.
    @Option(help: "Use only the first N training images, for a quick run.")
    public var limit: Int?

    /// `--test-images`.
    @Option(help: "The number of test images the MSE and PSNR are measured on.")
    public var testImages = 2000

    /// `--noise`.
    @Option(help: "The standard deviation of the Gaussian noise (pixels in [0, 1]).")
    public var noise = 0.3

    /// `--no-augment`.
    @Flag(inversion: .prefixedNo, help: "Augment the training images (random crop with padding 2, horizontal flip).")
    public var augment = true

    /// `--data-dir`.
    @Option(help: "A folder holding fashion-mnist/<file>, instead of the cache.")
    public var dataDir: String?

    /// Creates the command (ArgumentParser fills it in).
    public init() {}

    /// Rejects a non-positive `--limit`, `--test-images` or `--noise`.
    public mutating func validate() throws {
        if let limit, limit < 1 { throw ValidationError("--limit must be positive, got \(limit)") }
        if testImages < 1 { throw ValidationError("--test-images must be positive, got \(testImages)") }
        if !(noise > 0) { throw ValidationError("--noise must be positive, got \(noise)") }
    }

    /// The example's options.
    public var options: DenoiseOptions {
        var options = DenoiseOptions(settings: common.settings)
        options.limit = limit
        options.testImages = testImages
        options.noise = noise
        options.augment = augment
        options.dataDirectory = dataDir.map { URL(fileURLWithPath: $0, isDirectory: true) }
        return options
    }

    /// Runs the example.
    public func run() throws { report(try Denoise.run(options)) }
}

/// `luz-examples embed`.
public struct EmbedCommand: ParsableCommand {
    /// The command's name and help.
    public static let configuration = CommandConfiguration(
        commandName: Embed.name,
        abstract: "Sentence embeddings with a pretrained encoder (all-MiniLM-L6-v2): a cosine-similarity heat map and a nearest-neighbour query.")

    /// The shared options.
    @OptionGroup public var common: CommonOptions

    /// `--model`: the encoder's folder.
    @Option(help: "The sentence-transformers folder of the encoder (default: LUZ_MINILM_DIR, else ./all-MiniLM-L6-v2).")
    public var model: String?

    /// `--query`: the question to look up.
    @Option(help: "The sentence whose nearest neighbour is looked up.")
    public var query: String?

    /// Creates the command (ArgumentParser fills it in).
    public init() {}

    /// Runs the example.
    public func run() throws {
        var options = EmbedOptions(settings: common.settings, modelFolder: model)
        if let query { options.query = query }
        report(try Embed.run(options))
    }
}

/// `luz-examples finetune`.
public struct FinetuneCommand: ParsableCommand {
    /// The command's name and help.
    public static let configuration = CommandConfiguration(
        commandName: Finetune.name,
        abstract: "Fine-tune a pretrained encoder (all-MiniLM-L6-v2) on the shipped short reviews, against a linear head on its frozen sentence embeddings.")

    /// The shared options.
    @OptionGroup public var common: CommonOptions

    /// `--model`: the encoder's folder.
    @Option(help: "The sentence-transformers folder of the encoder (default: LUZ_MINILM_DIR, else ./all-MiniLM-L6-v2).")
    public var model: String?

    /// `--batch-size`.
    @Option(help: "Sentences per batch.")
    public var batchSize = 16

    /// `--encoder-lr`.
    @Option(help: "The learning rate of the pretrained encoder.")
    public var encoderLr = 1e-4

    /// `--head-lr`.
    @Option(help: "The learning rate of the classification head.")
    public var headLr = 1e-3

    /// Creates the command (ArgumentParser fills it in).
    public init() {}

    /// Runs the example.
    public func run() throws {
        var options = FinetuneOptions(settings: common.settings, modelFolder: model)
        options.batchSize = batchSize
        options.encoderLearningRate = encoderLr
        options.headLearningRate = headLr
        report(try Finetune.run(options))
    }
}
