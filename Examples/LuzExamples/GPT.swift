import Foundation
import Luz
import LuzDatasets
import LuzPlot

/// The language model `gpt` trains.
public enum LanguageModelKind: String, CaseIterable, Sendable {
    /// ``CharacterGPT``: a causal pre-norm transformer.
    case gpt
    /// ``CharacterLSTM``: an LSTM, to compare with.
    case lstm
}

/// The options of `gpt`.
public struct GPTOptions: Sendable {
    /// The shared settings.
    public var settings: ExampleSettings
    /// The text to learn; `nil` for the shipped one, Luz's own documentation.
    public var textFile: URL?
    /// A transformer or an LSTM.
    public var model = LanguageModelKind.gpt
    /// The number of characters the model sees at once (the training windows' length).
    public var context = 64
    /// The distance between the starts of consecutive training windows.
    public var stride = 32
    /// The transformer's width (the LSTM's embedding width).
    public var dimension = 64
    /// The number of attention heads.
    public var heads = 4
    /// The number of transformer layers.
    public var layers = 2
    /// The LSTM's hidden width.
    public var lstmHidden = 192
    /// The fraction of the text, at its end, held out for validation.
    public var validFraction = 0.1
    /// The batch size.
    public var batchSize = 32
    /// Adam's learning rate.
    public var learningRate = 3e-3
    /// The number of characters generated for each sample.
    public var sampleLength = 160
    /// The sampling temperature.
    public var temperature = 0.8
    /// Only the `topK` most likely characters are drawn from.
    public var topK = 10
    /// The text the samples continue.
    public var prompt = "The "
    /// Use only the first this many characters of the text (all when `nil`), for a quick run.
    public var limit: Int?

    /// The number of epochs when `settings.epochs` is `nil`.
    public static let defaultEpochs = 6

    /// Creates the options.
    public init(settings: ExampleSettings = ExampleSettings()) { self.settings = settings }
}

/// A character-level GPT: token embedding plus learned positions, a stack of causal pre-norm
/// transformer layers with GELU, a final layer normalization and a linear read-out over the
/// vocabulary (the architecture of nanoGPT, from Luz's modules, without dropout).
public final class CharacterGPT: Module {
    /// The token embedding.
    public let embedding: Embedding
    /// The learned position embedding.
    public let positions: LearnedPositionalEmbedding
    /// The pre-norm layers and the final normalization.
    public let transformer: TransformerEncoder
    /// The read-out over the vocabulary.
    public let output: Linear

    /// Creates the model.
    /// - Parameters:
    ///   - vocabulary: the number of tokens.
    ///   - context: the longest sequence.
    ///   - dimension: the model width.
    ///   - heads: the number of attention heads.
    ///   - layers: the number of transformer layers.
    ///   - generator: the source of the initial weights.
    public init(vocabulary: Int, context: Int, dimension: Int = 64, heads: Int = 4, layers: Int = 2,
                generator: Generator? = nil) {
        embedding = Embedding(vocabulary, dimension, generator: generator)
        positions = LearnedPositionalEmbedding(maxLength: context, dimension: dimension, batchFirst: true,
                                               generator: generator)
        let layer = TransformerEncoderLayer(modelDimension: dimension, heads: heads, feedForwardDimension: 4 * dimension,
                                            dropout: 0, activation: .gelu, batchFirst: true, normFirst: true,
                                            generator: generator)
        transformer = TransformerEncoder(layer, layerCount: layers, norm: LayerNorm([dimension]))
        output = Linear(dimension, vocabulary, generator: generator)
        super.init()
    }

    /// The longest sequence the model takes.
    public var context: Int { positions.maxLength }

    /// Next-token scores `[batch, time, vocabulary]` for tokens `[batch, time]`; position `t`
    /// sees tokens `0...t` only.
    public override func forward(_ tokens: Tensor) -> Tensor {
        output(transformer(positions(embedding(tokens)), causal: true))
    }

