import Foundation
import Luz
import LuzPlot

/// The recurrent cell of `addition`'s encoder and decoder.
public enum RecurrentCellKind: String, CaseIterable, Sendable {
    /// ``LSTM`` layers.
    case lstm
    /// ``GRU`` layers.
    case gru
}

/// The options of `addition`.
public struct AdditionOptions: Sendable {
    /// The shared settings.
    public var settings: ExampleSettings
    /// The most digits of each operand.
    public var digits = 3
    /// The number of distinct training sums.
    public var trainingSums = 50_000
    /// The number of held-out sums the accuracy is measured on (none of them in training).
    public var testSums = 1000
    /// The hidden width of the encoder and the decoder.
    public var hidden = 128
    /// The width of the character embedding.
    public var embedding = 16
    /// LSTM or GRU.
    public var cell = RecurrentCellKind.lstm
    /// Feed the question reversed (the last digit first), as Keras's example does.
    public var reverse = true
    /// The batch size.
    public var batchSize = 128
    /// Adam's peak learning rate, reached after the first 30 % of the steps of a one-cycle
    /// schedule and annealed to nearly zero by the last one.
    public var learningRate = 1e-2

    /// The number of epochs when `settings.epochs` is `nil`.
    public static let defaultEpochs = 7

    /// Creates the options.
    public init(settings: ExampleSettings = ExampleSettings()) { self.settings = settings }
}

/// A sequence-to-sequence model without attention (Keras's `addition_rnn`): a recurrent
/// encoder reads the question, its final hidden state is repeated once per answer position as
/// the input of a recurrent decoder, and a linear read-out scores each answer position's
/// character.
public final class AdditionModel: Module {
    /// The character embedding.
    public let embedding: Embedding
    /// The encoder over the question.
    public let encoder: RecurrentLayer
    /// The decoder, fed the encoder's summary at every answer position.
    public let decoder: RecurrentLayer
    /// The read-out over the characters.
    public let output: Linear
    /// The number of answer positions.
    public let answerLength: Int

    /// Creates the model.
    /// - Parameters:
    ///   - vocabulary: the number of character tokens.
    ///   - answerLength: the number of characters of every (padded) answer.
    ///   - embedding: the embedding width.
    ///   - hidden: the encoder's and decoder's hidden width.
    ///   - cell: LSTM or GRU.
    ///   - generator: the source of the initial weights.
    public init(vocabulary: Int, answerLength: Int, embedding: Int = 16, hidden: Int = 128,
                cell: RecurrentCellKind = .lstm, generator: Generator? = nil) {
        self.embedding = Embedding(vocabulary, embedding, generator: generator)
        switch cell {
        case .lstm:
            encoder = LSTM(inputSize: embedding, hiddenSize: hidden, batchFirst: true, generator: generator)
            decoder = LSTM(inputSize: hidden, hiddenSize: hidden, batchFirst: true, generator: generator)
        case .gru:
            encoder = GRU(inputSize: embedding, hiddenSize: hidden, batchFirst: true, generator: generator)
            decoder = GRU(inputSize: hidden, hiddenSize: hidden, batchFirst: true, generator: generator)
        }
        output = Linear(hidden, vocabulary, generator: generator)
        self.answerLength = answerLength
        super.init()
    }

    /// Scores `[batch, answerLength, vocabulary]` for questions `[batch, questionLength]`.
    public override func forward(_ questions: Tensor) -> Tensor {
        let (_, state) = encoder(embedding(questions))
        let summary = state.hidden[0]                                   // [batch, hidden]
        let repeated = summary.unsqueezed(dim: 1).expanded(to: [summary.shape[0], answerLength, summary.shape[1]])
        return output(decoder(repeated))
    }
}

/// The fraction of whole sequences right: every position's argmax over the last dimension of
/// `[batch, length, vocabulary]` scores equals the target `[batch, length]`.
public final class SequenceAccuracy: PredictionMetric {
    /// `"seq_acc"`.
    public let name = "seq_acc"
    /// `"Seq acc"`.
    public let displayName = "Seq acc"
    private var correct = 0
    private var total = 0

    /// Creates the metric.
    public init() {}
    /// Forgets the counts.
    public func reset() { (correct, total) = (0, 0) }
    /// Counts the sequences of one batch whose every position is right.
    public func update(prediction: Tensor, target: Tensor) {
        let length = target.shape[1]
        let rows = (prediction.argmax(dim: 2) .== target).to(.int64).sum(dim: 1).scalars(as: Int64.self)
        correct += rows.filter { $0 == Int64(length) }.count
        total += rows.count
    }
    /// The fraction of sequences right.
    public func compute() -> Double { total == 0 ? .nan : Double(correct) / Double(total) }
    /// A new, empty instance.
    public func fresh() -> any Metric { SequenceAccuracy() }
}

