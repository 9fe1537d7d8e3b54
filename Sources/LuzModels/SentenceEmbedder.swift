import Foundation
import LuzData
import LuzNN
import LuzTensor

/// Sentence embeddings from a BERT-family encoder, as sentence-transformers computes them: the
/// sentences tokenized, encoded, the token states pooled over the attention mask (mean, `[CLS]`
/// or max, as the folder's `1_Pooling/config.json` says) and L2-normalized when the folder's
/// `modules.json` has a `Normalize` step.
///
/// ```swift
/// let embedder = try SentenceEmbedder(folder: "all-MiniLM-L6-v2")
/// let vectors = try embedder.embed(["A cat sits.", "A kitten is sitting."])   // [2, 384]
/// let similarity = vectors[0].cosineSimilarity(vectors[1], dim: 0)
/// ```
public final class SentenceEmbedder {
    /// How token states become one vector per sentence.
    public enum Pooling: String, Sendable {
        /// The mean over the tokens the mask keeps (all-MiniLM-L6-v2's).
        case mean
        /// The `[CLS]` token's state.
        case cls
        /// The element-wise maximum over the kept tokens.
        case max
    }

    /// The encoder.
    public let model: BertModel
    /// The tokenizer.
    public let tokenizer: WordPieceTokenizer
    /// The pooling.
    public let pooling: Pooling
    /// Whether embeddings are scaled to unit length.
    public let normalizes: Bool
    /// The longest input in tokens; longer sentences are truncated (sentence-transformers'
    /// `max_seq_length`, from `sentence_bert_config.json`, else the model's positions).
    public let maximumLength: Int

    /// An embedder of `model` and `tokenizer` with the given settings.
    public init(model: BertModel, tokenizer: WordPieceTokenizer, pooling: Pooling = .mean, normalizes: Bool = true,
                maximumLength: Int? = nil) {
        self.model = model
        self.tokenizer = tokenizer
        self.pooling = pooling
        self.normalizes = normalizes
        self.maximumLength = maximumLength ?? model.config.maximumPositions
        model.eval()
    }

    /// The embedder a sentence-transformers folder describes: the model and tokenizer files,
    /// `1_Pooling/config.json`, `modules.json` and `sentence_bert_config.json` (each optional:
    /// mean pooling, normalization and the model's length when absent).
    public convenience init(folder: String) throws {
        let model = try BertModel.from(folder: folder)
        let tokenizer = try WordPieceTokenizer(folder: URL(fileURLWithPath: folder))
        func json(_ name: String) throws -> Any? {
            let path = (folder as NSString).appendingPathComponent(name)
            guard let data = FileManager.default.contents(atPath: path) else { return nil }
            guard let object = try? JSONSerialization.jsonObject(with: data) else {
                throw BertError.file(path, "is not valid JSON")
            }
            return object
        }
        var pooling = Pooling.mean
        if let config = try json("1_Pooling/config.json") as? [String: Any] {
            if config["pooling_mode_cls_token"] as? Bool == true { pooling = .cls }
            else if config["pooling_mode_max_tokens"] as? Bool == true { pooling = .max }
            else if config["pooling_mode_mean_tokens"] as? Bool == true { pooling = .mean }
            else {
                throw BertError.field((folder as NSString).appendingPathComponent("1_Pooling/config.json"), "pooling_mode_*",
                                      "names no pooling this embedder implements (mean, cls, max)")
            }
        }
        var normalizes = false
        if let modules = try json("modules.json") as? [[String: Any]] {
            normalizes = modules.contains { ($0["type"] as? String)?.hasSuffix("Normalize") == true }
        }
        let length = (try json("sentence_bert_config.json") as? [String: Any])?["max_seq_length"] as? Int
        self.init(model: model, tokenizer: tokenizer, pooling: pooling, normalizes: normalizes, maximumLength: length)
    }

    /// One embedding per sentence, `[sentences.count, hiddenSize]`, computed without gradients
    /// in batches of `batchSize`.
    public func embed(_ sentences: [String], batchSize: Int = 32) throws -> Tensor {
        require(batchSize > 0, "SentenceEmbedder: batchSize must be positive, got \(batchSize)")
        guard !sentences.isEmpty else { return Tensor.zeros([0, model.config.hiddenSize]) }
        var parts: [Tensor] = []
        for start in stride(from: 0, to: sentences.count, by: batchSize) {
            let batch = Array(sentences[start..<min(start + batchSize, sentences.count)])
            let tokens = tokenizer.encode(batch: batch, maximumLength: maximumLength)
            let mask = tokens.attentionMaskTensor
            let hidden = withNoGrad {
                model(ids: tokens.idTensor, attentionMask: mask, tokenTypes: tokens.tokenTypeTensor).lastHiddenState
            }
            parts.append(pool(hidden, mask: mask))
        }
        let embeddings = Tensor.cat(parts, dim: 0)
        return normalizes ? embeddings.normalized(dim: 1) : embeddings
    }

    /// Token states `[batch, length, hidden]` pooled over the kept tokens of `mask`.
    func pool(_ hidden: Tensor, mask: Tensor) -> Tensor {
        let kept = mask.to(hidden.dtype).unsqueezed(dim: 2)              // [batch, length, 1]
        switch pooling {
        case .cls:
            return hidden.selected(dim: 1, index: 0)
        case .mean:
            // sentence-transformers clamps the count at 1e-9.
            return (hidden * kept).sum(dims: [1]) / kept.sum(dims: [1]).clamped(min: 1e-9)
        case .max:
            // Padded positions are set far below any state, as sentence-transformers does.
            return (hidden + (kept - 1) * 1e9).max(dim: 1).values
        }
    }
}
