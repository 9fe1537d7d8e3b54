import Foundation
@testable import LuzTensor
import LuzTestSupport
import Testing

/// The weight gradient of a convolution reads the lowered input its forward pass kept, unless
/// that would exceed ``ConvolutionTuning/maximumSavedLoweredBytes``; and the batch's gradient
/// sums are added in a fixed order. Runs in a child process: it changes a process-wide limit.
@Suite("Convolution gradient paths")
struct ConvolutionGradientPathTests {
    @Test func savedAndRebuiltLoweringGiveTheSameGradients() async {
        await #expect(processExitsWith: .success) { exit(convolutionGradientPathScenario()) }
    }
}

/// 0 when the gradients through the kept and the rebuilt lowered inputs agree bit for bit for
/// full and row lowering, and two runs give identical gradients; another code otherwise.
func convolutionGradientPathScenario() -> Int32 {
    Parallelism.minimumParallelElements = 1
    let generator = Generator(seed: 7)
    // 1 input channel uses full im2col; 8 channels · 3 columns uses the row lowering.
    for channels in [1, 8] {
        let input = Tensor.randn([19, channels, 9, 9], generator: generator)
        let weight = Tensor.randn([6, channels, 3, 3], generator: generator)
        let bias = Tensor.randn([6], generator: generator)
        let upstream = Tensor.randn([19, 6, 9, 9], generator: generator)
        func gradients(savingUpTo limit: Int) -> [[Float]] {
            ConvolutionTuning.maximumSavedLoweredBytes = limit
            let x = input.detached().requiringGrad(), w = weight.detached().requiringGrad()
            let b = bias.detached().requiringGrad()
            x.conv2d(weight: w, bias: b, padding: 1).backward(upstream)
            return [x.grad!.floats, w.grad!.floats, b.grad!.floats]
        }
        let saved = gradients(savingUpTo: 1 << 30)
        let rebuilt = gradients(savingUpTo: 0)
        guard saved == rebuilt else { return channels == 1 ? 1 : 2 }
        guard gradients(savingUpTo: 1 << 30) == saved else { return 3 }
    }
    return 0
}
