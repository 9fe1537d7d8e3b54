import Foundation
import LuzNN
import LuzOptim
import LuzTensor

// The attention workload of shared/bench/WORKLOADS.md: a 2-layer transformer encoder learning to
// output its input sequence reversed, the same model and loop as TinyTransformer / attention()
// in torch_workloads.py.

/// Token embedding plus a learned position embedding, a stack of post-norm ReLU encoder layers
/// (no dropout), and a linear read-out over the vocabulary.
final class TinyTransformer: Module {
    let embedding: Embedding
    let positions: LearnedPositionalEmbedding
    let encoder: TransformerEncoder
    let output: Linear

    init(vocabulary: Int = 32, dimension: Int = 64, heads: Int = 4, layers: Int = 2, length: Int = 32,
         generator: Generator) {
        embedding = Embedding(vocabulary, dimension, generator: generator)
        positions = LearnedPositionalEmbedding(maxLength: length, dimension: dimension, batchFirst: true,
                                               generator: generator)
        // The peer's positions are `nn.Parameter(torch.zeros(seq, d))`.
        Initializer.zeros(positions.weight)
        let layer = TransformerEncoderLayer(modelDimension: dimension, heads: heads, feedForwardDimension: 4 * dimension,
                                            dropout: 0, batchFirst: true, generator: generator)
        encoder = TransformerEncoder(layer, layerCount: layers)
        output = Linear(dimension, vocabulary, generator: generator)
        super.init()
    }

    override func forward(_ tokens: Tensor) -> Tensor {
        output(encoder(positions(embedding(tokens))))
    }
}

/// attention: 200 Adam steps (lr 1e-3) on fresh batches of 32 random sequences of 32 tokens,
/// cross-entropy against the reversed sequences; quality is the last step's loss.
func attention(steps: Int = 200) {
    let generator = Generator(seed: benchSeed)
    manualSeed(benchSeed)
    let model = TinyTransformer(generator: generator)
    trainOnTokens("attention", steps: steps, model: model, optimizer: Adam(model.parameters(), learningRate: 1e-3),
                  vocabulary: 32) {
        let x = Tensor.randint(0, 32, [32, 32], generator: generator)
        return (x, x.flipped([1]))
    }
}

