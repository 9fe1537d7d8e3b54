import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A callback that restores state before `fitBegin` fires (auto-resume, resume from checkpoint),
/// so that every other callback starts from the restored run.
public protocol RestoresBeforeFit: Callback {
    func restoreBeforeFit(_ context: Context) throws
}

/// Measures the fit, and each epoch's training and validation loops (luz's profile callback).
final class TimingsCallback: Callback {
    var weight: Double { -1000 }
    private var fitStart = 0.0
    private var loopStart = 0.0
    private var fitSecondsBefore = 0.0

    func handle(_ event: Event, _ context: Context) throws {
        let now = Double(DispatchTime.now().uptimeNanoseconds) / 1e9
        switch event {
        case .fitBegin:
            fitStart = now
            fitSecondsBefore = context.timings.fitSeconds
        case .trainBegin, .validBegin:
            loopStart = now
        case .trainEnd:
            context.timings.trainSeconds.append(now - loopStart)
            context.timings.trainBatches += context.iteration
        case .validEnd:
            context.timings.validSeconds.append(now - loopStart)
        case .fitEnd:
            context.timings.fitSeconds = fitSecondsBefore + (now - fitStart)
        default:
            break
        }
    }
}

/// Puts the model in training mode for the training loop and evaluation mode for validation
/// (dropout off, batch norm on running statistics); training mode again at the end.
///
/// Setting a mode walks the whole module tree, so after the first time in a run it is set only
/// when it changes: an epoch without validation costs no walk.
final class TrainValidCallback: Callback {
    var weight: Double { -900 }
    private var modeSet: Bool?

    func handle(_ event: Event, _ context: Context) throws {
        switch event {
        case .trainBegin: setMode(true, context)
        case .validBegin: setMode(false, context)
        case .fitEnd: setMode(true, context)
        default: break
        }
    }

    private func setMode(_ training: Bool, _ context: Context) {
        guard modeSet != training || context.model.isTraining != training else { return }
        context.model.train(training)
        modeSet = training
    }
}

/// Updates the metrics after every batch and records their values at the end of each loop.
/// Runs before the other callbacks, so that they see this epoch's values at `epochEnd`.
final class MetricsCallback: Callback {
    var weight: Double { -800 }

    func handle(_ event: Event, _ context: Context) throws {
        switch event {
        case .trainBegin:
            for metric in context.trainMetrics { metric.reset() }
        case .validBegin:
            for metric in context.validMetrics { metric.reset() }
        case .trainBatchEnd, .validBatchEnd:
            update(context.isTraining ? context.trainMetrics : context.validMetrics, context)
        case .trainEnd:
            try record(context.trainMetrics, set: "train", context)
        case .validEnd:
            try record(context.validMetrics, set: "valid", context)
        default:
            break
        }
    }

    private func update(_ metrics: [any Metric], _ context: Context) {
        guard let result = context.batchResult else { return }
        for metric in metrics { metric.update(result) }
    }

    /// Records each metric's value; in a data-parallel run the mean of the processes' values
    /// (each process holds as many examples, so the mean of their means is the mean).
    private func record(_ metrics: [any Metric], set: String, _ context: Context) throws {
        var values = metrics.map { $0.compute() }
        if let group = context.processGroup, group.size > 1 {
            try group.allReduceSum(&values)
            values = values.map { $0 / Double(group.size) }
        }
        for (metric, value) in zip(metrics, values) {
            context.records.record(set: set, metric: metric.name, epoch: context.epoch, value: value)
        }
    }
}

/// Prints luz's console output: `Epoch 3/15`, a live progress bar on a terminal (redrawn at most
/// every 0.2 s), then the epoch's `Train metrics: …` and `Valid metrics: …` lines.
final class ProgressCallback: PrimaryProcessCallback {
    var weight: Double { 900 }
    private var lastDraw = 0.0
    private var epochStart = 0.0
    private let isTerminal = isatty(STDOUT_FILENO) != 0

    static func displayName(for metric: String) -> String {
        switch metric {
        case "loss": return "Loss"
        case "acc": return "Acc"
        default: return metric.prefix(1).uppercased() + metric.dropFirst()
        }
    }

