import LuzTensor
import LuzTestSupport
import Testing

@Suite("Reductions")
struct ReductionTests {
    let x = Tensor([[1, 2, 3], [4, 5, 6]] as [[Double]])

    @Test func sumsAndMeans() {
        #expect(x.sum().item == 21)
        #expect(x.sum(dim: 0).doubles == [5, 7, 9])
        #expect(x.sum(dim: 1).doubles == [6, 15])
        #expect(x.sum(dim: 1, keepDim: true).shape == [2, 1])
        #expect(x.sum(dims: [0, 1]).shape == [])
        #expect(x.mean().item == 3.5)
        #expect(x.mean(dim: -1).doubles == [2, 5])
        let cube = Tensor.arange(0, 24, dtype: .float64).reshaped([2, 3, 4])
        #expect(cube.sum(dims: [0, 2]).doubles == [60, 92, 124])
        #expect(cube.sum(dims: [0, 2], keepDim: true).shape == [1, 3, 1])
        #expect(Tensor([true, true, false]).sum().item == 2)
    }

    @Test func largeSumsAreAccurate() {
        let n = 1_000_000
        let t = Tensor.full([n], value: 0.1)
        #expect(Swift.abs(t.sum().item - 100_000) < 1)
        let rows = Tensor.full([4, n / 4], value: 0.1).sum(dim: 1)
        for v in rows.doubles { #expect(Swift.abs(v - 25_000) < 1) }
    }

    @Test func varianceAndStandardDeviation() {
        assertClose(x.variance(dim: 1), [1, 1])
        assertClose(x.variance(dim: 0, correction: 0), [2.25, 2.25, 2.25])
        #expect(Swift.abs(x.standardDeviation().item - 1.8708286933869707) < 1e-12)
    }

    @Test func maxMinAndArgmax() {
        let t = Tensor([[3, 7, 7], [9, -1, 2]] as [[Float]])
        let (values, indices) = t.max(dim: 1)
        #expect(values.floats == [7, 9])
        #expect(indices.scalars(as: Int64.self) == [1, 0])   // first of the tied maxima
        #expect(t.min(dim: 0).values.floats == [3, -1, 2])
        #expect(t.argmax(dim: 0).scalars(as: Int64.self) == [1, 0, 0])
        #expect(t.argmin().item(as: Int64.self) == 4)
        #expect(t.max().item == 9)
        #expect(t.max(dim: 1, keepDim: true).values.shape == [2, 1])
    }

    @Test func softmaxIsStableForHugeLogits() {
        let logits = Tensor([[1000, 1001, 1002], [-1000, -1000, -1000]] as [[Float]])
        let p = logits.softmax(dim: 1)
        assertClose(p, [0.09003057, 0.24472847, 0.66524096, 1 / 3.0, 1 / 3.0, 1 / 3.0])
        let logP = logits.logSoftmax(dim: 1)
        assertClose(logP, [-2.40760596, -1.40760596, -0.40760596, -1.0986123, -1.0986123, -1.0986123], rtol: 1e-5)
        assertClose(logits.logSumExp(dim: 1), [1002.40760596, -998.90138771], rtol: 1e-6)
        #expect(Tensor([-Float.infinity, 0]).softmax(dim: 0).floats == [0, 1])
    }
}

@Suite("Shape operations and indexing")
struct ShapeTests {
    let t = Tensor.arange(0, 24).reshaped([2, 3, 4])

    @Test func reshapingShareStorage() {
        #expect(t.reshaped([4, -1]).shape == [4, 6])
        #expect(t.flattened(from: 1).shape == [2, 12])
        #expect(t.flattened().shape == [24])
        #expect(t.unsqueezed(dim: 0).shape == [1, 2, 3, 4])
        #expect(t.unsqueezed(dim: -1).shape == [2, 3, 4, 1])
        #expect(Tensor.zeros([1, 3, 1]).squeezed().shape == [3])
        #expect(Tensor.zeros([1, 3, 1]).squeezed(dim: 2).shape == [1, 3])
        #expect(Tensor.zeros([2, 3]).squeezed(dim: 0).shape == [2, 3])
    }

