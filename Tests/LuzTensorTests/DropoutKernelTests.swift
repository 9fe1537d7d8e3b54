import LuzTensor
import LuzTestSupport
import Testing

/// The fused dropout kernel: the mask it draws, its scaling, its gradient.
@Suite("Dropout kernel")
struct DropoutKernelTests {
    @Test func matchesAMaskBuiltFromUniformDraws() {
        let x = Tensor.randn([4, 500], generator: Generator(seed: 3))
        let dropped = x.droppingOut(probability: 0.3, generator: Generator(seed: 9))
        let uniform = Tensor.rand([4, 500], dtype: .float64, generator: Generator(seed: 9))
        let mask = (uniform .>= 0.3).to(.float32) / 0.7
        #expect(assertClose(dropped, x * mask))
        let zeros = (dropped .== 0).to(.float64).mean().item
        #expect(abs(zeros - 0.3) < 0.05, "fraction dropped \(zeros)")
    }

    @Test func theGeneratorAdvancesOnePerElement() {
        let generator = Generator(seed: 5)
        _ = Tensor.zeros([10]).droppingOut(probability: 0.5, generator: generator)
        let reference = Generator(seed: 5)
        for _ in 0..<10 { _ = reference.nextDouble() }
        #expect(generator.nextUInt64() == reference.nextUInt64())
    }

    @Test func gradientGoesThroughTheSameMask() {
        let x = gradInput([3, 7], seed: 4)
        checkGradients([x], "dropout") { $0[0].droppingOut(probability: 0.4, generator: Generator(seed: 2)) }
        let input = Tensor.randn([50], generator: Generator(seed: 1)).requiringGrad()
        let output = input.droppingOut(probability: 0.5, generator: Generator(seed: 6))
        output.sum().backward()
        // The gradient is the scale where the element was kept and 0 where it was dropped.
        let kept = (output .!= 0).to(.float32)
        #expect(assertClose(input.grad!, kept * 2))
    }
}
