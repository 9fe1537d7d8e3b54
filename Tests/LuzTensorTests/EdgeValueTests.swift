import LuzTensor
import LuzTestSupport
import Testing

/// NaN, ±∞, zeros and constant rows: the values where a formula's backward divides by zero or
/// multiplies ∞ by 0. Expected values were computed with PyTorch 2.15 (the expression is given
/// next to each fixture).
@Suite("Edge values match torch")
struct EdgeValueTests {
    // MARK: - maximum, minimum, clamp

    @Test func maximumAndMinimumPropagateNaNFromEitherSide() {
        let a = Tensor([Float.nan, 1]), b = Tensor([Float(1), .nan])
        // torch.maximum(tensor([nan, 1.]), tensor([1., nan])) = [nan, nan]; the same for minimum.
        assertClose(a.maximum(b), [.nan, .nan])
        assertClose(a.minimum(b), [.nan, .nan])
        assertClose(b.maximum(a), [.nan, .nan])
        assertClose(Tensor([Int64(3), 1]).maximum(Tensor([Int64(2), 2])), [3, 2])
    }

    @Test func maximumAndMinimumGradientsAtNaNAndTies() {
        // a = [nan, 1, 2], b = [1, nan, 2]; torch.maximum(a, b).sum().backward():
        // a.grad = b.grad = [1, 1, 0.5] (a NaN passes the gradient to both sides); minimum alike.
        for useMaximum in [true, false] {
            let a = Tensor([Double.nan, 1, 2]).requiringGrad()
            let b = Tensor([1, Double.nan, 2]).requiringGrad()
            (useMaximum ? a.maximum(b) : a.minimum(b)).sum().backward()
            assertClose(a.grad!, [1, 1, 0.5], "\(useMaximum ? "maximum" : "minimum") a")
            assertClose(b.grad!, [1, 1, 0.5], "\(useMaximum ? "maximum" : "minimum") b")
        }
    }

    @Test func clampKeepsNaN() {
        let x = Tensor([Float.nan, -2, 0.5, 3]).requiringGrad()
        // torch.tensor([nan, -2., 0.5, 3.]).clamp(-1, 1) = [nan, -1, 0.5, 1]; grad [0, 0, 1, 0]
        let y = x.clamped(min: -1, max: 1)
        assertClose(y, [.nan, -1, 0.5, 1])
        y.sum().backward()
        assertClose(x.grad!, [0, 0, 1, 0])
        // .clamp(min=0) = [nan, 0, 0.5, 3]; .clamp(max=0) = [nan, -2, 0, 0]
        assertClose(x.clamped(min: 0), [.nan, 0, 0.5, 3])
        assertClose(x.clamped(max: 0), [.nan, -2, 0, 0])
    }

    // MARK: - max pooling

    @Test func maxPoolOfAllNegativeInfinityWindowPicksItsFirstElement() {
        // x = torch.full((1, 1, 4, 4), -inf); x[0, 0, 2:, 2:] = [[1, 2], [3, 4]]
        // max_pool2d(x, 2, return_indices=True): values [[-inf, -inf], [-inf, 4]],
        // indices [[0, 2], [8, 15]]; the gradient of the sum is 1 at 0, 2, 8 and 15.
        for dtype in [DType.float32, .float64] {
            var values = [Double](repeating: -.infinity, count: 16)
            values[10] = 1; values[11] = 2; values[14] = 3; values[15] = 4
            let x = Tensor(values, shape: [1, 1, 4, 4], dtype: dtype).requiringGrad()
            let (y, indices) = x.maxPool2dWithIndices(kernelSize: 2)
            assertClose(y, [-.infinity, -.infinity, -.infinity, 4], "\(dtype)")
            #expect(indices.scalars(as: Int64.self) == [0, 2, 8, 15], "\(dtype)")
            y.sum().backward()
            var expected = [Double](repeating: 0, count: 16)
            for i in [0, 2, 8, 15] { expected[i] = 1 }
            assertClose(x.grad!, expected, "\(dtype)")
        }
    }

    @Test func maxPoolOfNegativeInfinityRowsInTheVectorPath() {
        // torch.full((1, 1, 2, 10), -inf): max_pool2d(x, 2, return_indices=True) has indices
        // [0, 2, 4, 6, 8]; four windows go through the SIMD lanes, the fifth through the scalar loop.
        let x = Tensor.full([1, 1, 2, 10], value: -.infinity).requiringGrad()
        let (y, indices) = x.maxPool2dWithIndices(kernelSize: 2)
        #expect(indices.scalars(as: Int64.self) == [0, 2, 4, 6, 8])
        #expect(y.floats == [Float](repeating: -.infinity, count: 5))
        y.sum().backward()
        assertClose(x.grad!, [1, 0, 1, 0, 1, 0, 1, 0, 1, 0] + [Double](repeating: 0, count: 10))
    }

    // MARK: - variance and standard deviation

    @Test func standardDeviationOfAConstantRowHasZeroGradient() {
        let x = Tensor([[2.0, 2, 2], [1, 2, 4]]).requiringGrad()
        // torch.tensor([[2., 2, 2], [1, 2, 4]], dtype=float64).std(dim=1): [0, 1.5275252316519465]
        let s = x.standardDeviation(dim: 1)
        assertClose(s, [0, 1.5275252316519465], rtol: 1e-12)
        s.sum().backward()
        // x.grad = [[0, 0, 0], [-0.43643578047198484, -0.10910894511799625, 0.5455447255899809]]
        assertClose(x.grad!, [0, 0, 0, -0.43643578047198484, -0.10910894511799625, 0.5455447255899809], rtol: 1e-12)
        let constant = Tensor([3.0, 3, 3, 3]).requiringGrad()
        constant.standardDeviation().backward()
        assertClose(constant.grad!, [0, 0, 0, 0])
    }

