import Foundation
import LuzTensor
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An error reading or writing a weight file; ``description`` names the file and the problem.
public struct WeightFileError: Error, CustomStringConvertible {
    /// The path of the file.
    public let file: String
    /// What went wrong.
    public let reason: String

    /// Creates an error for `file`.
    public init(file: String, reason: String) {
        self.file = file
        self.reason = reason
    }

    /// The file and the problem: `weights.safetensors: truncated: …`.
    public var description: String { "\(file): \(reason)" }
}

/// The safetensors format (Hugging Face's `safetensors`, which PyTorch, JAX and NumPy read):
///
/// ```
/// [8 bytes: header length N, unsigned little-endian]
/// [N bytes: JSON header, UTF-8, padded with spaces]
///     {"__metadata__": {"key": "value"},
///      "layers.0.weight": {"dtype": "F32", "shape": [16, 4], "data_offsets": [0, 256]}, ...}
/// [the tensors' bytes, little-endian, row-major; offsets are relative to this section]
/// ```
///
/// Reading validates everything against the file before trusting it: the header length
/// against the file size (before allocating), the JSON's structure, each dtype and shape,
/// each byte range (inside the data section, of the size the shape and dtype imply, not
/// overlapping another). A bad file is a thrown ``WeightFileError``, never a crash.
/// Writing goes to a temporary file in the same directory that is renamed over the target,
/// so a crash mid-write never leaves a half-written file under the final name.
public enum SafeTensors {
    /// The largest header accepted (the reference implementation's limit).
    static let maximumHeaderLength = 100_000_000

    // MARK: - Writing

    /// The metadata key of the tensors' checksums: a JSON object from tensor name to the CRC-32
    /// of its bytes (eight hex digits). Written for every tensor, checked on reading when present
    /// (files from other writers have none), and not part of the metadata a reader sees.
    static let checksumKey = "luz.crc32"

    /// The complete file contents for `state`.
    public static func encode(_ state: StateDict) -> [UInt8] {
        var data: [UInt8] = []
        var offsets: [(Int, Int)] = []
        var checksums: [String] = []
        for (key, tensor) in state {
            let begin = data.count
            appendLittleEndian(tensor, to: &data)
            offsets.append((begin, data.count))
            let crc = data.withUnsafeBytes { CRC32.checksum(UnsafeRawBufferPointer(rebasing: $0[begin...])) }
            checksums.append("\(jsonString(key)):\"\(CRC32.hex(crc))\"")
        }
        var metadata = state.metadata
        if !state.isEmpty { metadata[checksumKey] = "{" + checksums.joined(separator: ",") + "}" }
        var header = "{"
        var first = true
        if !metadata.isEmpty {
            header += "\"__metadata__\":{"
            header += metadata.keys.sorted().map { "\(jsonString($0)):\(jsonString(metadata[$0]!))" }
                .joined(separator: ",")
            header += "}"
            first = false
        }
        for (index, (key, tensor)) in state.enumerated() {
            if !first { header += "," }
            first = false
            let shape = tensor.shape.map(String.init).joined(separator: ",")
            header += "\(jsonString(key)):{\"dtype\":\"\(code(for: tensor.dtype))\",\"shape\":[\(shape)],"
            header += "\"data_offsets\":[\(offsets[index].0),\(offsets[index].1)]}"
        }
        header += "}"
        var headerBytes = Array(header.utf8)
        // Pad so the data section starts 8-byte aligned, as the reference writer does.
        while (8 + headerBytes.count) % 8 != 0 { headerBytes.append(0x20) }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(8 + headerBytes.count + data.count)
        var length = UInt64(headerBytes.count).littleEndian
        withUnsafeBytes(of: &length) { bytes.append(contentsOf: $0) }
        bytes.append(contentsOf: headerBytes)
        bytes.append(contentsOf: data)
        return bytes
    }