/// `addition`: a recurrent encoder-decoder learns to add two numbers given as text
/// (`"123+45"` → `"168"`), one character at a time, from examples only.
public enum Addition {
    /// The command name, also the figures' folder.
    public static let name = "addition"

    /// The characters: digits, `+` and the space that pads questions and answers.
    public static let vocabulary = CharacterVocabulary(characters: "0123456789+ ", unknown: "?")

    /// One sum as the model sees it: the question padded with spaces to `2 · digits + 1`
    /// characters (then reversed when `reverse`), the answer padded to `digits + 1`.
    public static func texts(_ a: Int, _ b: Int, digits: Int, reverse: Bool) -> (question: String, answer: String) {
        func padded(_ text: String, _ length: Int) -> String { text + String(repeating: " ", count: length - text.count) }
        let question = padded("\(a)+\(b)", 2 * digits + 1)
        return (reverse ? String(question.reversed()) : question, padded("\(a + b)", digits + 1))
    }

    /// Distinct pairs of operands, each with a number of digits drawn uniformly in `1...digits`
    /// (so that short numbers are as common as long ones), none of them in `excluding`.
    public static func pairs(count: Int, digits: Int, excluding: Set<[Int]> = [], generator: Generator) -> [[Int]] {
        func number() -> Int {
            let length = 1 + generator.nextInt(below: digits)
            let low = length == 1 ? 0 : Int(pow(10, Double(length - 1)))
            return low + generator.nextInt(below: Int(pow(10, Double(length))) - low)
        }
        var seen = excluding, pairs: [[Int]] = []
        var attempts = 0
        while pairs.count < count && attempts < 100 * count {
            attempts += 1
            let pair = [number(), number()]
            if seen.insert(pair).inserted { pairs.append(pair) }
        }
        return pairs
    }

    /// Questions `[n, 2 · digits + 1]` and answers `[n, digits + 1]` as `int64` tokens.
    public static func tensors(_ pairs: [[Int]], digits: Int, reverse: Bool) -> (questions: Tensor, answers: Tensor) {
        let texts = pairs.map { Self.texts($0[0], $0[1], digits: digits, reverse: reverse) }
        let questions = Tensor.stack(texts.map { vocabulary.tensor(encoding: $0.question) })
        let answers = Tensor.stack(texts.map { vocabulary.tensor(encoding: $0.answer) })
        return (questions, answers)
    }

