import Dispatch
import Foundation

/// Where a training step spends its time, operation by operation: the calls, seconds and bytes
/// of every recorded operation (those that go through autograd's recording, with or without
/// gradients), forward and backward. Off unless `LUZ_PROFILE=1` is in the environment or
/// ``isEnabled`` is set; `luz-bench` prints it per step after each workload.
///
/// - The **backward** time of an operation is the time its gradient rule ran.
/// - The **forward** time of an operation is the time since the previous operation was
///   recorded, so it includes the Swift code between the two (a module's bookkeeping). The time
///   from the end of a backward pass to the first operation after it (the optimizer's step, the
///   next batch, and that first operation) is its own line, `(after backward)`.
/// - **Bytes** are those of the tensors an operation reads and writes: its inputs and output
///   forward; the output's gradient and the inputs' gradients backward.
///
/// Operations recorded on several threads at once share one clock, so the forward times are
/// meaningful for one training thread only.
public enum OperationProfile {
    /// One operation's totals.
    public struct Entry: Sendable, Equatable {
        /// Forward calls, seconds and bytes.
        public var forwardCalls = 0, forwardSeconds = 0.0, forwardBytes = 0
        /// Backward calls, seconds and bytes.
        public var backwardCalls = 0, backwardSeconds = 0.0, backwardBytes = 0
        /// Forward and backward seconds together.
        public var seconds: Double { forwardSeconds + backwardSeconds }
    }

    /// The name of the line that holds the time from a backward pass to the next operation.
    public static let afterBackward = "(after backward)"

    private final class State: @unchecked Sendable {
        let lock = Mutex()
        var entries: [String: Entry] = [:]
        var lastMark: UInt64 = DispatchTime.now().uptimeNanoseconds
        var afterBackward = false
        var inBackward = false
    }
    private static let state = State()

    /// Whether operations are profiled; initially whether `LUZ_PROFILE` is `1`.
    public static var isEnabled: Bool {
        @inline(__always) get { enabledFlag == 1 || (enabledFlag == 2 && readEnvironment()) }
        set {
            state.lock.withLock { state.lastMark = DispatchTime.now().uptimeNanoseconds }
            enabledFlag = newValue ? 1 : 0
        }
    }
    /// 0 off, 1 on, 2 not yet read from the environment. A constant initial value, so that the
    /// check every recorded operation makes is a load and a compare (a computed initial value
    /// would make each read go through the lazy-initialization guard).
    nonisolated(unsafe) private static var enabledFlag: UInt8 = 2

    @inline(never)
    private static func readEnvironment() -> Bool {
        let on = ProcessInfo.processInfo.environment["LUZ_PROFILE"] == "1"
        enabledFlag = on ? 1 : 0
        return on
    }

    /// Every operation's totals since the last ``reset()``.
    public static var entries: [String: Entry] { state.lock.withLock { state.entries } }

    /// Forgets everything recorded, and starts the forward clock again.
    public static func reset() {
        state.lock.withLock {
            state.entries = [:]
            state.lastMark = DispatchTime.now().uptimeNanoseconds
            state.afterBackward = false
        }
    }

    /// The profile's clock: monotonic nanoseconds.
    @inline(__always)
    static func clock() -> UInt64 { DispatchTime.now().uptimeNanoseconds }

    /// Counts operation `op`'s forward pass, which read `inputs` and wrote `output`.
    @inline(never)
    static func recordForward(_ op: String, inputs: [Tensor], output: Tensor) {
        var bytes = output.count * output.dtype.byteCount
        for input in inputs { bytes += input.count * input.dtype.byteCount }
        let now = DispatchTime.now().uptimeNanoseconds
        state.lock.withLock {
            // The operations a gradient rule runs are part of its backward time.
            guard !state.inBackward else { return }
            let seconds = Double(now &- state.lastMark) / 1e9
            state.lastMark = now
            let name = state.afterBackward ? afterBackward : op
            state.afterBackward = false
            state.entries[name, default: Entry()].forwardCalls += 1
            state.entries[name, default: Entry()].forwardSeconds += seconds
            state.entries[name, default: Entry()].forwardBytes += bytes
        }
    }

    /// Counts one run of operation `op`'s gradient rule, from `start` (uptime nanoseconds) to
    /// now, reading `gradient` and writing `gradients`.
    @inline(never)
    static func recordBackward(_ op: String, start: UInt64, gradient: Tensor, gradients: [Tensor?]) {
        let now = DispatchTime.now().uptimeNanoseconds
        var bytes = gradient.count * gradient.dtype.byteCount
        for g in gradients { if let g { bytes += g.count * g.dtype.byteCount } }
        state.lock.withLock {
            state.entries[op, default: Entry()].backwardCalls += 1
            state.entries[op, default: Entry()].backwardSeconds += Double(now &- start) / 1e9
            state.entries[op, default: Entry()].backwardBytes += bytes
        }
    }

    /// Marks the start of a backward pass: operations recorded until its end belong to the
    /// gradient rules that run them.
    static func beginBackward() {
        state.lock.withLock { state.inBackward = true }
    }

    /// Marks the end of a backward pass: the time until the next operation is recorded goes to
    /// the ``afterBackward`` line.
    static func endBackward() {
        state.lock.withLock {
            state.inBackward = false
            state.lastMark = DispatchTime.now().uptimeNanoseconds
            state.afterBackward = true
        }
    }

    /// A table of the totals (of `entries`, the current ones when nil) divided by `steps`, the
    /// most expensive operation first: per step,
    /// each operation's forward and backward calls, milliseconds and megabytes, and its share
    /// of the time.
    public static func report(_ entries: [String: Entry]? = nil, steps: Int = 1) -> String {
        let all = (entries ?? self.entries).sorted { $0.value.seconds > $1.value.seconds }
        let total = all.reduce(0) { $0 + $1.value.seconds }
        let n = Double(Swift.max(steps, 1))
        func column(_ text: String, _ width: Int) -> String {
            String(repeating: " ", count: Swift.max(0, width - text.count)) + text
        }
        var lines = ["op".padding(toLength: 24, withPad: " ", startingAt: 0)
            + [("fwd", 8), ("fwd ms", 10), ("fwd MB", 10), ("bwd", 8), ("bwd ms", 10), ("bwd MB", 10), ("share", 7)]
            .map { column($0.0, $0.1) }.joined()]
        for (op, e) in all {
            lines.append(op.padding(toLength: Swift.max(op.count, 24), withPad: " ", startingAt: 0)
                + String(format: "%8.1f%10.3f%10.2f%8.1f%10.3f%10.2f%6.1f%%",
                         Double(e.forwardCalls) / n, 1e3 * e.forwardSeconds / n, Double(e.forwardBytes) / n / 1e6,
                         Double(e.backwardCalls) / n, 1e3 * e.backwardSeconds / n, Double(e.backwardBytes) / n / 1e6,
                         total > 0 ? 100 * e.seconds / total : 0))
        }
        lines.append("total".padding(toLength: 24, withPad: " ", startingAt: 0) + String(format: "%16.3f ms per step", 1e3 * total / n))
        return lines.joined(separator: "\n")
    }
}
