import Foundation
import LuzDatasets
import Testing

@Suite("CSV reader")
struct CSVTableTests {
    @Test("quoted fields hold separators, quotes and line breaks")
    func quoting() throws {
        let text = "name,note,value\r\n\"Smith, J.\",\"said \"\"hi\"\"\",1.5\n\"multi\nline\",plain,-2\n"
        let table = try CSVTable(parsing: text)
        #expect(table.columnNames == ["name", "note", "value"])
        #expect(table.rowCount == 2)
        #expect(try table.strings("name") == ["Smith, J.", "multi\nline"])
        #expect(try table.strings("note") == ["said \"hi\"", "plain"])
        #expect(try table.numbers("value") == [1.5, -2])
    }

    @Test("NA and empty cells are missing, a quoted NA is text")
    func missingValues() throws {
        let table = try CSVTable(parsing: "a,b,c\n1,NA,x\n,2,\"NA\"\n3,4,y\n")
        #expect(try table.numbers("a") == [1, nil, 3])
        #expect(try table.numbers("b") == [nil, 2, 4])
        #expect(try table.strings("c") == ["x", "NA", "y"])
        #expect(try table.droppingMissing().rowCount == 1)
        #expect(try table.droppingMissing(in: ["a"]).rowCount == 2)
        #expect(try table.droppingMissing(in: ["c"]).rowCount == 3)
    }

    @Test("column types are inferred; categories follow the given or sorted levels")
    func typedColumns() throws {
        let table = try CSVTable(parsing: "x,kind\n1,b\n2,a\nNA,c\n4,b\n")
        #expect(try table.column("x") == .numbers([1, 2, nil, 4]))
        #expect(try table.column("kind") == .strings(["b", "a", "c", "b"]))
        let sorted = try table.categories("kind")
        #expect(sorted.levels == ["a", "b", "c"] && sorted.codes == [1, 0, 2, 1])
        let ordered = try table.categories("kind", levels: ["c", "b", "a"])
        #expect(ordered.codes == [1, 2, 0, 1] && ordered.counts == [1, 2, 1])
        #expect(throws: DatasetError.self) { try table.categories("kind", levels: ["a", "b"]) }
    }

    @Test("errors name the source and the problem")
    func errors() throws {
        #expect(throws: DatasetError.self) { try CSVTable(parsing: "a,b\n1,2,3\n", source: "bad.csv") }
        do {
            _ = try CSVTable(parsing: "a,b\n1,2\n3\n", source: "bad.csv")
            Issue.record("a short row was accepted")
        } catch {
            #expect("\(error)".contains("bad.csv") && "\(error)".contains("line 3"))
        }
        #expect(throws: DatasetError.self) { try CSVTable(parsing: "a\n\"open\n", source: "q.csv") }
        let table = try CSVTable(parsing: "a,b\n1,x\n")
        #expect(throws: DatasetError.self) { try table.numbers("b") }
        #expect(throws: DatasetError.self) { try table.strings("missing") }
    }

    @Test("blank lines are skipped, a final line without newline is read")
    func blankLines() throws {
        let table = try CSVTable(parsing: "a;b\n\n1;2\n\n3;4", separator: ";")
        #expect(table.rowCount == 2)
        #expect(try table.numbers("b") == [2, 4])
    }
}

