import LuzTensor
import LuzTestSupport
import Testing

// Fixtures from torch 2.15 in float64 (the expressions are in each test's comment).

@Suite("einsum with '...', unique along a dimension, unsorted topk")
struct EllipsisUniqueTopKTests {
    private let a = Tensor((0..<24).map { Double($0) * 0.1 - 1 }, shape: [2, 3, 4])
    private let b = Tensor((0..<20).map { Double($0) * 0.05 + 0.3 }, shape: [4, 5])

    /// `torch.einsum('...ij,jk->...ik', a, b)` and the same without `->`.
    @Test func ellipsisCarriesBatchDimensions() {
        let explicit = Tensor.einsum("...ij,jk->...ik", a, b)
        #expect(explicit.shape == [2, 3, 5])
        assertClose(Tensor(explicit.doubles.prefix(6).map { $0 }), Tensor([-2.17, -2.34, -2.51, -2.68, -2.85, -1.09]),
                    rtol: 1e-12, atol: 1e-12, "first values")
        assertClose(Tensor.einsum("...ij,jk", a, b), explicit, rtol: 0, atol: 0, "implicit output")
        assertClose(explicit, a.matmul(b), rtol: 1e-12, atol: 1e-12, "a batched product")
    }

    /// `torch.einsum('...ij,...jk->...ik', c, d)` with c [1, 3, 4] and d [2, 1, 4, 5]: the
    /// broadcast dimensions stretch a size of 1.
    @Test func ellipsisDimensionsBroadcast() {
        let c = Tensor((0..<12).map { Double($0) * 0.2 - 0.5 }, shape: [1, 3, 4])
        let d = Tensor((0..<40).map { Double($0) * 0.03 - 0.4 }, shape: [2, 1, 4, 5])
        let r = Tensor.einsum("...ij,...jk->...ik", c, d)
        #expect(r.shape == [2, 1, 3, 5])
        assertClose(Tensor(Array(r.doubles.suffix(4))), Tensor([2.698, 2.866, 3.034, 3.202]), rtol: 1e-12, atol: 1e-12, "last values")
        // An output without '...' sums the broadcast dimensions: torch.einsum('...ij,jk->ik', a, b).
        assertClose(Tensor.einsum("...ij,jk->ik", a, b),
                    Tensor([-1.1, -1.2, -1.3, -1.4, -1.5, 1.06, 1.12, 1.18, 1.24, 1.3, 3.22, 3.44, 3.66, 3.88, 4.1], shape: [3, 5]),
                    rtol: 1e-12, atol: 1e-12, "summed")
        // A trailing ellipsis: torch.einsum('i...->...', arange(30).reshape(3, 2, 5)).
        let e = Tensor((0..<30).map(Double.init), shape: [3, 2, 5])
        #expect(Tensor.einsum("i...->...", e).doubles == [30, 33, 36, 39, 42, 45, 48, 51, 54, 57])
    }

    @Test func ellipsisGradientsMatchFiniteDifferences() {
        let x = gradInput([2, 1, 3, 4], seed: 3), y = gradInput([3, 4, 2], seed: 4)
        checkGradients([x, y], "einsum ...") { Tensor.einsum("...ij,...jk->...ik", $0[0], $0[1]) }
    }

    @Test func aBadEllipsisNamesTheEquation() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = Tensor.einsum("....i->i", Tensor.zeros([2, 3]))
        }
        let text = String(decoding: result?.standardErrorContent ?? [], as: UTF8.self)
        #expect(text.contains("einsum: '....i->i': '....i' must have at most one '...' and no other '.'"), "\(text)")
    }

    /// `torch.unique(x, dim=0)` and `dim=1` with `return_inverse` and `return_counts`.
    @Test func uniqueSlices() {
        let x = Tensor([[1.0, 2, 1], [0, 5, 0], [1, 2, 1], [0, 5, 0], [3, 3, 3]])
        let rows = x.unique(dim: 0)
        #expect(rows.values.doubles == [0, 5, 0, 1, 2, 1, 3, 3, 3] && rows.values.shape == [3, 3])
        #expect(rows.inverse.scalars(as: Int64.self) == [1, 0, 1, 0, 2])
        #expect(rows.counts.scalars(as: Int64.self) == [2, 2, 1])
        let columns = x.unique(dim: 1)
        #expect(columns.values.shape == [5, 2] && columns.values.doubles == [1, 2, 0, 5, 1, 2, 0, 5, 3, 3])
        #expect(columns.inverse.scalars(as: Int64.self) == [0, 1, 0])
        #expect(columns.counts.scalars(as: Int64.self) == [2, 1])
    }

    /// Unsorted, the k largest come in the order they stand; the same elements as sorted.
    @Test func topKUnsortedKeepsTheirOrder() {
        let x = Tensor([[3.0, 9, 1, 7, 5], [2, 2, 8, 0, 6]])
        let unsorted = x.topK(3, dim: 1, sorted: false)
        #expect(unsorted.values.doubles == [9, 7, 5, 2, 8, 6])
        #expect(unsorted.indices.scalars(as: Int64.self) == [1, 3, 4, 0, 2, 4])
        let sorted = x.topK(3, dim: 1)
        #expect(sorted.values.doubles == [9, 7, 5, 8, 6, 2])
        let input = gradInput([3, 5], seed: 2)
        checkGradients([input], "topk unsorted") { $0[0].topK(2, dim: 1, sorted: false).values }
    }
}