    /// Writes `state` to `path` in the safetensors format, through a temporary file renamed
    /// into place.
    public static func write(_ state: StateDict, to path: String) throws {
        try writeAtomically(encode(state), to: path)
    }

    static func code(for dtype: DType) -> String {
        switch dtype {
        case .float32: return "F32"
        case .float64: return "F64"
        case .int64: return "I64"
        case .bool: return "BOOL"
        }
    }

    private static func appendLittleEndian(_ tensor: Tensor, to bytes: inout [UInt8]) {
        func append<T: TensorScalar>(_: T.Type) {
            tensor.withUnsafeBufferPointer(as: T.self) { buffer in
                #if _endian(big)
                for value in buffer {
                    var v = value
                    withUnsafeBytes(of: &v) { bytes.append(contentsOf: $0.reversed()) }
                }
                #else
                bytes.append(contentsOf: UnsafeRawBufferPointer(buffer))
                #endif
            }
        }
        switch tensor.dtype {
        case .float32: append(Float.self)
        case .float64: append(Double.self)
        case .int64: append(Int64.self)
        case .bool:
            tensor.withUnsafeBufferPointer(as: Bool.self) { buffer in
                for value in buffer { bytes.append(value ? 1 : 0) }
            }
        }
    }

    static func jsonString(_ string: String) -> String {
        var out = "\""
        for scalar in string.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 {
                    out += String(format: "\\u%04x", scalar.value)
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }

    /// Writes `bytes` through ``AtomicFileWriter``: a temporary file next to `path`, flushed
    /// and renamed over it. A failure leaves the previous file intact and no temporary file.
    static func writeAtomically(_ bytes: [UInt8], to path: String) throws {
        do {
            try AtomicFileWriter.write(bytes, to: path)
        } catch let error as FileWriteError {
            throw WeightFileError(file: path, reason: error.reason)
        }
    }

    // MARK: - Reading

    /// Reads a safetensors file.
    ///
    /// Supported dtypes: `F32`, `F64`, `I64`, `BOOL` (Luz's own), plus `F16` and `BF16`
    /// (converted to float32) and `I32`, `I16`, `I8`, `U8` (converted to int64), so that
    /// checkpoints saved elsewhere load too.
    public static func read(from path: String) throws -> StateDict {
        // O_NONBLOCK: opening a FIFO (or a device) must not wait for a writer; only regular
        // files are read, which the fstat below checks before any read.
        let descriptor = open(path, O_RDONLY | O_NONBLOCK)
        guard descriptor >= 0 else {
            throw WeightFileError(file: path, reason: "cannot open: \(String(cString: strerror(errno)))")
        }
        defer { close(descriptor) }
        var info = stat()
        guard fstat(descriptor, &info) == 0 else {
            throw WeightFileError(file: path, reason: "cannot stat: \(String(cString: strerror(errno)))")
        }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            throw WeightFileError(file: path, reason: "not a regular file (a directory, FIFO, socket or device)")
        }
        let fileSize = Int(info.st_size)
        return try decode(file: path, size: fileSize) { offset, destination, count in
            var done = 0
            while done < count {
                let n = pread(descriptor, destination + done, count - done, off_t(offset + done))
                if n < 0 && errno == EINTR { continue }
                guard n > 0 else {
                    throw WeightFileError(file: path, reason: "read failed at byte \(offset + done): \(n == 0 ? "unexpected end of file" : String(cString: strerror(errno)))")
                }
                done += n
            }
        }
    }

    /// Decodes safetensors bytes held in memory; `name` appears in errors.
    public static func decode(_ bytes: [UInt8], name: String = "<memory>") throws -> StateDict {
        try bytes.withUnsafeBytes { raw in
            try decode(file: name, size: raw.count) { offset, destination, count in
                if count > 0 { memcpy(destination, raw.baseAddress! + offset, count) }
            }
        }
    }

    private struct Entry {
        let key: String
        let dtype: String
        let shape: [Int]
        let begin: Int
        let end: Int
    }