    func handle(_ event: Event, _ context: Context) throws {
        guard context.verbose else { return }
        let now = Double(DispatchTime.now().uptimeNanoseconds) / 1e9
        switch event {
        case .epochBegin:
            epochStart = now
            write("Epoch \(context.epoch)/\(context.maxEpochs)\n")
        case .trainBatchEnd, .validBatchEnd:
            guard isTerminal, now - lastDraw >= 0.2 || context.iteration == context.batchCount else { return }
            lastDraw = now
            write("\r" + bar(context, elapsed: now - epochStart) + "\u{1B}[K")
        case .trainEnd, .validEnd:
            if isTerminal { write("\r\u{1B}[K") }
        case .epochEnd:
            for set in ["train", "valid"] {
                let rows = context.records.rows(set: set, epoch: context.epoch)
                guard !rows.isEmpty else { continue }
                let text = rows.map { "\(displayName(for: $0.metric, context)): \(format($0.value))" }
                write("\(set == "train" ? "Train" : "Valid") metrics: \(text.joined(separator: " - "))\n")
            }
        case .earlyStopping:
            write("Early stopping at epoch \(context.epoch) of \(context.maxEpochs)\n")
        case .interrupt:
            write("Interrupted at epoch \(context.epoch) of \(context.maxEpochs); returning the model trained so far\n")
        default:
            break
        }
    }

    private func displayName(for metric: String, _ context: Context) -> String {
        (context.trainMetrics + context.validMetrics).first { $0.name == metric }?.displayName
            ?? ProgressCallback.displayName(for: metric)
    }

    private func format(_ value: Double) -> String { String(format: "%.4f", value) }

    private func bar(_ context: Context, elapsed: Double) -> String {
        let total = max(context.batchCount, 1)
        let done = min(context.iteration, total)
        let width = 30
        let filled = width * done / total
        let arrow = filled < width ? ">" : ""
        let bar = String(repeating: "=", count: max(filled - (arrow.isEmpty ? 0 : 1), 0)) + arrow
            + String(repeating: "-", count: width - max(filled, arrow.isEmpty ? filled : filled))
        let remaining = done > 0 ? elapsed / Double(done) * Double(total - done) : 0
        // The mean over the loop's batches so far, as luz and Keras show it: the epoch's line
        // then prints the same figure at the end, not a different last-batch value.
        let loss = context.runningLoss.map { " - Loss: \(format($0))" } ?? ""
        return "\(done)/\(total) [\(bar.padding(toLength: width, withPad: "-", startingAt: 0))] - ETA: \(formatDuration(remaining))\(loss)"
    }

    private func formatDuration(_ seconds: Double) -> String {
        if seconds >= 3600 { return "\(Int(seconds / 3600))h" }
        if seconds >= 60 { return "\(Int(seconds / 60))m" }
        return "\(Int(seconds.rounded()))s"
    }

    /// Writes through the same buffered standard output as `print`, then flushes it: piped
    /// logs keep the order in which a script printed and trained, and the live bar shows.
    private func write(_ text: String) {
        print(text, terminator: "")
        fflush(stdout)
    }
}

/// Counts SIGINTs; a run is interrupted when the count has grown since it started. Signals are
/// process-wide, so Ctrl+C stops every fit running at that moment; the handler is installed
/// while at least one fit runs and the previous one is restored after the last.
final class InterruptFlag: @unchecked Sendable {
    private var count: sig_atomic_t = 0
    private let lock = NSLock()
    private var activeRuns = 0
    private var previous = sigaction()

    var current: sig_atomic_t { count }
    func increment() { count &+= 1 }

    func beginRun() -> sig_atomic_t {
        lock.lock()
        defer { lock.unlock() }
        if activeRuns == 0 {
            var action = sigaction()
            #if canImport(Glibc)
            action.__sigaction_handler.sa_handler = { _ in interruptFlag.increment() }
            #else
            action.__sigaction_u.__sa_handler = { _ in interruptFlag.increment() }
            #endif
            sigaction(SIGINT, &action, &previous)
        }
        activeRuns += 1
        return count
    }

    func endRun() {
        lock.lock()
        defer { lock.unlock() }
        activeRuns -= 1
        if activeRuns == 0 { sigaction(SIGINT, &previous, nil) }
    }
}

let interruptFlag = InterruptFlag()

/// Turns Ctrl+C during `fit` into a clean stop: the current batch finishes, `interrupt` fires,
/// and `fit` returns the model trained so far.
final class InterruptCallback: Callback {
    var weight: Double { -950 }
    private var startCount: sig_atomic_t?

    /// Whether a SIGINT arrived since the run began.
    var isInterrupted: Bool { startCount.map { interruptFlag.current != $0 } ?? false }

    func handle(_ event: Event, _ context: Context) throws {}

    /// Installs the handler; called by the engine when the run starts.
    func begin() {
        if startCount == nil { startCount = interruptFlag.beginRun() }
    }

    /// Restores the signal handler; called when the run ends, normally or by an error.
    func finish() {
        if startCount != nil { interruptFlag.endRun() }
        startCount = nil
    }
}
