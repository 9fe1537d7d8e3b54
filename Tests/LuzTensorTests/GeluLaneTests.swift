import LuzTensor
import LuzTestSupport
import Testing

@Suite("GELU's float32 lanes")
struct GeluLaneTests {
    /// The eight-lane GELU and its gradient agree with the float64 ones to float32's precision
    /// over the whole line: relatively in the bulk, within 1e-7 in the far left tail (where the
    /// float32 argument of the exponential has lost digits, and torch's float32 erf-based GELU
    /// is only absolutely accurate).
    @Test func float32AgreesWithFloat64() throws {
        let values = stride(from: -12.0, through: 12.0, by: 0.0137).map { $0 } + [0, -0.0, 1e-8, -1e-8, 30, -30]
        let wide = Tensor(values).requiringGrad()
        let narrow = Tensor(values).to(.float32).requiringGrad()
        let a = wide.gelu(), b = narrow.gelu()
        for (x, (exact, lanes)) in zip(values, zip(a.doubles, b.doubles)) {
            #expect(abs(lanes - exact) <= 2e-6 * abs(exact) + 1e-7, "gelu(\(x)): \(lanes), float64 \(exact)")
        }
        let weights = Tensor(values.indices.map { 0.5 + Double($0 % 7) / 7 })
        (a * weights).sum().backward()
        (b * weights.to(.float32)).sum().backward()
        let exactGradient = try #require(wide.grad).doubles, laneGradient = try #require(narrow.grad).doubles
        for (x, (exact, lanes)) in zip(values, zip(exactGradient, laneGradient)) {
            #expect(abs(lanes - exact) <= 2e-6 * abs(exact) + 2e-7, "gelu'(\(x)): \(lanes), float64 \(exact)")
        }
        #expect(Tensor([Float.infinity]).gelu().floats == [.infinity])
        #expect(Tensor([Float.nan]).gelu().floats[0].isNaN)
    }
}
