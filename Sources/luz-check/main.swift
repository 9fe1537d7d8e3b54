// luz-check: runs one misuse named on the command line and lets Luz stop the program.
//
// The tests launch a release build of this program (`swift build -c release --product
// luz-check`) in a child process and read its standard error: Swift's `precondition` prints
// nothing in `-O` builds, so only a release binary shows that every user-facing check still
// names the op and the shapes there. Each case is one that a user hits by mistake.
import Luz

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The misuses, by the name the tests pass.
let cases: [String: () throws -> Void] = [
    // A [32, 5] batch into a layer that expects 4 features.
    "linear": { _ = Linear(4, 16)(Tensor.zeros([32, 5])) },
    "matmul": { _ = Tensor.zeros([32, 10]).matmul(Tensor.zeros([9, 4])) },
    // 2^64 elements: the element count overflows an Int.
    "zeros-overflow": { _ = Tensor.zeros([1 << 32, 1 << 32]) },
    "cross-entropy-label": {
        _ = crossEntropy(Tensor.zeros([4, 10]), Tensor([0, 3, 12, 1] as [Int64], shape: [4]))
    },
    // The KMNIST example's layers (two 3×3 convolutions, then a 2×2 max pool) on a 5×5 image:
    // the pool's output would be 0 × 0.
    "max-pool-too-small": {
        let conv1 = Conv2d(1, 32, kernelSize: 3), conv2 = Conv2d(32, 64, kernelSize: 3)
        _ = conv2(conv1(Tensor.zeros([1, 1, 5, 5]))).maxPool2d(kernelSize: 2)
    },
    "batch-size": { _ = DataLoader(TensorDataset(inputs: Tensor.zeros([4, 2]), targets: Tensor.zeros([4])), batchSize: 0) },
    "negative-epochs": { _ = EpochSpec(-3) },
]

let arguments = CommandLine.arguments.dropFirst()
guard let name = arguments.first, let misuse = cases[name] else {
    let names = cases.keys.sorted().joined(separator: ", ")
    fputs("usage: luz-check CASE, with CASE one of: \(names)\n", stderr)
    exit(2)
}
do {
    try misuse()
    print("luz-check: \(name) was accepted")
    exit(0)
} catch {
    print("luz-check: \(name) threw \(error)")
    exit(3)
}
