import Foundation
import LuzNN
import LuzTestSupport
import Testing

// Fixtures from torch 2.15 in float64 on x = sin(0.91·arange(210)).reshape(2, 3, 5, 7).

@Suite("1-D pooling, adaptive max pooling and padding layers")
struct PoolingAndPadLayerTests {
    private let x = Tensor((0..<210).map { sin(Double($0) * 0.91) }, shape: [2, 3, 5, 7])

    private func expectPrefix(_ t: Tensor, _ expected: [Double], _ label: String) {
        assertClose(Tensor(Array(t.doubles.prefix(expected.count))), Tensor(expected), rtol: 1e-10, atol: 1e-11, label)
    }

    /// `nn.AdaptiveMaxPool2d((2, 3))`: windows of uneven sizes that overlap.
    @Test func adaptiveMaxPoolMatchesTorch() {
        let y = AdaptiveMaxPool2d(outputSize: Size2D(2, 3))(x)
        #expect(y.shape == [2, 3, 2, 3])
        expectPrefix(y, [0.96910912888, 0.96910912888, -0.478027246135, 0.951248451388, 0.911930068174, -0.458162212386], "values")
        checkGradients([gradInput([1, 2, 5, 4], seed: 3)], "adaptive max") { AdaptiveMaxPool2d(outputSize: Size2D(2, 3))($0[0]) }
    }

    /// `nn.AvgPool1d(4, stride=3, padding=1)` and `nn.MaxPool1d(3, stride=2, padding=1)`.
    @Test func oneDimensionalPoolingMatchesTorch() {
        let s = x.reshaped([2, 3, 35])
        expectPrefix(AvgPool1d(kernelSize: 4, stride: 3, padding: 1)(s),
                     [0.439653217143, -0.023923124541, -0.19842692156, 0.38763364488, -0.512093775791], "avg")
        expectPrefix(MaxPool1d(kernelSize: 3, stride: 2, padding: 1)(s),
                     [0.78950373969, 0.96910912888, 0.400069477592, 0.08670568321, 0.944075012628], "max")
        checkGradients([gradInput([2, 2, 9], seed: 4)], "avg 1d") { AvgPool1d(kernelSize: 3, stride: 2, padding: 1)($0[0]) }
    }

    /// `nn.ReflectionPad2d((1, 2, 0, 1))`.
    @Test func padLayerMatchesTorch() {
        let y = Pad([1, 2, 0, 1], mode: .reflect)(x)
        #expect(y.shape == [2, 3, 6, 10])
        expectPrefix(y, [0.78950373969, 0.0, 0.78950373969, 0.96910912888, 0.400069477592, -0.478027246135,
                         -0.986843858503, -0.733315200996, -0.986843858503, -0.478027246135], "reflect")
    }
}
