import Foundation
import LuzTensor
import LuzTestSupport
import Testing

@Suite("Creation and random numbers")
struct CreationTests {
    @Test func fromSwiftValues() {
        let t = Tensor([[1, 2, 3], [4, 5, 6]] as [[Float]])
        #expect(t.shape == [2, 3] && t.dtype == .float32 && t.count == 6)
        #expect(t.scalars(as: Float.self) == [1, 2, 3, 4, 5, 6])
        let d = Tensor([1.5, 2.5])
        #expect(d.dtype == .float64)
        let converted = Tensor([1.5, 2.5], dtype: .float32)
        #expect(converted.dtype == .float32 && converted.floats == [1.5, 2.5])
        let cube = Tensor([[[1, 2], [3, 4]], [[5, 6], [7, 8]]] as [[[Int64]]])
        #expect(cube.shape == [2, 2, 2] && cube.dtype == .int64)
        #expect(Tensor(scalar: 3.0).shape == [] && Tensor(scalar: 3.0).item == 3)
        #expect(Tensor([true, false]).dtype == .bool)
    }

    @Test func factories() {
        #expect(Tensor.zeros([2, 2]).floats == [0, 0, 0, 0])
        #expect(Tensor.ones([3], dtype: .int64).scalars(as: Int64.self) == [1, 1, 1])
        #expect(Tensor.full([2], value: 7).floats == [7, 7])
        #expect(Tensor.arange(0, 5).floats == [0, 1, 2, 3, 4])
        #expect(Tensor.arange(1, 2, step: 0.25).floats == [1, 1.25, 1.5, 1.75])
        #expect(Tensor.arange(3).scalars(as: Int64.self) == [0, 1, 2])
        #expect(Tensor.linspace(-1, 1, steps: 5).floats == [-1, -0.5, 0, 0.5, 1])
        #expect(Tensor.eye(2, 3).floats == [1, 0, 0, 0, 1, 0])
    }

    @Test func sameSeedSameNumbers() {
        let a = Tensor.randn([100], generator: Generator(seed: 42))
        let b = Tensor.randn([100], generator: Generator(seed: 42))
        let c = Tensor.randn([100], generator: Generator(seed: 43))
        #expect(a.floats == b.floats)
        #expect(a.floats != c.floats)
    }

    /// In a child process: tests running in parallel draw from the default generator too.
    @Test func manualSeedFixesTheDefaultGenerator() async {
        await #expect(processExitsWith: .success) {
            manualSeed(5)
            let d = Tensor.rand([10])
            manualSeed(5)
            exit(Tensor.rand([10]).floats == d.floats ? 0 : 1)
        }
    }

    @Test func generatorValuesAreFixedAcrossMachines() {
        // Golden values: xoshiro256** seeded by SplitMix64 is pure integer arithmetic.
        let g = Generator(seed: 0)
        #expect(g.nextUInt64() == 0x99EC_5F36_CB75_F2B4)
        #expect(g.nextUInt64() == 0xBF6E_1F78_4956_452A)
    }

    @Test func generatorStateRoundTrips() {
        let g = Generator(seed: 9)
        _ = g.nextNormal()
        let saved = g.stateWords
        let expected = (0..<5).map { _ in g.nextNormal() }
        let h = Generator(seed: 0)
        h.stateWords = saved
        #expect((0..<5).map { _ in h.nextNormal() } == expected)
    }

    @Test func distributions() {
        let g = Generator(seed: 1)
        let n = Tensor.normal([20_000], mean: 2, std: 3, dtype: .float64, generator: g)
        #expect(Swift.abs(n.mean().item - 2) < 0.1)
        #expect(Swift.abs(n.standardDeviation().item - 3) < 0.1)
        let u = Tensor.uniform([20_000], low: -2, high: 4, generator: g)
        #expect(u.min().item >= -2 && u.max().item < 4)
        #expect(Swift.abs(u.mean().item - 1) < 0.1)
        let ints = Tensor.randint(3, 7, [1000], generator: g).scalars(as: Int64.self)
        #expect(Set(ints) == [3, 4, 5, 6])
        let perm = Tensor.randperm(50, generator: g).scalars(as: Int64.self)
        #expect(perm.sorted() == (0..<50).map { Int64($0) })
        let coin = Tensor.bernoulli([10_000], probability: 0.3, generator: g)
        #expect(Swift.abs(coin.mean().item - 0.3) < 0.03)
    }
}

@Suite("Elementwise operations")
struct ElementwiseTests {
    @Test func broadcastingFollowsTorch() {
        let a = Tensor([[1, 2, 3], [4, 5, 6]] as [[Float]])
        let row = Tensor([10, 20, 30] as [Float])
        let column = Tensor([[100], [200]] as [[Float]])
        #expect((a + row).floats == [11, 22, 33, 14, 25, 36])
        #expect((a * column).floats == [100, 200, 300, 800, 1000, 1200])
        #expect((row - column).shape == [2, 3])
        #expect((row - column).floats == [-90, -80, -70, -190, -180, -170])
        let big = Tensor.ones([2, 1, 3, 1]) + Tensor.arange(0, 4).reshaped([4, 1, 1])
        #expect(big.shape == [2, 4, 3, 1])
        #expect(big[1, 3, 2, 0].item == 4)
    }

    @Test func broadcastShapes() {
        let x = Tensor.ones([2, 1, 3]) + Tensor.ones([4, 1])
        #expect(x.shape == [2, 4, 3])
        let bias = Tensor.arange(0, 3).reshaped([1, 3, 1, 1])
        let image = Tensor.zeros([2, 3, 2, 2]) + bias
        #expect(image.floats == [0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2])
    }

