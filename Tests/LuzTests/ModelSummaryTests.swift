import Foundation
@testable import Luz
import LuzTestSupport
import Testing

@Suite("Model summary")
struct ModelSummaryTests {
    private func fit(_ callbacks: [any Callback]) throws -> FittedModel {
        let (x, y) = blobs(count: 64, seed: 4)
        let setup = TrainingSetup(
            model: { _ in
                Sequential { Linear(2, 4, generator: Generator(seed: 1)); ReLU(); Dropout(probability: 0.5, generator: Generator(seed: 3))
                             Linear(4, 3, generator: Generator(seed: 2)) }
            },
            loss: CrossEntropyLoss())
        return try setup.learningRate(0.05)
            .fit(.tensors(x, y, batchSize: 16, shuffle: true), epochs: 2, callbacks: callbacks, verbose: false, seed: 5)
    }

    @Test func rowsShapesParametersAndFLOPs() throws {
        let summary = ModelSummary(prints: false)
        _ = try fit([summary])
        #expect(summary.rows == [
            ModelSummaryRow(name: "0", type: "Linear", outputShape: [16, 4], parameters: 12, flops: 2 * 2 * 64),
            ModelSummaryRow(name: "1", type: "ReLU", outputShape: [16, 4], parameters: 0, flops: 0),
            ModelSummaryRow(name: "2", type: "Dropout", outputShape: [16, 4], parameters: 0, flops: 0),
            ModelSummaryRow(name: "3", type: "Linear", outputShape: [16, 3], parameters: 15, flops: 2 * 4 * 48),
        ])
        #expect(summary.text.contains("27 parameters (27 trainable), 640 FLOPs forward"), "\(summary.text)")
    }

    @Test func convolutionFLOPsCountEveryOutput() {
        let convolution = Conv2d(1, 2, kernelSize: 3)
        let output = convolution(Tensor.zeros([1, 1, 5, 5]))
        #expect(output.shape == [1, 2, 3, 3])
        #expect(ModelSummary.forwardFLOPs(convolution, output: output) == 2 * 9 * 18)
    }

    /// The summary's forward pass draws nothing and changes nothing: the fit is the same without it.
    @Test func theFitIsTheSameWithTheSummary() throws {
        let plain = try fit([]), summarized = try fit([ModelSummary(prints: false)])
        #expect(plain.records == summarized.records)
        #expect(plain.model.parameters().map(\.doubles) == summarized.model.parameters().map(\.doubles))
    }
}
