import LuzTensor
import LuzTestSupport
import Testing

/// Sorting, top-k, unique, binary search, repetition, grids, norms and allClose. Fixtures come
/// from PyTorch 2.15; the expression is in the comment above each.
@Suite("Sorting, search, repetition, grids and norms")
struct SortingAndGridTests {
    // x = torch.tensor([[3., 1., 2., 1., nan], [0., -1., 5., 5., 2.]])
    let x = Tensor([[Float(3), 1, 2, 1, .nan], [0, -1, 5, 5, 2]])

    @Test func stableSortMatchesTorch() {
        // x.sort(dim=1, stable=True)
        let (values, indices) = x.sorted(dim: 1)
        assertClose(values, [1, 1, 2, 3, .nan, -1, 0, 2, 5, 5])
        #expect(indices.scalars(as: Int64.self) == [1, 3, 2, 0, 4, 1, 0, 4, 2, 3])
        // x.sort(dim=1, descending=True, stable=True)
        let (down, downIndices) = x.sorted(descending: true)
        assertClose(down, [.nan, 3, 2, 1, 1, 5, 5, 2, 0, -1])
        #expect(downIndices.scalars(as: Int64.self) == [4, 0, 2, 1, 3, 2, 3, 4, 0, 1])
        // x.sort(dim=0, stable=True)
        let (columns, columnIndices) = x.sorted(dim: 0)
        assertClose(columns, [0, -1, 2, 1, 2, 3, 1, 5, 5, .nan])
        #expect(columnIndices.scalars(as: Int64.self) == [1, 1, 0, 0, 1, 0, 0, 1, 1, 0])
        // torch.tensor([2, 1, 2, 0]).argsort(stable=True) = [3, 1, 0, 2]; descending [0, 2, 1, 3]
        let ints = Tensor([Int64(2), 1, 2, 0])
        #expect(ints.argsort().scalars(as: Int64.self) == [3, 1, 0, 2])
        #expect(ints.argsort(descending: true).scalars(as: Int64.self) == [0, 2, 1, 3])
    }

    @Test func topKMatchesTorch() {
        // y = torch.tensor([[1., 4, 2, 8, 5], [7., 3, 9, 0, 6]])
        let y = Tensor([[Float(1), 4, 2, 8, 5], [7, 3, 9, 0, 6]])
        // y.topk(2) = [[8, 5], [9, 7]], indices [[3, 4], [2, 0]]
        let (top, at) = y.topK(2)
        assertClose(top, [8, 5, 9, 7])
        #expect(at.scalars(as: Int64.self) == [3, 4, 2, 0])
        // y.topk(3, dim=1, largest=False) = [[1, 2, 4], [0, 3, 6]], indices [[0, 2, 1], [3, 1, 4]]
        let (low, lowAt) = y.topK(3, dim: 1, largest: false)
        assertClose(low, [1, 2, 4, 0, 3, 6])
        #expect(lowAt.scalars(as: Int64.self) == [0, 2, 1, 3, 1, 4])
        // y.topk(1, dim=0) = [[7, 4, 9, 8, 6]], indices [[1, 0, 1, 0, 1]]
        let (first, firstAt) = y.topK(1, dim: 0)
        #expect(first.shape == [1, 5])
        assertClose(first, [7, 4, 9, 8, 6])
        #expect(firstAt.scalars(as: Int64.self) == [1, 0, 1, 0, 1])
    }

    @Test func uniqueMatchesTorch() {
        // torch.unique(tensor([[3, 1, 2], [1, 3, 3]]), sorted=True, return_inverse=True, return_counts=True)
        let (values, inverse, counts) = Tensor([[Int64(3), 1, 2], [1, 3, 3]]).unique()
        #expect(values.scalars(as: Int64.self) == [1, 2, 3])
        #expect(inverse.shape == [2, 3] && inverse.scalars(as: Int64.self) == [2, 0, 1, 0, 2, 2])
        #expect(counts.scalars(as: Int64.self) == [2, 1, 3])
        // torch.unique(tensor([2.5, -1., 2.5, 0.]), ...) = [-1, 0, 2.5], inverse [2, 0, 2, 1], counts [1, 1, 2]
        let (floats, floatInverse, floatCounts) = Tensor([Float(2.5), -1, 2.5, 0]).unique()
        #expect(floats.floats == [-1, 0, 2.5])
        #expect(floatInverse.scalars(as: Int64.self) == [2, 0, 2, 1])
        #expect(floatCounts.scalars(as: Int64.self) == [1, 1, 2])
    }

