import Foundation
import LuzNN
import LuzTestSupport
import Testing

@Suite("Layers")
struct LayerTests {
    @Test func linearComputesXWTransposePlusBias() {
        let layer = Linear(weight: Tensor([[1.0, 2.0], [0.0, -1.0], [3.0, 1.0]]), bias: Tensor([0.5, 0.0, -1.0]))
        assertClose(layer(Tensor([[1.0, 1.0], [2.0, -1.0]])), [3.5, -1, 3, 0.5, 1, 4])
        // Leading dimensions are kept; a vector input gives a vector.
        #expect(layer(Tensor.zeros([2, 5, 2], dtype: .float64)).shape == [2, 5, 3])
        assertClose(layer(Tensor([1.0, 1.0])), [3.5, -1, 3])
        #expect(Linear(3, 2, bias: false).bias == nil)
    }

    @Test func linearGradients() {
        let x = gradInput([4, 3], seed: 1), w = gradInput([2, 3], seed: 2), b = gradInput([2], seed: 3)
        checkGradients([x, w, b], "linear") { linear($0[0], weight: $0[1], bias: $0[2]) }
        checkGradients([x, w], "no bias") { linear($0[0], weight: $0[1]) }
        let batched = gradInput([2, 3, 3], seed: 4)
        checkGradients([batched, w, b], "batched") { linear($0[0], weight: $0[1], bias: $0[2]) }
        let vector = gradInput([3], seed: 5)
        checkGradients([vector, w, b], "vector") { linear($0[0], weight: $0[1], bias: $0[2]) }
        let layer = Linear(3, 2, dtype: .float64)
        checkGradients([x, layer.weight, layer.bias!], "module") { _ in layer(x).tanh() }
    }

    @Test func defaultInitializationFollowsTorch() {
        // Linear(400, 30): weight and bias in ±1/√400 = ±0.05, spread over the whole range.
        let layer = Linear(400, 30, generator: Generator(seed: 3))
        let w = layer.weight.doubles, b = layer.bias!.doubles
        #expect(w.allSatisfy { abs($0) <= 0.05 } && b.allSatisfy { abs($0) <= 0.05 })
        #expect(w.max()! > 0.049 && w.min()! < -0.049)
        // Uniform on ±0.05 has variance 0.05²/3.
        let variance = w.map { $0 * $0 }.reduce(0, +) / Double(w.count)
        #expect(abs(variance - 0.0025 / 3) < 0.0001)
        // Conv2d(4, 8, 3): fan-in 4·3·3 = 36, bound 1/6.
        let conv = Conv2d(4, 8, kernelSize: 3)
        #expect(conv.weight.doubles.allSatisfy { abs($0) <= 1.0 / 6 + 1e-7 })
        #expect(conv.bias!.doubles.allSatisfy { abs($0) <= 1.0 / 6 + 1e-7 })
        // The same generator seed gives the same layer.
        assertClose(Linear(5, 5, generator: Generator(seed: 9)).weight, Linear(5, 5, generator: Generator(seed: 9)).weight)
    }

    @Test func initializersHaveTheirDocumentedScales() {
        let t = Tensor.zeros([200, 300])
        Initializer.xavierUniform(t, gain: 2, generator: Generator(seed: 1))
        let xavierBound = 2 * (6.0 / 500).squareRoot()
        #expect(t.doubles.allSatisfy { abs($0) <= xavierBound + 1e-6 } && t.doubles.max()! > 0.99 * xavierBound)
        Initializer.kaimingNormal(t, generator: Generator(seed: 2))
        let std = (t.doubles.map { $0 * $0 }.reduce(0, +) / Double(t.count)).squareRoot()
        #expect(abs(std - (2.0 / 300).squareRoot()) < 0.002)
        Initializer.kaimingUniform(t, mode: .fanOut, nonlinearity: .relu, generator: Generator(seed: 3))
        #expect(abs(t.doubles.max()! - (6.0 / 200).squareRoot()) < 0.002)
        Initializer.xavierNormal(t, generator: Generator(seed: 4))
        let xavierStd = (t.doubles.map { $0 * $0 }.reduce(0, +) / Double(t.count)).squareRoot()
        #expect(abs(xavierStd - (2.0 / 500).squareRoot()) < 0.001)
        Initializer.constant(t, value: 0.25)
        #expect(t.doubles.allSatisfy { $0 == 0.25 })
        Initializer.zeros(t)
        #expect(t.doubles.allSatisfy { $0 == 0 })
        Initializer.ones(t)
        #expect(t.doubles.allSatisfy { $0 == 1 })
        #expect(abs(Initializer.gain(for: .tanh) - 5.0 / 3) < 1e-12)
        #expect(abs(Initializer.gain(for: .leakyRelu, parameter: 5.0.squareRoot()) - (1.0 / 3).squareRoot()) < 1e-12)
        #expect(Initializer.fans(of: [8, 4, 3, 3]) == (36, 72))
        // Parameters keep their identity and can still be trained.
        let parameter = Tensor.zeros([3, 3], requiresGrad: true)
        Initializer.xavierUniform(parameter)
        #expect(parameter.requiresGrad)
    }

