import Foundation
import LuzNN
import LuzOptim
import LuzTensor
import Testing

/// Trains a small convolutional net with attention for a few steps with every kernel split
/// across `threads` threads (the parallel threshold lowered so that these small tensors are
/// split too) and returns the parameters afterwards.
func parallelTrainingRun(threads: Int) -> [[Float]] {
    Parallelism.threadCount = threads
    Parallelism.minimumParallelElements = 256
    manualSeed(3)
    // The first convolution is lowered onto GEMMs, the second (16 channels) runs Winograd's.
    let features = Sequential {
        Conv2d(3, 16, kernelSize: 3, padding: 1); BatchNorm2d(16); ReLU(); MaxPool2d(kernelSize: 2)
        Conv2d(16, 16, kernelSize: 3, padding: 1); ReLU(); AvgPool2d(kernelSize: 2); Flatten()
    }
    let attention = MultiheadAttention(embedDimension: 32, heads: 4)
    let head = Sequential { LayerNorm(32); Dropout(probability: 0.1); Linear(32, 10) }
    let parameters = features.parameters() + attention.parameters() + head.parameters()
    // SGD, not Adam: Adam divides by the gradient's own size, so a gradient that is zero up to
    // rounding (the attention's key bias) would move by ±lr depending on the summation order.
    let optimizer = SGD(parameters, learningRate: 0.1)
    let generator = Generator(seed: 9)
    let x = Tensor.randn([32, 3, 16, 16], generator: generator)
    let y = Tensor.randint(0, 10, [32], generator: generator)
    for _ in 0..<3 {
        let flat = features(x)                                   // [32, 256]
        let tokens = flat.reshaped([32, 8, 32])
        let attended = attention(tokens, tokens, tokens).output.mean(dim: 1)
        let loss = crossEntropy(head(attended), y)
        optimizer.zeroGrad()
        loss.backward()
        optimizer.step()
    }
    return parameters.map(\.floats)
}

/// The parallel run must agree with the single-threaded one (up to the order of summation).
/// Under ThreadSanitizer (`swift test --sanitize=thread`) a data race in a kernel makes the child
/// process exit with TSan's status 66 instead of 0.
func parallelKernelScenario() -> Int32 {
    let serial = parallelTrainingRun(threads: 1)
    let parallel = parallelTrainingRun(threads: 4)
    for (index, (a, b)) in zip(serial, parallel).enumerated() {
        for (u, v) in zip(a, b) where !(Swift.abs(u - v) <= 1e-4 * Swift.max(1, Swift.abs(u))) {
            print("parameter \(index): \(u) with one thread, \(v) with four")
            return 2
        }
    }
    return 0
}

@Suite("Parallel kernels")
struct ParallelKernelTests {
    // Changes the process-wide thread settings: runs in a child process of its own.
    @Test func aTrainingStepSplitAcrossThreadsMatchesOneThread() async {
        await #expect(processExitsWith: .success) { exit(parallelKernelScenario()) }
    }
}
