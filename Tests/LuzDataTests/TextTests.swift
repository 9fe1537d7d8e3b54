import Foundation
import LuzData
import LuzTensor
import Testing

@Suite("text: character vocabulary and token windows")
struct TextTests {
    @Test("a text's vocabulary is its sorted distinct characters after the unknown token")
    func vocabularyFromText() {
        let vocabulary = CharacterVocabulary(text: "hello world")
        #expect(String(vocabulary.characters) == " dehlorw")
        #expect(vocabulary.count == 9)
        #expect(vocabulary.encode("hello") == [4, 3, 5, 5, 6])
        #expect(vocabulary.decode([4, 3, 5, 5, 6]) == "hello")
        #expect(vocabulary.decode(vocabulary.encode("hello world")) == "hello world")
        // Unknown characters become token 0 and decode to the unknown character.
        #expect(vocabulary.encode("hex!") == [4, 3, 0, 0])
        #expect(vocabulary.decode(vocabulary.encode("hex!")) == "he\u{FFFD}\u{FFFD}")
        let tensor = vocabulary.tensor(encoding: "old")
        #expect(tensor.dtype == .int64 && tensor.shape == [3])
        #expect(tensor.scalars(as: Int64.self) == [6, 5, 2])
        #expect(vocabulary.decode(tensor) == "old")
    }

    @Test("given characters keep their order; the unknown character is chosen")
    func vocabularyFromCharacters() {
        let vocabulary = CharacterVocabulary(characters: "0123456789+ ", unknown: "?")
        #expect(vocabulary.count == 13)
        #expect(vocabulary.encode("12+3") == [2, 3, 11, 4])
        #expect(vocabulary.decode([2, 0, 12]) == "1? ")
        #expect(vocabulary.token(for: "+") == 11)
        #expect(vocabulary.character(for: 0) == "?")
        // The unknown character is not a known one even when the text holds it.
        #expect(CharacterVocabulary(text: "a?b", unknown: "?").characters == ["a", "b"])
    }

    @Test("a vocabulary survives JSON and a file; a bad file's error names it")
    func vocabularyFile() throws {
        let vocabulary = CharacterVocabulary(text: "Luz: tensors, autograd ✓\n")
        let decoded = try JSONDecoder().decode(CharacterVocabulary.self, from: JSONEncoder().encode(vocabulary))
        #expect(decoded == vocabulary)
        #expect(decoded.encode("tensors ✓") == vocabulary.encode("tensors ✓"))

        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("vocabulary-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("vocabulary.json")
        try vocabulary.write(to: file)
        #expect(try CharacterVocabulary(contentsOf: file) == vocabulary)

        let repeated = directory.appendingPathComponent("repeated.json")
        try Data(#"{"characters": "abca", "unknown": "?"}"#.utf8).write(to: repeated)
        #expect {
            try CharacterVocabulary(contentsOf: repeated)
        } throws: { error in
            "\(error)".contains(repeated.path) && "\(error)".contains("not a character vocabulary")
        }
        let missing = directory.appendingPathComponent("missing.json")
        #expect {
            try CharacterVocabulary(contentsOf: missing)
        } throws: { error in "\(error)".contains(missing.path) }
    }

    @Test("windows: input and target shifted by one, with a stride; count is what fits")
    func windows() {
        let windows = TokenWindows(tokens: Array(0..<10), length: 3, stride: 2)
        // Starts 0, 2, 4, 6: the window at 6 needs target 7...9, the one at 8 would need 10.
        #expect(windows.count == 4)
        #expect(windows[1].input.scalars(as: Int64.self) == [2, 3, 4])
        #expect(windows[1].target.scalars(as: Int64.self) == [3, 4, 5])
        #expect(windows[3].target.scalars(as: Int64.self) == [7, 8, 9])
        #expect(TokenWindows(tokens: Array(0..<10), length: 3).count == 7)
        #expect(TokenWindows(tokens: Array(0..<10), length: 9).count == 1)
        #expect(TokenWindows(tokens: Array(0..<10), length: 10).count == 0)

        let batch = windows.batch(at: [3, 0])!
        #expect(batch.input.shape == [2, 3] && batch.target.shape == [2, 3])
        #expect(batch.input.scalars(as: Int64.self) == [6, 7, 8, 0, 1, 2])
        #expect(batch.target.scalars(as: Int64.self) == [7, 8, 9, 1, 2, 3])
        // The fast path equals collating the elements one by one.
        let collated = Example.collated([windows[3], windows[0]])
        #expect(collated.input.scalars(as: Int64.self) == batch.input.scalars(as: Int64.self))
        #expect(collated.target.scalars(as: Int64.self) == batch.target.scalars(as: Int64.self))
    }

    @Test("windows go through a data loader in batches of [batch, length]")
    func windowsInALoader() {
        let vocabulary = CharacterVocabulary(text: "abcdefghij")
        let windows = TokenWindows(tokens: vocabulary.tensor(encoding: "abcdefghijabcdefghij"), length: 4, stride: 4)
        #expect(windows.count == 4)
        let loader = DataLoader(windows, batchSize: 3)
        let batches = Array(loader)
        #expect(batches.map(\.input.shape) == [[3, 4], [1, 4]])
        #expect(vocabulary.decode(batches[0].input[1]) == "efgh")
        #expect(vocabulary.decode(batches[0].target[1]) == "fghi")
    }
}
