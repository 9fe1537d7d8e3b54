import LuzTensor
import LuzTestSupport
import Testing

/// Finite-difference checks (float64) for every differentiable operation of the tensor core.
@Suite("Gradient checks")
struct GradientCheckTests {
    @Test func arithmeticWithBroadcasting() {
        let a = gradInput([3, 4], seed: 1)
        let b = gradInput([4], seed: 2)
        let c = gradInput([3, 1], in: 0.5...2, seed: 3)
        checkGradients([a, b], "add") { $0[0] + $0[1] }
        checkGradients([a, b], "sub") { $0[0] - $0[1] }
        checkGradients([a, b], "mul") { $0[0] * $0[1] }
        checkGradients([a, c], "div") { $0[0] / $0[1] }
        checkGradients([c, a], "div (broadcast left)") { $0[0] / ($0[1] + 3) }
        checkGradients([a], "neg") { -$0[0] }
        checkGradients([a], "scalars on both sides") { 2 - ($0[0] * 3 + 1) / 4 }
        checkGradients([c], "scalar divided by tensor") { 1 / $0[0] }
    }

    @Test func powers() {
        let x = gradInput([2, 3], in: 0.5...2, seed: 4)
        let y = gradInput([3], in: -1...1, seed: 5)
        checkGradients([x], "pow 2") { $0[0].pow(2) }
        checkGradients([x], "pow 3.5") { $0[0].pow(3.5) }
        checkGradients([x], "pow -0.5") { $0[0].pow(-0.5) }
        checkGradients([x, y], "pow tensor") { $0[0].pow($0[1]) }
    }

    @Test func unaryFunctions() {
        let x = gradInput([4, 5], seed: 6)
        let positive = gradInput([4, 5], in: 0.2...3, seed: 7)
        checkGradients([x], "exp") { $0[0].exp() }
        checkGradients([positive], "log") { $0[0].log() }
        checkGradients([positive], "sqrt") { $0[0].sqrt() }
        checkGradients([x], "sin") { $0[0].sin() }
        checkGradients([x], "cos") { $0[0].cos() }
        checkGradients([x], "tanh") { $0[0].tanh() }
        checkGradients([x], "sigmoid") { $0[0].sigmoid() }
        checkGradients([x], "relu") { $0[0].relu() }
        checkGradients([x], "gelu") { $0[0].gelu() }
        checkGradients([x], "gelu tanh") { $0[0].gelu(approximateTanh: true) }
        checkGradients([x], "softplus") { $0[0].softplus() }
        checkGradients([x], "leaky relu") { $0[0].leakyRelu(negativeSlope: 0.1) }
        checkGradients([x], "abs") { $0[0].abs() }
        checkGradients([x], "clamp") { $0[0].clamped(min: -0.5, max: 0.4) }
        checkGradients([x], "clamp min") { $0[0].clamped(min: 0.1) }
    }

    @Test func maximumMinimumAndWhere() {
        let a = gradInput([3, 4], seed: 8)
        let b = gradInput([4], seed: 9)
        checkGradients([a, b], "maximum") { $0[0].maximum($0[1]) }
        checkGradients([a, b], "minimum") { $0[0].minimum($0[1]) }
        let condition = Tensor([true, false, true, false])
        checkGradients([a, b], "where") { Tensor.where(condition, $0[0], $0[1]) }
        let mask = Tensor([[true, false, false, true]])
        checkGradients([a], "maskedFill") { $0[0].maskedFill(mask, value: 0.5) }
    }

    @Test func reductions() {
        let x = gradInput([3, 4, 5], seed: 10)
        checkGradients([x], "sum all") { $0[0].sum() }
        checkGradients([x], "sum dims keepDim") { $0[0].sum(dims: [0, 2], keepDim: true) }
        checkGradients([x], "sum dim -1") { $0[0].sum(dim: -1) }
        checkGradients([x], "mean all") { $0[0].mean() }
        checkGradients([x], "mean dim") { $0[0].mean(dim: 1) }
        checkGradients([x], "variance") { $0[0].variance(dim: 2) }
        checkGradients([x], "variance biased") { $0[0].variance(dims: [0, 1], correction: 0) }
        checkGradients([x], "std") { $0[0].standardDeviation(dim: 1) }
        checkGradients([x], "max dim") { $0[0].max(dim: 1).values }
        checkGradients([x], "min dim keepDim") { $0[0].min(dim: 2, keepDim: true).values }
        checkGradients([x], "max all") { $0[0].max() }
        checkGradients([x], "min all") { $0[0].min() }
        checkGradients([x], "logsumexp") { $0[0].logSumExp(dim: 1) }
        checkGradients([x], "softmax") { $0[0].softmax(dim: -1) }
        checkGradients([x], "softmax middle") { $0[0].softmax(dim: 1) }
        checkGradients([x], "logSoftmax") { $0[0].logSoftmax(dim: 2) }
        checkGradients([x], "logSoftmax first") { $0[0].logSoftmax(dim: 0) }
    }

