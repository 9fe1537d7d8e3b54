import Foundation
import LuzTensor
import Testing

/// The mean and the (population) variance of `values`.
func moments(_ values: [Double]) -> (mean: Double, variance: Double) {
    let mean = values.reduce(0, +) / Double(values.count)
    return (mean, values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(values.count))
}

@Suite("Gamma and Beta draws")
struct GammaBetaTests {
    // 100 000 draws: the sample mean's standard error is √(var / n), under 0.3 % of these
    // variances' square roots; the bounds allow about 5 standard errors.
    static let draws = 100_000

    @Test("Gamma(k) has mean and variance k, for shapes below and above 1",
          arguments: [0.3, 1.0, 2.5, 9.0])
    func gamma(shape: Double) {
        let generator = Generator(seed: 17)
        let values = (0..<GammaBetaTests.draws).map { _ in generator.nextGamma(shape: shape) }
        #expect(values.allSatisfy { $0 > 0 && $0.isFinite })
        let (mean, variance) = moments(values)
        let standardError = (shape / Double(GammaBetaTests.draws)).squareRoot()
        #expect(abs(mean - shape) < 5 * standardError, "mean \(mean) for shape \(shape)")
        #expect(abs(variance - shape) / shape < 0.05, "variance \(variance) for shape \(shape)")
    }

    @Test("Beta(a, b) has mean a / (a + b) and variance ab / ((a + b)²(a + b + 1))",
          arguments: [(0.4, 0.4), (2.0, 5.0), (1.0, 1.0), (0.05, 0.05)])
    func beta(a: Double, b: Double) {
        let generator = Generator(seed: 23)
        let values = (0..<GammaBetaTests.draws).map { _ in generator.nextBeta(a, b) }
        #expect(values.allSatisfy { (0...1).contains($0) })
        let (mean, variance) = moments(values)
        let expectedMean = a / (a + b)
        let expectedVariance = a * b / ((a + b) * (a + b) * (a + b + 1))
        let standardError = (expectedVariance / Double(GammaBetaTests.draws)).squareRoot()
        #expect(abs(mean - expectedMean) < 5 * standardError, "mean \(mean), expected \(expectedMean)")
        #expect(abs(variance - expectedVariance) / expectedVariance < 0.04,
                "variance \(variance), expected \(expectedVariance)")
    }

    @Test("the same seed gives the same draws; tiny shapes do not underflow to NaN")
    func determinism() {
        let (a, b) = (Generator(seed: 5), Generator(seed: 5))
        let first = (0..<50).map { _ in a.nextBeta(0.4, 0.4) }
        #expect(first.map(\.bitPattern) == (0..<50).map { _ in b.nextBeta(0.4, 0.4).bitPattern })
        let tiny = Generator(seed: 6)
        #expect((0..<1000).allSatisfy { _ in tiny.nextBeta(0.001, 0.001).isFinite })
    }
}
