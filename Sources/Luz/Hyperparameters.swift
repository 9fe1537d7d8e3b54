import Foundation

/// One hyper-parameter's value: a number, a whole number, a text or a flag.
///
/// Literals make one directly (`8`, `0.5`, `"relu"`, `true`). Numbers and whole numbers that
/// are equal are equal values (`8` and `8.0`), since a saved value is read back as the JSON
/// number it was written as.
public enum HyperparameterValue: Sendable, Equatable, Codable, CustomStringConvertible, ExpressibleByIntegerLiteral,
    ExpressibleByFloatLiteral, ExpressibleByStringLiteral, ExpressibleByBooleanLiteral {
    /// A real number (a rate, a probability).
    case number(Double)
    /// A whole number (a size, a count).
    case integer(Int)
    /// A text (an activation's name, a file).
    case text(String)
    /// A flag.
    case flag(Bool)

    public init(integerLiteral value: Int) { self = .integer(value) }
    public init(floatLiteral value: Double) { self = .number(value) }
    public init(stringLiteral value: String) { self = .text(value) }
    public init(booleanLiteral value: Bool) { self = .flag(value) }

    /// The value as a real number, for a number or a whole number.
    public var number: Double? {
        switch self {
        case .number(let value): value
        case .integer(let value): Double(value)
        case .text, .flag: nil
        }
    }

    public static func == (lhs: HyperparameterValue, rhs: HyperparameterValue) -> Bool {
        switch (lhs, rhs) {
        case (.text(let a), .text(let b)): a == b
        case (.flag(let a), .flag(let b)): a == b
        case (.integer(let a), .integer(let b)): a == b
        default:
            if let a = lhs.number, let b = rhs.number { a == b } else { false }
        }
    }

    public var description: String {
        switch self {
        case .number(let value): "\(value)"
        case .integer(let value): "\(value)"
        case .text(let value): value
        case .flag(let value): "\(value)"
        }
    }

    /// What the value is, for messages: `the text "relu"`, `the number 2.5`.
    var spelledOut: String {
        switch self {
        case .number(let value): "the number \(value)"
        case .integer(let value): "the whole number \(value)"
        case .text(let value): "the text \"\(value)\""
        case .flag(let value): "the flag \(value)"
        }
    }

    public init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let flag = try? container.decode(Bool.self) {
            self = .flag(flag)
        } else if let integer = try? container.decode(Int.self) {
            self = .integer(integer)
        } else if let number = try? container.decode(Double.self) {
            self = .number(number)
        } else {
            self = .text(try container.decode(String.self))
        }
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .number(let value): try container.encode(value)
        case .integer(let value): try container.encode(value)
        case .text(let value): try container.encode(value)
        case .flag(let value): try container.encode(value)
        }
    }
}

/// Named hyper-parameters of a model or an optimizer (luz's `set_hparams` and
/// `set_opt_hparams`): numbers, whole numbers, texts and flags, saved with checkpoints and
/// fitted models and logged to TensorBoard.
///
/// A model factory reads them through accessors that throw with the known names, or decodes
/// them into its own `Decodable` struct, which also catches a name the struct does not have:
///
/// ```swift
/// struct MLPShape: Codable { var din: Int; var dhidden: Int; var dropout: Double? }
/// let setup = TrainingSetup(model: { hyperparameters in
///     let shape = try hyperparameters.decode(MLPShape.self)
///     return MLP(shape)
/// }, loss: CrossEntropyLoss())
/// try setup.hyperparameters(encoding: MLPShape(din: 4, dhidden: 16)).fit(train, epochs: 10)
/// ```
public struct Hyperparameters: ExpressibleByDictionaryLiteral, Codable, Equatable, Sendable, CustomStringConvertible {
    /// The values by name.
    public private(set) var values: [String: HyperparameterValue] = [:]

    /// Hyper-parameters with `values`.
    public init(_ values: [String: HyperparameterValue] = [:]) { self.values = values }

    /// Hyper-parameters that are all numbers.
    public init(numbers: [String: Double]) { values = numbers.mapValues { .number($0) } }

    public init(dictionaryLiteral elements: (String, HyperparameterValue)...) {
        for (name, value) in elements { values[name] = value }
    }

    /// The hyper-parameters of `value`'s stored properties, as its `Encodable` conformance
    /// names them (nested values are not hyper-parameters and are refused).
    /// - Throws: ``LuzError/invalidArgument(_:)`` when `value` does not encode as flat named values.
    public init<T: Encodable>(encoding value: T) throws {
        let data: Data
        do {
            data = try JSONEncoder().encode(value)
        } catch {
            throw LuzError.invalidArgument("hyper-parameters: \(T.self) does not encode: \(error)")
        }
        do {
            values = try JSONDecoder().decode([String: HyperparameterValue].self, from: data)
        } catch {
            throw LuzError.invalidArgument(
                "hyper-parameters: \(T.self) must encode as named numbers, whole numbers, texts and flags (no nested values)")
        }
    }

    /// The value `name`, or `nil`.
    public subscript(name: String) -> HyperparameterValue? {
        get { values[name] }
        set { values[name] = newValue }
    }