    @Test func searchSortedAndBucketizeMatchTorch() {
        // s = torch.tensor([1., 3, 3, 5, 7]); q = torch.tensor([[0., 3], [6, 9]])
        let s = Tensor([Float(1), 3, 3, 5, 7]), q = Tensor([[Float(0), 3], [6, 9]])
        // torch.searchsorted(s, q) = [[0, 1], [4, 5]]; right=True: [[0, 3], [4, 5]]
        #expect(s.searchSorted(q).scalars(as: Int64.self) == [0, 1, 4, 5])
        #expect(s.searchSorted(q, right: true).scalars(as: Int64.self) == [0, 3, 4, 5])
        #expect(s.searchSorted(q).shape == [2, 2])
        // Row by row: s2 = [[1., 3, 5], [2, 4, 6]], q2 = [[3., 6], [1, 4]]:
        // searchsorted(s2, q2) = [[1, 3], [0, 1]]; right=True: [[2, 3], [0, 2]]
        let s2 = Tensor([[Float(1), 3, 5], [2, 4, 6]]), q2 = Tensor([[Float(3), 6], [1, 4]])
        #expect(s2.searchSorted(q2).scalars(as: Int64.self) == [1, 3, 0, 1])
        #expect(s2.searchSorted(q2, right: true).scalars(as: Int64.self) == [2, 3, 0, 2])
        // torch.bucketize(tensor([1., 3, 4, 9]), tensor([1., 3, 5, 7])) = [0, 1, 2, 4]; right=True: [1, 2, 2, 4]
        let points = Tensor([Float(1), 3, 4, 9]), boundaries = Tensor([Float(1), 3, 5, 7])
        #expect(points.bucketized(boundaries: boundaries).scalars(as: Int64.self) == [0, 1, 2, 4])
        #expect(points.bucketized(boundaries: boundaries, right: true).scalars(as: Int64.self) == [1, 2, 2, 4])
    }

    @Test func repeatTileAndMeshgridMatchTorch() {
        let a = Tensor([[Float(1), 2], [3, 4]])
        // a.repeat(2, 3)
        let r = a.repeated([2, 3])
        #expect(r.shape == [4, 6])
        assertClose(r, [1, 2, 1, 2, 1, 2, 3, 4, 3, 4, 3, 4, 1, 2, 1, 2, 1, 2, 3, 4, 3, 4, 3, 4])
        // torch.tensor([1., 2]).repeat(2, 2) = [[1, 2, 1, 2], [1, 2, 1, 2]]
        let v = Tensor([Float(1), 2]).repeated([2, 2])
        #expect(v.shape == [2, 4] && v.floats == [1, 2, 1, 2, 1, 2, 1, 2])
        // a.tile((2,)) = [[1, 2, 1, 2], [3, 4, 3, 4]]; a.tile((2, 1, 1)).shape = [2, 2, 2]
        let t = a.tiled([2])
        #expect(t.shape == [2, 4] && t.floats == [1, 2, 1, 2, 3, 4, 3, 4])
        #expect(a.tiled([2, 1, 1]).shape == [2, 2, 2])
        // torch.meshgrid(tensor([1., 2, 3]), tensor([4., 5]), indexing='ij') and 'xy'
        let p = Tensor([Float(1), 2, 3]), q = Tensor([Float(4), 5])
        let ij = Tensor.meshgrid([p, q])
        #expect(ij[0].shape == [3, 2] && ij[0].floats == [1, 1, 2, 2, 3, 3])
        #expect(ij[1].shape == [3, 2] && ij[1].floats == [4, 5, 4, 5, 4, 5])
        let xy = Tensor.meshgrid([p, q], indexing: .xy)
        #expect(xy[0].shape == [2, 3] && xy[0].floats == [1, 2, 3, 1, 2, 3])
        #expect(xy[1].shape == [2, 3] && xy[1].floats == [4, 4, 4, 5, 5, 5])
    }

