import Foundation
import LuzNN
import LuzSerialization
import LuzTestSupport
import Testing

/// PyTorch's outputs and gradients of `conv_transpose1d` / `conv_transpose2d` for fixed inputs,
/// written by `Fixtures/make_transposed_convolution_fixtures.py` (torch 2.15, float64).
private let fixtures: StateDict = {
    let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Fixtures/transposed_convolution.safetensors").path
    return try! StateDict(contentsOf: path)
}()

/// One case's options, as the fixture script recorded them.
private struct CaseOptions: Decodable {
    let dims: Int
    let stride: Int
    let padding: Int
    let output_padding: Int
    let dilation: Int
    let groups: Int
}

private let caseNames = ["plain2d", "decoder2d", "groups2d", "dilated2d", "unbatched2d",
                         "plain1d", "strided1d", "unbatched1d"]

/// The case's transposed convolution of `input` with `weight` and `bias`.
private func apply(_ o: CaseOptions, _ input: Tensor, _ weight: Tensor, _ bias: Tensor?) -> Tensor {
    if o.dims == 2 {
        return convTranspose2d(input, weight: weight, bias: bias, stride: Size2D(o.stride, o.stride),
                               padding: Size2D(o.padding, o.padding),
                               outputPadding: Size2D(o.output_padding, o.output_padding),
                               dilation: Size2D(o.dilation, o.dilation), groups: o.groups)
    }
    return convTranspose1d(input, weight: weight, bias: bias, stride: o.stride, padding: o.padding,
                           outputPadding: o.output_padding, dilation: o.dilation, groups: o.groups)
}

@Suite struct TransposedConvolutionTests {
    @Test(arguments: caseNames)
    func matchesPyTorch(_ name: String) throws {
        let o = try JSONDecoder().decode(CaseOptions.self, from: Data(fixtures.metadata[name]!.utf8))
        let input = fixtures["\(name).input"]!.cloned().requiringGrad()
        let weight = fixtures["\(name).weight"]!.cloned().requiringGrad()
        let bias = fixtures["\(name).bias"].map { $0.cloned().requiringGrad() }
        let output = apply(o, input, weight, bias)
        assertClose(output, fixtures["\(name).output"]!, rtol: 1e-12, atol: 1e-12, name)
        (output * fixtures["\(name).output_weights"]!).sum().backward()
        assertClose(input.grad!, fixtures["\(name).grad_input"]!, rtol: 1e-12, atol: 1e-12, "\(name) input gradient")
        assertClose(weight.grad!, fixtures["\(name).grad_weight"]!, rtol: 1e-12, atol: 1e-12, "\(name) weight gradient")
        if let bias {
            assertClose(bias.grad!, fixtures["\(name).grad_bias"]!, rtol: 1e-12, atol: 1e-12, "\(name) bias gradient")
        }
        // float32 runs the same kernels.
        let single = apply(o, input.to(.float32), weight.to(.float32), bias?.to(.float32))
        assertClose(single.to(.float64), fixtures["\(name).output"]!, rtol: 1e-4, atol: 1e-4, "\(name) float32")
    }

    @Test(arguments: caseNames)
    func gradientsMatchFiniteDifferences(_ name: String) throws {
        let o = try JSONDecoder().decode(CaseOptions.self, from: Data(fixtures.metadata[name]!.utf8))
        let input = fixtures["\(name).input"]!.cloned().requiringGrad()
        let weight = fixtures["\(name).weight"]!.cloned().requiringGrad()
        if let bias = fixtures["\(name).bias"]?.cloned().requiringGrad() {
            checkGradients([input, weight, bias], name) { apply(o, $0[0], $0[1], $0[2]) }
        } else {
            checkGradients([input, weight], name) { apply(o, $0[0], $0[1], nil) }
        }
    }

    /// A transposed convolution is the adjoint of the convolution with the same arguments:
    /// ⟨conv(x), y⟩ = ⟨x, convᵀ(y)⟩ for all x and y.
    @Test func isTheAdjointOfConv2d() {
        let generator = Generator(seed: 7)
        let x = Tensor.randn([2, 6, 9, 8], dtype: .float64, generator: generator)
        let weight = Tensor.randn([4, 3, 3, 2], dtype: .float64, generator: generator)
        let convolved = x.conv2d(weight: weight, stride: [2, 3], padding: [1, 0], dilation: [1, 2], groups: 2)
        let y = Tensor.randn(convolved.shape, dtype: .float64, generator: generator)
        let transposed = y.convTranspose2d(weight: weight, stride: [2, 3], padding: [1, 0],
                                           outputPadding: [0, 2], dilation: [1, 2], groups: 2)
        #expect(transposed.shape == x.shape)
        let left = (convolved * y).sum().item(as: Double.self)
        let right = (x * transposed).sum().item(as: Double.self)
        #expect(abs(left - right) <= 1e-10 * abs(left))
    }

    @Test func decoderLayerDoublesTheImageSize() {
        let layer = ConvTranspose2d(32, 16, kernelSize: 3, stride: 2, padding: 1, outputPadding: 1)
        #expect(layer.weight.shape == [32, 16, 3, 3])
        #expect(layer.forward(Tensor.zeros([5, 32, 7, 7])).shape == [5, 16, 14, 14])
        #expect(ConvTranspose1d(4, 6, kernelSize: 4, stride: 2, groups: 2).forward(Tensor.zeros([3, 4, 10])).shape
                == [3, 6, 22])
        #expect(layer.namedParameters().map(\.name) == ["weight", "bias"])
        // torch's bounds: fanIn is the weight's second dimension times the kernel area.
        let bound = 1 / Float(16 * 9).squareRoot()
        #expect(layer.bias!.abs().max().item(as: Float.self) <= bound)
        #expect(layer.weight.abs().max().item(as: Float.self) <= bound)
        #expect(layer.configurationDescription == "32, 16, kernelSize: 3, stride: 2, padding: 1, outputPadding: 1")
    }

    @Test func emptyBatchGivesEmptyOutputAndZeroWeightGradient() {
        let weight = Tensor.randn([3, 2, 3, 3], dtype: .float64, requiresGrad: true)
        let bias = Tensor.randn([2], dtype: .float64, requiresGrad: true)
        let output = Tensor.zeros([0, 3, 4, 4], dtype: .float64).convTranspose2d(weight: weight, bias: bias, stride: 2)
        #expect(output.shape == [0, 2, 9, 9])
        output.sum().backward()
        #expect(weight.grad!.abs().sum().item(as: Double.self) == 0)
        #expect(bias.grad!.abs().sum().item(as: Double.self) == 0)
    }
}