    /// Decodes a file of `size` bytes whose byte ranges are read through `readBytes(offset, destination, count)`.
    private static func decode(file: String, size: Int,
                               readBytes: (Int, UnsafeMutableRawPointer, Int) throws -> Void) throws -> StateDict {
        func fail(_ reason: String) -> WeightFileError { WeightFileError(file: file, reason: reason) }
        guard size >= 8 else {
            throw fail("truncated: \(size) bytes, too short for the 8-byte header length")
        }
        var lengthBytes = [UInt8](repeating: 0, count: 8)
        try lengthBytes.withUnsafeMutableBytes { try readBytes(0, $0.baseAddress!, 8) }
        let declared = lengthBytes.enumerated().reduce(UInt64(0)) { $0 | (UInt64($1.element) << (8 * UInt64($1.offset))) }
        guard declared <= UInt64(size - 8) else {
            throw fail("truncated: the header length says \(declared) bytes but only \(size - 8) follow it")
        }
        guard declared <= UInt64(maximumHeaderLength) else {
            throw fail("malformed: header length \(declared) exceeds the limit of \(maximumHeaderLength) bytes")
        }
        let headerLength = Int(declared)
        var headerBytes = [UInt8](repeating: 0, count: headerLength)
        if headerLength > 0 {
            try headerBytes.withUnsafeMutableBytes { try readBytes(8, $0.baseAddress!, headerLength) }
        }
        let json: JSONValue
        do {
            json = try JSONParser.parse(headerBytes)
        } catch let error as JSONParser.Failure {
            throw fail("malformed header: \(error.message)")
        }
        guard case .object(let members) = json else { throw fail("malformed header: not a JSON object") }

        let dataStart = 8 + headerLength
        let dataSize = size - dataStart
        var metadata: [String: String] = [:]
        var entries: [Entry] = []
        var seenKeys = Set<String>()
        for (key, value) in members {
            guard seenKeys.insert(key).inserted else { throw fail("malformed header: duplicate key '\(key)'") }
            if key == "__metadata__" {
                guard case .object(let pairs) = value else { throw fail("malformed header: __metadata__ is not an object") }
                for (k, v) in pairs {
                    guard case .string(let s) = v else { throw fail("malformed header: __metadata__ value for '\(k)' is not a string") }
                    metadata[k] = s
                }
                continue
            }
            guard case .object(let fields) = value else { throw fail("malformed header: entry '\(key)' is not an object") }
            var dtype: String?
            var shape: [Int]?
            var offsets: [Int]?
            for (name, field) in fields {
                switch name {
                case "dtype":
                    guard case .string(let s) = field else { throw fail("malformed header: dtype of '\(key)' is not a string") }
                    dtype = s
                case "shape":
                    shape = try integers(field, what: "shape of '\(key)'", fail)
                case "data_offsets":
                    offsets = try integers(field, what: "data_offsets of '\(key)'", fail)
                default:
                    continue
                }
            }
            guard let dtype else { throw fail("malformed header: '\(key)' has no dtype") }
            guard let shape else { throw fail("malformed header: '\(key)' has no shape") }
            guard let offsets, offsets.count == 2 else { throw fail("malformed header: '\(key)' needs data_offsets [begin, end]") }
            guard let elementSize = byteCount(ofCode: dtype) else {
                throw fail("unsupported dtype '\(dtype)' for '\(key)'")
            }
            // The byte size of the shape without its zero dimensions must fit too, as the
            // reference implementation demands: [0, 2^62, 2^62] holds no bytes but no tensor
            // op could index it.
            var bytes = elementSize, nonzeroBytes = elementSize
            for dimension in shape {
                let (product, overflow) = bytes.multipliedReportingOverflow(by: dimension)
                let (nonzero, nonzeroOverflow) = nonzeroBytes.multipliedReportingOverflow(by: Swift.max(dimension, 1))
                guard !overflow, !nonzeroOverflow else { throw fail("malformed header: shape \(shape) of '\(key)' is too large") }
                bytes = product
                nonzeroBytes = nonzero
            }
            let (begin, end) = (offsets[0], offsets[1])
            guard begin <= end else { throw fail("malformed header: data_offsets [\(begin), \(end)] of '\(key)' are reversed") }
            guard end <= dataSize else {
                throw fail("truncated: '\(key)' needs bytes \(begin)..<\(end) of the data section, which has \(dataSize)")
            }
            guard end - begin == bytes else {
                throw fail("malformed header: '\(key)' (\(dtype), shape \(shape)) needs \(bytes) bytes, data_offsets give \(end - begin)")
            }
            entries.append(Entry(key: key, dtype: dtype, shape: shape, begin: begin, end: end))
        }
        // The tensors tile the data section exactly, as the reference implementation demands:
        // no overlap, no gap between them, nothing before the first or after the last.
        let byPosition = entries.sorted { ($0.begin, $0.end) < ($1.begin, $1.end) }
        var position = 0
        var previous: String?
        for entry in byPosition {
            if entry.begin < position {
                throw fail("malformed header: the bytes of '\(previous ?? "")' and '\(entry.key)' overlap")
            }
            if entry.begin > position {
                throw fail("malformed header: bytes \(position)..<\(entry.begin) of the data section, before '\(entry.key)', belong to no tensor")
            }
            position = entry.end
            previous = entry.key
        }
        guard position == dataSize else {
            throw fail("malformed header: bytes \(position)..<\(dataSize) at the end of the data section belong to no tensor")
        }
        let checksums = try metadata.removeValue(forKey: checksumKey).map { try parseChecksums($0, keys: entries.map(\.key), fail) }
        var state = StateDict()
        state.metadata = metadata
        for entry in entries {
            state[entry.key] = try decodeTensor(entry, dataStart: dataStart, checksum: checksums?[entry.key], file: file,
                                                readBytes: readBytes)
        }
        return state
    }

