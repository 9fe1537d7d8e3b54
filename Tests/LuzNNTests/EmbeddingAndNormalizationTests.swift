import Foundation
import LuzNN
import LuzTestSupport
import Testing

@Suite("Embedding")
struct EmbeddingTests {
    @Test func looksUpRowsAndKeepsThePaddingRowAtZero() {
        let table = Embedding(5, 3, paddingIndex: 1, generator: Generator(seed: 1))
        #expect(table.namedParameters().map(\.name) == ["weight"])
        #expect(table.weight[1].doubles == [0, 0, 0])
        #expect(table.weight[0].doubles.contains { $0 != 0 })
        let indices = Tensor([[4, 1], [0, 4]] as [[Int64]])
        let out = table(indices)
        #expect(out.shape == [2, 2, 3])
        assertClose(out[0][0], table.weight[4], atol: 0)
        assertClose(out[1][1], table.weight[4], atol: 0)
        #expect(out[0][1].doubles == [0, 0, 0])
        // Negative padding indices count from the end, as in torch.
        #expect(Embedding(5, 3, paddingIndex: -1).paddingIndex == 4)
    }

    @Test func gradientsAddUpForRepeatedIndicesAndSkipThePaddingRow() {
        let weight = gradInput([6, 4], seed: 2)
        let indices = Tensor([[2, 5, 2], [0, 1, 2]] as [[Int64]])
        checkGradients([weight], "embedding") { embedding(indices, weight: $0[0]) }
        checkGradients([weight], "unused padding index") { embedding(indices, weight: $0[0], paddingIndex: 4).tanh() }
        // The padding row gets no gradient even where it is used (so finite differences, which
        // see its effect, do not apply); the other rows get theirs.
        weight.grad = nil
        embedding(indices, weight: weight, paddingIndex: 2).sum().backward()
        let grad = weight.grad!
        #expect(grad[2].doubles == [0, 0, 0, 0])
        #expect(grad[5].doubles == [1, 1, 1, 1] && grad[0].doubles == [1, 1, 1, 1] && grad[3].doubles == [0, 0, 0, 0])
    }
}

@Suite("Normalization layers")
struct NormalizationLayerTests {
    @Test func layerNormMatchesTheDefinitionAndTorchNames() {
        let norm = LayerNorm([2, 3], dtype: .float64)
        #expect(norm.namedParameters().map(\.name) == ["weight", "bias"])
        withNoGrad {
            norm.weight!.copy(from: Tensor([[1.0, 2, 0.5], [1, -1, 3]]))
            norm.bias!.copy(from: Tensor([[0.0, 1, 0], [-1, 0, 2]]))
        }
        let x = gradInput([4, 2, 3], seed: 3)
        let mean = x.mean(dims: [1, 2], keepDim: true)
        let variance = ((x - mean) * (x - mean)).mean(dims: [1, 2], keepDim: true)
        let expected = (x - mean) / (variance + 1e-5).sqrt() * norm.weight! + norm.bias!
        assertClose(norm(x), expected, atol: 1e-12)
        checkGradients([x, norm.weight!, norm.bias!], "LayerNorm") { norm($0[0]) }
        let plain = LayerNorm(3, elementwiseAffine: false)
        #expect(plain.parameters().isEmpty)
        #expect(LayerNorm(3, bias: false).namedParameters().map(\.name) == ["weight"])
    }

    @Test func rmsNormMatchesTheDefinition() {
        let norm = RMSNorm(4, dtype: .float64)
        #expect(norm.namedParameters().map(\.name) == ["weight"])
        withNoGrad { norm.weight!.copy(from: Tensor([1.0, 0.5, -2, 3])) }
        // One row by hand: x = [1, 2, 3, 4], mean(x²) = 7.5.
        let row = Tensor([[1.0, 2, 3, 4]])
        let scale = 1 / (7.5 + Double.ulpOfOne).squareRoot()
        assertClose(norm(row), [scale, scale, -6 * scale, 12 * scale], atol: 1e-12)
        let x = gradInput([3, 4], seed: 4)
        checkGradients([x, norm.weight!], "RMSNorm") { norm($0[0]) }
        let wide = gradInput([2, 2, 3], seed: 5)
        checkGradients([wide], "rmsNorm over two dimensions") { rmsNorm($0[0], normalizedShape: [2, 3], epsilon: 1e-3) }
    }
}

@Suite("Positional encodings")
struct PositionalEncodingTests {
    @Test func sinusoidalTableFollowsTheFormula() {
        let table = sinusoidalPositionalEncoding(length: 3, dimension: 5, dtype: .float64)
        #expect(table.shape == [3, 5])
        assertClose(table[0], [0, 1, 0, 1, 0], atol: 1e-12)
        let f1 = pow(10_000, -2.0 / 5), f2 = pow(10_000, -4.0 / 5)
        assertClose(table[2], [sin(2), cos(2), sin(2 * f1), cos(2 * f1), sin(2 * f2)], atol: 1e-12)

        let layer = SinusoidalPositionalEncoding(dimension: 5, maxLength: 10, dropout: 0)
        #expect(layer.parameters().isEmpty && layer.stateDict().isEmpty)
        let x = Tensor.ones([3, 2, 5], dtype: .float64)    // [length, batch, dimension]
        let y = layer(x)
        assertClose(y[2][1], table[2] + 1, atol: 1e-12)
        let batchFirst = SinusoidalPositionalEncoding(dimension: 5, maxLength: 10, dropout: 0, batchFirst: true)
        assertClose(batchFirst(x.transposed(0, 1)), y.transposed(0, 1), atol: 1e-12)
    }

    @Test func learnedPositionsAreAddedAndTrained() {
        let positions = LearnedPositionalEmbedding(maxLength: 6, dimension: 4, batchFirst: true, dtype: .float64,
                                                   generator: Generator(seed: 6))
        #expect(positions.namedParameters().map(\.name) == ["weight"])
        let x = gradInput([2, 3, 4], seed: 7)
        assertClose(positions(x)[1], x[1] + positions.weight[0..<3], atol: 1e-12)
        checkGradients([x, positions.weight], "learned positions") { positions($0[0]) }
        let sequenceFirst = LearnedPositionalEmbedding(maxLength: 6, dimension: 4, dtype: .float64)
        withNoGrad { sequenceFirst.weight.copy(from: positions.weight) }
        assertClose(sequenceFirst(x.transposed(0, 1)), positions(x).transposed(0, 1), atol: 1e-12)
    }
}
