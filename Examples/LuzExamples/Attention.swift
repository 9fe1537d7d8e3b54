import Foundation
import Luz
import LuzPlot

/// The options of `attention`.
public struct AttentionOptions: Sendable {
    /// The shared settings.
    public var settings: ExampleSettings
    /// The number of distinct tokens.
    public var vocabulary = 16
    /// The length of every sequence.
    public var length = 12
    /// The model width.
    public var dimension = 64
    /// The number of attention heads.
    public var heads = 4
    /// The number of encoder layers.
    public var layers = 2
    /// The number of random training sequences.
    public var trainingSequences = 6144
    /// The number of fresh sequences the accuracy is measured on.
    public var testSequences = 1000
    /// The batch size.
    public var batchSize = 64
    /// Adam's learning rate.
    public var learningRate = 1e-3

    /// The number of epochs when `settings.epochs` is `nil`.
    public static let defaultEpochs = 5

    /// Creates the options.
    public init(settings: ExampleSettings = ExampleSettings()) { self.settings = settings }
}

/// A small transformer encoder over token sequences: token embedding plus a learned position
/// embedding, a stack of post-norm encoder layers without dropout, and a linear read-out giving
/// each position's scores over the vocabulary.
public final class SequenceTransformer: Module {
    /// The token embedding.
    public let embedding: Embedding
    /// The learned position embedding, added to the tokens'.
    public let positions: LearnedPositionalEmbedding
    /// The encoder layers.
    public let encoder: TransformerEncoder
    /// The read-out over the vocabulary.
    public let output: Linear

    /// Creates the model.
    /// - Parameters:
    ///   - vocabulary: the number of distinct tokens.
    ///   - length: the longest sequence.
    ///   - dimension: the model width.
    ///   - heads: the number of attention heads (must divide `dimension`).
    ///   - layers: the number of encoder layers.
    ///   - generator: the source of the initial weights.
    public init(vocabulary: Int, length: Int, dimension: Int = 64, heads: Int = 4, layers: Int = 2,
                generator: Generator? = nil) {
        embedding = Embedding(vocabulary, dimension, generator: generator)
        positions = LearnedPositionalEmbedding(maxLength: length, dimension: dimension, batchFirst: true,
                                               generator: generator)
        let layer = TransformerEncoderLayer(modelDimension: dimension, heads: heads,
                                            feedForwardDimension: 2 * dimension, dropout: 0, batchFirst: true,
                                            generator: generator)
        encoder = TransformerEncoder(layer, layerCount: layers)
        output = Linear(dimension, vocabulary, generator: generator)
        super.init()
    }

    /// Scores `[batch, length, vocabulary]` for tokens `[batch, length]`.
    public override func forward(_ tokens: Tensor) -> Tensor {
        output(encoder(positions(embedding(tokens))))
    }

    /// Each layer's attention weights for `tokens` (`[length]`, one sequence), averaged over
    /// the heads: one `[length, length]` matrix per layer, rows the queries, columns the keys.
    public func attentionWeights(for tokens: Tensor) -> [Tensor] {
        withNoGrad {
            var x = positions(embedding(tokens.reshaped([1, -1])))
            var weights: [Tensor] = []
            for layer in encoder.layers {
                let attended = layer.selfAttention(x, x, x, weights: .averaged)
                weights.append(attended.weights!.squeezed(dim: 0))
                x = layer(x)
            }
            return weights
        }
    }
}

/// `attention`: a small transformer built from the library's modules learns to output its
/// input sequence reversed. To do it, each output position must attend to the mirrored input
/// position, which the attention-weights figure shows as an anti-diagonal.
public enum Attention {
    /// The command name, also the figures' folder.
    public static let name = "attention"

    /// Random sequences `[count, length]` and their reversals.
    public static func reversalData(count: Int, length: Int, vocabulary: Int, generator: Generator) -> (tokens: Tensor, reversed: Tensor) {
        let tokens = Tensor.randint(0, vocabulary, [count, length], generator: generator)
        return (tokens, tokens.flipped([1]))
    }

