import Foundation
import LuzTensor

/// BERT's WordPiece tokenizer, with the semantics of Hugging Face's `BertTokenizer` and
/// `BertTokenizerFast`: the text is cleaned, CJK ideographs are split off, accents stripped and
/// letters lower-cased (as the model's settings say), words split at whitespace and
/// punctuation, and each word cut into the longest pieces of the vocabulary from the left, the
/// pieces after the first written with `##`. Special tokens written in the text (`[CLS]`,
/// `[SEP]`, `[PAD]`, `[UNK]`, `[MASK]`) are kept whole.
///
/// ```swift
/// let tokenizer = try WordPieceTokenizer(folder: modelFolder)   // vocab.txt, tokenizer_config.json
/// let batch = tokenizer.encode(batch: ["A cat sat.", "Dogs bark!"], padding: .longest)
/// let ids = batch.idTensor                  // int64 [2, length]
/// let mask = batch.attentionMaskTensor      // 1 = a token, 0 = padding
/// ```
///
/// Characters are Unicode scalars, as in the Rust tokenizer (not Swift's grapheme clusters), so
/// an emoji with a modifier is two characters here as there.
public struct WordPieceTokenizer: Sendable {
    /// The pieces, indexed by id (line `i` of `vocab.txt` has id `i`).
    public let vocabulary: [String]
    private let ids: [String: Int]
    /// Whether letters are lower-cased (`do_lower_case`).
    public let lowercases: Bool
    /// Whether accents are removed (`strip_accents`; by default, when lower-casing).
    public let stripsAccents: Bool
    /// Whether CJK ideographs become words of their own (`tokenize_chinese_chars`).
    public let splitsChineseCharacters: Bool
    /// The longest word cut into pieces; a longer one is the unknown token (100, as BERT's).
    public let maximumCharactersPerWord: Int
    /// The longest encoding the model takes (`model_max_length`), the default truncation length.
    public let modelMaximumLength: Int
    /// The unknown, class, separator, padding and mask tokens.
    public let unknownToken: String, classToken: String, separatorToken: String, paddingToken: String, maskToken: String

    /// Reads `vocabularyFile` (one piece per line) with the given settings (BERT-base-uncased's
    /// by default).
    /// - Throws: ``WordPieceError`` naming the file when it is missing, empty, repeats a piece or
    ///   lacks one of the special tokens.
    public init(vocabularyFile: URL, lowercases: Bool = true, stripsAccents: Bool? = nil,
                splitsChineseCharacters: Bool = true, modelMaximumLength: Int = 512,
                unknownToken: String = "[UNK]", classToken: String = "[CLS]", separatorToken: String = "[SEP]",
                paddingToken: String = "[PAD]", maskToken: String = "[MASK]") throws {
        guard let data = FileManager.default.contents(atPath: vocabularyFile.path) else {
            throw WordPieceError.missingFile(vocabularyFile)
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw WordPieceError.malformed(vocabularyFile, field: "vocabulary", reason: "not UTF-8 text")
        }
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map {
            $0.hasSuffix("\r") ? String($0.dropLast()) : String($0)
        }
        if lines.last == "" { lines.removeLast() }
        guard !lines.isEmpty else { throw WordPieceError.malformed(vocabularyFile, field: "vocabulary", reason: "no pieces") }
        var ids: [String: Int] = [:]
        for (line, piece) in lines.enumerated() {
            guard ids[piece] == nil else {
                throw WordPieceError.malformed(vocabularyFile, field: "line \(line + 1)",
                                               reason: "the piece '\(piece)' is also on line \(ids[piece]! + 1)")
            }
            ids[piece] = line
        }
        for special in [unknownToken, classToken, separatorToken, paddingToken] where ids[special] == nil {
            throw WordPieceError.malformed(vocabularyFile, field: "vocabulary", reason: "the special token \(special) is missing")
        }
        self.vocabulary = lines
        self.ids = ids
        self.lowercases = lowercases
        self.stripsAccents = stripsAccents ?? lowercases
        self.splitsChineseCharacters = splitsChineseCharacters
        self.maximumCharactersPerWord = 100
        self.modelMaximumLength = modelMaximumLength
        self.unknownToken = unknownToken
        self.classToken = classToken
        self.separatorToken = separatorToken
        self.paddingToken = paddingToken
        self.maskToken = maskToken
    }

