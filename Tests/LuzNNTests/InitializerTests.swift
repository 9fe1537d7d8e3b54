import Foundation
import LuzNN
import LuzTestSupport
import Testing

/// The initializers draw from our generator, not torch's, so they are checked by the
/// properties that define them rather than by values.
@Suite("Initializers")
struct InitializerTests {
    @Test func orthogonalGivesOrthonormalRowsOrColumnsTimesGain() {
        // Tall: WᵀW = gain²·I (orthonormal columns).
        let tall = Tensor.zeros([6, 3], dtype: .float64)
        Initializer.orthogonal(tall, gain: 2, generator: Generator(seed: 1))
        assertClose(tall.matmul(tall, transposingSelf: true), Tensor.eye(3, dtype: .float64) * 4, atol: 1e-12)
        // Wide: WWᵀ = gain²·I (orthonormal rows).
        let wide = Tensor.zeros([3, 7], dtype: .float64)
        Initializer.orthogonal(wide, gain: 0.5, generator: Generator(seed: 2))
        assertClose(wide.matmul(wide, transposingOther: true), Tensor.eye(3, dtype: .float64) * 0.25, atol: 1e-12)
        // Square, float32: orthogonal both ways.
        let square = Tensor.zeros([5, 5])
        Initializer.orthogonal(square, generator: Generator(seed: 3))
        assertClose(square.matmul(square, transposingSelf: true), Tensor.eye(5), atol: 1e-5)
        assertClose(square.matmul(square, transposingOther: true), Tensor.eye(5), atol: 1e-5)
        // A convolution weight [4, 2, 3, 3] is a [4, 18] matrix with orthonormal rows.
        let kernel = Tensor.zeros([4, 2, 3, 3], dtype: .float64)
        Initializer.orthogonal(kernel, generator: Generator(seed: 4))
        let rows = kernel.reshaped([4, 18])
        assertClose(rows.matmul(rows, transposingOther: true), Tensor.eye(4, dtype: .float64), atol: 1e-12)
        // The same seed gives the same matrix; another seed another one.
        let again = Tensor.zeros([6, 3], dtype: .float64)
        Initializer.orthogonal(again, gain: 2, generator: Generator(seed: 1))
        #expect(again.doubles == tall.doubles)
        Initializer.orthogonal(again, gain: 2, generator: Generator(seed: 9))
        #expect(again.doubles != tall.doubles)
    }

    @Test func truncatedNormalStaysInsideItsBounds() {
        let t = Tensor.zeros([20_000], dtype: .float64)
        Initializer.truncatedNormal(t, mean: 1, std: 2, a: 0, b: 2, generator: Generator(seed: 5))
        let values = t.doubles
        #expect(values.min()! >= 0 && values.max()! <= 2)
        // Symmetric around the mean 1: the mean of the truncated normal is 1, its variance
        // σ²·(1 − 2·(½)·φ(½)/(Φ(½) − Φ(−½))) with half-width 1/σ = ½ in σ units.
        let mean = values.reduce(0, +) / Double(values.count)
        #expect(Swift.abs(mean - 1) < 0.02, "mean \(mean)")
        let z = 0.5, phi = exp(-z * z / 2) / (2 * Double.pi).squareRoot()
        let mass = erf(z / 2.0.squareRoot())
        let expectedVariance = 4 * (1 - 2 * z * phi / mass)
        let variance = values.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(values.count)
        #expect(Swift.abs(variance - expectedVariance) < 0.02, "variance \(variance) vs \(expectedVariance)")
        // torch's defaults: N(0, 1) cut at ±2.
        let defaults = Tensor.zeros([5000])
        Initializer.truncatedNormal(defaults, generator: Generator(seed: 6))
        #expect(defaults.doubles.allSatisfy { Swift.abs($0) <= 2 })
        #expect(defaults.doubles.contains { Swift.abs($0) > 1.5 })
    }

    @Test func diracMakesTheIdentityConvolution() {
        let weight = Tensor.zeros([3, 3, 3, 3], dtype: .float64)
        Initializer.normal(weight)
        Initializer.dirac(weight)
        let image = Tensor.normal([2, 3, 5, 4], mean: 0, std: 1, dtype: .float64, generator: Generator(seed: 7))
        assertClose(conv2d(image, weight: weight, padding: 1), image, atol: 1e-12)
        // The patterns below are torch.nn.init.dirac_ on the same shapes (float64).
        // More outputs than inputs: the extra channels are zero. Groups: each group of outputs
        // repeats the identity on the first input channels.
        let grouped = Tensor.zeros([4, 2, 3], dtype: .float64)
        Initializer.dirac(grouped, groups: 2)
        assertClose(grouped, [0, 1, 0, 0, 0, 0,
                              0, 0, 0, 0, 1, 0,
                              0, 1, 0, 0, 0, 0,
                              0, 0, 0, 0, 1, 0])
        let wider = Tensor.zeros([3, 2, 1], dtype: .float64)
        Initializer.dirac(wider)
        assertClose(wider, [1, 0, 0, 1, 0, 0])
        // Even kernel size: the centre is index k/2, as in torch.
        let even = Tensor.zeros([1, 1, 2, 2], dtype: .float64)
        Initializer.dirac(even)
        assertClose(even, [0, 0, 0, 1])
    }

    @Test func eyeFillsTheIdentity() {
        let weight = Tensor.ones([2, 3])
        Initializer.eye(weight)
        assertClose(weight, [1, 0, 0, 0, 1, 0])
        let layer = Linear(4, 4, dtype: .float64)
        Initializer.eye(layer.weight)
        Initializer.zeros(layer.bias!)
        let x = Tensor([[1.0, -2.0, 3.0, 0.5]])
        assertClose(layer(x), x)
    }
}
