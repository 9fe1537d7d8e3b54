import Foundation
import LuzNN

/// One row of a ``ModelSummary``: a module, its output shape on the first batch, its own
/// parameters (not its children's) and the multiply-adds of its forward pass, doubled (FLOPs),
/// for linear and convolution layers.
public struct ModelSummaryRow: Sendable, Equatable {
    /// The dotted name (`""` for the model itself is left out).
    public var name: String
    /// The module's type, e.g. `Linear`.
    public var type: String
    /// The shape of the module's output on the first batch (its last run, if it runs twice).
    public var outputShape: [Int]
    /// The number of parameter elements the module holds itself.
    public var parameters: Int
    /// 2 · multiply-adds of the forward pass on the first batch, for `Linear`, `Conv1d` and
    /// `Conv2d` (0 for the others).
    public var flops: Int
}

/// Prints a summary of the model when the fit begins (Keras' `model.summary()`, Lightning's
/// `ModelSummary`): every module with its output shape on the first batch, its parameters and
/// the FLOPs of linear and convolution layers, then the totals.
///
/// The shapes need a forward pass: it runs on the first training batch, in evaluation mode
/// without gradients (no dropout draw, no change to BatchNorm's statistics), before the
/// training step, so the fit is the same with or without the summary.
public final class ModelSummary: Callback {
    /// The rows of the last fit's summary.
    public private(set) var rows: [ModelSummaryRow] = []
    /// The last fit's summary as printed.
    public private(set) var text = ""
    /// Whether the summary is printed (it is always kept in ``text``).
    public let prints: Bool
    private var pending = false

    /// Creates the callback.
    /// - Parameter prints: print the summary (`true`); otherwise only keep it.
    public init(prints: Bool = true) { self.prints = prints }

    public func handle(_ event: Event, _ context: Context) throws {
        switch event {
        case .fitBegin:
            pending = true
        case .trainBatchBegin where pending:
            pending = false
            guard let input = context.input else { return }
            summarize(context.model, input: input)
            if prints { print(text) }
        default:
            break
        }
    }

    private func summarize(_ model: Module, input: Tensor) {
        let modules = model.namedModules()
        var shapes: [ObjectIdentifier: [Int]] = [:]
        var flops: [ObjectIdentifier: Int] = [:]
        var handles: [HookHandle] = []
        for (_, module) in modules {
            handles.append(module.registerForwardHook { module, _, output in
                shapes[ObjectIdentifier(module)] = output.shape
                flops[ObjectIdentifier(module)] = Self.forwardFLOPs(module, output: output)
            })
        }
        let wasTraining = model.isTraining
        model.eval()
        _ = withNoGrad { model(input) }
        model.train(wasTraining)
        for handle in handles { handle.remove() }

        func total(_ module: Module) -> Int { module.parameters().reduce(0) { $0 + $1.count } }
        rows = modules.filter { !$0.name.isEmpty }.map { name, module in
            let own = total(module) - module.children().reduce(0) { $0 + total($1) }
            return ModelSummaryRow(name: name, type: module.typeName, outputShape: shapes[ObjectIdentifier(module)] ?? [],
                                   parameters: own, flops: flops[ObjectIdentifier(module)] ?? 0)
        }
        let trainable = model.parameters().filter(\.requiresGrad).reduce(0) { $0 + $1.count }
        let header = ["name", "type", "output shape", "parameters", "FLOPs"]
        let table = rows.map { [$0.name, $0.type, "\($0.outputShape)", "\($0.parameters)", $0.flops > 0 ? "\($0.flops)" : ""] }
        let widths = header.indices.map { column in ([header] + table).map { $0[column].count }.max() ?? 0 }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { $1.padding(toLength: widths[$0], withPad: " ", startingAt: 0) }
                .joined(separator: "  ").trimmingCharacters(in: .whitespaces)
        }
        var lines = [line(header), String(repeating: "-", count: widths.reduce(0, +) + 2 * (widths.count - 1))]
        lines += table.map(line)
        lines.append("input \(input.shape): \(total(model)) parameters (\(trainable) trainable), "
                     + "\(rows.reduce(0) { $0 + $1.flops }) FLOPs forward")
        text = lines.joined(separator: "\n")
    }

    /// 2 · multiply-adds of a linear or convolution layer's forward pass producing `output`.
    static func forwardFLOPs(_ module: Module, output: Tensor) -> Int {
        if let linear = module as? Linear {
            return 2 * linear.inputFeatures * output.count
        }
        if let convolution = module as? Conv2d {
            let kernel = convolution.weight.shape.dropFirst().reduce(1, *)   // in/groups · kh · kw
            return 2 * kernel * output.count
        }
        if let convolution = module as? Conv1d {
            let kernel = convolution.weight.shape.dropFirst().reduce(1, *)
            return 2 * kernel * output.count
        }
        return 0
    }
}