    @Test func shapeOperations() {
        let x = gradInput([2, 3, 4], seed: 11)
        let y = gradInput([2, 2, 4], seed: 12)
        checkGradients([x], "reshape") { $0[0].reshaped([6, -1]) * Tensor.arange(0, 4, dtype: .float64) }
        checkGradients([x], "flatten") { $0[0].flattened(from: 1).sin() }
        checkGradients([x], "unsqueeze squeeze") { $0[0].unsqueezed(dim: 1).squeezed(dim: 1).exp() }
        checkGradients([x], "permute") { $0[0].permuted([2, 0, 1]).sin() }
        checkGradients([x], "transpose") { $0[0].transposed(0, 2).cos() }
        checkGradients([x], "expand") { $0[0].sliced(dim: 1, start: 0, end: 1).expanded(to: [2, 5, 4]).sin() }
        checkGradients([x, y], "cat") { Tensor.cat([$0[0], $0[1]], dim: 1).sin() }
        checkGradients([x, x], "stack") { Tensor.stack([$0[0], $0[1].exp()], dim: 2) }
        checkGradients([x], "split") { $0[0].split(sizes: [1, 2], dim: 1)[1].exp() }
        checkGradients([x], "chunk") { $0[0].chunked(2, dim: 2)[0] * 3 }
        checkGradients([x], "flip") { $0[0].flipped([0, 2]) * Tensor.arange(0, 4, dtype: .float64) }
        checkGradients([x], "slice step") { $0[0].sliced(dim: 2, start: 1, end: 4, step: 2).exp() }
        checkGradients([x], "slice first dim view") { $0[0][1...].exp() }
        checkGradients([x], "select") { $0[0][1].sin() + $0[0][.all, 2].cos().sum() }
        checkGradients([x], eps: 1e-3, rtol: 1e-2, atol: 1e-2, "to float32 and back") { $0[0].to(.float32).exp().to(.float64) }
        checkGradients([x], "clone") { $0[0].cloned().exp() }
    }

    @Test func indexing() {
        let x = gradInput([4, 3], seed: 13)
        let index = Tensor([2, 0, 2, 3] as [Int64])
        checkGradients([x], "indexSelect with repeats") { $0[0].indexSelect(dim: 0, index: index).exp() }
        checkGradients([x], "indexSelect dim 1") { $0[0].indexSelect(dim: 1, index: Tensor([1, 1] as [Int64])) }
        checkGradients([x], "tensor subscript") { $0[0][index].sin() }
        let gatherIndex = Tensor([[0, 2], [1, 1], [2, 0], [0, 0]] as [[Int64]])
        checkGradients([x], "gather") { $0[0].gather(dim: 1, index: gatherIndex).exp() }
        let source = gradInput([4, 2], seed: 14)
        checkGradients([x, source], "scatterAdd") { $0[0].scatterAdding(dim: 1, index: gatherIndex, source: $0[1]).sin() }
        checkGradients([x, gradInput([2, 3], seed: 15)], "indexAdd") {
            $0[0].indexAdding(dim: 0, index: Tensor([3, 3] as [Int64]), source: $0[1]).sin()
        }
        let mask = x.detached() .> 0
        checkGradients([x], "masked select") { $0[0].maskedSelect(mask).exp() }
        checkGradients([x], "bool row mask") { $0[0][Tensor([true, false, true, true])].exp() }
    }