    /// Runs the example.
    /// - Returns: `accuracy` (exact answers on the held-out sums), `token_accuracy`,
    ///   `train_loss`, `epochs`, `seconds`.
    public static func run(_ options: AdditionOptions) throws -> ExampleResult {
        let settings = options.settings
        let epochs = settings.epochs ?? AdditionOptions.defaultEpochs
        guard (1...6).contains(options.digits), options.trainingSums > 0, options.testSums > 0,
              options.hidden > 0, options.embedding > 0, options.batchSize > 0 else {
            throw ExampleError.invalidOption("addition: need 1 to 6 digits, training and test sums, and positive sizes")
        }
        let possible = pow(pow(10.0, Double(options.digits)), 2)
        guard Double(options.trainingSums + 2 * options.testSums) <= possible * 0.8 else {
            throw ExampleError.invalidOption("addition: \(options.trainingSums) training and 2 × \(options.testSums) held-out sums "
                                             + "are too many for \(options.digits)-digit numbers (\(Int(possible)) sums exist)")
        }
        settings.say("addition: a \(options.cell.rawValue.uppercased()) encoder-decoder (hidden \(options.hidden)) learns to add "
                     + "numbers of up to \(options.digits) digits from \(options.trainingSums) sums, \(epochs) epochs"
                     + (options.reverse ? ", questions reversed" : ""))
        let trainPairs = pairs(count: options.trainingSums, digits: options.digits, generator: settings.generator(1))
        let validPairs = pairs(count: options.testSums, digits: options.digits, excluding: Set(trainPairs),
                               generator: settings.generator(2))
        let testPairs = pairs(count: options.testSums, digits: options.digits, excluding: Set(trainPairs + validPairs),
                              generator: settings.generator(3))
        let train = tensors(trainPairs, digits: options.digits, reverse: options.reverse)
        let valid = tensors(validPairs, digits: options.digits, reverse: options.reverse)
        let test = tensors(testPairs, digits: options.digits, reverse: options.reverse)

        let vocabularySize = vocabulary.count
        let model = AdditionModel(vocabulary: vocabularySize, answerLength: options.digits + 1,
                                  embedding: options.embedding, hidden: options.hidden, cell: options.cell,
                                  generator: settings.generator(4))
        // Cross-entropy over every answer position: the scores flattened to [batch · positions, vocabulary].
        let loss = LossFunction(name: "answer cross-entropy") { prediction, target in
            crossEntropy(prediction.reshaped([-1, vocabularySize]), target.reshaped([-1]))
        }
        let batches = DataSource.tensors(train.questions, train.answers, batchSize: options.batchSize, shuffle: true,
                                         dropLast: true, generator: settings.generator(5))
        let (fitted, seconds) = try timed {
            try model
                .setup(loss: loss, optimizer: OptimizerFactory(Adam.self), metrics: [TokenAccuracy(), SequenceAccuracy()])
                .learningRate(options.learningRate)
                .fit(batches, epochs: EpochSpec(epochs), validData: .tensors(valid.questions, valid.answers),
                     callbacks: [
                        // One cycle (Smith's super-convergence): a short warm-up to a high rate, then an
                        // annealing whose small final steps give the last digits of accuracy.
                        LRSchedulerCallback(callOn: .trainBatchEnd) { optimizer in
                            OneCycleLR(optimizer: optimizer, maximumLearningRate: options.learningRate,
                                       totalSteps: max(1, epochs * batches.batchCount))
                        },
                        EpochLogger(settings: settings, every: max(1, epochs / 6)),
                     ] + settings.fitCallbacks(name),
                     verbose: false)
        }

        // The held-out sums: exact answers, overall and by the digits of the longer operand.
        let predicted = try fitted.predict(test.questions, batchSize: 250).argmax(dim: 2)
        let rowsCorrect = (predicted .== test.answers).to(.int64).sum(dim: 1).scalars(as: Int64.self)
        let right = rowsCorrect.map { $0 == Int64(options.digits + 1) }
        let accuracy = Double(right.filter { $0 }.count) / Double(right.count)
        let tokenAccuracy = Double(rowsCorrect.reduce(0, +)) / Double(right.count * (options.digits + 1))
        // With 3 digits, the 100 sums of two 1-digit numbers are all drawn for training, so none
        // is held out: that point is missing from the figure.
        var byDigits: [Double] = []
        for digits in 1...options.digits {
            let indices = testPairs.indices.filter { String(max(testPairs[$0][0], testPairs[$0][1])).count == digits }
            byDigits.append(indices.isEmpty ? .nan : Double(indices.filter { right[$0] }.count) / Double(indices.count))
        }
        settings.say(String(format: "  on %d held-out sums: %.4f exact answers, %.4f characters right; by digits: ",
                            options.testSums, accuracy, tokenAccuracy)
                     + byDigits.enumerated().map { $0.element.isNaN ? "\($0.offset + 1): none held out" : String(format: "%d: %.4f", $0.offset + 1, $0.element) }.joined(separator: ", "))
        if !settings.quiet {
            for index in 0..<min(4, testPairs.count) {
                let answer = vocabulary.decode(predicted[index]).trimmingCharacters(in: .whitespaces)
                settings.say("  \(testPairs[index][0])+\(testPairs[index][1]) = \(answer)\(right[index] ? "" : "  (wrong)")")
            }
        }

        var result = ExampleResult(example: name)
        result.add("accuracy", accuracy)
        result.add("token_accuracy", tokenAccuracy)
        result.add("train_loss", fitted.records.value(set: "train", metric: "loss") ?? .nan)
        result.add("cell", options.cell.rawValue)
        result.add("epochs", fitted.epochsTrained)
        result.add("seconds", seconds)

        result.figures.append(try settings.write(fitted.plot(title: "addition: training curves"), example: name, name: "curves"))
        let digits = Array(1...options.digits)
        let plot = Plot(title: "Exact answers on \(options.testSums) held-out sums", xLabel: "digits of the longer operand",
                        yLabel: "accuracy")
            .line(x: digits, y: byDigits, label: options.cell.rawValue.uppercased(), showsMarkers: true)
        result.figures.append(try settings.write(Figure(plot), example: name, name: "accuracy-by-digits"))
        return result
    }
}