@Suite("Palmer penguins")
struct PenguinsTests {
    @Test("the shipped table has 344 rows, 333 complete")
    func table() throws {
        let table = try Penguins.table()
        #expect(table.columnNames == ["species", "island", "bill_length_mm", "bill_depth_mm",
                                      "flipper_length_mm", "body_mass_g", "sex", "year"])
        #expect(table.rowCount == 344)
        #expect(try table.droppingMissing().rowCount == 333)
        #expect(try table.droppingMissing(in: Penguins.measurementColumns).rowCount == 342)
        #expect(try table.categories("species", levels: Penguins.speciesLevels).counts == [152, 68, 124])
    }

    @Test("the default dataset: complete rows, four measurements, species 146 / 68 / 119")
    func dataset() throws {
        let penguins = try Penguins()
        #expect(penguins.count == 333)
        #expect(penguins.features.shape == [333, 4] && penguins.features.dtype == .float32)
        #expect(penguins.labels.shape == [333] && penguins.labels.dtype == .int64)
        #expect(penguins.species.counts == [146, 68, 119])
        #expect(penguins.islands.levels == ["Biscoe", "Dream", "Torgersen"])
        let labels = penguins.labels.scalars(as: Int64.self)
        #expect([0, 1, 2].map { c in labels.filter { $0 == c }.count } == [146, 68, 119])
        // The file lists Adelie, then Gentoo, then Chinstrap. The first row: Adelie, Torgersen, 39.1, 18.7, 181, 3750.
        let first = penguins[0]
        #expect(first.input.scalars(as: Float.self) == [39.1, 18.7, 181, 3750])
        #expect(first.target.item(as: Int64.self) == 0)
        let batch = try #require(penguins.batch(at: [0, 332]))
        #expect(batch.input.shape == [2, 4] && batch.target.scalars(as: Int64.self) == [0, 1])
    }

    @Test("missing values are dropped only in the chosen columns; categorical features are codes")
    func chosenColumns() throws {
        let measured = try Penguins(dropMissingIn: Penguins.measurementColumns)
        #expect(measured.count == 342)
        let withIsland = try Penguins(featureColumns: ["island", "bill_length_mm"], dropMissingIn: [])
        #expect(withIsland.count == 342)
        #expect(withIsland.features[0].scalars(as: Float.self) == [2, 39.1])
    }

    @Test("a number cell is wholly a number: a NUL and what follows it make it text, named by line and column")
    func trailingBytesAreNotANumber() throws {
        let table = try CSVTable(parsing: "a,b\n1,x\n5\u{0}xyz,y\n", source: "nul.csv")
        #expect { try table.numbers("a") } throws: { error in
            "\(error)".contains("nul.csv") && "\(error)".contains("line 3, column a") && "\(error)".contains("not a number")
        }
        #expect(try table.column("a") == .strings(["1", "5\u{0}xyz"]))
    }

    @Test("NaN and infinities as R writes them are read; hexadecimal numbers are not")
    func specialValues() throws {
        let cells = ["NaN", "Inf", "-Inf", "nan", "+infinity", " 7 ", ".5", "5.", "1e3", "-2.5E-2"]
        let table = try CSVTable(parsing: "v\n" + cells.joined(separator: "\n") + "\n")
        let values = try table.numbers("v").map { $0! }
        #expect(values[0].isNaN && values[3].isNaN)
        #expect(Array(values[1...2]) == [.infinity, -.infinity] && values[4] == .infinity)
        #expect(Array(values[5...]) == [7, 0.5, 5, 1000, -0.025])
        for cell in ["0x1A", "0x1p-3", "e5", "1e", ".", "-", "1.2.3", "nan(1)", "3 kg"] {
            #expect(throws: DatasetError.self, "\(cell)") { try CSVTable(parsing: "v\n\(cell)\n").numbers("v") }
        }
    }

    @Test("bytes that are not UTF-8 are an error naming the line and column")
    func invalidUTF8() throws {
        let bytes = Array("a,b\n1,2\n3,".utf8) + [0xC3, 0x28] + Array("\n".utf8)
        #expect { try CSVTable(bytes: bytes, source: "latin.csv") } throws: { error in
            "\(error)".contains("latin.csv") && "\(error)".contains("line 3, column 2") && "\(error)".contains("UTF-8")
        }
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("luz-utf8-\(UUID().uuidString).csv")
        defer { try? FileManager.default.removeItem(at: url) }
        try Data(bytes).write(to: url)
        #expect(throws: DatasetError.self) { try CSVTable(contentsOf: url) }
        #expect(try CSVTable(bytes: Array("a\né\n".utf8)).strings("a") == ["é"])
    }
}