    /// The checksums of the `luz.crc32` metadata entry: one for each of `keys`, no other.
    private static func parseChecksums(_ text: String, keys: [String], _ fail: (String) -> WeightFileError) throws -> [String: UInt32] {
        guard let json = try? JSONParser.parse(Array(text.utf8)), case .object(let members) = json else {
            throw fail("malformed metadata: \(checksumKey) is not a JSON object")
        }
        var checksums: [String: UInt32] = [:]
        for (key, value) in members {
            guard case .string(let hex) = value, hex.count == 8, let crc = UInt32(hex, radix: 16) else {
                throw fail("malformed metadata: \(checksumKey) for '\(key)' is not eight hex digits")
            }
            checksums[key] = crc
        }
        let expected = Set(keys)
        if let missing = keys.first(where: { checksums[$0] == nil }) {
            throw fail("malformed metadata: \(checksumKey) has no checksum for '\(missing)'")
        }
        if let extra = checksums.keys.sorted().first(where: { !expected.contains($0) }) {
            throw fail("malformed metadata: \(checksumKey) names '\(extra)', which the file does not hold")
        }
        return checksums
    }

    private static func integers(_ value: JSONValue, what: String, _ fail: (String) -> WeightFileError) throws -> [Int] {
        guard case .array(let items) = value else { throw fail("malformed header: \(what) is not an array") }
        return try items.map { item in
            guard case .integer(let n) = item, n >= 0 else {
                throw fail("malformed header: \(what) holds something other than a non-negative integer")
            }
            return n
        }
    }

    private static func byteCount(ofCode code: String) -> Int? {
        switch code {
        case "F64", "I64": return 8
        case "F32", "I32": return 4
        case "F16", "BF16", "I16": return 2
        case "I8", "U8", "BOOL": return 1
        default: return nil
        }
    }