    /// Each layer's attention weights for one sequence `tokens` (`[time]`), head by head: one
    /// `[heads, time, time]` tensor per layer, rows the queries, columns the keys (zero above
    /// the diagonal: a character sees only those before it).
    public func attentionWeights(for tokens: Tensor) -> [Tensor] {
        withNoGrad {
            var x = positions(embedding(tokens.reshaped([1, -1])))
            var weights: [Tensor] = []
            for layer in transformer.layers {
                // The layers are pre-norm: attention reads the normalized stream.
                let normalized = layer.norm1(x)
                let attended = layer.selfAttention(normalized, normalized, normalized, causal: true, weights: .perHead)
                weights.append(attended.weights!.squeezed(dim: 0))
                x = layer(x, causal: true)
            }
            return weights
        }
    }
}

/// A character-level LSTM language model: embedding, one LSTM layer, linear read-out.
public final class CharacterLSTM: Module {
    /// The token embedding.
    public let embedding: Embedding
    /// The recurrent layer.
    public let lstm: LSTM
    /// The read-out over the vocabulary.
    public let output: Linear

    /// Creates the model.
    /// - Parameters:
    ///   - vocabulary: the number of tokens.
    ///   - embedding: the embedding width.
    ///   - hidden: the LSTM's hidden width.
    ///   - generator: the source of the initial weights.
    public init(vocabulary: Int, embedding: Int = 64, hidden: Int = 192, generator: Generator? = nil) {
        self.embedding = Embedding(vocabulary, embedding, generator: generator)
        lstm = LSTM(inputSize: embedding, hiddenSize: hidden, batchFirst: true, generator: generator)
        output = Linear(hidden, vocabulary, generator: generator)
        super.init()
    }

    /// Next-token scores `[batch, time, vocabulary]` for tokens `[batch, time]`.
    public override func forward(_ tokens: Tensor) -> Tensor {
        output(lstm(embedding(tokens)))
    }
}

/// `gpt`: a character-level language model learns a text (by default Luz's own documentation)
/// and writes in its style; it is measured in bits per character on the text's held-out end.
public enum GPT {
    /// The command name, also the figures' folder.
    public static let name = "gpt"

    /// A character as a heat-map label: spaces and line breaks made visible.
    static func label(_ character: Character) -> String {
        switch character {
        case " ": return "␣"
        case "\n": return "⏎"
        case "\t": return "⇥"
        default: return String(character)
        }
    }