    @Test func varianceWithCorrectionAtLeastTheCountDividesByZero() {
        let x = Tensor([[1.0, 2, 4], [2, 2, 2]])
        // x.var(dim=1, correction=3) = [inf, nan]; correction=4 the same (the divisor is
        // max(0, n − correction)); correction=2 gives [4.666666666666666, 0].
        assertClose(x.variance(dim: 1, correction: 3), [.infinity, .nan])
        assertClose(x.variance(dim: 1, correction: 4), [.infinity, .nan])
        assertClose(x.variance(dim: 1, correction: 2), [4.666666666666666, 0], rtol: 1e-12)
        assertClose(x.standardDeviation(dim: 1, correction: 3), [.infinity, .nan])
    }

    // MARK: - pow

    @Test func powGradientsAtZeroBase() {
        // x = [0., 2.]; x.pow(0).sum().backward(): x.grad = [0, 0]
        let x = Tensor([0.0, 2]).requiringGrad()
        x.pow(0).sum().backward()
        assertClose(x.grad!, [0, 0])
        // b = [0, 0, 0, 2], e = [0, 1, 2.5, 0]; b.pow(e) = [1, 0, 0, 1],
        // b.grad = [0, 1, 0, 0], e.grad = [0, 0, 0, log 2 = 0.6931471805599453]
        let b = Tensor([0.0, 0, 0, 2]).requiringGrad(), e = Tensor([0.0, 1, 2.5, 0]).requiringGrad()
        let y = b.pow(e)
        assertClose(y, [1, 0, 0, 1])
        y.sum().backward()
        assertClose(b.grad!, [0, 1, 0, 0])
        assertClose(e.grad!, [0, 0, 0, 0.6931471805599453], rtol: 1e-12)
        // Negative and fractional exponents of 0 keep their infinities: b = [0, 0], e = [-1, 0.5]
        // gives b.grad = [-inf, inf], e.grad = [-inf, 0].
        let b2 = Tensor([0.0, 0]).requiringGrad(), e2 = Tensor([-1.0, 0.5]).requiringGrad()
        b2.pow(e2).sum().backward()
        assertClose(b2.grad!, [-.infinity, .infinity])
        assertClose(e2.grad!, [-.infinity, 0])
    }

    // MARK: - logSumExp

    @Test func logSumExpWithInfiniteMaximum() {
        // torch.tensor([[inf, 100., 1.], [1., 2., 3.]]).logsumexp(dim=1) = [inf, 3.4076058864593506];
        // the gradient of the sum is [[nan, 0, 0], [0.09003058, 0.24472849, 0.66524100]]
        // (exp(100) overflows float32: the gradient must not multiply it by 0).
        let x = Tensor([[Float.infinity, 100, 1], [1, 2, 3]]).requiringGrad()
        let y = x.logSumExp(dim: 1)
        assertClose(y, [.infinity, 3.4076058864593506])
        y.sum().backward()
        assertClose(x.grad!, [.nan, 0, 0, 0.09003058, 0.24472849, 0.66524100], rtol: 1e-5)
    }

    @Test func logSumExpAndOtherRulesDoNotHoldTheirOutput() {
        // The backward rule must not hold its own output (a retain cycle would leak the graph).
        let x = Tensor([[1.0, 2], [3, 4]]).requiringGrad()
        for keepDim in [true, false] {
            weak var released: Tensor?
            do {
                let y = x.logSumExp(dim: 1, keepDim: keepDim)
                released = y
                #expect(released != nil)
            }
            #expect(released == nil, "keepDim \(keepDim)")
        }
        // The same for the other ops whose rules read their output or inputs.
        let index = Tensor([[Int64(1), 0]])
        let ops: [(String, (Tensor) -> Tensor)] = [
            ("std", { $0.standardDeviation(dim: 1, keepDim: true) }),
            ("norm", { $0.norm(p: 3, dims: [1], keepDim: true) }),
            ("scatter amax", { $0.scattering(dim: 0, index: index, source: $0.sliced(dim: 0, end: 1), reduction: .amax) }),
            ("scatter", { $0.scattering(dim: 0, index: index, source: $0.sliced(dim: 0, end: 1)) }),
            ("expm1", { $0.expm1() }), ("rsqrt", { $0.rsqrt() }), ("reciprocal", { $0.reciprocal() }),
            ("softplus", { $0.softplus(beta: 2) }), ("pow", { $0.pow($0) }), ("cumprod", { $0.cumulativeProduct(dim: 0) }),
            ("prod", { $0.product(dim: 0, keepDim: true) }), ("pad", { $0.padded([1, 1], mode: .reflect) }),
            ("sort", { $0.sorted().values }), ("einsum", { Tensor.einsum("ij,jk->ik", $0, $0) }),
        ]
        for (name, op) in ops {
            weak var released: Tensor?
            do {
                let y = op(x)
                released = y
                #expect(released != nil)
            }
            #expect(released == nil, "\(name)")
        }
    }
}
