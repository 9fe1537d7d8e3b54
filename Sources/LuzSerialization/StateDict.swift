import LuzTensor

/// Named tensors in a fixed order: a module's parameters and buffers, an optimizer's state,
/// or a set of captured activations (torch's `state_dict`, an ordered `[String: Tensor]`).
///
/// Written to and read from disk in the safetensors format with ``save(to:)`` and
/// ``init(contentsOf:)``; string ``metadata`` travels in the file's `__metadata__` entry.
///
/// ```swift
/// var state = model.stateDict()
/// state["extra"] = Tensor([1.0, 2.0])
/// try state.save(to: "weights.safetensors")
/// let loaded = try StateDict(contentsOf: "weights.safetensors")
/// ```
public struct StateDict: Sequence, ExpressibleByDictionaryLiteral, CustomStringConvertible {
    /// The keys in order.
    public private(set) var keys: [String] = []
    private var values: [String: Tensor] = [:]
    /// Free-form string metadata (the safetensors `__metadata__` entry).
    public var metadata: [String: String] = [:]

    /// An empty state dict.
    public init() {}

    /// A state dict holding `entries` in the given order (later duplicates replace earlier values).
    public init(_ entries: [(String, Tensor)], metadata: [String: String] = [:]) {
        for (key, tensor) in entries { self[key] = tensor }
        self.metadata = metadata
    }

    /// A state dict from a literal, in the literal's order.
    public init(dictionaryLiteral elements: (String, Tensor)...) {
        self.init(elements)
    }

    /// The tensor stored under `key`. Assigning a tensor to a new key appends it; assigning
    /// `nil` removes the key.
    public subscript(key: String) -> Tensor? {
        get { values[key] }
        set {
            if let newValue {
                if values.updateValue(newValue, forKey: key) == nil { keys.append(key) }
            } else if values.removeValue(forKey: key) != nil {
                keys.removeAll { $0 == key }
            }
        }
    }

    /// The number of entries.
    public var count: Int { keys.count }

    /// Whether there are no entries.
    public var isEmpty: Bool { keys.isEmpty }

    /// The tensors in key order.
    public var tensors: [Tensor] { keys.map { values[$0]! } }

    /// The entries in order, as `(key, tensor)` pairs.
    public func makeIterator() -> AnyIterator<(key: String, tensor: Tensor)> {
        var index = 0
        let keys = self.keys, values = self.values
        return AnyIterator {
            guard index < keys.count else { return nil }
            defer { index += 1 }
            return (keys[index], values[keys[index]]!)
        }
    }

    /// The entries whose keys start with `prefix + "."`, with that prefix removed: the state of
    /// one sub-module (`state.scoped(to: "encoder")`).
    public func scoped(to prefix: String) -> StateDict {
        let head = prefix + "."
        var result = StateDict()
        for key in keys where key.hasPrefix(head) { result[String(key.dropFirst(head.count))] = values[key] }
        return result
    }

    /// The entries with `prefix + "."` put in front of every key.
    public func prefixed(with prefix: String) -> StateDict {
        var result = StateDict()
        for key in keys { result[prefix + "." + key] = values[key] }
        result.metadata = metadata
        return result
    }

    /// The keys with shapes and types, one per line.
    public var description: String {
        if keys.isEmpty { return "StateDict()" }
        let lines = keys.map { key -> String in
            let t = values[key]!
            return "  \(key): \(t.dtype) \(t.shape)"
        }
        return "StateDict(\n" + lines.joined(separator: "\n") + "\n)"
    }
}

extension StateDict {
    /// The value of the one-element entry `key`: a hyper-parameter or statistic saved as a tensor.
    /// - Throws: ``StateDictError/missingKey(_:)``, or ``StateDictError/shapeMismatch(key:expected:found:)``
    ///   when the entry does not hold exactly one element.
    public func scalar(_ key: String) throws -> Double {
        guard let tensor = self[key] else { throw StateDictError.missingKey(key) }
        return try StateDict.scalar(of: tensor, key: key)
    }

    /// The value of the one-element entry `key` as a counter (a step, epoch or patience count).
    /// - Throws: as ``scalar(_:)``, and ``StateDictError/incompatible(_:)`` when the value is
    ///   not a whole number in `0...2⁵³` (a damaged file can hold NaN, a negative or a huge
    ///   number; converting those to `Int` would stop the program).
    public func counter(_ key: String) throws -> Int {
        guard let tensor = self[key] else { throw StateDictError.missingKey(key) }
        return try StateDict.counter(of: tensor, key: key)
    }

    /// The value of a one-element tensor read from entry `key` (see ``scalar(_:)``).
    public static func scalar(of tensor: Tensor, key: String) throws -> Double {
        guard tensor.count == 1 else {
            throw StateDictError.shapeMismatch(key: key, expected: [], found: tensor.shape)
        }
        return tensor.item
    }

    /// The value of a one-element tensor read from entry `key` as a counter (see ``counter(_:)``).
    public static func counter(of tensor: Tensor, key: String) throws -> Int {
        let value = try scalar(of: tensor, key: key)
        guard value >= 0, value <= 0x1p53, value == value.rounded() else {
            throw StateDictError.incompatible("'\(key)' holds \(value), not a count")
        }
        return Int(value)
    }
}

/// An error loading a state dict into a module or optimizer: the first key that does not fit.
public enum StateDictError: Error, Equatable, CustomStringConvertible {
    /// The module (or optimizer) has an entry the state dict lacks.
    case missingKey(String)
    /// The state dict has an entry the module (or optimizer) lacks.
    case unexpectedKey(String)
    /// Both have the entry, with different shapes.
    case shapeMismatch(key: String, expected: [Int], found: [Int])
    /// The state cannot be used for another reason (such as state saved by another optimizer).
    case incompatible(String)

    /// A sentence naming the key and, for shapes, both shapes.
    public var description: String {
        switch self {
        case .missingKey(let key):
            return "missing key '\(key)': the state dict has no entry for it"
        case .unexpectedKey(let key):
            return "unexpected key '\(key)': nothing of that name to load it into"
        case .shapeMismatch(let key, let expected, let found):
            return "shape mismatch for '\(key)': expected \(expected), the state dict has \(found)"
        case .incompatible(let reason):
            return "incompatible state: \(reason)"
        }
    }
}
