import Foundation
import LuzTensor

/// A table read from a CSV file: named columns, text cells, missing values as `nil`.
///
/// The reader follows RFC 4180: fields are separated by commas (or another separator), a field
/// in double quotes may hold separators, line breaks and doubled quotes (`""`); both `\n` and
/// `\r\n` end a record. Unquoted cells equal to one of the missing-value markers (by default
/// `NA`, as R writes it, and the empty cell) are missing; a quoted cell is always taken
/// literally, so a category really called "NA" can be written `"NA"`.
///
/// Columns are typed on demand: ``numbers(_:)`` parses a numeric column, ``categories(_:levels:)``
/// codes a text column by its levels, ``column(_:)`` infers the type.
///
/// A file's bytes must be UTF-8: an invalid sequence is an error naming its line and column,
/// not a silent replacement character.
public struct CSVTable: Sendable {
    /// The column names, from the header line.
    public let columnNames: [String]
    /// The cells, row by row; `nil` marks a missing value.
    public let rows: [[String?]]
    /// The name used in error messages (the file's name).
    public let source: String
    /// The line of the file each row starts on, for error messages.
    let rowLines: [Int]

    /// The number of data rows (the header is not counted).
    public var rowCount: Int { rows.count }

    /// Reads a CSV file whose first line names the columns.
    /// - Parameters:
    ///   - url: the file.
    ///   - separator: the field separator.
    ///   - missingValues: the unquoted cell values that mean "missing".
    /// - Throws: ``DatasetError/invalidCSV(file:reason:)`` naming the file and line when a row
    ///   has the wrong number of cells or a quote is not closed.
    public init(contentsOf url: URL, separator: Character = ",", missingValues: Set<String> = ["NA", ""]) throws {
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw DatasetError.io(file: url.lastPathComponent, reason: "cannot read \(url.path): \(error.localizedDescription)")
        }
        try self.init(bytes: [UInt8](data), source: url.lastPathComponent, separator: separator,
                      missingValues: missingValues)
    }

    /// Parses CSV text whose first line names the columns.
    /// - Parameters:
    ///   - text: the CSV content.
    ///   - source: the name used in error messages.
    ///   - separator: the field separator.
    ///   - missingValues: the unquoted cell values that mean "missing".
    public init(parsing text: String, source: String = "CSV text", separator: Character = ",",
                missingValues: Set<String> = ["NA", ""]) throws {
        try self.init(bytes: Array(text.utf8), source: source, separator: separator, missingValues: missingValues)
    }

    /// Parses CSV bytes (UTF-8) whose first line names the columns.
    /// - Throws: ``DatasetError/invalidCSV(file:reason:)`` as ``init(parsing:source:separator:missingValues:)``,
    ///   and naming the line and column of bytes that are not UTF-8.
    public init(bytes: [UInt8], source: String = "CSV bytes", separator: Character = ",",
                missingValues: Set<String> = ["NA", ""]) throws {
        guard let separatorByte = separator.asciiValue, separatorByte != UInt8(ascii: "\"") else {
            throw DatasetError.invalidCSV(file: source, reason: "the separator must be an ASCII character other than a quote")
        }
        var records = try Self.parse(bytes, separator: separatorByte, source: source, missingValues: missingValues)
        guard !records.isEmpty else {
            throw DatasetError.invalidCSV(file: source, reason: "no header line")
        }
        let header = records.removeFirst().cells.map { $0 ?? "" }
        for record in records where record.cells.count != header.count {
            throw DatasetError.invalidCSV(
                file: source,
                reason: "line \(record.line): \(record.cells.count) cells, but the header names \(header.count) columns")
        }
        self.init(columnNames: header, rows: records.map(\.cells), source: source, rowLines: records.map(\.line))
    }

    /// Creates a table from its parts (every row must have one cell per column).
    public init(columnNames: [String], rows: [[String?]], source: String = "table") {
        self.init(columnNames: columnNames, rows: rows, source: source, rowLines: rows.indices.map { $0 + 2 })
    }

    init(columnNames: [String], rows: [[String?]], source: String, rowLines: [Int]) {
        require(rows.allSatisfy { $0.count == columnNames.count },
                "CSVTable: every row must have \(columnNames.count) cells")
        self.columnNames = columnNames
        self.rows = rows
        self.source = source
        self.rowLines = rowLines
    }

    private struct Record {
        var cells: [String?]
        var line: Int
    }

    private static func parse(_ bytes: [UInt8], separator: UInt8, source: String,
                              missingValues: Set<String>) throws -> [Record] {
        let quote = UInt8(ascii: "\""), newline = UInt8(ascii: "\n"), carriageReturn = UInt8(ascii: "\r")
        var records: [Record] = []
        var cells: [String?] = []
        var field: [UInt8] = []
        var quoted = false        // the current field started with a quote
        var inQuotes = false      // inside the quotes of the current field
        var line = 1
        var recordLine = 1
        var recordStarted = false // anything seen on this record: a blank line is no record

        func endField() throws {
            guard let text = String(validating: field, as: UTF8.self) else {
                throw DatasetError.invalidCSV(file: source, reason: "line \(line), column \(cells.count + 1): the bytes are not valid UTF-8")
            }
            cells.append(!quoted && missingValues.contains(text) ? nil : text)
            field.removeAll(keepingCapacity: true)
            quoted = false
        }
        func endRecord() throws {
            if recordStarted {
                try endField()
                records.append(Record(cells: cells, line: recordLine))
            }
            cells.removeAll(keepingCapacity: true)
            recordStarted = false
        }

        var i = 0
        // Skip a UTF-8 byte order mark.
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { i = 3 }
        while i < bytes.count {
            let byte = bytes[i]
            if inQuotes {
                if byte == quote {
                    if i + 1 < bytes.count && bytes[i + 1] == quote {
                        field.append(quote)
                        i += 1
                    } else {
                        inQuotes = false
                    }
                } else {
                    if byte == newline { line += 1 }
                    field.append(byte)
                }
            } else if byte == newline || byte == carriageReturn {
                if byte == carriageReturn && i + 1 < bytes.count && bytes[i + 1] == newline { i += 1 }
                try endRecord()
                line += 1
                recordLine = line
            } else {
                recordStarted = true
                if byte == separator {
                    try endField()
                } else if byte == quote && field.isEmpty && !quoted {
                    quoted = true
                    inQuotes = true
                } else if quoted {
                    throw DatasetError.invalidCSV(
                        file: source, reason: "line \(line): text after the closing quote of a field")
                } else {
                    field.append(byte)
                }
            }
            i += 1
        }
        if inQuotes {
            throw DatasetError.invalidCSV(file: source, reason: "line \(recordLine): a quoted field is never closed")
        }
        try endRecord()
        return records
    }

    /// The position of a column.
    /// - Throws: ``DatasetError/invalidCSV(file:reason:)`` listing the columns when there is
    ///   none of that name.
    public func columnIndex(_ name: String) throws -> Int {
        guard let index = columnNames.firstIndex(of: name) else {
            throw DatasetError.invalidCSV(
                file: source, reason: "no column \"\(name)\"; the columns are \(columnNames.joined(separator: ", "))")
        }
        return index
    }

    /// A column's cells as text.
    public func strings(_ name: String) throws -> [String?] {
        let index = try columnIndex(name)
        return rows.map { $0[index] }
    }

    /// A numeric column; missing cells are `nil`.
    ///
    /// A cell must be wholly a decimal number (`12`, `-0.5`, `.5`, `1e-3`; spaces around it are
    /// ignored) or one of the special values R writes: `NaN`, `Inf`, `-Inf` (also `nan`,
    /// `inf`, `infinity`, in any case), read as Double's NaN and infinities. Hexadecimal
    /// numbers (`0x1A`, `0x1p-3`) are refused: in a CSV file they are more often identifiers
    /// than numbers. Anything after the number (`5\0xyz`, `3 kg`) makes the cell text.
    /// - Throws: ``DatasetError/invalidCSV(file:reason:)`` naming the line and the column when a
    ///   present cell is not a number.
    public func numbers(_ name: String) throws -> [Double?] {
        let index = try columnIndex(name)
        return try rows.enumerated().map { row, cells in
            guard let text = cells[index] else { return nil }
            guard let value = CSVTable.number(text) else {
                throw DatasetError.invalidCSV(
                    file: source, reason: "line \(rowLines[row]), column \(name): \(text.debugDescription) is not a number")
            }
            return value
        }
    }

    /// The value of a cell that is wholly a number (see ``numbers(_:)``), or `nil`.
    static func number(_ cell: String) -> Double? {
        let text = cell.trimmingCharacters(in: .whitespaces)
        let unsigned = text.first == "-" || text.first == "+" ? text.dropFirst() : Substring(text)
        if ["nan", "inf", "infinity"].contains(unsigned.lowercased()) { return Double(text) }
        // sign? (digits (. digits?)? | . digits) ((e|E) sign? digits)?
        var digits = 0, rest = unsigned.utf8[...]
        func skipDigits() -> Int {
            let count = rest.prefix { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }.count
            rest = rest.dropFirst(count)
            return count
        }
        digits += skipDigits()
        if rest.first == UInt8(ascii: ".") {
            rest = rest.dropFirst()
            digits += skipDigits()
        }
        guard digits > 0 else { return nil }
        if rest.first == UInt8(ascii: "e") || rest.first == UInt8(ascii: "E") {
            rest = rest.dropFirst()
            if rest.first == UInt8(ascii: "-") || rest.first == UInt8(ascii: "+") { rest = rest.dropFirst() }
            guard skipDigits() > 0 else { return nil }
        }
        return rest.isEmpty ? Double(text) : nil
    }

    /// A text column coded as a categorical variable (an R factor).
    /// - Parameters:
    ///   - name: the column.
    ///   - levels: the categories in order; `nil` takes the distinct values sorted, as R's
    ///     `factor()` does.
    /// - Throws: ``DatasetError/invalidCSV(file:reason:)`` when a cell is not one of `levels`.
    public func categories(_ name: String, levels: [String]? = nil) throws -> Categorical {
        let cells = try strings(name)
        let levels = levels ?? Array(Set(cells.compactMap { $0 })).sorted()
        var codeOf: [String: Int] = [:]
        for (code, level) in levels.enumerated() { codeOf[level] = code }
        let codes = try cells.enumerated().map { row, cell -> Int? in
            guard let cell else { return nil }
            guard let code = codeOf[cell] else {
                throw DatasetError.invalidCSV(
                    file: source,
                    reason: "line \(rowLines[row]), column \(name): \"\(cell)\" is not one of the levels \(levels.joined(separator: ", "))")
            }
            return code
        }
        return Categorical(levels: levels, codes: codes)
    }

    /// A column with its type inferred: numbers when every present cell parses as one, else text.
    public func column(_ name: String) throws -> CSVColumn {
        if let values = try? numbers(name) { return .numbers(values) }
        return .strings(try strings(name))
    }

    /// The rows with no missing value in `columns` (in every column when `nil`), like R's
    /// `na.omit` or pandas' `dropna(subset:)`.
    public func droppingMissing(in columns: [String]? = nil) throws -> CSVTable {
        let indices = try columns.map { try $0.map(columnIndex) } ?? Array(columnNames.indices)
        let kept = rows.indices.filter { row in indices.allSatisfy { rows[row][$0] != nil } }
        return CSVTable(columnNames: columnNames, rows: kept.map { rows[$0] }, source: source, rowLines: kept.map { rowLines[$0] })
    }
}

/// A column of a ``CSVTable`` with its inferred type.
public enum CSVColumn: Equatable, Sendable {
    /// Every present cell is a number.
    case numbers([Double?])
    /// Text cells.
    case strings([String?])
}

/// A categorical variable: level names and, per row, the index of its level (`nil` if missing).
public struct Categorical: Equatable, Sendable {
    /// The categories, in code order.
    public let levels: [String]
    /// Each row's level index into ``levels``, or `nil` for a missing value.
    public let codes: [Int?]

    /// Creates a categorical variable.
    public init(levels: [String], codes: [Int?]) {
        self.levels = levels
        self.codes = codes
    }

    /// The number of rows of each level, in level order (missing values are not counted).
    public var counts: [Int] {
        var counts = [Int](repeating: 0, count: levels.count)
        for case let code? in codes { counts[code] += 1 }
        return counts
    }
}
