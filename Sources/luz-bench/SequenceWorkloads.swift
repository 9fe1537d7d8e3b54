import Foundation
import LuzNN
import LuzOptim
import LuzTensor

// The lstm and gpt workloads of shared/bench/WORKLOADS.md: next-token models on "Fibonacci mod
// 64" sequences, the same models and loops as CharLSTM / lstm() and TinyGPT / gpt() in
// torch_workloads.py.

/// A batch of `batch` "Fibonacci mod `vocabulary`" sequences of `length` tokens (two random
/// start tokens, then x[t] = (x[t−1] + x[t−2]) mod vocabulary) and the same shifted by one.
func fibonacciBatch(_ batch: Int, _ length: Int, vocabulary: Int = 64, generator: Generator) -> (input: Tensor, target: Tensor) {
    let starts = Tensor.randint(0, vocabulary, [batch, 2], generator: generator).doubles.map { Int($0) }
    var input = [Int64](), target = [Int64]()
    input.reserveCapacity(batch * length)
    target.reserveCapacity(batch * length)
    for b in 0..<batch {
        var sequence = [starts[2 * b], starts[2 * b + 1]]
        while sequence.count < length + 1 { sequence.append((sequence[sequence.count - 1] + sequence[sequence.count - 2]) % vocabulary) }
        input += sequence.dropLast().map { Int64($0) }
        target += sequence.dropFirst().map { Int64($0) }
    }
    return (Tensor(input, shape: [batch, length]), Tensor(target, shape: [batch, length]))
}

/// Embedding(64, 64) · 2-layer LSTM (hidden 256, batch first) · Linear(256, 64).
final class CharacterLSTM: Module {
    let embedding: Embedding
    let lstm: LSTM
    let output: Linear

    init(vocabulary: Int = 64, embeddingSize: Int = 64, hiddenSize: Int = 256, layers: Int = 2, generator: Generator) {
        embedding = Embedding(vocabulary, embeddingSize, generator: generator)
        lstm = LSTM(inputSize: embeddingSize, hiddenSize: hiddenSize, layerCount: layers, batchFirst: true, generator: generator)
        output = Linear(hiddenSize, vocabulary, generator: generator)
        super.init()
    }

    override func forward(_ tokens: Tensor) -> Tensor { output(lstm(embedding(tokens))) }
}

/// lstm: 30 Adam steps (lr 2e-3) on fresh batches of 32 sequences of 64 tokens, cross-entropy
/// over every position; quality is the last step's loss.
func lstmWorkload(steps: Int = 30) {
    let generator = Generator(seed: benchSeed)
    manualSeed(benchSeed)
    let model = CharacterLSTM(generator: generator)
    trainOnTokens("lstm", steps: steps, model: model, optimizer: Adam(model.parameters(), learningRate: 2e-3),
                  vocabulary: 64) { fibonacciBatch(32, 64, generator: generator) }
}

/// Runs `steps` optimizer steps, each on a fresh batch of token sequences, with cross-entropy
/// over every position of `vocabulary` classes, timed; reports the last step's loss as quality.
/// The peer's loop: forward, loss, zero_grad, backward, step.
func trainOnTokens(_ name: String, steps: Int, model: Module, optimizer: Optimizer, vocabulary: Int,
                   batch: () -> (input: Tensor, target: Tensor)) {
    var loss = Tensor(scalar: Float(0))
    let seconds = timed {
        for _ in 0..<steps {
            let (x, y) = batch()
            loss = crossEntropy(model(x).reshaped([-1, vocabulary]), y.reshaped([-1]))
            optimizer.zeroGrad()
            loss.backward()
            optimizer.step()
        }
    }
    report(name, steps: steps, seconds: seconds, quality: loss.item)
}

/// A 4-layer pre-norm causal transformer (d 128, 4 heads, feed-forward 512, GELU, no dropout),
/// learned positions, a final LayerNorm and Linear(128, 64).
final class TinyGPT: Module {
    let embedding: Embedding
    let positions: LearnedPositionalEmbedding
    let blocks: TransformerEncoder
    let norm: LayerNorm
    let output: Linear

    init(vocabulary: Int = 64, dimension: Int = 128, heads: Int = 4, layers: Int = 4, length: Int = 128, generator: Generator) {
        embedding = Embedding(vocabulary, dimension, generator: generator)
        positions = LearnedPositionalEmbedding(maxLength: length, dimension: dimension, batchFirst: true, generator: generator)
        // The peer's positions are `nn.Parameter(torch.zeros(seq, d))`.
        Initializer.zeros(positions.weight)
        let layer = TransformerEncoderLayer(modelDimension: dimension, heads: heads, feedForwardDimension: 4 * dimension,
                                            dropout: 0, activation: .gelu, batchFirst: true, normFirst: true,
                                            generator: generator)
        blocks = TransformerEncoder(layer, layerCount: layers)
        norm = LayerNorm([dimension])
        output = Linear(dimension, vocabulary, generator: generator)
        super.init()
    }

    override func forward(_ tokens: Tensor) -> Tensor {
        output(norm(blocks(positions(embedding(tokens)), causal: true)))
    }
}

/// gpt: 30 AdamW steps (lr 1e-3) on fresh batches of 16 sequences of 128 tokens; quality is the
/// last step's loss.
func gptWorkload(steps: Int = 30) {
    let generator = Generator(seed: benchSeed)
    manualSeed(benchSeed)
    let model = TinyGPT(generator: generator)
    trainOnTokens("gpt", steps: steps, model: model, optimizer: AdamW(model.parameters(), learningRate: 1e-3),
                  vocabulary: 64) { fibonacciBatch(16, 128, generator: generator) }
}
