import Foundation
import LuzTensor

/// The characters of a character-level model and their token numbers: text in, `int64` tokens
/// out, and back.
///
/// Token 0 is the unknown token, which stands for every character outside the vocabulary; the
/// known characters follow as tokens 1…`characters.count`, in the order given (sorted when the
/// vocabulary is built from a text, as char-rnn and minGPT sort theirs, so that the same text
/// always gives the same numbering).
///
/// ```swift
/// let vocabulary = CharacterVocabulary(text: "hello world")   // " dehlorw"
/// let tokens = vocabulary.encode("hello")                      // [4, 3, 5, 5, 6]
/// vocabulary.decode(tokens)                                    // "hello"
/// ```
///
/// It is `Codable` (a JSON object `{"characters": "...", "unknown": "?"}`) and saves to and
/// loads from a file, so that a trained model can be reused with the numbering it learned.
public struct CharacterVocabulary: Sendable, Equatable, Codable {
    /// The known characters, tokens 1…`characters.count` in this order.
    public let characters: [Character]
    /// The character that ``decode(_:)-([Int])`` writes for the unknown token (token 0).
    public let unknown: Character
    private let tokens: [Character: Int]

    /// The token standing for every character outside the vocabulary: 0.
    public static let unknownToken = 0

    /// A vocabulary of the distinct characters of `text`, sorted by their Unicode scalars.
    /// - Parameters:
    ///   - text: the text whose characters are known.
    ///   - unknown: what the unknown token decodes to (U+FFFD, the replacement character, by
    ///     default); it is not one of the known characters even if `text` holds it.
    public init(text: some StringProtocol, unknown: Character = "\u{FFFD}") {
        let distinct = Set(text).subtracting([unknown])
        self.init(validated: distinct.sorted { $0.unicodeScalars.lexicographicallyPrecedes($1.unicodeScalars) },
                  unknown: unknown)
    }

    /// A vocabulary of the given characters, numbered 1, 2, … in their order.
    /// - Parameters:
    ///   - characters: the known characters, each once and none equal to `unknown`.
    ///   - unknown: what the unknown token decodes to (U+FFFD by default).
    public init(characters: some Sequence<Character>, unknown: Character = "\u{FFFD}") {
        let list = Array(characters)
        require(Set(list).count == list.count, "CharacterVocabulary: the characters \(String(list).debugDescription) repeat one")
        require(!list.contains(unknown), "CharacterVocabulary: the unknown character \(String(unknown).debugDescription) is among the characters")
        self.init(validated: list, unknown: unknown)
    }

    private init(validated characters: [Character], unknown: Character) {
        self.characters = characters
        self.unknown = unknown
        var tokens: [Character: Int] = [:]
        for (offset, character) in characters.enumerated() { tokens[character] = offset + 1 }
        self.tokens = tokens
    }

    /// The number of tokens: the known characters and the unknown token.
    public var count: Int { characters.count + 1 }

    /// The token of `character`, or ``unknownToken`` when it is not in the vocabulary.
    public func token(for character: Character) -> Int { tokens[character] ?? Self.unknownToken }

    /// The character of `token`: ``unknown`` for token 0.
    /// - Parameter token: a token in `0..<count`.
    public func character(for token: Int) -> Character {
        require(token >= 0 && token < count, "CharacterVocabulary: token \(token) is outside 0..<\(count)")
        return token == Self.unknownToken ? unknown : characters[token - 1]
    }

    /// The tokens of `text`, one per character; characters outside the vocabulary give
    /// ``unknownToken``.
    public func encode(_ text: some StringProtocol) -> [Int] { text.map { token(for: $0) } }

    /// The tokens of `text` as an `int64` tensor `[text.count]`, the input an ``Embedding``-style
    /// layer takes.
    public func tensor(encoding text: some StringProtocol) -> Tensor {
        Tensor(encode(text).map(Int64.init), shape: [text.count], dtype: .int64)
    }

    /// The text of `tokens`, each in `0..<count`.
    public func decode(_ tokens: [Int]) -> String { String(tokens.map { character(for: $0) }) }

    /// The text of an integer tensor of tokens, read in order whatever its shape.
    public func decode(_ tokens: Tensor) -> String {
        decode(tokens.to(.int64).scalars(as: Int64.self).map { Int($0) })
    }

    /// Two vocabularies are equal when they number the same characters alike.
    public static func == (lhs: CharacterVocabulary, rhs: CharacterVocabulary) -> Bool {
        lhs.characters == rhs.characters && lhs.unknown == rhs.unknown
    }

    private enum CodingKeys: String, CodingKey { case characters, unknown }

    /// Reads `{"characters": "...", "unknown": "?"}`; fails when a character repeats, the
    /// unknown character is among them or it is not exactly one character.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let characters = Array(try container.decode(String.self, forKey: .characters))
        let unknownText = try container.decode(String.self, forKey: .unknown)
        guard unknownText.count == 1, let unknown = unknownText.first else {
            throw DecodingError.dataCorruptedError(forKey: .unknown, in: container,
                                                   debugDescription: "the unknown token must be one character, got \(unknownText.debugDescription)")
        }
        guard Set(characters).count == characters.count, !characters.contains(unknown) else {
            throw DecodingError.dataCorruptedError(forKey: .characters, in: container,
                                                   debugDescription: "the characters repeat one or hold the unknown character")
        }
        self.init(validated: characters, unknown: unknown)
    }

    /// Writes `{"characters": "...", "unknown": "?"}`.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(String(characters), forKey: .characters)
        try container.encode(String(unknown), forKey: .unknown)
    }

    /// Writes the vocabulary to `file` as JSON.
    /// - Throws: ``CharacterVocabularyError/unwritable(file:reason:)`` naming the file.
    public func write(to file: URL) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        do {
            try encoder.encode(self).write(to: file, options: .atomic)
        } catch {
            throw CharacterVocabularyError.unwritable(file: file.path, reason: "\(error)")
        }
    }

    /// Reads a vocabulary written by ``write(to:)``.
    /// - Throws: ``CharacterVocabularyError/unreadable(file:reason:)`` naming the file.
    public init(contentsOf file: URL) throws {
        let data: Data
        do {
            data = try Data(contentsOf: file)
        } catch {
            throw CharacterVocabularyError.unreadable(file: file.path, reason: "cannot be read (\(error.localizedDescription))")
        }
        do {
            self = try JSONDecoder().decode(CharacterVocabulary.self, from: data)
        } catch {
            throw CharacterVocabularyError.unreadable(file: file.path, reason: "is not a character vocabulary (\(error))")
        }
    }
}

/// Why a ``CharacterVocabulary`` file could not be read or written; the message names the file.
public enum CharacterVocabularyError: Error, CustomStringConvertible, LocalizedError {
    /// The file is missing, unreadable or not a vocabulary.
    case unreadable(file: String, reason: String)
    /// The file could not be written.
    case unwritable(file: String, reason: String)

    /// The message, naming the file.
    public var description: String {
        switch self {
        case .unreadable(let file, let reason): return "character vocabulary \(file): \(reason)"
        case .unwritable(let file, let reason): return "character vocabulary \(file): cannot be written (\(reason))"
        }
    }

    /// The same message as ``description``.
    public var errorDescription: String? { description }
}