    private static func decodeTensor(_ entry: Entry, dataStart: Int, checksum: UInt32?, file: String,
                                     readBytes: (Int, UnsafeMutableRawPointer, Int) throws -> Void) throws -> Tensor {
        let offset = dataStart + entry.begin
        let byteCount = entry.end - entry.begin
        /// Checks the bytes as read from the file against the stored checksum.
        func verify(_ bytes: UnsafeRawBufferPointer) throws {
            guard let checksum else { return }
            let found = CRC32.checksum(bytes)
            guard found == checksum else {
                throw WeightFileError(file: file, reason: "damaged: the bytes of '\(entry.key)' do not match their checksum (CRC-32 \(CRC32.hex(found)), stored \(CRC32.hex(checksum)))")
            }
        }
        func direct<T: TensorScalar>(_: T.Type) throws -> Tensor {
            try Tensor(shape: entry.shape) { (buffer: UnsafeMutableBufferPointer<T>) in
                if byteCount > 0 { try readBytes(offset, UnsafeMutableRawPointer(buffer.baseAddress!), byteCount) }
                try verify(UnsafeRawBufferPointer(start: buffer.baseAddress, count: byteCount))
                #if _endian(big)
                let raw = UnsafeMutableRawBufferPointer(buffer)
                let size = MemoryLayout<T>.size
                for i in 0..<buffer.count { raw[(i * size)..<((i + 1) * size)].reverse() }
                #endif
            }
        }
        /// Reads raw bytes, then converts each element with `convert(bytes of one element)`.
        func converted<T: TensorScalar>(_: T.Type, size: Int, _ convert: (UnsafeRawPointer) -> T) throws -> Tensor {
            var raw = [UInt8](repeating: 0, count: byteCount)
            if byteCount > 0 { try raw.withUnsafeMutableBytes { try readBytes(offset, $0.baseAddress!, byteCount) } }
            try raw.withUnsafeBytes { try verify($0) }
            return raw.withUnsafeBytes { bytes in
                Tensor(shape: entry.shape) { (buffer: UnsafeMutableBufferPointer<T>) in
                    for i in 0..<buffer.count { buffer[i] = convert(bytes.baseAddress! + i * size) }
                }
            }
        }
        func littleEndian<I: FixedWidthInteger>(_ p: UnsafeRawPointer, _: I.Type) -> I {
            I(littleEndian: p.loadUnaligned(as: I.self))
        }
        switch entry.dtype {
        case "F32": return try direct(Float.self)
        case "F64": return try direct(Double.self)
        case "I64": return try direct(Int64.self)
        case "BOOL": return try converted(Bool.self, size: 1) { $0.load(as: UInt8.self) != 0 }
        case "I32": return try converted(Int64.self, size: 4) { Int64(littleEndian($0, Int32.self)) }
        case "I16": return try converted(Int64.self, size: 2) { Int64(littleEndian($0, Int16.self)) }
        case "I8": return try converted(Int64.self, size: 1) { Int64($0.load(as: Int8.self)) }
        case "U8": return try converted(Int64.self, size: 1) { Int64($0.load(as: UInt8.self)) }
        case "BF16":
            return try converted(Float.self, size: 2) { Float(bitPattern: UInt32(littleEndian($0, UInt16.self)) << 16) }
        case "F16":
            return try converted(Float.self, size: 2) { halfToFloat(littleEndian($0, UInt16.self)) }
        default:
            fatalError("unreachable: dtype \(entry.dtype) was validated")
        }
    }

    /// IEEE 754 half precision to single precision, including subnormals, infinities and NaN.
    static func halfToFloat(_ bits: UInt16) -> Float {
        let sign: Float = bits & 0x8000 != 0 ? -1 : 1
        let exponent = Int((bits >> 10) & 0x1F)
        let fraction = Float(bits & 0x3FF)
        switch exponent {
        case 0: return sign * fraction * 0x1p-24
        case 31: return fraction == 0 ? sign * .infinity : .nan
        default: return sign * (1 + fraction / 1024) * Float(sign: .plus, exponent: exponent - 15, significand: 1)
        }
    }
}

