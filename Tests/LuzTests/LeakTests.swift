import Foundation
@testable import Luz
import Testing

/// Trains with hooks, callbacks, a scheduler, validation and early stopping for many steps,
/// recording the live tensor storage at the end of every training step. Returns 0 when the
/// count and bytes are the same at every step after the first epoch (nothing accumulates from
/// step to step) and back to the starting level once the run and its model are gone (no
/// retain cycle between graph nodes, hooks, callbacks, optimizers and the context).
func leakScenario() -> Int32 {
    let (x, y) = blobs(count: 128, seed: 41)   // 96 training rows: six full batches of 16
    TensorMemory.cacheLimit = 0
    let baseline = (TensorMemory.liveStorageCount, TensorMemory.liveBytes)
    var perStep: [(epoch: Int, storages: Int, bytes: Int)] = []
    do {
        let net = Sequential { Linear(2, 16); ReLU(); Dropout(probability: 0.1); Linear(16, 2) }
        let counter = HookCounter()
        // A hook that keeps its outputs for a moment, as activation probes do.
        let handle = net.registerForwardHook { _, _, output in counter.last = output.detached(); counter.calls += 1 }
        let probe = LambdaCallback { event, context in
            if event == .trainBatchEnd {
                perStep.append((context.epoch, TensorMemory.liveStorageCount, TensorMemory.liveBytes))
            }
        }
        let fitted = try net.setup(loss: CrossEntropyLoss(), optimizer: Adam.self, metrics: [Accuracy()])
            .learningRate(0.01)
            .fit(.tensors(x, y, batchSize: 16, shuffle: true), epochs: 12, validData: 0.25,
                 callbacks: [probe, EarlyStopping(monitor: "valid_loss", patience: 50),
                             KeepBestModel(monitor: "valid_loss"),
                             LRSchedulerCallback { StepLR(optimizer: $0, stepSize: 2, gamma: 0.9) },
                             GradientClip(maximumNorm: 1)],
                 verbose: false, seed: 4)
        _ = try fitted.evaluate(inputs: x, targets: y)
        _ = try fitted.predict(x)
        handle.remove()
        counter.last = nil
        guard counter.calls > 0 else { return 2 }
    } catch {
        print("leak scenario failed: \(error)")
        return 3
    }
    let steady = perStep.filter { $0.epoch > 1 }
    guard steady.count > 40 else { return 4 }
    let storages = Set(steady.map(\.storages)), bytes = Set(steady.map(\.bytes))
    if storages.count != 1 || bytes.count != 1 {
        print("live storage changes from step to step: \(steady.map { "\($0.storages)/\($0.bytes)" })")
        return 5
    }
    let after = (TensorMemory.liveStorageCount, TensorMemory.liveBytes)
    if after != baseline {
        print("live storage after the run \(after), before \(baseline)")
        return 6
    }
    return 0
}

final class HookCounter {
    var calls = 0
    var last: Tensor?
}

@Suite("Memory")
struct LeakTests {
    // The storage counters are process-wide: measured in a child process of its own.
    @Test func trainingStepsDoNotAccumulateTensorsAndARunFreesEverything() async {
        // Exit status 5: the live storage changed between steps; 6: it did not return to its
        // level before the run (the scenario prints the numbers).
        await #expect(processExitsWith: .success) { exit(leakScenario()) }
    }
}
