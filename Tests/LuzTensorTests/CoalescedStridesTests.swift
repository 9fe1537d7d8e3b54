@testable import LuzTensor
import Testing

/// Strided kernels read dimensions that step through memory as one as a single row.
@Suite("Coalesced strides")
struct CoalescedStridesTests {
    @Test("dimensions merge when the outer stride is the inner extent times the inner stride")
    func merging() {
        // A step-2 slice of the last dimension of a contiguous [128, 64, 24, 24]: rows of 24 × 12
        // (the next merge would pass 16 384 elements), the outer two dimensions merged too.
        let sliced = Tensor.coalesced(shape: [128, 64, 24, 12], strides: [36_864, 576, 24, 2])
        #expect(sliced.shape == [8_192, 288] && sliced.strides == [576, 2])
        // Rows that would merge into one of 999 000 elements stay 1 000 rows.
        let long = Tensor.coalesced(shape: [1_000, 999], strides: [1_998, 2])
        #expect(long.shape == [1_000, 999] && long.strides == [1_998, 2])
        // A permutation does not merge; size-1 dimensions go; a short row is not cut.
        let permuted = Tensor.coalesced(shape: [2, 4, 3], strides: [12, 1, 4])
        #expect(permuted.shape == [2, 4, 3] && permuted.strides == [12, 1, 4])
        let ones = Tensor.coalesced(shape: [1, 3, 1, 4], strides: [99, 4, 7, 1])
        #expect(ones.shape == [12] && ones.strides == [1])
        let scalar = Tensor.coalesced(shape: [1, 1], strides: [5, 5])
        #expect(scalar.shape == [1] && scalar.strides == [1])
        // x[:, :4, ::2] of a contiguous [3, 8, 10]: only the two inner dimensions merge.
        let columns = Tensor.coalesced(shape: [3, 4, 5], strides: [80, 10, 2])
        #expect(columns.shape == [3, 20] && columns.strides == [80, 2])
    }

    @Test("strided views give the values of their contiguous copies, in long and short rows")
    func values() {
        let base = Tensor.arange(2 * 64 * 24 * 24).to(.float32).reshaped([2, 64, 24, 24])
        let views = [
            base.sliced(dim: 3, start: 0, step: 2),           // one long row, cut
            base.sliced(dim: 3, start: 1, step: 3),
            base.sliced(dim: 2, start: 0, step: 2),           // rows of 24 two rows apart
            base.permuted([0, 2, 3, 1]).sliced(dim: 1, start: 0, step: 2),
        ]
        for view in views {
            // The base counts 0, 1, 2, ...: each element is its position in the storage, found
            // index by index through the view's strides.
            var expected: [Float] = []
            var index = [Int](repeating: 0, count: view.rank)
            for _ in 0..<view.count {
                expected.append(Float(view.storageOffset + zip(index, view.strides).map { $0 * $1 }.reduce(0, +)))
                var d = view.rank - 1
                while d >= 0 {
                    index[d] += 1
                    if index[d] < view.shape[d] { break }
                    index[d] = 0
                    d -= 1
                }
            }
            #expect((view * 2).scalars(as: Float.self) == expected.map { $0 * 2 })
            #expect(view.contiguous().scalars(as: Float.self) == expected)
            let target = Tensor.zeros(view.shape)
            #expect((view + target).scalars(as: Float.self) == expected)
        }
    }
}