// MARK: - A small JSON reader for safetensors headers

/// A parsed JSON value. Objects keep their members in file order.
enum JSONValue {
    case object([(String, JSONValue)])
    case array([JSONValue])
    case string(String)
    case integer(Int)
    case number(Double)
    case bool(Bool)
    case null
}

/// A strict JSON parser with a nesting limit, enough for safetensors headers: hostile input
/// gives a ``Failure``, never unbounded recursion or a crash.
struct JSONParser {
    struct Failure: Error { let message: String }

    private let bytes: [UInt8]
    private var position = 0
    private static let maximumDepth = 32

    static func parse(_ bytes: [UInt8]) throws -> JSONValue {
        var parser = JSONParser(bytes: bytes)
        parser.skipWhitespace()
        let value = try parser.parseValue(depth: 0)
        parser.skipWhitespace()
        guard parser.position == bytes.count else { throw parser.failure("unexpected data after the JSON value") }
        return value
    }

    private init(bytes: [UInt8]) { self.bytes = bytes }

    private func failure(_ message: String) -> Failure { Failure(message: "\(message) at byte \(position)") }

    private mutating func skipWhitespace() {
        while position < bytes.count, [0x20, 0x0A, 0x0D, 0x09].contains(bytes[position]) { position += 1 }
    }

    private mutating func expect(_ byte: UInt8) throws {
        guard position < bytes.count, bytes[position] == byte else {
            throw failure("expected '\(Character(Unicode.Scalar(byte)))'")
        }
        position += 1
    }

    private mutating func parseValue(depth: Int) throws -> JSONValue {
        guard depth < JSONParser.maximumDepth else { throw failure("nesting deeper than \(JSONParser.maximumDepth)") }
        guard position < bytes.count else { throw failure("unexpected end of header") }
        switch bytes[position] {
        case UInt8(ascii: "{"):
            position += 1
            var members: [(String, JSONValue)] = []
            skipWhitespace()
            if position < bytes.count, bytes[position] == UInt8(ascii: "}") { position += 1; return .object(members) }
            while true {
                skipWhitespace()
                let key = try parseString()
                skipWhitespace()
                try expect(UInt8(ascii: ":"))
                skipWhitespace()
                members.append((key, try parseValue(depth: depth + 1)))
                skipWhitespace()
                guard position < bytes.count else { throw failure("unterminated object") }
                if bytes[position] == UInt8(ascii: ",") { position += 1; continue }
                try expect(UInt8(ascii: "}"))
                return .object(members)
            }
        case UInt8(ascii: "["):
            position += 1
            var items: [JSONValue] = []
            skipWhitespace()
            if position < bytes.count, bytes[position] == UInt8(ascii: "]") { position += 1; return .array(items) }
            while true {
                skipWhitespace()
                items.append(try parseValue(depth: depth + 1))
                skipWhitespace()
                guard position < bytes.count else { throw failure("unterminated array") }
                if bytes[position] == UInt8(ascii: ",") { position += 1; continue }
                try expect(UInt8(ascii: "]"))
                return .array(items)
            }
        case UInt8(ascii: "\""):
            return .string(try parseString())
        case UInt8(ascii: "t"):
            try literal("true"); return .bool(true)
        case UInt8(ascii: "f"):
            try literal("false"); return .bool(false)
        case UInt8(ascii: "n"):
            try literal("null"); return .null
        default:
            return try parseNumber()
        }
    }

    private mutating func literal(_ word: String) throws {
        let expected = Array(word.utf8)
        guard position + expected.count <= bytes.count,
              Array(bytes[position..<(position + expected.count)]) == expected else { throw failure("invalid literal") }
        position += expected.count
    }