    /// Reads a model folder in Hugging Face's layout: `vocab.txt` and, when present,
    /// `tokenizer_config.json` (`do_lower_case`, `strip_accents`, `tokenize_chinese_chars`,
    /// `model_max_length` and the special tokens).
    /// - Throws: ``WordPieceError`` naming the file and the field that is wrong.
    public init(folder: URL) throws {
        let configFile = folder.appendingPathComponent("tokenizer_config.json")
        var settings: [String: Any] = [:]
        if let data = FileManager.default.contents(atPath: configFile.path) {
            guard let object = try? JSONSerialization.jsonObject(with: data), let dictionary = object as? [String: Any] else {
                throw WordPieceError.malformed(configFile, field: "the file", reason: "not a JSON object")
            }
            settings = dictionary
        }
        func flag(_ key: String, _ fallback: Bool?) throws -> Bool? {
            guard let value = settings[key], !(value is NSNull) else { return fallback }
            guard let bool = value as? Bool else { throw WordPieceError.malformed(configFile, field: key, reason: "not true or false") }
            return bool
        }
        func token(_ key: String, _ fallback: String) throws -> String {
            guard let value = settings[key], !(value is NSNull) else { return fallback }
            if let string = value as? String { return string }
            if let object = value as? [String: Any], let content = object["content"] as? String { return content }
            throw WordPieceError.malformed(configFile, field: key, reason: "not a token")
        }
        var maximum = 512
        if let value = settings["model_max_length"] as? NSNumber, value.doubleValue < 1e9 { maximum = value.intValue }
        let lowercases = try flag("do_lower_case", true) ?? true
        try self.init(vocabularyFile: folder.appendingPathComponent("vocab.txt"), lowercases: lowercases,
                      stripsAccents: try flag("strip_accents", nil),
                      splitsChineseCharacters: try flag("tokenize_chinese_chars", true) ?? true,
                      modelMaximumLength: maximum,
                      unknownToken: try token("unk_token", "[UNK]"), classToken: try token("cls_token", "[CLS]"),
                      separatorToken: try token("sep_token", "[SEP]"), paddingToken: try token("pad_token", "[PAD]"),
                      maskToken: try token("mask_token", "[MASK]"))
    }

    /// The number of pieces.
    public var count: Int { vocabulary.count }

    /// The id of `piece`, `nil` if the vocabulary lacks it.
    public func id(of piece: String) -> Int? { ids[piece] }

    private var specialTokens: [String] { [classToken, separatorToken, paddingToken, unknownToken, maskToken] }
    private var unknownID: Int { ids[unknownToken]! }

    // MARK: - Tokenizing

    /// The pieces of `text`, without the class and separator tokens.
    public func tokenize(_ text: String) -> [String] {
        var pieces: [String] = []
        for segment in splitSpecialTokens(text) {
            switch segment {
            case .special(let token): pieces.append(token)
            case .text(let text):
                for word in words(of: text) { pieces += wordPieces(of: word) }
            }
        }
        return pieces
    }

    /// The ids of the pieces of `text`, without the class and separator tokens.
    public func tokenIDs(of text: String) -> [Int] {
        tokenize(text).map { ids[$0] ?? unknownID }
    }

    private enum Segment { case text(String), special(String) }

