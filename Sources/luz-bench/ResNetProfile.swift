import Foundation
import LuzNN
import LuzTensor

// `luz-bench resnet-layers`: where a training step of the resnet workload spends its time, layer
// by layer, forward and backward, on a batch of 128, with the rate each convolution reaches
// next to what one large BLAS sgemm reaches on this machine. Not part of the default run.
// A convolution's rate counts the multiply-adds of the direct definition; the 3×3 layers with
// 16 or more channels run Winograd's F(2×2, 3×3), which does 2.25 times fewer, so their
// effective rate can pass sgemm's.

/// The fastest of `repeats` timings of `body`, in seconds, after one warm-up call.
func fastest(repeats: Int, _ body: () -> Void) -> Double {
    body()
    var best = Double.infinity
    for _ in 0..<repeats { best = min(best, timed(body)) }
    return best
}

/// One stage of the network: a name, the function it applies, and its forward FLOPs for an
/// input shape (0 for the memory-bound stages).
private struct Stage {
    var name: String
    var apply: (Tensor) -> Tensor
    var flops: ([Int]) -> Double
    /// The forward FLOPs that the backward pass repeats (2× for a layer whose input needs a
    /// gradient, 1× for the first convolution, whose input does not).
    var backwardFactor: Double = 2
}

private func convolutionFLOPs(_ conv: Conv2d) -> ([Int]) -> Double {
    { shape in
        let (outChannels, inChannels, k) = (conv.weight.shape[0], conv.weight.shape[1], conv.weight.shape[2])
        let padding = conv.padding.height
        let outHeight = shape[2] + 2 * padding - k + 1, outWidth = shape[3] + 2 * padding - k + 1
        return 2 * Double(shape[0] * outChannels * inChannels * k * k * outHeight * outWidth)
    }
}

func resnetLayers() {
    let generator = Generator(seed: 0)
    manualSeed(0)
    let net = KMNISTNet()
    let batch = 128
    let noFLOPs: ([Int]) -> Double = { _ in 0 }
    let stages: [Stage] = [
        Stage(name: "conv1 1→32", apply: { net.conv1($0) }, flops: convolutionFLOPs(net.conv1), backwardFactor: 1),
        Stage(name: "relu", apply: { $0.relu() }, flops: noFLOPs),
        Stage(name: "res1.conv1 32→32", apply: { net.residual1.conv1($0) }, flops: convolutionFLOPs(net.residual1.conv1)),
        Stage(name: "relu", apply: { $0.relu() }, flops: noFLOPs),
        Stage(name: "res1.conv2 32→32", apply: { net.residual1.conv2($0) }, flops: convolutionFLOPs(net.residual1.conv2)),
        Stage(name: "relu + residual", apply: { $0.relu() + $0 }, flops: noFLOPs),
        Stage(name: "conv2 32→64", apply: { net.conv2($0) }, flops: convolutionFLOPs(net.conv2)),
        Stage(name: "relu", apply: { $0.relu() }, flops: noFLOPs),
        Stage(name: "res2.conv1 64→64", apply: { net.residual2.conv1($0) }, flops: convolutionFLOPs(net.residual2.conv1)),
        Stage(name: "relu", apply: { $0.relu() }, flops: noFLOPs),
        Stage(name: "res2.conv2 64→64", apply: { net.residual2.conv2($0) }, flops: convolutionFLOPs(net.residual2.conv2)),
        Stage(name: "relu + residual", apply: { $0.relu() + $0 }, flops: noFLOPs),
        Stage(name: "maxpool 2", apply: { $0.maxPool2d(kernelSize: 2) }, flops: noFLOPs),
        Stage(name: "dropout 0.25", apply: { net.dropout1($0) }, flops: noFLOPs),
        Stage(name: "fc1 9216→128", apply: { net.fc1($0.flattened(from: 1)) },
              flops: { 2 * Double($0[0] * 9216 * 128) }),
        Stage(name: "relu + dropout 0.5", apply: { net.dropout2($0.relu()) }, flops: noFLOPs),
        Stage(name: "fc2 128→10", apply: { net.fc2($0) }, flops: { 2 * Double($0[0] * 128 * 10) }),
    ]

    // The rate of one large sgemm through matmul (BLAS with all its threads).
    let a = Tensor.randn([2048, 1024], generator: generator), b = Tensor.randn([1024, 1024], generator: generator)
    let gemmSeconds = fastest(repeats: 5) { _ = a.matmul(b) }
    let gemmRate = 2 * 2048 * 1024 * 1024 / gemmSeconds / 1e9
    print(String(format: "resnet-layers sgemm 2048×1024×1024: %.1f GFLOP/s", gemmRate))
    print("layer                 input shape          forward ms  backward ms  fwd GFLOP/s  bwd GFLOP/s  fwd/bwd % of sgemm")

    var input = Tensor.rand([batch, 1, 28, 28], generator: generator)
    var totalForward = 0.0, totalBackward = 0.0
    for (index, stage) in stages.enumerated() {
        let x = index == 0 ? input : input.detached().requiringGrad()
        let forward = fastest(repeats: 3) { _ = withNoGrad { stage.apply(x) } }
        let output = stage.apply(x)
        let upstream = Tensor.randn(output.shape, generator: generator)
        let backward = fastest(repeats: 3) {
            let y = stage.apply(x)
            y.backward(upstream)
        } - forward
        totalForward += forward
        totalBackward += backward
        let flops = stage.flops(x.shape)
        let rates = flops > 0
            ? String(format: "%11.1f  %11.1f  %5.0f%% / %3.0f%%", flops / forward / 1e9,
                     stage.backwardFactor * flops / backward / 1e9,
                     100 * flops / forward / 1e9 / gemmRate, 100 * stage.backwardFactor * flops / backward / 1e9 / gemmRate)
            : ""
        print(String(format: "%@ %@ %10.2f  %11.2f  %@",
                     stage.name.padding(toLength: 21, withPad: " ", startingAt: 0),
                     "\(x.shape)".padding(toLength: 20, withPad: " ", startingAt: 0),
                     1e3 * forward, 1e3 * backward, rates))
        input = output.detached()
    }
    print(String(format: "total                                      %10.2f  %11.2f", 1e3 * totalForward, 1e3 * totalBackward))
    print("(GFLOP/s count a direct convolution's multiply-adds: effective rates, above sgemm's where Winograd runs)")
}
