import Foundation
import Luz
import LuzDatasets
import LuzModels
import LuzPlot

/// The options of `finetune`.
public struct FinetuneOptions: Sendable {
    /// The default number of fine-tuning epochs.
    public static let defaultEpochs = 4
    /// The shared settings.
    public var settings: ExampleSettings
    /// The sentence-transformers folder of all-MiniLM-L6-v2 (or another BERT-family encoder).
    public var modelFolder: String
    /// The sentences per batch.
    public var batchSize = 16
    /// The learning rate of the pretrained encoder (lower than the head's, as fine-tuning recipes use).
    public var encoderLearningRate = 1e-4
    /// The learning rate of the new classification head.
    public var headLearningRate = 1e-3
    /// How many subjects are held out for validation (of 36).
    public var validationSubjects = 8
    /// Tokens per sentence after truncation (the reviews need at most about 20).
    public var maximumLength = 32

    /// Creates the options; the folder defaults to `LUZ_MINILM_DIR`, else `all-MiniLM-L6-v2`.
    public init(settings: ExampleSettings = ExampleSettings(), modelFolder: String? = nil) {
        self.settings = settings
        self.modelFolder = modelFolder ?? PretrainedEncoderFolder.defaultPath
    }
}

/// `finetune`: a pretrained encoder fine-tuned through `fit` on the shipped short reviews
/// (``LuzDatasets/ShortReviews``), against the frozen baseline. The baseline is a linear head on
/// the encoder's sentence embeddings, which are mean-pooled and normalized, as the model is meant
/// to be used. The classes turn on negation and contrast, which a fixed embedding blurs.
public enum Finetune {
    /// The command name, also the figures' folder.
    public static let name = "finetune"

    /// Runs the example.
    /// - Returns: `valid_acc` (the fine-tuned classifier's validation accuracy),
    ///   `frozen_valid_acc` (the frozen baseline's), `valid_loss`, `epochs` and `seconds`.
    public static func run(_ options: FinetuneOptions) throws -> ExampleResult {
        let settings = options.settings
        let epochs = settings.epochs ?? FinetuneOptions.defaultEpochs
        let start = Date()
        guard options.batchSize > 0, options.maximumLength >= 8, options.validationSubjects > 0, epochs > 0 else {
            throw ExampleError.invalidOption("finetune: batch size, epochs and held-out subjects must be positive, the length at least 8")
        }
        let folder = options.modelFolder
        try PretrainedEncoderFolder.check(folder, example: name)
        let reviews = try ShortReviews()
        let (train, valid) = reviews.split(validationSubjects: options.validationSubjects)
        guard !valid.texts.isEmpty, !train.texts.isEmpty else {
            throw ExampleError.invalidOption("finetune: holding out \(options.validationSubjects) subjects leaves no training or no validation reviews")
        }
        settings.say("finetune: \(train.texts.count) training and \(valid.texts.count) validation reviews (held-out subjects), encoder in \(folder)")

        // The frozen baseline: a linear head on the fixed sentence embeddings.
        let embedder = try SentenceEmbedder(folder: folder)
        let trainEmbeddings = try embedder.embed(train.texts), validEmbeddings = try embedder.embed(valid.texts)
        let width = trainEmbeddings.shape[1]
        let probe = Linear(width, 2, generator: settings.generator(1))
        let probed = try probe
            .setup(loss: CrossEntropyLoss(), optimizer: Adam.self, metrics: [Accuracy()])
            .learningRate(1e-2)
            .fit(DataSource.tensors(trainEmbeddings, Tensor(train.labels), batchSize: options.batchSize, shuffle: true,
                                    generator: settings.generator(2)),
                 epochs: EpochSpec(100), validData: .tensors(validEmbeddings, Tensor(valid.labels)),
                 callbacks: settings.fitCallbacks("finetune-frozen"), verbose: false)
        let frozen = try probed.evaluate(.tensors(validEmbeddings, Tensor(valid.labels), batchSize: 256))
        settings.say(String(format: "  frozen embeddings + linear head: validation accuracy %.4f", frozen["acc"] ?? .nan))

        // Fine-tuning: the encoder and a new head, each at its own learning rate.
        let tokenizer = embedder.tokenizer
        func dataset(_ part: (texts: [String], labels: [Int64])) -> TensorDataset {
            let tokens = tokenizer.encode(batch: part.texts, maximumLength: options.maximumLength)
            return TensorDataset(inputs: tokens.modelInputs, targets: .tensor(Tensor(part.labels)))
        }
        let trainData = dataset(train), validData = dataset(valid)
        let classifier = BertClassifier(encoder: try BertModel.from(folder: folder), classCount: 2,
                                        generator: settings.generator(3))
        let (fitted, seconds) = try timed {
            try classifier
                .setup(loss: CrossEntropyLoss(), optimizer: OptimizerFactory { _, _ in
                    AdamW(groups: classifier.parameterGroups(encoderLearningRate: options.encoderLearningRate,
                                                             headLearningRate: options.headLearningRate))
                }, metrics: [Accuracy()])
                .fit(trainData, epochs: EpochSpec(epochs), validData: .dataset(validData),
                     callbacks: [EpochLogger(settings: settings, every: 1)] + settings.fitCallbacks(name),
                     verbose: false, seed: settings.seed &+ 4, batchSize: options.batchSize)
        }
        let tuned = try fitted.evaluate(.dataset(validData))
        settings.say(String(format: "  fine-tuned encoder: validation accuracy %.4f after %d epochs (%.1f s)",
                            tuned["acc"] ?? .nan, fitted.epochsTrained, seconds))

        var result = ExampleResult(example: name)
        result.add("valid_acc", tuned["acc"] ?? .nan)
        result.add("frozen_valid_acc", frozen["acc"] ?? .nan)
        result.add("valid_loss", tuned["loss"] ?? .nan)
        result.add("epochs", fitted.epochsTrained)
        result.add("seconds", Date().timeIntervalSince(start))
        let curves = fitted.plot(title: "finetune: all-MiniLM-L6-v2 on the shipped reviews, loss and accuracy")
        result.figures.append(try settings.write(curves, example: name, name: "curves"))
        return result
    }
}
