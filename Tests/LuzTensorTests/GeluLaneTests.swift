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

@Suite("Sigmoid's and tanh's float32 lanes")
struct SigmoidTanhLaneTests {
    /// The eight-lane sigmoid and tanh agree with the float64 functions to float32's precision
    /// over the whole line, saturate to 0, 1 and ±1 without NaN far out, keep NaN, and their
    /// gradients (from the saved output) follow.
    @Test(arguments: ["sigmoid", "tanh"])
    func float32AgreesWithFloat64(_ name: String) throws {
        // Inputs a float32 holds exactly, so that both types compute at the same points.
        let values = (stride(from: -20.0, through: 20.0, by: 0.0173).map { $0 }
            + [0, -0.0, 1e-8, -1e-8, 1e-3, -1e-3, 0.24, 0.26, -0.26, 90, -90, 200, -200]).map { Double(Float($0)) }
        let apply: (Tensor) -> Tensor = name == "sigmoid" ? { $0.sigmoid() } : { $0.tanh() }
        let wide = Tensor(values).requiringGrad()
        let narrow = Tensor(values).to(.float32).requiringGrad()
        let a = apply(wide), b = apply(narrow)
        for (x, (exact, lanes)) in zip(values, zip(a.doubles, b.doubles)) {
            #expect(abs(lanes - exact) <= 4e-7 * abs(exact) + 1e-30, "\(name)(\(x)): \(lanes), float64 \(exact)")
        }
        let weights = Tensor(values.indices.map { 0.5 + Double($0 % 7) / 7 })
        (a * weights).sum().backward()
        (b * weights.to(.float32)).sum().backward()
        let exactGradient = try #require(wide.grad).doubles, laneGradient = try #require(narrow.grad).doubles
        for (x, (exact, lanes)) in zip(values, zip(exactGradient, laneGradient)) {
            // The gradient is computed from the float32 output: 1 − y² near |y| = 1 carries
            // float32's absolute rounding of y (about 1.2e-7), as in torch.
            #expect(abs(lanes - exact) <= 1e-6 * abs(exact) + 3e-7, "\(name)'(\(x)): \(lanes), float64 \(exact)")
        }
        let special = apply(Tensor([Float.infinity, -.infinity, .nan] + Array(repeating: 0, count: 8))).floats
        #expect(special[0] == 1 && special[1] == (name == "sigmoid" ? 0 : -1) && special[2].isNaN)
    }
}
