import Foundation
import LuzTensor

extension Module {
    /// A table of the model's layers, like Keras' `model.summary()`: each sub-module's dotted
    /// name and type, its output shape during one forward pass on `input` (when given), and the
    /// number of parameters it holds itself, then the total, trainable and frozen counts.
    ///
    /// ```
    /// Layer (type)          Output shape     Parameters
    /// ─────────────────────────────────────────────────
    /// 0 (Linear)            [32, 16]                 80
    /// 1 (ReLU)              [32, 16]                  0
    /// 2 (Linear)            [32, 3]                  51
    /// ─────────────────────────────────────────────────
    /// Total parameters: 131
    /// Trainable parameters: 131
    /// Non-trainable parameters: 0
    /// ```
    ///
    /// The forward pass, if any, runs in evaluation mode without gradient recording, so it
    /// changes no state (each module's mode is restored).
    public func summary(input: Tensor? = nil) -> String {
        var shapes: [String: [Int]] = [:]
        if let input {
            // In evaluation mode, so that the pass changes nothing (batch norm's running
            // statistics, dropout's generator); each module's mode is restored afterwards.
            let modes = modules().map { ($0, $0.isTraining) }
            eval()
            defer { for (module, mode) in modes { module.isTraining = mode } }
            withNoGrad {
                for (name, output) in activations(for: input, functions: []) where shapes[name] == nil { shapes[name] = output.shape }
            }
        }
        var rows: [(String, String, String)] = []
        for (name, module, members) in memberTree() where !name.isEmpty {
            let depth = name.split(separator: ".").count - 1
            let label = String(repeating: "  ", count: depth) + "\(name) (\(module.typeName))"
            let shape = shapes[name].map { "\($0)" } ?? (input == nil ? "" : "-")
            let count = members.parameters.reduce(0) { $0 + $1.tensor.count }
            rows.append((label, shape, String(count)))
        }
        if rows.isEmpty { rows.append(("(\(typeName))", "", String(members.parameters.reduce(0) { $0 + $1.tensor.count }))) }
        let header = ("Layer (type)", input == nil ? "" : "Output shape", "Parameters")
        let first = ([header.0] + rows.map(\.0)).map(\.count).max()!
        let second = ([header.1] + rows.map(\.1)).map(\.count).max()!
        let third = ([header.2] + rows.map(\.2)).map(\.count).max()!
        func line(_ row: (String, String, String)) -> String {
            let a = row.0.padding(toLength: first, withPad: " ", startingAt: 0)
            let b = second > 0 ? "  " + row.1.padding(toLength: second, withPad: " ", startingAt: 0) : ""
            let c = String(repeating: " ", count: third - row.2.count) + row.2
            return a + b + "  " + c
        }
        let rule = String(repeating: "─", count: first + (second > 0 ? second + 2 : 0) + third + 2)
        let total = parameterCount, trainable = trainableParameterCount
        return ([line(header), rule] + rows.map(line) + [
            rule,
            "Total parameters: \(total)",
            "Trainable parameters: \(trainable)",
            "Non-trainable parameters: \(total - trainable)",
        ]).joined(separator: "\n")
    }
}
