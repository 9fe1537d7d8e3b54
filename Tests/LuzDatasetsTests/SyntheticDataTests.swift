import Foundation
import LuzData
import LuzDatasets
import LuzTensor
import Testing

@Suite("synthetic data")
struct SyntheticDataTests {
    @Test("semi-circle: sorted x in [-1, 1], y on the circle without noise")
    func semicircle() {
        let data = SyntheticData.semicircle(generator: Generator(seed: 1))
        let x = data.input.scalars(as: Float.self), y = data.target.scalars(as: Float.self)
        #expect(x.count == 50 && y.count == 50)
        #expect(x == x.sorted())
        #expect(x.allSatisfy { $0 >= -1 && $0 <= 1 })
        for i in 0..<50 {
            let radius: Float = x[i] * x[i] + y[i] * y[i]
            let error: Float = Swift.abs(radius - 1)
            #expect(error < 1e-5)
        }
        let noisy = SyntheticData.semicircle(noise: 0.1, dtype: .float64, generator: Generator(seed: 1))
        let noisyX: [Float] = noisy.input.scalars(as: Double.self).map { Float($0) }
        #expect(noisyX == x)
        let residuals = zip(noisy.input.scalars(as: Double.self), noisy.target.scalars(as: Double.self))
            .map { x, y in y - (1 - x * x).squareRoot() }
        #expect(residuals.contains { abs($0) > 0.01 })
        #expect(residuals.allSatisfy { abs($0) < 0.6 })
    }

    @Test("C shapes: B's points first with label 0, same seed same data")
    func cShapes() {
        let data = SyntheticData.cShapes(pointsPerClass: 200, generator: Generator(seed: 7))
        #expect(data.input.shape == [400, 2] && data.target.shape == [400])
        let labels = data.target.scalars(as: Int64.self)
        #expect(labels.prefix(200).allSatisfy { $0 == 0 } && labels.suffix(200).allSatisfy { $0 == 1 })
        let points = data.input.scalars(as: Float.self)
        // Class A (second half): x = cos θ + noise ≤ ~0.3 since θ ∈ (π/2, 3π/2); class B (first
        // half) is flipped and shifted: x = 1 - (cos θ + 1.25 + noise) ≥ ~-0.55.
        let ax = stride(from: 400, to: 800, by: 2).map { points[$0] }
        let bx = stride(from: 0, to: 400, by: 2).map { points[$0] }
        #expect(ax.allSatisfy { $0 < 0.5 })
        #expect(bx.allSatisfy { $0 > -0.75 })
        let meanA: Float = ax.reduce(0, +) / 200
        let meanB: Float = bx.reduce(0, +) / 200
        #expect(meanB > meanA + 0.5)
        let again = SyntheticData.cShapes(pointsPerClass: 200, generator: Generator(seed: 7))
        #expect(again.input.scalars(as: Float.self) == points)
        let other = SyntheticData.cShapes(pointsPerClass: 200, generator: Generator(seed: 8))
        #expect(other.input.scalars(as: Float.self) != points)
    }
}
