import Foundation
import LuzNN
import LuzTensor

// `luz-bench ops`: microseconds per call of the elementwise operations a convolutional network
// spends its non-GEMM time in, at the sizes of the resnet workload, then the layout operations
// (permute, a transpose feeding matmul, a strided slice). Not part of the default run; the
// layout lines have a PyTorch peer in `bench/torch_ops.py` that prints the same lines.

/// Times `body` over `repeats` calls after one warm-up call; returns microseconds per call.
func microseconds(repeats: Int, _ body: () -> Void) -> Double {
    body()
    return 1e6 * timed { for _ in 0..<repeats { body() } } / Double(repeats)
}

func ops() {
    let generator = Generator(seed: 0)
    let requested = ProcessInfo.processInfo.environment["OPS_SHAPE"].map { [$0.split(separator: ",").map { Int($0)! }] }
    for shape in requested ?? [[128, 64, 24, 24], [128, 32, 26, 26], [256, 1024]] {
        let a = Tensor.randn(shape, generator: generator)
        let b = Tensor.randn(shape, generator: generator)
        let bias = Tensor.randn([shape[1]] + Array(repeating: 1, count: shape.count - 2), generator: generator)
        let megabytes = Double(a.count * 4) / 1e6
        let lines: [(String, Double)] = [
            ("a + b", microseconds(repeats: 20) { _ = a + b }),
            ("a * 2", microseconds(repeats: 20) { _ = a * 2 }),
            ("a + bias", microseconds(repeats: 20) { _ = a + bias }),
            ("relu", microseconds(repeats: 20) { _ = a.relu() }),
            ("sum", microseconds(repeats: 20) { _ = a.sum() }),
            ("addInPlace", microseconds(repeats: 20) { withNoGrad { a.addInPlace(b) } }),
            ("droppingOut", microseconds(repeats: 20) { _ = a.droppingOut(probability: 0.25, generator: generator) }),
            ("rand", microseconds(repeats: 20) { _ = Tensor.rand(shape, generator: generator) }),
        ]
        for (name, us) in lines {
            print(String(format: "ops        %@ %@ %10.1f us  %6.1f GB/s (one operand)",
                         name.padding(toLength: 12, withPad: " ", startingAt: 0),
                         "\(shape)".padding(toLength: 18, withPad: " ", startingAt: 0), us, megabytes * 1e-3 / (us * 1e-6)))
        }
    }
    layoutOps(generator: generator)
}

/// The layout lines: what a user's permute, transpose-then-matmul and strided slice cost, alone
/// and followed by the op that consumes them.
func layoutOps(generator: Generator) {
    let image = Tensor.randn([128, 64, 24, 24], generator: generator)
    let left = Tensor.randn([1024, 256], generator: generator)
    let right = Tensor.randn([1024, 256], generator: generator)
    let lines: [(String, [Int], Double)] = [
        ("permute", image.shape, microseconds(repeats: 50) { _ = image.permuted([0, 2, 3, 1]) }),
        ("permute+sum", image.shape, microseconds(repeats: 20) { _ = image.permuted([0, 2, 3, 1]).sum(dims: [3]) }),
        ("transpose@mm", left.shape, microseconds(repeats: 20) { _ = left.transposed().matmul(right) }),
        ("slice ::2", image.shape, microseconds(repeats: 50) { _ = image.sliced(dim: 3, start: 0, step: 2) }),
        ("slice ::2+mul", image.shape, microseconds(repeats: 20) { _ = image.sliced(dim: 3, start: 0, step: 2) * 2 }),
    ]
    for (name, shape, us) in lines {
        print(String(format: "ops        %@ %@ %10.1f us",
                     name.padding(toLength: 14, withPad: " ", startingAt: 0),
                     "\(shape)".padding(toLength: 18, withPad: " ", startingAt: 0), us))
    }
}