    /// The text cut around the special tokens written in it (matched exactly, before any
    /// normalization, the longest first, as Hugging Face's added tokens).
    private func splitSpecialTokens(_ text: String) -> [Segment] {
        let specials = specialTokens.filter { ids[$0] != nil }.sorted { $0.count > $1.count }
        var segments: [Segment] = []
        var rest = Substring(text)
        var pending = ""
        while !rest.isEmpty {
            if rest.first == "[", let match = specials.first(where: { rest.hasPrefix($0) }) {
                if !pending.isEmpty { segments.append(.text(pending)); pending = "" }
                segments.append(.special(match))
                rest = rest.dropFirst(match.count)
            } else {
                pending.append(rest.removeFirst())
            }
        }
        if !pending.isEmpty { segments.append(.text(pending)) }
        return segments
    }

    /// BERT's normalization and pre-tokenization: the words of `text`, as arrays of scalars.
    private func words(of text: String) -> [[Unicode.Scalar]] {
        // Clean: drop NUL, U+FFFD and control characters, turn whitespace into spaces, and put
        // spaces around CJK ideographs.
        var cleaned = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            if scalar.value == 0 || scalar.value == 0xFFFD || WordPieceTokenizer.isControl(scalar) { continue }
            if WordPieceTokenizer.isWhitespace(scalar) {
                cleaned.append(" ")
            } else if splitsChineseCharacters && WordPieceTokenizer.isChineseCharacter(scalar) {
                cleaned.append(" "); cleaned.append(scalar); cleaned.append(" ")
            } else {
                cleaned.append(scalar)
            }
        }
        var normalized = String(cleaned)
        if stripsAccents {
            normalized = String(String.UnicodeScalarView(
                normalized.decomposedStringWithCanonicalMapping.unicodeScalars.filter { $0.properties.generalCategory != .nonspacingMark }))
        }
        if lowercases { normalized = normalized.lowercased() }
        // Split at whitespace (dropped) and punctuation (kept as words of one character).
        var words: [[Unicode.Scalar]] = []
        var current: [Unicode.Scalar] = []
        for scalar in normalized.unicodeScalars {
            if scalar.properties.isWhitespace {
                if !current.isEmpty { words.append(current); current = [] }
            } else if WordPieceTokenizer.isPunctuation(scalar) {
                if !current.isEmpty { words.append(current); current = [] }
                words.append([scalar])
            } else {
                current.append(scalar)
            }
        }
        if !current.isEmpty { words.append(current) }
        return words
    }

    /// Greedy longest-match-first pieces of one word; the unknown token if some part matches
    /// no piece or the word is too long.
    private func wordPieces(of word: [Unicode.Scalar]) -> [String] {
        if word.count > maximumCharactersPerWord { return [unknownToken] }
        var pieces: [String] = []
        var start = 0
        while start < word.count {
            var end = word.count
            var found: String?
            while start < end {
                var candidate = String(String.UnicodeScalarView(word[start..<end]))
                if start > 0 { candidate = "##" + candidate }
                if ids[candidate] != nil { found = candidate; break }
                end -= 1
            }
            guard let found else { return [unknownToken] }
            pieces.append(found)
            start = end
        }
        return pieces
    }

    static func isWhitespace(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar {
        case " ", "\t", "\n", "\r": return true
        default: return scalar.properties.generalCategory == .spaceSeparator
        }
    }

    static func isControl(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar {
        case "\t", "\n", "\r": return false
        default:
            let category = scalar.properties.generalCategory
            return category == .control || category == .format
        }
    }

    static func isPunctuation(_ scalar: Unicode.Scalar) -> Bool {
        let v = scalar.value
        if (33...47).contains(v) || (58...64).contains(v) || (91...96).contains(v) || (123...126).contains(v) { return true }
        switch scalar.properties.generalCategory {
        case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation,
             .initialPunctuation, .finalPunctuation, .otherPunctuation: return true
        default: return false
        }
    }

    static func isChineseCharacter(_ scalar: Unicode.Scalar) -> Bool {
        let v = scalar.value
        return (0x4E00...0x9FFF).contains(v) || (0x3400...0x4DBF).contains(v) || (0x20000...0x2A6DF).contains(v)
            || (0x2A700...0x2B73F).contains(v) || (0x2B740...0x2B81F).contains(v) || (0x2B820...0x2CEAF).contains(v)
            || (0xF900...0xFAFF).contains(v) || (0x2F800...0x2FA1F).contains(v)
    }

    // MARK: - Encoding

    /// How encodings are padded.
    public enum Padding: Sendable, Equatable {
        /// No padding.
        case none
        /// To the longest encoding of the batch.
        case longest
        /// To a fixed length (encodings longer than it are not cut: truncate for that).
        case toLength(Int)
    }

    /// `[CLS] text [SEP]` (and `pair [SEP]`) as ids, with token types (0 for the first
    /// segment and its special tokens, 1 for the pair's) and the attention mask.
    ///
    /// - Parameters:
    ///   - maximumLength: truncate to this many tokens, special tokens included, cutting the
    ///     ends of the segments: of a pair, the shorter keeps at most half the room and the longer
    ///     the rest (Hugging Face's `longest_first`); `nil` keeps everything.
    ///   - padding: pad with the padding token (type 0, mask 0) to this length.
    public func encode(_ text: String, pair: String? = nil, maximumLength: Int? = nil,
                       padding: Padding = .none) -> TokenizedText {
        var first = tokenIDs(of: text)
        var second = pair.map { tokenIDs(of: $0) }
        if let maximumLength {
            let specials = second == nil ? 2 : 3
            require(maximumLength >= specials,
                    "WordPieceTokenizer.encode: a maximum length of \(maximumLength) leaves no room for the \(specials) special tokens")
            let room = maximumLength - specials
            if var other = second {
                if first.count + other.count > room {
                    // The shorter segment keeps at most half the room (the first one on a tie),
                    // the longer one the rest: Hugging Face's `longest_first`.
                    if first.count <= other.count {
                        first.removeLast(Swift.max(0, first.count - room / 2))
                        other.removeLast(Swift.max(0, other.count - (room - first.count)))
                    } else {
                        other.removeLast(Swift.max(0, other.count - room / 2))
                        first.removeLast(Swift.max(0, first.count - (room - other.count)))
                    }
                    second = other
                }
            } else if first.count > room {
                first.removeLast(first.count - room)
            }
        }
        let cls = ids[classToken]!, sep = ids[separatorToken]!
        var ids = [cls] + first + [sep]
        var types = [Int](repeating: 0, count: ids.count)
        if let second {
            ids += second + [sep]
            types += [Int](repeating: 1, count: second.count + 1)
        }
        var encoding = TokenizedText(ids: ids, tokenTypes: types, attentionMask: [Int](repeating: 1, count: ids.count))
        if case .toLength(let length) = padding { encoding.pad(to: length, with: self.ids[paddingToken]!) }
        return encoding
    }

    /// Encodes every text (with its pair, when `pairs` is given) and pads them to one length:
    /// the longest by default, so that the batch is a matrix.
    public func encode(batch texts: [String], pairs: [String]? = nil, maximumLength: Int? = nil,
                       padding: Padding = .longest) -> TokenizedBatch {
        if let pairs {
            require(pairs.count == texts.count,
                    "WordPieceTokenizer.encode: \(texts.count) texts but \(pairs.count) pairs")
        }
        var encodings = texts.indices.map { i in
            encode(texts[i], pair: pairs?[i], maximumLength: maximumLength, padding: .none)
        }
        let length: Int?
        switch padding {
        case .none: length = nil
        case .longest: length = encodings.map(\.ids.count).max() ?? 0
        case .toLength(let n): length = n
        }
        if let length {
            for i in encodings.indices { encodings[i].pad(to: length, with: ids[paddingToken]!) }
        }
        return TokenizedBatch(encodings: encodings)
    }

    /// The text of `ids`: pieces joined with spaces and `##` pieces glued to the one before.
    /// Special tokens are left out unless asked for. `cleaningUpSpaces` removes the space before
    /// `.`, `,`, `?` and `!`, as Hugging Face's `clean_up_tokenization_spaces` does for BERT in
    /// `transformers` 5 (it leaves `don ' t` as it is).
    public func decode(_ tokenIDs: [Int], skippingSpecialTokens: Bool = true, cleaningUpSpaces: Bool = true) -> String {
        let specials = Set(specialTokens)
        var text = ""
        for id in tokenIDs {
            let piece = id >= 0 && id < vocabulary.count ? vocabulary[id] : unknownToken
            if skippingSpecialTokens && specials.contains(piece) { continue }
            if piece.hasPrefix("##") {
                text += piece.dropFirst(2)
            } else {
                if !text.isEmpty { text += " " }
                text += piece
            }
        }
        guard cleaningUpSpaces else { return text }
        for (spaced, tight) in [(" .", "."), (" ?", "?"), (" !", "!"), (" ,", ",")] {
            text = text.replacingOccurrences(of: spaced, with: tight)
        }
        return text
    }
}

