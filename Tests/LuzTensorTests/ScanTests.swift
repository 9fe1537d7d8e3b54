import LuzTensor
import LuzTestSupport
import Testing

/// Running sums and products, products, differences, triangles and outer products. Fixtures
/// come from PyTorch 2.15; the expression is in the comment above each.
@Suite("Scans, products, triangles")
struct ScanTests {
    // x = torch.tensor([[1., 2, 3], [0.5, -1, 4]])
    let x = Tensor([[Float(1), 2, 3], [0.5, -1, 4]])

    @Test func cumulativeSumAndProductMatchTorch() {
        // x.cumsum(0), x.cumsum(1), x.cumprod(1)
        assertClose(x.cumulativeSum(dim: 0), [1, 2, 3, 1.5, 1, 7])
        assertClose(x.cumulativeSum(dim: 1), [1, 3, 6, 0.5, -0.5, 3.5])
        assertClose(x.cumulativeProduct(dim: -1), [1, 2, 6, 0.5, -0.5, -2])
        // torch.tensor([True, True, False]).cumsum(0) = [1, 2, 2] (int64);
        // torch.tensor([2, 3, 4]).cumprod(0) = [2, 6, 24]
        let counted = Tensor([true, true, false]).cumulativeSum(dim: 0)
        #expect(counted.dtype == .int64 && counted.scalars(as: Int64.self) == [1, 2, 2])
        #expect(Tensor([Int64(2), 3, 4]).cumulativeProduct(dim: 0).scalars(as: Int64.self) == [2, 6, 24])
    }

    @Test func cumulativeProductGradientWithAZero() {
        // z = [2., 0., 3., 4.]; (z.cumprod(0) * [1, 2, 3, 4]).sum().backward(): z.grad = [1, 118, 0, 0]
        let z = Tensor([2.0, 0, 3, 4]).requiringGrad()
        (z.cumulativeProduct(dim: 0) * Tensor([1.0, 2, 3, 4])).sum().backward()
        assertClose(z.grad!, [1, 118, 0, 0])
    }

    @Test func productMatchesTorchWithZeros() {
        // z = [[2., 0., 3.], [1., 2., 3.]]; z.prod(1) = [0, 6]; grad of the sum [[0, 6, 0], [6, 3, 2]]
        let z = Tensor([[2.0, 0, 3], [1, 2, 3]]).requiringGrad()
        let y = z.product(dim: 1)
        assertClose(y, [0, 6])
        y.sum().backward()
        assertClose(z.grad!, [0, 6, 0, 6, 3, 2])
        // [[0., 0., 3.], [1., 2., 3.]].prod() = 0 with gradient 0 everywhere (two zeros).
        let w = Tensor([[0.0, 0, 3], [1, 2, 3]]).requiringGrad()
        w.product().backward()
        assertClose(w.grad!, [0, 0, 0, 0, 0, 0])
        // x.prod(0, keepdim=True) = [[0.5, -2, 12]]; torch.tensor([2, 3]).prod() is int64
        let kept = x.product(dim: 0, keepDim: true)
        #expect(kept.shape == [1, 3])
        assertClose(kept, [0.5, -2, 12])
        #expect(Tensor([Int64(2), 3]).product().scalars(as: Int64.self) == [6])
    }

    @Test func trianglesDifferencesAndOuterProductMatchTorch() {
        // m = torch.arange(1., 13).reshape(3, 4)
        let m = Tensor.arange(1, 13).reshaped([3, 4])
        // m.tril(), m.tril(1), m.triu(-1)
        assertClose(m.lowerTriangle(), [1, 0, 0, 0, 5, 6, 0, 0, 9, 10, 11, 0])
        assertClose(m.lowerTriangle(diagonal: 1), [1, 2, 0, 0, 5, 6, 7, 0, 9, 10, 11, 12])
        assertClose(m.upperTriangle(diagonal: -1), [1, 2, 3, 4, 5, 6, 7, 8, 0, 10, 11, 12])
        // torch.tensor([[nan, 1.], [2, 3]]).triu() = [[nan, 1], [0, 3]]
        assertClose(Tensor([[Float.nan, 1], [2, 3]]).upperTriangle(), [.nan, 1, 0, 3])
        // torch.tensor([1., 4, 9, 16]).diff() = [3, 5, 7]; diff(n=2) = [2, 2]; m.diff(dim=0) all 4
        let squares = Tensor([Float(1), 4, 9, 16])
        assertClose(squares.adjacentDifferences(), [3, 5, 7])
        assertClose(squares.adjacentDifferences(order: 2), [2, 2])
        let rows = m.adjacentDifferences(dim: 0)
        #expect(rows.shape == [2, 4] && rows.floats == [Float](repeating: 4, count: 8))
        // torch.outer(torch.tensor([1., 2]), torch.tensor([3., 4, 5]))
        let o = Tensor([Float(1), 2]).outerProduct(Tensor([Float(3), 4, 5]))
        #expect(o.shape == [2, 3])
        assertClose(o, [3, 4, 5, 6, 8, 10])
    }

    @Test func emptyInputs() {
        // torch.ones(0).prod() = 1; torch.ones(2, 0).prod(1) = [1, 1]; torch.ones(0).cumsum(0) is empty;
        // torch.linalg.vector_norm(torch.ones(0)) = 0; unique and sort of an empty tensor are empty
        let empty = Tensor.ones([0])
        #expect(empty.product().floats == [1])
        #expect(Tensor.ones([2, 0]).product(dim: 1).floats == [1, 1])
        #expect(empty.cumulativeSum(dim: 0).shape == [0])
        #expect(empty.cumulativeProduct(dim: 0).shape == [0])
        #expect(empty.norm().floats == [0])
        #expect(empty.unique().values.shape == [0])
        #expect(empty.sorted().values.shape == [0])
        #expect(Tensor.ones([2, 3]).padded([0, 0]).shape == [2, 3])
    }

    @Test func gradientsByFiniteDifferences() {
        let a = gradInput([3, 4], seed: 31)
        let positive = gradInput([2, 3, 4], in: 0.5...1.5, seed: 32)
        let v = gradInput([3], seed: 33), w = gradInput([4], seed: 34)
        checkGradients([a], "cumsum 0") { $0[0].cumulativeSum(dim: 0) }
        checkGradients([a], "cumsum -1") { $0[0].cumulativeSum(dim: -1) }
        checkGradients([a], "cumprod 1") { $0[0].cumulativeProduct(dim: 1) }
        checkGradients([positive], "cumprod middle") { $0[0].cumulativeProduct(dim: 1) }
        checkGradients([positive], "prod dim") { $0[0].product(dim: 1) }
        checkGradients([positive], "prod keepDim") { $0[0].product(dim: 2, keepDim: true) }
        checkGradients([a], "prod all") { $0[0].product() }
        checkGradients([a], "tril") { $0[0].lowerTriangle(diagonal: 1) }
        checkGradients([positive], "triu batched") { $0[0].upperTriangle() }
        checkGradients([a], "diff") { $0[0].adjacentDifferences(dim: 1, order: 2) }
        checkGradients([v, w], "outer") { $0[0].outerProduct($0[1]) }
    }
}
