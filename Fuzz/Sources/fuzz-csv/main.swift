import FuzzSupport
import LuzDatasets

// CSV text, then every typed view of every column: errors are thrown, never a crash.
@_cdecl("LLVMFuzzerTestOneInput")
func testOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let text = String(decoding: fuzzInput(data, size), as: UTF8.self)
    for separator: Character in [",", ";"] {
        guard let table = try? CSVTable(parsing: text, source: "fuzz.csv", separator: separator) else { continue }
        for name in table.columnNames {
            _ = try? table.column(name)
            _ = try? table.numbers(name)
            _ = try? table.categories(name).counts
        }
        _ = try? table.droppingMissing()
        _ = try? table.droppingMissing(in: Array(table.columnNames.prefix(1)))
    }
    return 0
}

runFuzzer(testOneInput)