/// One encoded text: ids, token types and attention mask, all of one length.
public struct TokenizedText: Sendable, Equatable {
    /// The token ids, with `[CLS]`, `[SEP]` and any padding.
    public var ids: [Int]
    /// 0 for the first segment, 1 for the second (`token_type_ids`).
    public var tokenTypes: [Int]
    /// 1 for a token, 0 for padding (Hugging Face's convention: 1 = attend).
    public var attentionMask: [Int]

    /// Creates an encoding from its three rows.
    public init(ids: [Int], tokenTypes: [Int], attentionMask: [Int]) {
        self.ids = ids
        self.tokenTypes = tokenTypes
        self.attentionMask = attentionMask
    }

    mutating func pad(to length: Int, with paddingID: Int) {
        let missing = length - ids.count
        guard missing > 0 else { return }
        ids += [Int](repeating: paddingID, count: missing)
        tokenTypes += [Int](repeating: 0, count: missing)
        attentionMask += [Int](repeating: 0, count: missing)
    }
}

/// A batch of encodings of one length, as arrays and as int64 tensors `[batch, length]`.
public struct TokenizedBatch: Sendable {
    /// The encodings, in the order of the texts.
    public let encodings: [TokenizedText]

    /// The ids as an int64 `[batch, length]` tensor (`input_ids`).
    public var idTensor: Tensor { matrix(\.ids) }
    /// The attention mask as an int64 `[batch, length]` tensor (1 = a token, 0 = padding).
    public var attentionMaskTensor: Tensor { matrix(\.attentionMask) }
    /// The token types as an int64 `[batch, length]` tensor (`token_type_ids`).
    public var tokenTypeTensor: Tensor { matrix(\.tokenTypes) }

    private func matrix(_ row: KeyPath<TokenizedText, [Int]>) -> Tensor {
        let length = encodings.first?[keyPath: row].count ?? 0
        for (i, encoding) in encodings.enumerated() {
            require(encoding[keyPath: row].count == length,
                    "TokenizedBatch: encoding \(i) has \(encoding[keyPath: row].count) tokens, encoding 0 has \(length); pad the batch to make a tensor")
        }
        return Tensor(encodings.flatMap { $0[keyPath: row].map(Int64.init) }, shape: [encodings.count, length])
    }
}

/// Why a tokenizer's files could not be read.
public enum WordPieceError: Error, CustomStringConvertible, LocalizedError {
    /// The file does not exist or cannot be read.
    case missingFile(URL)
    /// The file was read but `field` is wrong.
    case malformed(URL, field: String, reason: String)

    public var description: String {
        switch self {
        case .missingFile(let file): return "\(file.path): no such file (a WordPiece vocabulary, one piece per line)"
        case .malformed(let file, let field, let reason): return "\(file.path): \(field): \(reason)"
        }
    }

    public var errorDescription: String? { description }
}
