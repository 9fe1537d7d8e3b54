import Foundation
import Testing

/// The package root: three levels above this file (Tests/LuzExamplesTests/ReadmeTests.swift).
let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()

/// The ```swift blocks of a Markdown text, each as its lines.
func swiftBlocks(in markdown: String) -> [[String]] {
    var blocks: [[String]] = []
    var current: [String]?
    for line in markdown.components(separatedBy: "\n") {
        let trimmed = line.trimmingCharacters(in: .whitespaces)
        if current == nil, trimmed == "```swift" {
            current = []
        } else if current != nil, trimmed == "```" {
            blocks.append(current!)
            current = nil
        } else {
            current?.append(line)
        }
    }
    return blocks
}

/// Lines without their leading and trailing blanks, blank lines dropped: indentation inside a
/// function does not count as a difference.
func normalized(_ lines: [String]) -> [String] {
    lines.map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
}

@Suite("README")
struct ReadmeTests {
    @Test("Every swift block of README.md is compiled, verbatim, in ReadmeSnippets.swift")
    func snippetsCompile() throws {
        let readme = try String(contentsOf: packageRoot.appendingPathComponent("README.md"), encoding: .utf8)
        let snippets = try String(
            contentsOf: packageRoot.appendingPathComponent("Tests/LuzExamplesTests/ReadmeSnippets.swift"), encoding: .utf8)
        let source = normalized(snippets.components(separatedBy: "\n"))
        let blocks = swiftBlocks(in: readme)
        #expect(blocks.count >= 7, "README.md has \(blocks.count) swift blocks")
        for block in blocks {
            let lines = normalized(block)
            // Imports go to the top of the file, where Swift wants them.
            let imports = lines.filter { $0.hasPrefix("import ") }
            let body = lines.filter { !$0.hasPrefix("import ") }
            for line in imports { #expect(source.contains(line), "ReadmeSnippets.swift lacks \(line)") }
            let found = body.isEmpty || source.indices.contains { start in
                start + body.count <= source.count && Array(source[start..<(start + body.count)]) == body
            }
            #expect(found, "this README block is not in ReadmeSnippets.swift:\n\(block.joined(separator: "\n"))")
        }
    }

    @Test("The README gives the command that runs the examples and the one that runs the tests")
    func commands() throws {
        let readme = try String(contentsOf: packageRoot.appendingPathComponent("README.md"), encoding: .utf8)
        #expect(readme.contains("\nswift run -c release luz-examples\n"))
        #expect(readme.contains("\nswift test\n"))
    }
}
