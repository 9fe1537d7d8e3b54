import Foundation
@testable import LuzTensor
import Testing

/// The per-operation profile counts each recorded operation's calls and bytes, forward and
/// backward, and keeps the time after a backward pass on its own line. It runs in a subprocess:
/// the profile is global, and other tests' operations would land in it.
@Suite("Operation profile")
struct OperationProfileTests {
    @Test func countsCallsAndBytesOfEachOperationForwardAndBackward() async {
        await #expect(processExitsWith: .success) { exit(operationProfileScenario()) }
    }
}

/// Profiles `exp(x·x).sum()` and its backward pass, then one more operation. Returns 0 when the
/// counts, bytes and lines are those expected, else the number of the first check that failed.
func operationProfileScenario() -> Int32 {
    OperationProfile.isEnabled = true
    OperationProfile.reset()
    let x = Tensor.randn([64, 64], generator: Generator(seed: 1)).requiringGrad()
    let product = x.matmul(x)
    product.exp().sum().backward()
    let entries = OperationProfile.entries
    let bytes = 64 * 64 * 4
    guard let matmul = entries["matmul"], let exp = entries["exp"] else {
        print("missing lines: \(entries.keys.sorted())")
        return 1
    }
    // Forward: two inputs and the output; backward: the output's gradient and two gradients
    // (the same tensor twice, so one is needed per input).
    guard matmul.forwardCalls == 1, matmul.forwardBytes == 3 * bytes, matmul.backwardCalls == 1,
          matmul.backwardBytes == 3 * bytes else {
        print("matmul: \(matmul)")
        return 2
    }
    guard exp.forwardCalls == 1, exp.forwardBytes == 2 * bytes, exp.backwardCalls == 1, exp.backwardBytes == 2 * bytes else {
        print("exp: \(exp)")
        return 3
    }
    // The operations the gradient rules ran are not counted as forward calls.
    guard entries.values.reduce(0, { $0 + $1.forwardCalls }) == 3 else {
        print("forward calls: \(entries)")
        return 4
    }
    guard matmul.backwardSeconds > 0, matmul.forwardSeconds > 0 else { return 5 }
    // The first operation after a backward pass goes to its own line.
    _ = x.exp()
    guard OperationProfile.entries[OperationProfile.afterBackward]?.forwardCalls == 1,
          OperationProfile.entries["exp"]?.forwardCalls == 1 else {
        print("after backward: \(OperationProfile.entries)")
        return 6
    }
    let report = OperationProfile.report(steps: 2)
    guard report.contains("matmul"), report.contains("(after backward)"), report.contains("ms per step") else {
        print(report)
        return 7
    }
    OperationProfile.isEnabled = false
    OperationProfile.reset()
    _ = x.exp()
    guard OperationProfile.entries.isEmpty else { return 8 }
    return 0
}