    /// Runs the example.
    /// - Returns: `token_accuracy` and `sequence_accuracy` on fresh sequences, `train_loss`,
    ///   `epochs`, `seconds`.
    public static func run(_ options: AttentionOptions) throws -> ExampleResult {
        let settings = options.settings
        let epochs = settings.epochs ?? AttentionOptions.defaultEpochs
        guard options.vocabulary > 1, options.length > 1, options.trainingSequences > 0, options.testSequences > 0,
              options.heads > 0, options.dimension % options.heads == 0 else {
            throw ExampleError.invalidOption("attention: need a vocabulary and length above 1, sequences, and heads dividing the width")
        }
        settings.say("attention: a \(options.layers)-layer transformer (width \(options.dimension), \(options.heads) heads) "
                     + "learns to reverse \(options.length)-token sequences over \(options.vocabulary) tokens; "
                     + "\(options.trainingSequences) training sequences, \(epochs) epochs")
        let train = reversalData(count: options.trainingSequences, length: options.length, vocabulary: options.vocabulary,
                                 generator: settings.generator(1))
        let test = reversalData(count: options.testSequences, length: options.length, vocabulary: options.vocabulary,
                                generator: settings.generator(2))
        let model = SequenceTransformer(vocabulary: options.vocabulary, length: options.length,
                                        dimension: options.dimension, heads: options.heads, layers: options.layers,
                                        generator: settings.generator(3))
        let vocabulary = options.vocabulary
        // Cross-entropy over every position: the scores flattened to [batch · length, vocabulary].
        let loss = LossFunction(name: "token cross-entropy") { prediction, target in
            crossEntropy(prediction.reshaped([-1, vocabulary]), target.reshaped([-1]))
        }
        let batches = DataSource.tensors(train.tokens, train.reversed, batchSize: options.batchSize, shuffle: true,
                                         dropLast: true, generator: settings.generator(4))
        let (fitted, seconds) = try timed {
            try model
                .setup(loss: loss, optimizer: OptimizerFactory(Adam.self), metrics: [TokenAccuracy()])
                .learningRate(options.learningRate)
                .fit(batches, epochs: EpochSpec(epochs),
                     callbacks: [EpochLogger(settings: settings, every: max(1, epochs / 6))] + settings.fitCallbacks("attention"), verbose: false)
        }
        let evaluation = try fitted.evaluate(.tensors(test.tokens, test.reversed, batchSize: 250))
        let predicted = try fitted.predict(test.tokens, batchSize: 250).argmax(dim: 2)
        let rowsCorrect = (predicted .== test.reversed).to(.int64).sum(dim: 1).scalars(as: Int64.self)
        let sequenceAccuracy = Double(rowsCorrect.filter { $0 == Int64(options.length) }.count) / Double(options.testSequences)
        let tokenAccuracy = evaluation["token_acc"] ?? .nan
        settings.say(String(format: "  on %d fresh sequences: token accuracy %.4f, whole sequences right %.4f",
                            options.testSequences, tokenAccuracy, sequenceAccuracy))

        var result = ExampleResult(example: name)
        result.add("token_accuracy", tokenAccuracy)
        result.add("sequence_accuracy", sequenceAccuracy)
        result.add("train_loss", fitted.records.value(set: "train", metric: "loss") ?? .nan)
        result.add("epochs", fitted.epochsTrained)
        result.add("seconds", seconds)

        // One test sequence: each layer's weights, queries (output positions) down, keys across.
        let example = test.tokens[0]
        let tokens = example.scalars(as: Int64.self)
        let weights = (model as SequenceTransformer).attentionWeights(for: example)
        let outputs = predicted[0].scalars(as: Int64.self)
        let panels = weights.enumerated().map { index, matrix in
            var panel = Plot(title: "layer \(index + 1)", xLabel: "input position: token", yLabel: "output position: predicted token")
                .heatmap(matrix.doubles, rows: options.length, columns: options.length,
                         rowLabels: outputs.enumerated().map { "\($0.offset): \($0.element)" },
                         columnLabels: tokens.enumerated().map { "\($0.offset): \($0.element)" },
                         valueRange: 0...1)
            panel.showsLegend = index == weights.count - 1
            return panel
        }
        let figure = Figure.grid(panels: panels, columns: panels.count,
                                 title: "Attention weights (mean over heads) while reversing \(tokens.map(String.init).joined(separator: " "))",
                                 panelWidth: 470, panelHeight: 440)
        result.figures.append(try settings.write(figure, example: name, name: "attention"))
        result.figures.append(try settings.write(fitted.plot(title: "attention: training curves"), example: name, name: "curves"))
        return result
    }
}
