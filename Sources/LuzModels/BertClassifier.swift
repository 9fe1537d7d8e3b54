import LuzData
import LuzNN
import LuzOptim
import LuzTensor

/// A BERT-family encoder with a classification head on its pooled output (Hugging Face's
/// `BertForSequenceClassification`, with its names: `bert.…`, `classifier.weight`), for
/// fine-tuning through `fit` on batches of token ids, attention mask and token types.
///
/// ```swift
/// let classifier = BertClassifier(encoder: try BertModel.from(folder: folder), classCount: 2)
/// let data = TensorDataset(inputs: tokenizer.encode(batch: texts).modelInputs, targets: labels)
/// let fitted = try classifier
///     .setup(loss: CrossEntropyLoss(), optimizer: OptimizerFactory { _, _ in
///         AdamW(groups: classifier.parameterGroups(encoderLearningRate: 2e-5, headLearningRate: 1e-3))
///     }, metrics: [Accuracy()])
///     .fit(data, epochs: 3, validData: 0.2)
/// ```
///
/// The pooled output is the pooler's (tanh of a dense layer on `[CLS]`) when the encoder has
/// one, else the `[CLS]` state itself; dropout (the encoder's hidden dropout) precedes the head.
public final class BertClassifier: Module, StructuredModule {
    /// The encoder.
    public var bert: BertModel
    /// Dropout before the head.
    public var dropout: Dropout
    /// The head: pooled output to class scores.
    public var classifier: Linear

    /// A head of `classCount` classes on `encoder`, initialized as BERT's (N(0, 0.02), zero bias).
    public init(encoder: BertModel, classCount: Int, generator: Generator? = nil) {
        require(classCount >= 2, "BertClassifier: needs at least 2 classes, got \(classCount)")
        bert = encoder
        dropout = Dropout(probability: encoder.config.hiddenDropout)
        let width = encoder.config.hiddenSize
        classifier = Linear(weight: (Tensor.randn([classCount, width], generator: generator) * 0.02).requiringGrad(),
                            bias: Tensor.zeros([classCount]).requiringGrad())
        super.init()
    }

    /// Class scores `[batch, classCount]` for named inputs: `"ids"` (int64 `[batch, length]`),
    /// and optionally `"attentionMask"` (1 = attend) and `"tokenTypes"`, as
    /// ``LuzData/TokenizedBatch/modelInputs`` names them.
    public func forward(inputs: TensorTree) -> TensorTree {
        guard case .dictionary(let named) = inputs else {
            requirementFailure("BertClassifier: takes named inputs (\"ids\", \"attentionMask\", \"tokenTypes\"), got \(inputs.shapeDescription); use TokenizedBatch.modelInputs")
        }
        for name in named.keys where !["ids", "attentionMask", "tokenTypes"].contains(name) {
            requirementFailure("BertClassifier: unknown input \"\(name)\"; the inputs are \"ids\", \"attentionMask\", \"tokenTypes\"")
        }
        let ids = inputs["ids"].singleTensor("BertClassifier's ids")
        let output = bert(ids: ids, attentionMask: named["attentionMask"]?.tensor, tokenTypes: named["tokenTypes"]?.tensor)
        let pooled = output.pooled ?? output.lastHiddenState.selected(dim: 1, index: 0)
        return .tensor(classifier(dropout(pooled)))
    }

    /// Class scores for token ids alone (no padding).
    public override func forward(_ input: Tensor) -> Tensor {
        forward(inputs: ["ids": .tensor(input)]).singleTensor("BertClassifier's output")
    }

    /// Stops (or restarts) gradients to the encoder, so that only the head trains.
    public func freezeEncoder(_ frozen: Bool = true) {
        frozen ? bert.freeze() : bert.unfreeze()
    }

    /// The encoder's trainable parameters and the head's, as optimizer groups with a learning
    /// rate each (a lower one for the pretrained encoder, as fine-tuning recipes use).
    public func parameterGroups(encoderLearningRate: Double, headLearningRate: Double) -> [ParameterGroup] {
        [ParameterGroup(bert.parameters().filter(\.requiresGrad), learningRate: encoderLearningRate),
         ParameterGroup(classifier.parameters(), learningRate: headLearningRate)]
    }
}

extension TokenizedBatch {
    /// The ids, attention mask and token types as named inputs (`"ids"`, `"attentionMask"`,
    /// `"tokenTypes"`): what ``BertClassifier`` reads, and what a `TensorDataset` of texts holds.
    public var modelInputs: TensorTree {
        ["ids": .tensor(idTensor), "attentionMask": .tensor(attentionMaskTensor), "tokenTypes": .tensor(tokenTypeTensor)]
    }
}
