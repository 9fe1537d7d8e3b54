import Foundation
import Luz
import LuzModels
import LuzPlot

/// The options of `embed`.
public struct EmbedOptions: Sendable {
    /// The shared settings.
    public var settings: ExampleSettings
    /// The sentence-transformers folder of all-MiniLM-L6-v2 (or another BERT-family embedder).
    public var modelFolder: String
    /// The question whose nearest sentence is looked up.
    public var query = "Which pet likes to sleep in the sun all afternoon?"

    /// Creates the options; the folder defaults to `LUZ_MINILM_DIR`, else `all-MiniLM-L6-v2`.
    public init(settings: ExampleSettings = ExampleSettings(), modelFolder: String? = nil) {
        self.settings = settings
        self.modelFolder = modelFolder ?? PretrainedEncoderFolder.defaultPath
    }
}

/// `embed`: sentence embeddings of a dozen sentences of ours on four topics with a pretrained
/// encoder, their cosine similarities as a heat map, and the sentence nearest to a question.
public enum Embed {
    /// The command name, also the figures' folder.
    public static let name = "embed"

    /// Twelve sentences we wrote, three on each of four topics, topic by topic.
    public static let sentences = [
        "The cat curled up on the warm windowsill.",
        "Our dog waits by the door every evening.",
        "A kitten chased a ball of yarn across the floor.",
        "The central bank raised interest rates again.",
        "Shares of the company fell after the earnings report.",
        "Inflation eased slightly in the last quarter.",
        "Heavy rain is expected along the coast tomorrow.",
        "The afternoon will be sunny with a light breeze.",
        "Snow closed the mountain roads overnight.",
        "She scored twice in the second half of the match.",
        "The team won the championship after extra time.",
        "Our goalkeeper saved a penalty in the final minute.",
    ]
    /// The topic of each sentence.
    static let topics = (0..<12).map { $0 / 3 }

    /// Runs the example.
    /// - Returns: `same_topic` and `other_topic` (the mean cosine similarity of pairs of
    ///   sentences on one topic, and on different topics), `nearest` (the index of the sentence
    ///   nearest to the query) and `seconds`.
    public static func run(_ options: EmbedOptions) throws -> ExampleResult {
        let settings = options.settings
        let start = Date()
        try PretrainedEncoderFolder.check(options.modelFolder, example: name)
        settings.say("embed: \(sentences.count) sentences with the encoder in \(options.modelFolder)")
        let embedder = try SentenceEmbedder(folder: options.modelFolder)
        let vectors = try embedder.embed(sentences + [options.query])          // unit length
        let corpus = vectors.narrowed(dim: 0, start: 0, length: sentences.count)
        let similarity = corpus.matmul(corpus.transposed()).to(.float64)     // cosines
        let values = similarity.doubles
        var same: [Double] = [], other: [Double] = []
        for i in 0..<sentences.count {
            for j in (i + 1)..<sentences.count {
                (topics[i] == topics[j] ? { same.append($0) } : { other.append($0) })(values[i * sentences.count + j])
            }
        }
        let query = vectors.selected(dim: 0, index: sentences.count)
        let scores = corpus.matmul(query).to(.float64).doubles
        let nearest = scores.indices.max { scores[$0] < scores[$1] }!
        settings.say("  nearest to “\(options.query)”: “\(sentences[nearest])” (cosine \(String(format: "%.3f", scores[nearest])))")

        var result = ExampleResult(example: name)
        let labels = sentences.indices.map { "\($0 + 1)" }
        var panel = Plot(title: "Cosine similarity of the sentence embeddings", xLabel: "sentence", yLabel: "sentence")
            .heatmap(values, rows: sentences.count, columns: sentences.count, rowLabels: labels, columnLabels: labels,
                     colormap: .viridis, valueRange: -0.2...1)
        panel.showsLegend = true
        result.figures.append(try settings.write(Figure(panel, width: 620, height: 560), example: name, name: "similarity"))
        result.add("same_topic", same.reduce(0, +) / Double(same.count))
        result.add("other_topic", other.reduce(0, +) / Double(other.count))
        result.add("nearest", nearest)
        result.add("seconds", Date().timeIntervalSince(start))
        return result
    }
}