    private mutating func parseNumber() throws -> JSONValue {
        let start = position
        if position < bytes.count, bytes[position] == UInt8(ascii: "-") { position += 1 }
        var isInteger = true
        while position < bytes.count {
            let b = bytes[position]
            if b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9") {
                position += 1
            } else if b == UInt8(ascii: ".") || b == UInt8(ascii: "e") || b == UInt8(ascii: "E")
                        || b == UInt8(ascii: "+") || b == UInt8(ascii: "-") {
                isInteger = false
                position += 1
            } else {
                break
            }
        }
        guard position > start, let text = String(bytes: bytes[start..<position], encoding: .utf8) else {
            throw failure("invalid value")
        }
        if isInteger {
            guard let value = Int(text) else { throw failure("integer \(text.prefix(30)) out of range or invalid") }
            return .integer(value)
        }
        guard let value = Double(text) else { throw failure("invalid number \(text.prefix(30))") }
        return .number(value)
    }

    private mutating func parseString() throws -> String {
        try expect(UInt8(ascii: "\""))
        var scalars = String.UnicodeScalarView()
        var run: [UInt8] = []
        func flushRun() throws {
            if run.isEmpty { return }
            guard let text = String(bytes: run, encoding: .utf8) else { throw failure("invalid UTF-8 in a string") }
            scalars.append(contentsOf: text.unicodeScalars)
            run.removeAll(keepingCapacity: true)
        }
        while true {
            guard position < bytes.count else { throw failure("unterminated string") }
            let b = bytes[position]
            position += 1
            if b == UInt8(ascii: "\"") { break }
            if b < 0x20 { throw failure("control character in a string") }
            if b != UInt8(ascii: "\\") { run.append(b); continue }
            try flushRun()
            guard position < bytes.count else { throw failure("unterminated escape") }
            let e = bytes[position]
            position += 1
            switch e {
            case UInt8(ascii: "\""): scalars.append("\"")
            case UInt8(ascii: "\\"): scalars.append("\\")
            case UInt8(ascii: "/"): scalars.append("/")
            case UInt8(ascii: "b"): scalars.append("\u{08}")
            case UInt8(ascii: "f"): scalars.append("\u{0C}")
            case UInt8(ascii: "n"): scalars.append("\n")
            case UInt8(ascii: "r"): scalars.append("\r")
            case UInt8(ascii: "t"): scalars.append("\t")
            case UInt8(ascii: "u"):
                var code = try hex4()
                if (0xD800..<0xDC00).contains(code) {
                    // A surrogate pair: \uD83D\uDE00.
                    guard position + 2 <= bytes.count, bytes[position] == UInt8(ascii: "\\"),
                          bytes[position + 1] == UInt8(ascii: "u") else { throw failure("unpaired surrogate") }
                    position += 2
                    let low = try hex4()
                    guard (0xDC00..<0xE000).contains(low) else { throw failure("invalid surrogate pair") }
                    code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                }
                guard let scalar = Unicode.Scalar(code) else { throw failure("invalid \\u escape") }
                scalars.append(scalar)
            default:
                throw failure("invalid escape")
            }
        }
        try flushRun()
        return String(scalars)
    }

    private mutating func hex4() throws -> UInt32 {
        guard position + 4 <= bytes.count else { throw failure("truncated \\u escape") }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let b = bytes[position]
            position += 1
            let digit: UInt32
            switch b {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt32(b - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = UInt32(b - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = UInt32(b - UInt8(ascii: "A") + 10)
            default: throw failure("invalid hex digit in \\u escape")
            }
            value = value * 16 + digit
        }
        return value
    }
}

extension StateDict {
    /// Reads a safetensors file (see ``SafeTensors``); throws ``WeightFileError`` naming the
    /// file when it is missing, truncated or malformed.
    public init(contentsOf path: String) throws {
        self = try SafeTensors.read(from: path)
    }

    /// Writes the entries and ``metadata`` to `path` in the safetensors format, through a
    /// temporary file renamed into place.
    public func save(to path: String) throws {
        try SafeTensors.write(self, to: path)
    }
}
