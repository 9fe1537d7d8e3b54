import Foundation
import LuzTensor

// The benchmark workloads of shared/bench/WORKLOADS.md, printed in the same line format as the
// PyTorch peer (torch_workloads.py), so that both can be compared as ratios in one run.

/// The seed of every workload's generators: 0, or `LUZ_BENCH_SEED` (to compare the quality
/// reached over several seeds; the peer's script seeds with 0).
let benchSeed = UInt64(ProcessInfo.processInfo.environment["LUZ_BENCH_SEED"] ?? "") ?? 0

/// Prints one result line: name, steps, seconds, microseconds per step, quality.
func report(_ name: String, steps: Int, seconds: Double, quality: Double) {
    let line = String(format: "%@ steps=%6d secs=%8.3f us/step=%10.1f quality=%.4f",
                      name.padding(toLength: 10, withPad: " ", startingAt: 0), steps, seconds,
                      1e6 * seconds / Double(steps), quality)
    print(line)
    if OperationProfile.isEnabled {
        // LUZ_PROFILE=1: the operations of the timed steps, per step.
        print(OperationProfile.report(lastTimedProfile, steps: steps))
    }
    fflush(stdout)
}

/// The operation profile of the last ``timed(_:)`` block, which ``report(_:steps:seconds:quality:)`` prints.
nonisolated(unsafe) var lastTimedProfile: [String: OperationProfile.Entry] = [:]

/// Seconds elapsed while running `body`, on the monotonic clock. The operation profile
/// (`LUZ_PROFILE=1`) starts afresh with it.
func timed(_ body: () -> Void) -> Double {
    OperationProfile.reset()
    let start = DispatchTime.now().uptimeNanoseconds
    body()
    if OperationProfile.isEnabled { lastTimedProfile = OperationProfile.entries }
    return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
}

/// The seed's hand-written gradient descent on 10 Gaussian basis functions: the model rebuilt
/// from tensor ops every step, backward, an in-place update under no-grad, the gradient zeroed.
func basis(steps: Int = 5000) {
    let generator = Generator(seed: benchSeed)
    let xs = (0..<50).map { _ in Float(generator.nextDouble() * 2 - 1) }.sorted()
    let x = Tensor(xs)
    let y = Tensor(xs.map { (1 - $0 * $0).squareRoot() })
    let centres = Tensor.linspace(-1, 1, steps: 10).floats
    let w = Tensor.randn([10], generator: generator, requiresGrad: true)
    func model(_ x: Tensor) -> Tensor {
        let features = Tensor.stack(centres.map { c in (-((x - Double(c)).pow(2)) / (2 * 0.1 * 0.1)).exp() }, dim: 1)
        return features.matmul(w)
    }
    var loss = Tensor(scalar: Float(0))
    let seconds = timed {
        for _ in 0..<steps {
            loss = (model(x) - y).pow(2).mean()
            loss.backward()
            withNoGrad {
                w.addInPlace(w.grad!, alpha: -0.01)
                w.zeroGrad()
            }
        }
    }
    report("basis", steps: steps, seconds: seconds, quality: loss.item)
}

let workloads: [(String, () -> Void)] = [
    ("basis", { basis() }),
    ("cshape", { cshape() }),
    ("penguins", { penguins() }),
    ("resnet", { resnet() }),
    ("attention", { attention() }),
    ("lstm", { lstmWorkload() }),
    ("gpt", { gptWorkload() }),
    ("autoenc", { autoencoderWorkload() }),
]
/// Workloads run only when named.
let extraWorkloads: [(String, () -> Void)] = [
    ("ops", { ops() }),
    ("resnet-layers", { resnetLayers() }),
    ("autoenc-layers", { autoencoderLayers() }),
    ("data", { dataLoading() }),
    ("augment", { augmentedEpoch() }),
    ("gemm", { gemmWorkload() }),
    ("module-walk", { moduleWalk() }),
    ("bert", { bertWorkload() }),
    ("allreduce", { allReduceWorkload() }),
    ("long-attention", { longAttentionWorkload() }),
    ("conv-shapes", { convolutionShapesWorkload() }),
]

let requested = Array(CommandLine.arguments.dropFirst())
// The backend goes to standard error: standard output keeps the peer's line format.
FileHandle.standardError.write("luz-bench: matrix products: \(BLASBackend.current)\n".data(using: .utf8)!)
for name in requested where !(workloads + extraWorkloads).contains(where: { $0.0 == name }) {
    FileHandle.standardError.write("luz-bench: unknown workload '\(name)'; known: \(workloads.map(\.0).joined(separator: ", "))\n".data(using: .utf8)!)
    exit(2)
}
for (name, run) in workloads + extraWorkloads where requested.isEmpty ? workloads.contains(where: { $0.0 == name }) : requested.contains(name) {
    run()
}
