import Foundation
import LuzNN
import LuzTestSupport
import Testing

// Fixtures from torch 2.15 in float64 on x = sin(0.37·arange(48)).reshape(2, 4, 3, 2)·2 + 0.1.

@Suite("GroupNorm, InstanceNorm, PixelShuffle")
struct GroupNormAndPixelShuffleTests {
    private let x = Tensor((0..<48).map { sin(Double($0) * 0.37) * 2 + 0.1 }, shape: [2, 4, 3, 2])

    /// `nn.GroupNorm(2, 4)` with weight [1, 2, −1, 0.5] and bias [0, 1, 2, 3].
    @Test func groupNormMatchesTorch() {
        let layer = GroupNorm(groupCount: 2, channelCount: 4, dtype: .float64)
        layer.weight = Tensor([1.0, 2, -1, 0.5]).requiringGrad()
        layer.bias = Tensor([0.0, 1, 2, 3]).requiringGrad()
        let y = layer(x).doubles
        assertClose(Tensor(Array(y.prefix(8))), Tensor([-0.562231852374, 0.06783932989, 0.612633333432, 0.998414845617,
                                                        1.172970148554, 1.112674000865, 2.651374406559, 1.701704145067]),
                    rtol: 1e-10, atol: 1e-11, "first values")
        assertClose(Tensor(Array(y.suffix(4))), Tensor([2.55844246257, 2.38117258631, 2.276465780348, 2.25849361967]),
                    rtol: 1e-10, atol: 1e-11, "last values")
        #expect(layer.namedParameters().map(\.name) == ["weight", "bias"])
        let input = gradInput([2, 4, 3], seed: 5)
        checkGradients([input, layer.weight!, layer.bias!], "group norm") { layer($0[0]) }
    }

    /// `nn.InstanceNorm2d(4)` and `nn.InstanceNorm1d(4, affine=True)` on the same values.
    @Test func instanceNormMatchesTorch() {
        let y = InstanceNorm(channelCount: 4, dtype: .float64)(x).doubles
        assertClose(Tensor(Array(y.prefix(6))), Tensor([-1.793968129208, -0.793042053841, 0.072413372782, 0.685262818702,
                                                        0.96255998642, 0.866774005146]), rtol: 1e-10, atol: 1e-11, "2d")
        let affine = InstanceNorm(channelCount: 4, affine: true, dtype: .float64)
        let z = affine(x.reshaped([2, 4, 6])).doubles
        assertClose(Tensor(Array(z.suffix(3))), Tensor([-0.594296652581, -0.967677211661, -1.031765265348]),
                    rtol: 1e-10, atol: 1e-11, "1d affine")
        let input = gradInput([2, 3, 5], seed: 6)
        checkGradients([input], "instance norm") { InstanceNorm(channelCount: 3, dtype: .float64)($0[0]) }
    }

    /// `nn.PixelShuffle(2)` on arange(96).reshape(2, 8, 2, 3), and PixelUnshuffle undoing it.
    @Test func pixelShuffleMatchesTorch() {
        let p = Tensor((0..<96).map(Double.init), shape: [2, 8, 2, 3])
        let shuffled = PixelShuffle(2)(p)
        #expect(shuffled.shape == [2, 2, 4, 6])
        #expect(Array(shuffled.doubles.prefix(12)) == [0, 6, 1, 7, 2, 8, 12, 18, 13, 19, 14, 20])
        #expect(PixelUnshuffle(2)(shuffled).doubles == p.doubles)
    }

    @Test func aGroupCountThatDoesNotDivideStops() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = GroupNorm(groupCount: 3, channelCount: 4)
        }
        let text = String(decoding: result?.standardErrorContent ?? [], as: UTF8.self)
        #expect(text.contains("GroupNorm: 4 channels do not split into 3 groups"), "\(text)")
    }
}
