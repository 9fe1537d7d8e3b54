import Foundation
import LuzNN
import LuzTensor

// `luz-bench conv-shapes`, beside its PyTorch peer bench/torch_conv_shapes.py: one forward and
// backward pass (input gradient included, loss the mean square of the output) of each
// convolution shape a user meets besides the 3×3 stride-1 layers of `resnet`: 1×1, 5×5 and
// 7×7 kernels, stride 2, dilation, grouped and depthwise (MobileNet-style), on a batch of 32.
// One line per shape, in the peer's format, so that the two can be compared shape by shape.

/// One convolution shape: its name, the layer's arguments and the input.
struct ConvolutionShape {
    var name: String
    var inChannels: Int, outChannels: Int, kernel: Int
    var stride = 1, padding = 0, dilation = 1, groups = 1
    var size: Int

    /// The shapes of `luz-bench conv-shapes` (and of bench/torch_conv_shapes.py).
    static let all: [ConvolutionShape] = [
        ConvolutionShape(name: "1x1", inChannels: 64, outChannels: 128, kernel: 1, size: 28),
        ConvolutionShape(name: "5x5", inChannels: 32, outChannels: 64, kernel: 5, padding: 2, size: 28),
        ConvolutionShape(name: "7x7s2", inChannels: 3, outChannels: 64, kernel: 7, stride: 2, padding: 3, size: 64),
        ConvolutionShape(name: "3x3s2", inChannels: 64, outChannels: 128, kernel: 3, stride: 2, padding: 1, size: 28),
        ConvolutionShape(name: "3x3d2", inChannels: 64, outChannels: 64, kernel: 3, padding: 2, dilation: 2, size: 28),
        ConvolutionShape(name: "group4", inChannels: 64, outChannels: 128, kernel: 3, padding: 1, groups: 4, size: 28),
        ConvolutionShape(name: "dw", inChannels: 128, outChannels: 128, kernel: 3, padding: 1, groups: 128, size: 28),
        ConvolutionShape(name: "dw-s2", inChannels: 128, outChannels: 128, kernel: 3, stride: 2, padding: 1, groups: 128, size: 28),
    ]
}

func convolutionShapesWorkload(steps: Int = 10) {
    let generator = Generator(seed: benchSeed)
    for shape in ConvolutionShape.all {
        let conv = Conv2d(shape.inChannels, shape.outChannels, kernelSize: Size2D(shape.kernel), stride: Size2D(shape.stride),
                          padding: Size2D(shape.padding), dilation: Size2D(shape.dilation), groups: shape.groups,
                          generator: generator)
        let x = Tensor.randn([32, shape.inChannels, shape.size, shape.size], generator: generator).requiringGrad()
        var loss = 0.0
        func step() {
            let value = conv(x).pow(2).mean()
            value.backward()
            loss = value.item
            // As the peer: the layer's gradients zeroed in place, the input's dropped
            // (`x.grad = None`), so the next backward writes it fresh instead of adding to zeros.
            for p in conv.parameters() { p.zeroGrad() }
            x.grad = nil
        }
        step()
        let seconds = timed { for _ in 0..<steps { step() } }
        report("cv-\(shape.name)", steps: steps, seconds: seconds, quality: loss)
    }
}