    @Test func permuteAndTranspose() {
        let p = t.permuted([2, 0, 1])
        #expect(p.shape == [4, 2, 3])
        #expect(p[1, 1, 2].item == 21)   // t[1, 2, 1]
        let m = Tensor([[1, 2, 3], [4, 5, 6]] as [[Float]])
        #expect(m.T.floats == [1, 4, 2, 5, 3, 6])
        let big = Tensor.arange(0, 100 * 70).reshaped([100, 70])
        let bt = big.T
        #expect(bt.shape == [70, 100])
        #expect(bt[13, 57].item == 57 * 70 + 13)
    }

    @Test func catStackSplitChunk() {
        let a = Tensor([[1, 2]] as [[Float]]), b = Tensor([[3, 4], [5, 6]] as [[Float]])
        #expect(Tensor.cat([a, b]).floats == [1, 2, 3, 4, 5, 6])
        #expect(Tensor.cat([b, b], dim: 1).floats == [3, 4, 3, 4, 5, 6, 5, 6])
        let s = Tensor.stack([a[0], b[0]], dim: 1)
        #expect(s.shape == [2, 2] && s.floats == [1, 3, 2, 4])
        let parts = t.split(sizes: [1, 3], dim: 2)
        #expect(parts.map(\.shape) == [[2, 3, 1], [2, 3, 3]])
        #expect(parts[0].floats == [0, 4, 8, 12, 16, 20])
        let chunks = Tensor.arange(0, 5).chunked(2)
        #expect(chunks.map(\.floats) == [[0, 1, 2], [3, 4]])
        #expect(Tensor.arange(0, 10).split(size: 4).map(\.count) == [4, 4, 2])
    }

    @Test func flipAndSlices() {
        #expect(Tensor.arange(0, 4).flipped([0]).floats == [3, 2, 1, 0])
        #expect(Tensor([[1, 2], [3, 4]] as [[Float]]).flipped([0, 1]).floats == [4, 3, 2, 1])
        #expect(t[1].shape == [3, 4])
        #expect(t[-1][0].floats == [12, 13, 14, 15])
        #expect(t[0..<1].shape == [1, 3, 4])
        #expect(t[.all, 1].floats == [4, 5, 6, 7, 16, 17, 18, 19])
        #expect(t[.all, .range(0..<3, step: 2), 0].floats == [0, 8, 12, 20])
        #expect(t[.ellipsis, 3].floats == [3, 7, 11, 15, 19, 23])
        #expect(t[.newAxis, 0].shape == [1, 3, 4])
        #expect(t[.all, .from(2)].shape == [2, 1, 4])
        #expect(t.sliced(dim: 2, start: -2).floats.prefix(2) == [2, 3])
    }

    @Test func indexSelectGatherScatter() {
        let m = Tensor([[1, 2, 3], [4, 5, 6], [7, 8, 9]] as [[Float]])
        let rows = Tensor([2, 0] as [Int64])
        #expect(m[rows].floats == [7, 8, 9, 1, 2, 3])
        #expect(m.indexSelect(dim: 1, index: rows).floats == [3, 1, 6, 4, 9, 7])
        let g = m.gather(dim: 1, index: Tensor([[0], [2], [1]] as [[Int64]]))
        #expect(g.floats == [1, 6, 8])
        let s = Tensor.zeros([3]).scatterAdding(dim: 0, index: Tensor([0, 2, 0] as [Int64]),
                                                source: Tensor([1, 2, 3] as [Float]))
        #expect(s.floats == [4, 0, 2])
        let added = Tensor.zeros([3, 2]).indexAdding(dim: 0, index: Tensor([1, 1] as [Int64]),
                                                     source: Tensor.ones([2, 2]))
        #expect(added.floats == [0, 0, 2, 2, 0, 0])
        #expect(m[m .> 5].floats == [6, 7, 8, 9])
        #expect(m[Tensor([false, true, true])].floats == [4, 5, 6, 7, 8, 9])
        #expect(m.nonzero().shape == [9, 2])
        #expect(Tensor([[0, 1], [2, 0]] as [[Float]]).nonzero().scalars(as: Int64.self) == [0, 1, 1, 0])
        #expect(m[Tensor([[0, 1], [2, 2]] as [[Int64]])].shape == [2, 2, 3])
    }

