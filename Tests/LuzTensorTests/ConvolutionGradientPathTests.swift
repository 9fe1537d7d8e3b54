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

/// Which convolutions the Winograd kernels take (read-only: the limits are not changed).
@Suite("Convolution algorithm choice")
struct ConvolutionAlgorithmTests {
    private func geometry(channels: Int = 64, outChannels: Int = 64, size: Int = 24, kernel: Int = 3,
                          stride: Int = 1, dilation: Int = 1, groups: Int = 1) -> ConvGeometry {
        ConvGeometry(batch: 128, channels: channels, height: size, width: size, outChannels: outChannels,
                     groups: groups, kernelHeight: kernel, kernelWidth: kernel,
                     strideHeight: stride, strideWidth: stride, paddingHeight: 1, paddingWidth: 1,
                     dilationHeight: dilation, dilationWidth: dilation)
    }

    @Test func oneInputChannelPerGroupRunsTheDepthwiseKernels() {
        #expect(DepthwiseConvolution.applies(to: geometry(outChannels: 64, groups: 64)))
        #expect(DepthwiseConvolution.applies(to: geometry(outChannels: 128, stride: 2, groups: 64)))
        #expect(!DepthwiseConvolution.applies(to: geometry(outChannels: 64, groups: 32)))
        #expect(!DepthwiseConvolution.applies(to: geometry()))
        // A one-channel input with one group is an ordinary convolution.
        #expect(!DepthwiseConvolution.applies(to: geometry(channels: 1, outChannels: 8)))
    }

    @Test func threeByThreeStrideOneWithEnoughChannelsRunsWinograd() {
        #expect(WinogradConvolution.applies(to: geometry(), elementSize: 4))
        #expect(WinogradConvolution.applies(to: geometry(channels: 16, outChannels: 16, size: 5), elementSize: 8))
        #expect(WinogradConvolution.applies(to: geometry(size: 112), elementSize: 4))
    }

    @Test func otherConvolutionsTakeTheLowering() {
        #expect(!WinogradConvolution.applies(to: geometry(stride: 2), elementSize: 4))
        #expect(!WinogradConvolution.applies(to: geometry(dilation: 2), elementSize: 4))
        #expect(!WinogradConvolution.applies(to: geometry(groups: 2), elementSize: 4))
        #expect(!WinogradConvolution.applies(to: geometry(kernel: 5), elementSize: 4))
        #expect(!WinogradConvolution.applies(to: geometry(channels: 1, outChannels: 32), elementSize: 4))
        #expect(!WinogradConvolution.applies(to: geometry(channels: 64, outChannels: 8), elementSize: 4))
        // One image's transformed tiles would pass the limit: 64 channels on 256×256 is 192 MB.
        #expect(!WinogradConvolution.applies(to: geometry(size: 256), elementSize: 4))
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