    @Test func matmulShapes() {
        let m = gradInput([3, 4], seed: 16)
        let n = gradInput([4, 5], seed: 17)
        let v = gradInput([4], seed: 18)
        let w = gradInput([3], seed: 19)
        let batchA = gradInput([2, 3, 4], seed: 20)
        let batchB = gradInput([2, 4, 5], seed: 21)
        let broadcastA = gradInput([2, 1, 3, 4], seed: 22)
        let broadcastB = gradInput([3, 4, 5], seed: 23)
        checkGradients([m, n], "2-D") { $0[0].matmul($0[1]) }
        checkGradients([v, v], "dot") { $0[0].matmul($0[1]) }
        checkGradients([m, v], "matrix-vector") { $0[0].matmul($0[1]) }
        checkGradients([w, m], "vector-matrix") { $0[0].matmul($0[1]) }
        checkGradients([batchA, batchB], "batched") { $0[0].matmul($0[1]) }
        checkGradients([batchA, n], "batch × matrix") { $0[0].matmul($0[1]) }
        checkGradients([m, batchB], "matrix × batch") { $0[0].matmul($0[1]) }
        checkGradients([broadcastA, broadcastB], "broadcast batches") { $0[0].matmul($0[1]) }
        checkGradients([m, gradInput([5, 4], seed: 24)], "transposed other") { $0[0].matmul($0[1], transposingOther: true) }
        checkGradients([gradInput([4, 3], seed: 25), n], "transposed self") { $0[0].matmul($0[1], transposingSelf: true) }
        checkGradients([gradInput([4, 3], seed: 26), gradInput([5, 4], seed: 27)], "both transposed") {
            $0[0].matmul($0[1], transposingSelf: true, transposingOther: true)
        }
        checkGradients([gradInput([2, 4, 3], seed: 28), gradInput([2, 5, 4], seed: 29)], "batched both transposed") {
            $0[0].matmul($0[1], transposingSelf: true, transposingOther: true)
        }
    }

    @Test func compositeExpressions() {
        // The basis-function model of the benchmark: Gaussian bumps, a weighted sum, MSE.
        let x = Tensor.linspace(-1, 1, steps: 7, dtype: .float64)
        let weights = gradInput([5], seed: 30)
        let centres = Tensor.linspace(-1, 1, steps: 5, dtype: .float64)
        checkGradients([weights], "basis model") { inputs in
            let features = Tensor.stack((0..<5).map { i in
                (-((x - centres[i]).pow(2)) / 0.08).exp()
            }, dim: 1)
            return (features.matmul(inputs[0]) - x.abs()).pow(2).mean()
        }
        let logits = gradInput([4, 3], seed: 31)
        let target = Tensor([0, 2, 1, 2] as [Int64])
        checkGradients([logits], "cross entropy by hand") { inputs in
            -inputs[0].logSoftmax(dim: 1).gather(dim: 1, index: target.unsqueezed(dim: 1)).mean()
        }
    }
}

@Suite("Normalization")
struct NormalizationTests {
    @Test func layerNormGradients() {
        let x = gradInput([3, 2, 5], seed: 40)
        let w = gradInput([2, 5], in: 0.5...1.5, seed: 41)
        let b = gradInput([2, 5], seed: 42)
        checkGradients([x, w, b], "layerNorm affine") { $0[0].layerNormalized(normalizedShape: [2, 5], weight: $0[1], bias: $0[2]) }
        checkGradients([x], "layerNorm plain") { $0[0].layerNormalized(normalizedShape: [5]) }
        checkGradients([x, w], "layerNorm weight only") { $0[0].layerNormalized(normalizedShape: [2, 5], weight: $0[1]) }
    }

    @Test func layerNormMatchesTheComposite() {
        let x = Tensor.randn([4, 6], dtype: .float64, generator: Generator(seed: 3))
        let w = Tensor.randn([6], dtype: .float64, generator: Generator(seed: 4))
        let b = Tensor.randn([6], dtype: .float64, generator: Generator(seed: 5))
        let mean = x.mean(dim: 1, keepDim: true)
        let variance = x.variance(dim: 1, correction: 0, keepDim: true)
        let expected = (x - mean) / (variance + 1e-5).sqrt() * w + b
        assertClose(x.layerNormalized(normalizedShape: [6], weight: w, bias: b), expected, rtol: 1e-10, atol: 1e-10)
    }
}
