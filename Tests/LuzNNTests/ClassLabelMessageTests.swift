import LuzNN
import Testing

/// The messages a classifier's labels get when they are counted from 1 or stored as floats:
/// each says what is wrong and how to fix it.
@Suite struct ClassLabelMessageTests {
    @Test func labelsCountedFromOneSayHowToShift() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = crossEntropy(Tensor.zeros([2, 2]), Tensor([1, 2] as [Int64]))
        }
        let text = String(decoding: result?.standardErrorContent ?? [], as: UTF8.self)
        #expect(text.contains("crossEntropy: target 2 is out of range for 2 classes"), "\(text)")
        #expect(text.contains("class indices count from 0 (0..<2)"), "\(text)")
        #expect(text.contains("if your labels count from 1, subtract 1: `targets - 1`"), "\(text)")
    }

    @Test func nllLossLabelsCountedFromOneSayHowToShift() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = nllLoss(Tensor.zeros([2, 3]), Tensor([3, 1] as [Int64]))
        }
        let text = String(decoding: result?.standardErrorContent ?? [], as: UTF8.self)
        #expect(text.contains("nllLoss: target 3 is out of range for 3 classes: class indices count from 0 (0..<3)"), "\(text)")
        #expect(text.contains("subtract 1"), "\(text)")
    }

    @Test func floatLabelsSayTheyMustBeInt64() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = crossEntropy(Tensor.zeros([3, 2]), Tensor([0, 1, 1] as [Float]))
        }
        let text = String(decoding: result?.standardErrorContent ?? [], as: UTF8.self)
        #expect(text.contains("crossEntropy: class indices must be int64; these are float32"), "\(text)")
        #expect(text.contains("`target.to(.int64)`"), "\(text)")
        #expect(!text.contains("probability targets must have"), "\(text)")
    }

    @Test func doubleLabelsNameTheirDtypeForNllLoss() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = nllLoss(Tensor.zeros([3, 2]), Tensor([0, 1, 1] as [Double]))
        }
        let text = String(decoding: result?.standardErrorContent ?? [], as: UTF8.self)
        #expect(text.contains("nllLoss: class indices must be int64; these are float64"), "\(text)")
    }

    @Test func probabilityTargetsOfTheWrongShapeKeepTheirMessage() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = crossEntropy(Tensor.zeros([3, 2]), Tensor.zeros([3, 4]))
        }
        let text = String(decoding: result?.standardErrorContent ?? [], as: UTF8.self)
        #expect(text.contains("probability targets must have the input's shape [3, 2], got [3, 4]"), "\(text)")
    }

    @Test func probabilityTargetsStillWork() {
        let loss = crossEntropy(Tensor.zeros([2, 2]), Tensor([[1, 0], [0.5, 0.5]] as [[Float]]))
        #expect(abs(loss.item - 0.6931472) < 1e-5)
    }
}