    @Test func normsMatchTorch() {
        // n = torch.tensor([[3., -4., 0.], [1., 2., -2.]])
        let n = Tensor([[Float(3), -4, 0], [1, 2, -2]])
        // n.norm() = 5.830951690673828; vector_norm(n, ord=1, dim=1) = [7, 5]; ord=inf [4, 2];
        // ord=-inf [0, 1]; ord=0 [2, 3]; ord=3, dim=0, keepdim [[3.0365891, 4.1601677, 2.0]];
        // ord=0.5 over all = 57.160831451416016
        assertClose(n.norm(), [5.830951690673828], rtol: 1e-6)
        assertClose(n.norm(p: 1, dims: [1]), [7, 5])
        assertClose(n.norm(p: .infinity, dims: [1]), [4, 2])
        assertClose(n.norm(p: -.infinity, dims: [-1]), [0, 1])
        assertClose(n.norm(p: 0, dims: [1]), [2, 3])
        let cubic = n.norm(p: 3, dims: [0], keepDim: true)
        #expect(cubic.shape == [1, 3])
        assertClose(cubic, [3.0365891456604004, 4.160167694091797, 2], rtol: 1e-6)
        assertClose(n.norm(p: 0.5), [57.160831451416016], rtol: 1e-6)
        // vector_norm(zeros(3)).backward(): gradient [0, 0, 0], not NaN
        let zero = Tensor.zeros([3], dtype: .float64).requiringGrad()
        zero.norm().backward()
        #expect(zero.grad!.doubles == [0, 0, 0])
        // vector_norm(z, dim=1).sum().backward() for z = n in float64
        let z = Tensor([[3.0, -4, 0], [1, 2, -2]]).requiringGrad()
        z.norm(dims: [1]).sum().backward()
        assertClose(z.grad!, [0.6, -0.8, 0, 1.0 / 3, 2.0 / 3, -2.0 / 3], rtol: 1e-12)
    }

    @Test func allCloseMatchesTorch() {
        // torch.allclose(...): True, True, False, True, False, True (equal_nan), True (broadcast), True
        #expect(Tensor([Float(1), 2]).allClose(Tensor([Float(1 + 1e-6), 2])))
        #expect(Tensor([Float(1e-9)]).allClose(Tensor([Float(0)])))
        #expect(!Tensor([Float(1e-7)]).allClose(Tensor([Float(0)])))
        #expect(Tensor([Float.infinity]).allClose(Tensor([Float.infinity])))
        #expect(!Tensor([Float.nan]).allClose(Tensor([Float.nan])))
        #expect(Tensor([Float.nan]).allClose(Tensor([Float.nan]), equalNaN: true))
        #expect(Tensor([[Float(1), 1]]).allClose(Tensor([Float(1)])))
        #expect(Tensor([Float(100)]).allClose(Tensor([Float(100.001)])))
    }

    @Test func gradientsByFiniteDifferences() {
        let a = gradInput([3, 5], seed: 41)
        let b = gradInput([2, 3], seed: 42)
        let v = gradInput([3], seed: 43), w = gradInput([2], seed: 44)
        checkGradients([a], "sort") { $0[0].sorted(dim: 1).values }
        checkGradients([a], "sort descending dim 0") { $0[0].sorted(dim: 0, descending: true).values }
        checkGradients([a], "topk") { $0[0].topK(2, dim: 1).values }
        checkGradients([a], "topk smallest") { $0[0].topK(2, dim: 0, largest: false).values }
        checkGradients([b], "repeat") { $0[0].repeated([2, 1, 3]) }
        checkGradients([b], "tile") { $0[0].tiled([2]) }
        checkGradients([v, w], "meshgrid ij") { g in let m = Tensor.meshgrid([g[0], g[1]]); return m[0] * m[1] + m[1] }
        checkGradients([v, w], "meshgrid xy") { g in let m = Tensor.meshgrid([g[0], g[1]], indexing: .xy); return m[0] * m[1] - m[0] }
        checkGradients([a], "norm 2") { $0[0].norm(dims: [1]) }
        checkGradients([a], "norm 1") { $0[0].norm(p: 1, dims: [0], keepDim: true) }
        checkGradients([a], "norm 3 all") { $0[0].norm(p: 3) }
        checkGradients([a], "norm 0.5") { $0[0].norm(p: 0.5, dims: [1]) }
        checkGradients([a], "norm inf") { $0[0].norm(p: .infinity, dims: [1]) }
        checkGradients([a], "norm -inf") { $0[0].norm(p: -.infinity, dims: [0, 1]) }
    }
}
