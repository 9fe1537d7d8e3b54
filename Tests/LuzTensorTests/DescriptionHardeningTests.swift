import Foundation
@testable import LuzTensor
import Testing

// Tensors that damaged weight files can produce (found while fuzzing the readers): printing
// them must neither trap nor take forever.
@Suite("Describing extreme tensors")
struct DescriptionHardeningTests {
    @Test func extremeIntegersPrint() {
        #expect(Tensor(scalar: Int64.max).description.contains("92233720368547758"))
        #expect(Tensor(scalar: Int64.min).description.contains("-9223372036854775808"))
    }

    @Test func emptyTensorsWithHugeDimensionsPrintQuickly() {
        let wide = Tensor([Float](), shape: [1 << 40, 0])
        #expect(wide.description.contains("..."))
        let deep = Tensor([Float](), shape: [0, 1 << 40, 1 << 40])
        #expect(deep.description.contains("shape: [0, 1099511627776, 1099511627776]"))
    }
}