    @Test func largeTensorsSplitAcrossThreadsGiveTheSameResult() {
        let n = 300_000
        let a = Tensor.randn([n], generator: Generator(seed: 1))
        let b = Tensor.randn([3, n / 3], generator: Generator(seed: 2))
        let sum = (a.reshaped([3, n / 3]) + b).floats
        let av = a.floats, bv = b.floats
        #expect((0..<n).allSatisfy { sum[$0] == av[$0] + bv[$0] })
        let bias = Tensor.randn([n / 3], generator: Generator(seed: 3))
        let withBias = (b + bias).floats
        let biasValues = bias.floats
        #expect((0..<n).allSatisfy { withBias[$0] == bv[$0] + biasValues[$0 % (n / 3)] })
    }

    @Test func scalarsTakeTheTensorsType() {
        let f = Tensor([1, 2] as [Float])
        #expect((f * 2.5).dtype == .float32)
        #expect((1 - f).floats == [0, -1])
        #expect((2 / f).floats == [2, 1])
        let i = Tensor([3, 4] as [Int64])
        #expect((i + 1).dtype == .int64)
        #expect((i / 2).dtype == .float32)
        #expect((i / 2).floats == [1.5, 2])
        #expect((i * 0.5).dtype == .float32)
    }

    @Test func goldenValues() {
        let x = Tensor([-1, 0, 0.5, 2] as [Double])
        assertClose(x.exp(), [0.36787944117144233, 1, 1.6487212707001282, 7.38905609893065])
        assertClose(x.abs(), [1, 0, 0.5, 2])
        assertClose(x.relu(), [0, 0, 0.5, 2])
        assertClose(x.sigmoid(), [0.2689414213699951, 0.5, 0.6224593312018546, 0.8807970779778823])
        assertClose(x.tanh(), [-0.7615941559557649, 0, 0.46211715726000974, 0.9640275800758169])
        assertClose(x.gelu(), [-0.15865525393145707, 0, 0.34573123063700656, 1.9544997361036416])
        assertClose(x.gelu(approximateTanh: true), [-0.15880800939172324, 0, 0.34571400982514394, 1.9545976940871754])
        assertClose(x.clamped(min: -0.5, max: 1), [-0.5, 0, 0.5, 1])
        assertClose(x.pow(2), [1, 0, 0.25, 4])
        assertClose(x.leakyRelu(negativeSlope: 0.1), [-0.1, 0, 0.5, 2])
        assertClose(x.softplus(), [0.31326168751822286, 0.6931471805599453, 0.9740769841801067, 2.1269280110429727])
        assertClose(Tensor([1.0, 4.0, 9.0]).sqrt(), [1, 2, 3])
        assertClose(Tensor([1.0, 2.718281828459045]).log(), [0, 1])
        assertClose(Tensor([0.0, Double.pi / 2]).sin(), [0, 1], atol: 1e-12)
        assertClose(Tensor([0.0, Double.pi]).cos(), [1, -1], atol: 1e-12)
    }

    @Test func extremeInputsStayFinite() {
        let x = Tensor([-1000, 1000] as [Float])
        #expect(x.sigmoid().floats == [0, 1])
        #expect(x.softplus().floats == [0, 1000])
        #expect(x.tanh().floats == [-1, 1])
    }

    @Test func comparisonsAndWhere() {
        let a = Tensor([1, 5, 3] as [Float])
        let b = Tensor([2, 5, 1] as [Float])
        #expect((a .< b).scalars(as: Bool.self) == [true, false, false])
        #expect((a .== b).scalars(as: Bool.self) == [false, true, false])
        #expect((a .>= 3).scalars(as: Bool.self) == [false, true, true])
        #expect(((a .> 1) .& (b .> 1)).scalars(as: Bool.self) == [false, true, false])
        #expect(((a .> 4) .| (b .< 2)).scalars(as: Bool.self) == [false, true, true])
        #expect((.!(a .> 4)).scalars(as: Bool.self) == [true, false, true])
        #expect(Tensor.where(a .> b, a, b).floats == [2, 5, 3])
        #expect(a.maximum(b).floats == [2, 5, 3])
        #expect(a.minimum(b).floats == [1, 5, 1])
        #expect(a.maskedFill(a .> 2, value: -1).floats == [1, -1, -1])
    }

    @Test func inPlaceArithmetic() {
        let t = Tensor([1, 2, 3] as [Float])
        t += 1
        #expect(t.floats == [2, 3, 4])
        t *= Tensor([2, 2, 2] as [Float])
        #expect(t.floats == [4, 6, 8])
        t -= Tensor(scalar: Float(1))
        t /= 2
        #expect(t.floats == [1.5, 2.5, 3.5])
        t.addInPlace(Tensor([2, 2, 2] as [Float]), alpha: -0.5)
        #expect(t.floats == [0.5, 1.5, 2.5])
        t.copy(from: Tensor([9, 8, 7] as [Float]))
        #expect(t.floats == [9, 8, 7])
        t.fill(0)
        #expect(t.floats == [0, 0, 0])
        // A view shares memory: writing through it changes the original.
        let m = Tensor.zeros([2, 2])
        m[1].fill(3)
        #expect(m.floats == [0, 0, 3, 3])
    }

    @Test func conversions() {
        let f = Tensor([1.7, -2.2, 0] as [Float])
        #expect(f.to(.int64).scalars(as: Int64.self) == [1, -2, 0])
        #expect(f.to(.bool).scalars(as: Bool.self) == [true, true, false])
        #expect(Tensor([true, false]).to(.float32).floats == [1, 0])
        #expect(f.to(.float64).dtype == .float64)
    }
}