    /// A value as a whole number, or `nil` when it is missing or not one (prefer ``integer(_:)``).
    public func int(_ name: String) -> Int? { try? integer(name) }

    /// The value `name`, or an error naming it and the known names: a misspelt hyper-parameter
    /// in a model factory (`try hyperparameters.value("dim")` for `"din"`) stops the fit with a
    /// message instead of a nil unwrapped.
    private func entry(_ name: String) throws -> HyperparameterValue {
        guard let value = values[name] else {
            let known = values.keys.sorted()
            throw LuzError.invalidArgument(
                "no hyper-parameter '\(name)'; " + (known.isEmpty ? "none are set" : "known: \(known.joined(separator: ", "))"))
        }
        return value
    }

    /// The value `name` as a real number (a number or a whole number).
    /// - Throws: ``LuzError/invalidArgument(_:)``: `no hyper-parameter 'dim'; known: din, dhidden`,
    ///   or when the value is a text or a flag.
    public func value(_ name: String) throws -> Double {
        let value = try entry(name)
        guard let number = value.number else {
            throw LuzError.invalidArgument("hyper-parameter '\(name)' is \(value.spelledOut), not a number")
        }
        return number
    }

    /// The value `name` as a whole number (a size or a count).
    /// - Throws: as ``value(_:)``, and when the value is not a whole number in `Int`'s range.
    public func integer(_ name: String) throws -> Int {
        let value = try entry(name)
        if case .integer(let integer) = value { return integer }
        guard let number = value.number, number == number.rounded(), abs(number) < 0x1p62 else {
            throw LuzError.invalidArgument("hyper-parameter '\(name)' is \(value.spelledOut), not a whole number")
        }
        return Int(number)
    }

    /// The value `name` as a flag: a flag, or the numbers 0 (false) and 1 (true).
    /// - Throws: as ``value(_:)``, and for any other value.
    public func flag(_ name: String) throws -> Bool {
        let value = try entry(name)
        if case .flag(let flag) = value { return flag }
        guard let number = value.number, number == 0 || number == 1 else {
            throw LuzError.invalidArgument("hyper-parameter '\(name)' is \(value.spelledOut); a flag is true or false (or 0 or 1)")
        }
        return number == 1
    }

    /// The value `name` as a text.
    /// - Throws: as ``value(_:)``, and when the value is not a text.
    public func text(_ name: String) throws -> String {
        let value = try entry(name)
        guard case .text(let text) = value else {
            throw LuzError.invalidArgument("hyper-parameter '\(name)' is \(value.spelledOut), not a text")
        }
        return text
    }

    /// The hyper-parameters as a `T`, one stored property per name (a model factory's own
    /// struct). Whole numbers decode into `Double` properties too; `Bool` properties take flags.
    ///
    /// - Throws: ``LuzError/invalidArgument(_:)`` naming the hyper-parameter: one `T` needs and
    ///   is missing (with the known names), one whose value does not fit its property, or one
    ///   `T` has no property for (a misspelling that an optional property would otherwise hide).
    public func decode<T: Codable>(_ type: T.Type) throws -> T {
        let decoded: T
        do {
            decoded = try JSONDecoder().decode(T.self, from: JSONEncoder().encode(values))
        } catch let DecodingError.keyNotFound(key, _) {
            _ = try entry(key.stringValue)
            throw LuzError.invalidArgument("\(T.self): no hyper-parameter '\(key.stringValue)'")
        } catch let DecodingError.typeMismatch(expected, context) {
            let name = context.codingPath.first?.stringValue ?? "?"
            let found = values[name].map(\.spelledOut) ?? "missing"
            throw LuzError.invalidArgument("hyper-parameter '\(name)' is \(found); \(T.self) needs \(expected)")
        } catch let DecodingError.valueNotFound(expected, context) {
            let name = context.codingPath.first?.stringValue ?? "?"
            throw LuzError.invalidArgument("hyper-parameter '\(name)' has no value; \(T.self) needs \(expected)")
        } catch let error as LuzError {
            throw error
        } catch {
            throw LuzError.invalidArgument("hyper-parameters do not decode as \(T.self): \(error)")
        }
        // A name the struct does not store is a misspelling (or a stale setting) that an
        // optional property would otherwise hide. The names are those it encodes, and those of
        // its properties (an optional left `nil` encodes nothing).
        let stored = Set(try Hyperparameters(encoding: decoded).values.keys)
            .union(Mirror(reflecting: decoded).children.compactMap(\.label))
        if let unknown = values.keys.sorted().first(where: { !stored.contains($0) }) {
            throw LuzError.invalidArgument(
                "\(T.self) has no hyper-parameter '\(unknown)'; it has \(stored.sorted().joined(separator: ", "))")
        }
        return decoded
    }

    /// These values with `other`'s added (other's win on conflicts).
    public func merging(_ other: Hyperparameters) -> Hyperparameters {
        Hyperparameters(values.merging(other.values) { _, new in new })
    }

    public var description: String {
        values.keys.sorted().map { "\($0): \(values[$0]!)" }.joined(separator: ", ")
    }
}
