import LuzTensor
import LuzTestSupport
import Testing

/// NaN, ±∞, zeros and constant rows: the values where a formula's backward divides by zero or
/// multiplies ∞ by 0. Expected values were computed with PyTorch 2.15 (the expression is given
/// next to each fixture).
@Suite("Edge values match torch")
struct EdgeValueTests {
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
}
