import Foundation
import LuzTensor

/// Rules that rename the keys of a state dict saved by another library to the names a Luz
/// module uses, applied in order to every key (each rule to the result of the ones before).
///
/// ```swift
/// let mapping: KeyMapping = [
///     .dropPrefix("bert."),                                       // BertForSequenceClassification's
///     .replacePrefix("transformer.layer.", with: "encoder.layer."),
///     .replaceSegments("attention.q_lin", with: "attention.self.query"),
///     .rename("vocab_projector.weight", to: "decoder.weight"),
///     .drop("embeddings.position_ids"),
/// ]
/// try model.loadStateDict(mapping.applied(to: state))
/// ```
public struct KeyMapping: ExpressibleByArrayLiteral, Sendable {
    /// One renaming rule.
    public enum Rule: Sendable {
        /// `prefix` + rest becomes `replacement` + rest.
        case replacePrefix(String, with: String)
        /// A run of whole dotted segments (`attention.q_lin` in `layer.0.attention.q_lin.weight`)
        /// becomes `replacement`, wherever it appears.
        case replaceSegments(String, with: String)
        /// Exactly `key` becomes `newKey`.
        case rename(String, to: String)
        /// Exactly `key` is left out.
        case drop(String)

        /// A leading `prefix` is removed.
        public static func dropPrefix(_ prefix: String) -> Rule { .replacePrefix(prefix, with: "") }

        /// The key after this rule, or `nil` when the rule drops it.
        func apply(to key: String) -> String? {
            switch self {
            case .replacePrefix(let prefix, let replacement):
                return key.hasPrefix(prefix) ? replacement + key.dropFirst(prefix.count) : key
            case .replaceSegments(let segments, let replacement):
                let wrapped = "." + key + ".", pattern = "." + segments + "."
                guard wrapped.contains(pattern) else { return key }
                let replaced = wrapped.replacingOccurrences(of: pattern, with: replacement.isEmpty ? "." : "." + replacement + ".")
                return String(replaced.dropFirst().dropLast())
            case .rename(let old, let new):
                return key == old ? new : key
            case .drop(let dropped):
                return key == dropped ? nil : key
            }
        }
    }

    /// The rules, in the order they apply.
    public var rules: [Rule]

    /// A mapping of `rules`, applied in order.
    public init(_ rules: [Rule]) { self.rules = rules }
    public init(arrayLiteral rules: Rule...) { self.rules = rules }

    /// `key` after every rule, or `nil` when a rule drops it.
    public func mapped(_ key: String) -> String? {
        var current = key
        for rule in rules {
            guard let next = rule.apply(to: current) else { return nil }
            current = next
        }
        return current
    }

    /// `state` with its keys renamed (tensors shared, metadata kept).
    /// - Throws: ``StateDictError/incompatible(_:)`` when two keys end up with one name.
    public func applied(to state: StateDict) throws -> StateDict {
        var entries: [(String, Tensor)] = []
        var origin: [String: String] = [:]
        for (key, tensor) in state {
            guard let mapped = mapped(key) else { continue }
            if let first = origin[mapped] {
                throw StateDictError.incompatible("keys '\(first)' and '\(key)' are both renamed to '\(mapped)'")
            }
            origin[mapped] = key
            entries.append((mapped, tensor))
        }
        return StateDict(entries, metadata: state.metadata)
    }
}