    @Test func activationModulesMatchTheFunctions() {
        let x = gradInput([3, 4], seed: 6)
        assertClose(ReLU()(x), relu(x))
        assertClose(LeakyReLU(negativeSlope: 0.2)(x), leakyRelu(x, negativeSlope: 0.2))
        assertClose(Tanh()(x), x.tanh())
        assertClose(Sigmoid()(x), sigmoid(x))
        assertClose(GELU()(x), gelu(x))
        assertClose(Softmax(dim: 1)(x).sum(dim: 1), [1, 1, 1])
        assertClose(LogSoftmax(dim: 0)(x).exp().sum(dim: 0), [1, 1, 1, 1])
        assertClose(Identity()(x), x)
        #expect(Flatten()(Tensor.zeros([2, 3, 4, 5])).shape == [2, 60])
        #expect(Flatten(startDim: 0, endDim: 1)(Tensor.zeros([2, 3, 4])).shape == [6, 4])
        #expect(flatten(Tensor.zeros([2, 3, 4])).shape == [24])
    }

    @Test func dropoutZeroesAndRescalesInTrainingOnly() {
        let layer = Dropout(probability: 0.25, generator: Generator(seed: 5))
        let x = Tensor.ones([10000])
        let y = layer(x).doubles
        let zeros = y.filter { $0 == 0 }.count
        #expect(abs(Double(zeros) / 10000 - 0.25) < 0.02)
        #expect(y.allSatisfy { $0 == 0 || abs($0 - 1 / 0.75) < 1e-6 })
        layer.eval()
        assertClose(layer(x), x)
        #expect(dropout(x, probability: 1).doubles.allSatisfy { $0 == 0 })
        assertClose(dropout(x, probability: 0.5, training: false), x)
        // The gradient flows through the kept elements with the same scale.
        let input = gradInput([50], seed: 7)
        let generator = Generator(seed: 8)
        let out = dropout(input, probability: 0.5, generator: generator)
        out.sum().backward()
        let kept = out.doubles.map { $0 != 0 }
        for (g, k) in zip(input.grad!.doubles, kept) { #expect(g == (k ? 2 : 0)) }
    }

    // MARK: - Convolution and pooling, through the LuzTensor kernels

    @Test func convolutionLayersMatchTheirKernels() {
        let x = gradInput([2, 4, 7, 6], seed: 9)
        let conv = Conv2d(4, 6, kernelSize: [3, 2], stride: [2, 1], padding: 1, dilation: [1, 2], groups: 2, dtype: .float64)
        #expect(conv.weight.shape == [6, 2, 3, 2])
        assertClose(conv(x), conv2d(x, weight: conv.weight, bias: conv.bias, stride: [2, 1], padding: 1,
                                    dilation: [1, 2], groups: 2))
        let conv1 = Conv1d(4, 2, kernelSize: 3, padding: 2, dtype: .float64)
        let sequence = gradInput([2, 4, 9], seed: 10)
        #expect(conv1(sequence).shape == [2, 2, 11])
        #expect(conv1.description == "Conv1d(4, 2, kernelSize: 3, padding: 2)")
    }

    @Test(arguments: [(Size2D(1), Size2D(0), Size2D(1), 1), (Size2D(2), Size2D(1), Size2D(1), 1),
                      (Size2D(1), Size2D(1), Size2D(2), 2), (Size2D(2, 1), Size2D(0, 1), Size2D(1), 2)])
    func convolutionGradients(stride: Size2D, padding: Size2D, dilation: Size2D, groups: Int) {
        let conv = Conv2d(4, 4, kernelSize: 3, stride: stride, padding: padding, dilation: dilation, groups: groups,
                          dtype: .float64, generator: Generator(seed: 11))
        let x = gradInput([2, 4, 6, 6], seed: 12)
        checkGradients([x, conv.weight, conv.bias!], "conv2d") { _ in conv(x) }
        let conv1 = Conv1d(4, 2, kernelSize: 2, stride: stride.height, padding: padding.width, dilation: dilation.width,
                           groups: groups, dtype: .float64, generator: Generator(seed: 13))
        let sequence = gradInput([2, 4, 7], seed: 14)
        checkGradients([sequence, conv1.weight, conv1.bias!], "conv1d") { _ in conv1(sequence) }
    }

    @Test func poolingLayersAndGradients() {
        let x = gradInput([2, 3, 6, 5], seed: 15)
        assertClose(MaxPool2d(kernelSize: 2)(x), maxPool2d(x, kernelSize: 2))
        #expect(MaxPool2d(kernelSize: 3, stride: 2, padding: 1)(x).shape == [2, 3, 3, 3])
        assertClose(AvgPool2d(kernelSize: 2, stride: 1)(x), avgPool2d(x, kernelSize: 2, stride: 1))
        assertClose(AdaptiveAvgPool2d(outputSize: 1)(x).reshaped([2, 3]), x.mean(dims: [2, 3]))
        checkGradients([x], "max pool") { MaxPool2d(kernelSize: 2, stride: [2, 1], padding: [1, 0])($0[0]) }
        checkGradients([x], "avg pool") { AvgPool2d(kernelSize: 3, stride: 2, padding: 1, countIncludePad: false)($0[0]) }
        checkGradients([x], "adaptive avg pool") { AdaptiveAvgPool2d(outputSize: [4, 3])($0[0]) }
    }

    // MARK: - Batch normalization

    @Test func batchNormNormalizesPerChannelAndTracksRunningStatistics() {
        let layer = BatchNorm1d(2, dtype: .float64)
        let x = Tensor([[1.0, 10.0], [3.0, 20.0], [5.0, 60.0]])
        let y = layer(x)
        // Channel 0: mean 3, biased variance 8/3.
        let s0 = (8.0 / 3 + 1e-5).squareRoot()
        assertClose(y.reshaped([6]).sliced(dim: 0, start: 0, end: 6, step: 2), [-2 / s0, 0, 2 / s0], rtol: 1e-9)
        // Running mean 0.9·0 + 0.1·3; running variance 0.9·1 + 0.1·4 (unbiased 8/2).
        assertClose(layer.runningMean!, [0.3, 0.1 * 30], rtol: 1e-12)
        let unbiased1 = (400.0 + 100 + 900) / 2
        assertClose(layer.runningVariance!, [0.9 + 0.4, 0.9 + 0.1 * unbiased1], rtol: 1e-12)
        #expect(layer.batchesTracked!.item == 1)
        #expect(layer.stateDict().keys == ["weight", "bias", "running_mean", "running_var", "num_batches_tracked"])
        // Evaluation mode uses the running statistics.
        layer.eval()
        assertClose(layer(x).reshaped([6]).sliced(dim: 0, start: 0, end: 6, step: 2),
                    [1.0, 3, 5].map { ($0 - 0.3) / (1.3 + 1e-5).squareRoot() }, rtol: 1e-9)
    }

    @Test func batchNormCumulativeAverageWithoutMomentum() {
        let layer = BatchNorm1d(1, momentum: nil, dtype: .float64)
        _ = layer(Tensor([[1.0], [3.0]]))
        _ = layer(Tensor([[5.0], [7.0]]))
        assertClose(layer.runningMean!, [4], rtol: 1e-12)        // (2 + 6) / 2
        assertClose(layer.runningVariance!, [2], rtol: 1e-12)    // (2 + 2) / 2
    }

    @Test func batchNormGradientsInTrainingMode() {
        let bn1 = BatchNorm1d(3, dtype: .float64)
        Initializer.uniform(bn1.weight!, low: 0.5, high: 1.5, generator: Generator(seed: 16))
        Initializer.uniform(bn1.bias!, low: -1, high: 1, generator: Generator(seed: 17))
        let x = gradInput([5, 3], seed: 18)
        checkGradients([x, bn1.weight!, bn1.bias!], "BatchNorm1d [N, C]") { _ in bn1(x) }
        let sequence = gradInput([2, 3, 4], seed: 19)
        checkGradients([sequence, bn1.weight!, bn1.bias!], "BatchNorm1d [N, C, L]") { _ in bn1(sequence) }
        let bn2 = BatchNorm2d(2, affine: false, dtype: .float64)
        let image = gradInput([2, 2, 3, 3], seed: 20)
        checkGradients([image], "BatchNorm2d") { _ in bn2(image) }
        bn2.eval()
        checkGradients([image], "BatchNorm2d, eval") { _ in bn2(image) }
    }

    @Test func batchNormWithoutRunningStatisticsAlwaysUsesTheBatch() {
        let layer = BatchNorm2d(1, trackRunningStatistics: false, dtype: .float64)
        layer.eval()
        let x = Tensor([1.0, 2, 3, 4], shape: [1, 1, 2, 2])
        assertClose(layer(x).mean(), [0], atol: 1e-12)
        #expect(layer.stateDict().keys == ["weight", "bias"])
    }
}