    /// Runs the example.
    /// - Returns: `valid_bpc` (bits per character on the held-out text), `uniform_bpc`
    ///   (log₂ of the vocabulary size, what guessing uniformly costs), `train_bpc`, `model`,
    ///   `vocabulary`, `epochs`, `seconds`.
    public static func run(_ options: GPTOptions) throws -> ExampleResult {
        let settings = options.settings
        let epochs = settings.epochs ?? GPTOptions.defaultEpochs
        guard options.context > 1, options.stride > 0, options.dimension > 0, options.heads > 0,
              options.dimension % options.heads == 0, options.layers > 0, options.lstmHidden > 0,
              options.batchSize > 0, (0.01...0.5).contains(options.validFraction), options.sampleLength >= 0,
              options.temperature >= 0, options.topK > 0, !options.prompt.isEmpty else {
            throw ExampleError.invalidOption("gpt: need a context above 1, positive sizes, heads dividing the width, "
                                             + "a validation fraction in 0.01...0.5 and a prompt")
        }
        var text = try options.textFile.map { try TextCorpus.text(contentsOf: $0) } ?? TextCorpus.documentation()
        if let limit = options.limit { text = String(text.prefix(limit)) }
        let source = options.textFile?.lastPathComponent ?? TextCorpus.documentationFile
        let vocabulary = CharacterVocabulary(text: text)
        let tokens = vocabulary.encode(text)
        let validCount = Int(Double(tokens.count) * options.validFraction)
        let trainTokens = Array(tokens.dropLast(validCount)), validTokens = Array(tokens.suffix(validCount))
        let train = TokenWindows(tokens: trainTokens, length: options.context, stride: options.stride)
        let valid = TokenWindows(tokens: validTokens, length: options.context, stride: options.context)
        guard train.count >= options.batchSize, valid.count > 0 else {
            throw ExampleError.invalidOption("gpt: \(source) has \(tokens.count) characters, too few for batches of "
                                             + "\(options.batchSize) windows of \(options.context) and a validation part")
        }
        let uniformBPC = log2(Double(vocabulary.count))

        let model: Module
        let description: String
        switch options.model {
        case .gpt:
            model = CharacterGPT(vocabulary: vocabulary.count, context: options.context, dimension: options.dimension,
                                 heads: options.heads, layers: options.layers, generator: settings.generator(1))
            description = "a \(options.layers)-layer GPT (width \(options.dimension), \(options.heads) heads)"
        case .lstm:
            model = CharacterLSTM(vocabulary: vocabulary.count, embedding: options.dimension, hidden: options.lstmHidden,
                                  generator: settings.generator(1))
            description = "an LSTM (hidden \(options.lstmHidden))"
        }
        settings.say("gpt: \(description) learns \(source): \(tokens.count) characters, \(vocabulary.count) tokens "
                     + "(uniform: \(String(format: "%.2f", uniformBPC)) bits per character), windows of \(options.context), "
                     + "\(train.count) training windows, \(epochs) epochs")
        let prompt = vocabulary.encode(options.prompt)
        func sample(_ stream: UInt64) -> String {
            let generated = model.generateTokens(continuing: prompt, count: options.sampleLength,
                                                 temperature: options.temperature, topK: options.topK,
                                                 contextLength: options.context, generator: settings.generator(stream))
            return options.prompt + vocabulary.decode(generated)
        }
        settings.say("  before training:\n" + indented(sample(10)))

        let vocabularySize = vocabulary.count
        let loss = LossFunction(name: "next-character cross-entropy") { prediction, target in
            crossEntropy(prediction.reshaped([-1, vocabularySize]), target.reshaped([-1]))
        }
        let batches = DataSource.dataset(train, batchSize: options.batchSize, shuffle: true, dropLast: true,
                                         generator: settings.generator(2))
        let (fitted, seconds) = try timed {
            try model
                .setup(loss: loss, optimizer: OptimizerFactory(AdamW.self))
                .learningRate(options.learningRate)
                .fit(batches, epochs: EpochSpec(epochs), validData: .dataset(valid),
                     callbacks: [EpochLogger(settings: settings, every: 1)] + settings.fitCallbacks(name), verbose: false)
        }
        let validBPC = (fitted.records.value(set: "valid", metric: "loss") ?? .nan) / log(2)
        let trainBPC = (fitted.records.value(set: "train", metric: "loss") ?? .nan) / log(2)
        let after = sample(11)
        settings.say("  after training:\n" + indented(after))
        settings.say(String(format: "  validation: %.3f bits per character (uniform %.3f)", validBPC, uniformBPC))

        var result = ExampleResult(example: name)
        result.add("valid_bpc", validBPC)
        result.add("uniform_bpc", uniformBPC)
        result.add("train_bpc", trainBPC)
        result.add("model", options.model.rawValue)
        result.add("vocabulary", vocabulary.count)
        result.add("epochs", fitted.epochsTrained)
        result.add("seconds", seconds)
        result.samples = [after]

        result.figures.append(try settings.write(fitted.plot(title: "gpt (\(options.model.rawValue)): training curves"),
                                                 example: name, name: "curves-\(options.model.rawValue)"))
        if let gpt = model as? CharacterGPT {
            // The first line of the sample (up to the context), read back by the trained model.
            let line = String(after.split(separator: "\n", omittingEmptySubsequences: false).first ?? "")
            let shown = String((line.count >= 8 ? line : after).prefix(min(options.context, 48)))
            let characters = Array(shown)
            let weights = gpt.attentionWeights(for: vocabulary.tensor(encoding: shown))
            let last = weights[weights.count - 1]
            let labels = characters.map(label)
            let panels = (0..<last.shape[0]).map { head in
                var panel = Plot(title: "layer \(weights.count), head \(head + 1)", xLabel: "key: earlier character",
                                 yLabel: "query: character")
                    .heatmap(last[head].doubles, rows: characters.count, columns: characters.count,
                             rowLabels: labels, columnLabels: labels, valueRange: 0...1)
                panel.showsLegend = head == last.shape[0] - 1
                return panel
            }
            let figure = Figure.grid(panels: panels, columns: min(2, panels.count),
                                     title: "Causal attention over a generated line: \(shown.debugDescription)",
                                     panelWidth: 560, panelHeight: 520)
            result.figures.append(try settings.write(figure, example: name, name: "attention"))
        }
        return result
    }

    private static func indented(_ text: String) -> String {
        text.split(separator: "\n", omittingEmptySubsequences: false).map { "    | " + $0 }.joined(separator: "\n")
    }
}
