import LuzNN
import LuzTestSupport
import Testing

@Suite struct ChannelDropoutTests {
    /// Each channel map is either all zero or all scaled by 1 / (1 − p), the mask is the one of
    /// one draw per channel, and the gradient goes through the same mask.
    @Test(arguments: [1, 2, 3])
    func wholeChannelsAreDroppedAndTheRestScaled(_ spatialRank: Int) {
        let spatial = Array([5, 4, 3].prefix(spatialRank))
        let input = Tensor.randn([6, 7] + spatial, dtype: .float64, generator: Generator(seed: 3)).requiringGrad()
        let layer: Module = switch spatialRank {
        case 1: Dropout1d(probability: 0.4, generator: Generator(seed: 9))
        case 2: Dropout2d(probability: 0.4, generator: Generator(seed: 9))
        default: Dropout3d(probability: 0.4, generator: Generator(seed: 9))
        }
        let output = layer(input)
        let draws = Tensor.rand([6, 7], dtype: .float64, generator: Generator(seed: 9)).doubles
        let area = spatial.reduce(1, *)
        let x = input.doubles, y = output.doubles
        var dropped = 0
        for channel in 0..<42 {
            let kept = draws[channel] >= 0.4
            if !kept { dropped += 1 }
            for i in 0..<area {
                let k = channel * area + i
                #expect(y[k] == (kept ? x[k] * (1 / (1 - 0.4)) : 0))
            }
        }
        #expect(dropped > 5 && dropped < 30)
        output.sum().backward()
        let gradient = input.grad!.doubles
        for channel in 0..<42 {
            #expect(gradient[channel * area] == (draws[channel] >= 0.4 ? 1 / (1 - 0.4) : 0))
        }
    }

    @Test func evaluationModeAndZeroProbabilityAreTheIdentity() {
        let input = Tensor.randn([2, 3, 4, 4])
        let layer = Dropout2d()
        layer.eval()
        #expect(layer(input) === input)
        #expect(Dropout2d(probability: 0)(input) === input)
        #expect(Dropout2d(probability: 1)(input).abs().sum().item(as: Float.self) == 0)
    }

    @Test func unbatchedInputDropsChannels() {
        let output = Dropout2d(probability: 0.5, generator: Generator(seed: 1))(Tensor.ones([16, 3, 3]))
        let sums = output.sum(dims: [1, 2]).floats
        #expect(sums.allSatisfy { $0 == 0 || $0 == 18 })
        #expect(sums.contains(0) && sums.contains(18))
    }

    @Test func ownGeneratorIsPartOfTheModelState() {
        let model = Sequential { Dropout2d(probability: 0.2, generator: Generator(seed: 4)); Dropout1d() }
        #expect(model.namedGenerators().map(\.name) == ["0.generator"])
    }
}
