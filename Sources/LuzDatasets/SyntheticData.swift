import Foundation
import LuzData
import LuzTensor

/// Generators of the small synthetic data sets used in the book's examples.
public enum SyntheticData {
    /// Points on the upper unit semi-circle: `count` values of x drawn uniformly from [-1, 1]
    /// and sorted, with `y = sqrt(1 - x²)` plus Gaussian noise of standard deviation `noise`.
    /// - Parameters:
    ///   - count: the number of points (the book uses 50).
    ///   - noise: the standard deviation of the noise added to y (0: none).
    ///   - dtype: `float32` (default) or `float64`.
    ///   - generator: the random source; the default generator when `nil`.
    /// - Returns: x as the input and y as the target, both of shape `[count]`.
    public static func semicircle(count: Int = 50, noise: Double = 0, dtype: DType = .float32,
                                  generator: Generator? = nil) -> Example {
        let random = generator ?? Generator.default
        let x = (0..<count).map { _ in 2 * random.nextDouble() - 1 }.sorted()
        let y = x.map { (1 - $0 * $0).squareRoot() + (noise > 0 ? noise * random.nextNormal() : 0) }
        return Example(input: Tensor(x, dtype: dtype), target: Tensor(y, dtype: dtype))
    }

    /// Two interleaved C-shaped classes in the plane.
    ///
    /// For each class, angles θ ~ U(π/2, 3π/2), `x = cos θ + N(0, 0.1) + xₒ` (then `1 - x` when
    /// flipped) and `y = sin θ · yₛ + N(0, 0.1) + yₒ`: class A has xₒ = 0, yₒ = 0, yₛ = 1, no flip;
    /// class B has xₒ = 1.25, yₒ = -1, yₛ = -1 and is flipped. Class A is drawn first (its
    /// angles, then its x noise, then its y noise), then class B.
    /// - Parameters:
    ///   - pointsPerClass: the number of points in each class.
    ///   - generator: the random source; the default generator when `nil`.
    /// - Returns: inputs `[2n, 2]` (`float32`), B's points first, and `int64` labels `[2n]`:
    ///   0 for B, 1 for A.
    public static func cShapes(pointsPerClass n: Int, generator: Generator? = nil) -> Example {
        let random = generator ?? Generator.default
        func draw(xOffset: Double, yOffset: Double, yScale: Double, flip: Bool) -> [Float] {
            let theta = (0..<n).map { _ in Double.pi / 2 + Double.pi * random.nextDouble() }
            let xNoise = (0..<n).map { _ in 0.1 * random.nextNormal() }
            let yNoise = (0..<n).map { _ in 0.1 * random.nextNormal() }
            var points = [Float]()
            points.reserveCapacity(2 * n)
            for i in 0..<n {
                var x = cos(theta[i]) + xNoise[i] + xOffset
                if flip { x = 1 - x }
                let y = sin(theta[i]) * yScale + yNoise[i] + yOffset
                points += [Float(x), Float(y)]
            }
            return points
        }
        let a = draw(xOffset: 0, yOffset: 0, yScale: 1, flip: false)
        let b = draw(xOffset: 1.25, yOffset: -1, yScale: -1, flip: true)
        let labels = [Int64](repeating: 0, count: n) + [Int64](repeating: 1, count: n)
        return Example(input: Tensor(b + a, shape: [2 * n, 2]), target: Tensor(labels))
    }
}