    @Test func expandMaterializesBroadcast() {
        let e = Tensor([1, 2] as [Float]).reshaped([2, 1]).expanded(to: [2, 3])
        #expect(e.floats == [1, 1, 1, 2, 2, 2])
        #expect(Tensor(scalar: Float(5)).expanded(to: [2]).floats == [5, 5])
    }
}

@Suite("Matrix products")
struct MatmulTests {
    /// Row-major reference product, one element at a time.
    func naive(_ a: [Double], _ b: [Double], m: Int, k: Int, n: Int) -> [Double] {
        var c = [Double](repeating: 0, count: m * n)
        for i in 0..<m { for j in 0..<n { for p in 0..<k { c[i * n + j] += a[i * k + p] * b[p * n + j] } } }
        return c
    }

    @Test func matchesTheNaiveProduct() {
        for (m, k, n) in [(1, 1, 1), (3, 4, 5), (17, 9, 33), (64, 128, 32)] {
            let a = Tensor.randn([m, k], dtype: .float64, generator: Generator(seed: UInt64(m)))
            let b = Tensor.randn([k, n], dtype: .float64, generator: Generator(seed: UInt64(n)))
            assertClose(a.matmul(b), Tensor(naive(a.doubles, b.doubles, m: m, k: k, n: n), shape: [m, n]), rtol: 1e-10, atol: 1e-10)
            let af = a.to(.float32), bf = b.to(.float32)
            assertClose(af.matmul(bf), a.matmul(b), rtol: 1e-4, atol: 1e-4)
            assertClose(a.T.matmul(b, transposingSelf: true), a.matmul(b), rtol: 1e-10, atol: 1e-12)
            assertClose(a.matmul(b.T, transposingOther: true), a.matmul(b), rtol: 1e-10, atol: 1e-12)
        }
    }

    @Test func torchMatmulShapes() {
        #expect(Tensor.ones([3]).matmul(Tensor.ones([3])).shape == [])
        #expect(Tensor.ones([2, 3]).matmul(Tensor.ones([3])).shape == [2])
        #expect(Tensor.ones([3]).matmul(Tensor.ones([3, 4])).shape == [4])
        #expect(Tensor.ones([5, 2, 3]).matmul(Tensor.ones([3, 4])).shape == [5, 2, 4])
        #expect(Tensor.ones([2, 3]).matmul(Tensor.ones([5, 3, 4])).shape == [5, 2, 4])
        #expect(Tensor.ones([7, 1, 2, 3]).matmul(Tensor.ones([5, 3, 4])).shape == [7, 5, 2, 4])
        #expect(Tensor.ones([5, 2, 3]).matmul(Tensor.ones([3])).shape == [5, 2])
        #expect(Tensor.ones([2, 0]).matmul(Tensor.ones([0, 3])).floats == [0, 0, 0, 0, 0, 0])
    }

    @Test func batchedProductsMatchPerMatrixProducts() {
        let a = Tensor.randn([4, 3, 5], dtype: .float64)
        let b = Tensor.randn([4, 5, 2], dtype: .float64)
        let c = a.matmul(b)
        for i in 0..<4 { assertClose(c[i], a[i].matmul(b[i]), rtol: 1e-12, atol: 1e-12) }
        let shared = Tensor.randn([5, 2], dtype: .float64)
        let d = a.matmul(shared)
        for i in 0..<4 { assertClose(d[i], a[i].matmul(shared), rtol: 1e-12, atol: 1e-12) }
    }
}

@Suite("Printing")
struct PrintingTests {
    @Test func smallTensorsPrintLikeTorch() {
        let t = Tensor([[1, 2], [3, 4]] as [[Float]])
        #expect(t.description == "tensor([[1., 2.],\n        [3., 4.]], shape: [2, 2], dtype: float32)")
        let d = Tensor([0.5, -1.25])
        #expect(d.description == "tensor([ 0.5000, -1.2500], shape: [2], dtype: float64)")
        #expect(Tensor([1, 2] as [Int64]).description == "tensor([1, 2], shape: [2], dtype: int64)")
        #expect(Tensor(scalar: 3.0).description == "tensor(3., shape: [], dtype: float64)")
        let w = Tensor([1.0]).requiringGrad()
        #expect((w * 2).description.hasSuffix("gradFn: mul)"))
    }

    @Test func largeTensorsAreElided() {
        let text = Tensor.arange(0, 2000).description
        #expect(text.contains("..."))
        #expect(text.hasPrefix("tensor([   0.,    1.,    2., ..., 1997., 1998., 1999.]"))
    }
}
