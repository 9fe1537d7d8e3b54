import LuzTensor
import LuzTestSupport
import Testing

/// Rounding, log1p / expm1 / rsqrt / reciprocal, NaN tests and logical ops. Fixtures come from
/// PyTorch 2.15; the expression is in the comment above each.
@Suite("Rounding, reciprocals, NaN tests and logical ops")
struct ElementwiseOpsTests {
    // x = torch.tensor([-2.5, -1.5, -0.5, 0.5, 1.5, 2.5, -1.7, 1.2, 3.5, -0.0])
    let x = Tensor([Float(-2.5), -1.5, -0.5, 0.5, 1.5, 2.5, -1.7, 1.2, 3.5, -0.0])

    @Test func roundingMatchesTorch() {
        // x.floor(), x.ceil(), x.round() (halves to even), x.trunc()
        #expect(x.floor().floats == [-3, -2, -1, 0, 1, 2, -2, 1, 3, -0])
        #expect(x.ceil().floats == [-2, -1, -0, 1, 2, 3, -1, 2, 4, -0])
        #expect(x.rounded().floats == [-2, -2, -0, 0, 2, 2, -2, 1, 4, -0])
        #expect(x.truncated().floats == [-2, -1, -0, 0, 1, 2, -1, 1, 3, -0])
        // torch.tensor([3, -2]).floor() stays int64.
        let integers = Tensor([Int64(3), -2])
        #expect(integers.floor().dtype == .int64 && integers.floor().scalars(as: Int64.self) == [3, -2])
    }

    @Test func roundingHasZeroGradient() {
        for op in [{ (t: Tensor) in t.floor() }, { $0.ceil() }, { $0.rounded() }, { $0.truncated() }] {
            let input = Tensor([0.3, 1.7, -2.2]).requiringGrad()
            let y = op(input)
            #expect(y.requiresGrad)
            (y * 3).sum().backward()
            #expect(input.grad!.doubles == [0, 0, 0])
        }
    }

    @Test func log1pExpm1RsqrtReciprocalMatchTorch() {
        // y = torch.tensor([1e-7, -0.5, 2.0, 0.0]) (float32): y.log1p(), y.expm1()
        let y = Tensor([Float(1e-7), -0.5, 2, 0])
        assertClose(y.log1p(), [9.99999941e-08, -0.693147182, 1.09861231, 0], rtol: 1e-6, atol: 0)
        assertClose(y.expm1(), [1.00000008e-07, -0.393469334, 6.38905621, 0], rtol: 1e-6, atol: 0)
        // torch.tensor([0.25, 4., 2.]).rsqrt(); torch.tensor([-2., 0.5, 4.]).reciprocal()
        assertClose(Tensor([Float(0.25), 4, 2]).rsqrt(), [2, 0.5, 0.7071067690849304], rtol: 1e-7)
        assertClose(Tensor([Float(-2), 0.5, 4]).reciprocal(), [-0.5, 2, 0.25])
        // torch.tensor([1, 4]).reciprocal() = [1., 0.25] (float32)
        let r = Tensor([Int64(1), 4]).reciprocal()
        #expect(r.dtype == .float32 && r.floats == [1, 0.25])
    }

    @Test func log1pExpm1RsqrtReciprocalGradients() {
        let any = gradInput([3, 4], seed: 21)
        let positive = gradInput([3, 4], in: 0.3...3, seed: 22)
        checkGradients([any], "log1p") { $0[0].log1p() }
        checkGradients([any], "expm1") { $0[0].expm1() }
        checkGradients([positive], "rsqrt") { $0[0].rsqrt() }
        checkGradients([positive], "reciprocal") { $0[0].reciprocal() }
        checkGradients([any], "nanToNum") { $0[0].replacingNonFinite() }
        // Steps: 0 away from the jumps (the seeded inputs are nowhere within eps of one).
        let steps = gradInput([3, 4], in: -3...3, seed: 23)
        checkGradients([steps], "floor") { $0[0].floor() }
        checkGradients([steps], "ceil") { $0[0].ceil() }
        checkGradients([steps], "round") { $0[0].rounded() }
        checkGradients([steps], "trunc") { $0[0].truncated() }
    }

    @Test func nanAndInfinityTestsAndReplacement() {
        // n = torch.tensor([nan, inf, -inf, 1.5])
        let n = Tensor([Float.nan, .infinity, -.infinity, 1.5])
        #expect(n.isNaN().scalars(as: Bool.self) == [true, false, false, false])
        #expect(n.isFinite().scalars(as: Bool.self) == [false, false, false, true])
        // n.nan_to_num() = [0, 3.4028234663852886e38, -3.4028234663852886e38, 1.5]
        #expect(n.replacingNonFinite().floats == [0, .greatestFiniteMagnitude, -.greatestFiniteMagnitude, 1.5])
        // n.nan_to_num(nan=1, posinf=2, neginf=-3) = [1, 2, -3, 1.5]
        #expect(n.replacingNonFinite(nan: 1, positiveInfinity: 2, negativeInfinity: -3).floats == [1, 2, -3, 1.5])
        // torch.tensor([inf], dtype=float64).nan_to_num() = [1.7976931348623157e308]
        #expect(Tensor([Double.infinity]).replacingNonFinite().doubles == [1.7976931348623157e308])
        #expect(Tensor([Int64(2)]).isNaN().scalars(as: Bool.self) == [false])
        // The gradient flows only where the input was finite: [0, 0, 0, 1].
        let m = Tensor([Double.nan, .infinity, -.infinity, 1.5]).requiringGrad()
        m.replacingNonFinite().sum().backward()
        #expect(m.grad!.doubles == [0, 0, 0, 1])
    }

    @Test func logicalOpsMatchTorch() {
        // a = torch.tensor([[0., 0.5], [2., 0.]]), b = torch.tensor([1., 0.]) (broadcast)
        let a = Tensor([[Float(0), 0.5], [2, 0]]), b = Tensor([Float(1), 0])
        // torch.logical_and(a, b) = [[F, F], [T, F]]; logical_or = [[T, T], [T, F]];
        // logical_xor = [[T, T], [F, F]]
        #expect(a.logicalAnd(b).scalars(as: Bool.self) == [false, false, true, false])
        #expect(a.logicalOr(b).scalars(as: Bool.self) == [true, true, true, false])
        #expect(a.logicalXor(b).scalars(as: Bool.self) == [true, true, false, false])
        #expect((a .& b).scalars(as: Bool.self) == [false, false, true, false])
        #expect((a .| b).scalars(as: Bool.self) == [true, true, true, false])
        // torch.logical_not(torch.tensor([0., nan, 2.])) = [T, F, F]
        #expect(Tensor([0, Float.nan, 2]).logicalNot().scalars(as: Bool.self) == [true, false, false])
        #expect((.!Tensor([true, false])).scalars(as: Bool.self) == [false, true])
    }
}
