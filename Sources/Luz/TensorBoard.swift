import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes a TensorBoard event file (`events.out.tfevents.*`): scalars, histograms and text,
/// readable by TensorBoard while the file grows.
///
/// The format is TensorFlow's record file of serialized `Event` protocol buffers: each record is
/// its length (8 bytes, little-endian), the masked CRC-32C of those 8 bytes, the bytes, and their
/// masked CRC-32C. The few messages used (`Event`, `Summary`, `HistogramProto`, the text
/// plugin's `TensorProto`, `SessionLog`) are encoded here by hand.
///
/// ```swift
/// let writer = try TensorBoardEventWriter(directory: "logs/run")
/// try writer.addScalar("train/loss", value: 0.42, step: 1)
/// try writer.flush()
/// ```
public final class TensorBoardEventWriter {
    /// The event file.
    public let path: String
    private let handle: FileHandle

    /// Creates `directory` if needed and a new event file in it, which starts with the file
    /// version event TensorBoard expects.
    /// - Throws: ``LuzError/invalidArgument(_:)`` naming the folder or file that cannot be made.
    public init(directory: String) throws {
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw LuzError.invalidArgument("TensorBoard: cannot create the folder \(directory): \(error.localizedDescription)")
        }
        var host = [CChar](repeating: 0, count: 256)
        gethostname(&host, host.count - 1)
        let hostname = String(decoding: host.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        var name = "events.out.tfevents.\(Int(Date().timeIntervalSince1970)).\(hostname).\(getpid())"
        // A second writer in the same folder and second gets its own file; files are read in name order.
        var counter = 0
        while FileManager.default.fileExists(atPath: directory + "/" + name + (counter == 0 ? "" : ".\(counter)")) { counter += 1 }
        if counter > 0 { name += ".\(counter)" }
        path = directory + "/" + name
        guard FileManager.default.createFile(atPath: path, contents: nil),
              let handle = FileHandle(forWritingAtPath: path) else {
            throw LuzError.invalidArgument("TensorBoard: cannot create the event file \(path)")
        }
        self.handle = handle
        var event = ProtoWriter()
        event.double(1, Date().timeIntervalSince1970)
        event.string(3, "brain.Event:2")
        try write(event.bytes)
    }

    deinit { try? handle.close() }

    /// Appends one scalar.
    public func addScalar(_ tag: String, value: Double, step: Int, wallTime: Date = Date()) throws {
        var summaryValue = ProtoWriter()
        summaryValue.string(1, tag)
        summaryValue.float(2, Float(value))
        try addSummaryValue(summaryValue, step: step, wallTime: wallTime)
    }

    /// Appends a histogram of `values` in `bucketCount` equal buckets between their extremes
    /// (non-finite values are left out).
    public func addHistogram(_ tag: String, values: [Double], step: Int, bucketCount: Int = 30, wallTime: Date = Date()) throws {
        let finite = values.filter(\.isFinite)
        guard let low = finite.min(), let high = finite.max() else { return }
        let buckets = high > low ? Swift.max(1, bucketCount) : 1
        let width = (high - low) / Double(buckets)
        var counts = [Double](repeating: 0, count: buckets)
        for value in finite {
            let index = width > 0 ? Swift.min(buckets - 1, Int((value - low) / width)) : 0
            counts[index] += 1
        }
        let limits = (1...buckets).map { $0 == buckets ? high : low + Double($0) * width }
        var histogram = ProtoWriter()
        histogram.double(1, low)
        histogram.double(2, high)
        histogram.double(3, Double(finite.count))
        histogram.double(4, finite.reduce(0, +))
        histogram.double(5, finite.reduce(0) { $0 + $1 * $1 })
        histogram.packedDoubles(6, limits)
        histogram.packedDoubles(7, counts)
        var summaryValue = ProtoWriter()
        summaryValue.string(1, tag)
        summaryValue.message(5, histogram)
        try addSummaryValue(summaryValue, step: step, wallTime: wallTime)
    }

    /// Appends a text (shown as Markdown in TensorBoard's text tab).
    public func addText(_ tag: String, text: String, step: Int, wallTime: Date = Date()) throws {
        var plugin = ProtoWriter()
        plugin.string(1, "text")
        var metadata = ProtoWriter()
        metadata.message(1, plugin)
        var tensor = ProtoWriter()
        tensor.varint(1, 7)                       // DT_STRING
        tensor.message(2, ProtoWriter())          // a scalar: a shape without dimensions
        tensor.bytes(8, Array(text.utf8))
        var summaryValue = ProtoWriter()
        summaryValue.string(1, tag)
        summaryValue.message(8, tensor)
        summaryValue.message(9, metadata)
        try addSummaryValue(summaryValue, step: step, wallTime: wallTime)
    }

    /// Appends a session start at `step`: TensorBoard then drops what earlier files hold at
    /// `step` and after (what a killed run wrote past its last checkpoint).
    public func addSessionStart(step: Int, wallTime: Date = Date()) throws {
        var log = ProtoWriter()
        log.varint(1, 1)                          // SessionLog.START
        var event = ProtoWriter()
        event.double(1, wallTime.timeIntervalSince1970)
        event.varint(2, UInt64(step))
        event.message(6, log)
        try write(event.bytes)
    }

    /// Flushes the file to disk.
    public func flush() throws {
        do { try handle.synchronize() } catch {
            throw LuzError.invalidArgument("TensorBoard: cannot flush \(path): \(error.localizedDescription)")
        }
    }

    private func addSummaryValue(_ value: ProtoWriter, step: Int, wallTime: Date) throws {
        var summary = ProtoWriter()
        summary.message(1, value)
        var event = ProtoWriter()
        event.double(1, wallTime.timeIntervalSince1970)
        event.varint(2, UInt64(Swift.max(0, step)))
        event.message(5, summary)
        try write(event.bytes)
    }

    private func write(_ data: [UInt8]) throws {
        var record: [UInt8] = []
        record.reserveCapacity(data.count + 16)
        let length = UInt64(data.count)
        let header = (0..<8).map { UInt8(truncatingIfNeeded: length >> (8 * $0)) }
        record += header
        record += littleEndian(maskedCRC32C(header))
        record += data
        record += littleEndian(maskedCRC32C(data))
        do { try handle.write(contentsOf: Data(record)) } catch {
            throw LuzError.invalidArgument("TensorBoard: cannot write \(path): \(error.localizedDescription)")
        }
    }
}

private func littleEndian(_ value: UInt32) -> [UInt8] { (0..<4).map { UInt8(truncatingIfNeeded: value >> (8 * $0)) } }

/// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), as TensorFlow's record files use.
func crc32c(_ bytes: [UInt8]) -> UInt32 {
    var crc: UInt32 = 0xFFFF_FFFF
    for byte in bytes { crc = crc32cTable[Int((crc ^ UInt32(byte)) & 0xFF)] ^ (crc >> 8) }
    return crc ^ 0xFFFF_FFFF
}

/// The CRC rotated and offset, as TensorFlow stores it (a CRC of data holding CRCs is then not trivial).
func maskedCRC32C(_ bytes: [UInt8]) -> UInt32 {
    let crc = crc32c(bytes)
    return ((crc >> 15) | (crc << 17)) &+ 0xA282_EAD8
}

private let crc32cTable: [UInt32] = (0..<256).map { index -> UInt32 in
    var crc = UInt32(index)
    for _ in 0..<8 { crc = crc & 1 != 0 ? (crc >> 1) ^ 0x82F6_3B78 : crc >> 1 }
    return crc
}

/// A protocol-buffer message being encoded: fields appended in order.
struct ProtoWriter {
    private(set) var bytes: [UInt8] = []

    private mutating func rawVarint(_ value: UInt64) {
        var value = value
        while value >= 0x80 {
            bytes.append(UInt8(value & 0x7F) | 0x80)
            value >>= 7
        }
        bytes.append(UInt8(value))
    }

    private mutating func key(_ field: Int, _ wireType: UInt64) { rawVarint(UInt64(field) << 3 | wireType) }

    mutating func varint(_ field: Int, _ value: UInt64) {
        key(field, 0)
        rawVarint(value)
    }

    mutating func double(_ field: Int, _ value: Double) {
        key(field, 1)
        bytes += (0..<8).map { UInt8(truncatingIfNeeded: value.bitPattern >> (8 * $0)) }
    }

    mutating func float(_ field: Int, _ value: Float) {
        key(field, 5)
        bytes += (0..<4).map { UInt8(truncatingIfNeeded: value.bitPattern >> (8 * $0)) }
    }

    mutating func bytes(_ field: Int, _ value: [UInt8]) {
        key(field, 2)
        rawVarint(UInt64(value.count))
        bytes += value
    }

    mutating func string(_ field: Int, _ value: String) { bytes(field, Array(value.utf8)) }

    mutating func message(_ field: Int, _ value: ProtoWriter) { bytes(field, value.bytes) }

    mutating func packedDoubles(_ field: Int, _ values: [Double]) {
        var packed = ProtoWriter()
        for value in values { packed.bytes += (0..<8).map { UInt8(truncatingIfNeeded: value.bitPattern >> (8 * $0)) } }
        bytes(field, packed.bytes)
    }
}

// MARK: - Reading, for tests and tools

/// One event read back from an event file: the fields Luz writes.
struct TensorBoardEvent: Equatable {
    var wallTime = 0.0
    var step = 0
    var fileVersion: String?
    var sessionStart = false
    /// Scalars by tag.
    var scalars: [String: Double] = [:]
    /// Histograms by tag: element count and sum.
    var histograms: [String: (count: Double, sum: Double)] = [:]
    /// Texts by tag.
    var texts: [String: String] = [:]

    static func == (a: TensorBoardEvent, b: TensorBoardEvent) -> Bool {
        a.wallTime == b.wallTime && a.step == b.step && a.fileVersion == b.fileVersion && a.sessionStart == b.sessionStart
            && a.scalars == b.scalars && a.texts == b.texts && a.histograms.keys == b.histograms.keys
    }
}

/// A file that is not a well-formed event file: the file, the record and what is wrong.
struct TensorBoardReadError: Error, CustomStringConvertible {
    let path: String
    let record: Int
    let reason: String
    var description: String { "\(path): record \(record): \(reason)" }
}

/// Reads every record of an event file, checking both CRCs of each. A last record cut short
/// (a writer killed mid-write) ends the file, as TensorBoard reads it.
func readTensorBoardEvents(_ path: String) throws -> [TensorBoardEvent] {
    guard let data = FileManager.default.contents(atPath: path) else {
        throw TensorBoardReadError(path: path, record: 0, reason: "cannot read the file")
    }
    let bytes = [UInt8](data)
    var events: [TensorBoardEvent] = []
    var offset = 0
    func word(_ at: Int, _ count: Int) -> UInt64 {
        (0..<count).reduce(UInt64(0)) { $0 | UInt64(bytes[at + $1]) << (8 * UInt64($1)) }
    }
    while offset + 12 <= bytes.count {
        let length = Int(word(offset, 8))
        guard UInt32(word(offset + 8, 4)) == maskedCRC32C(Array(bytes[offset..<offset + 8])) else {
            throw TensorBoardReadError(path: path, record: events.count, reason: "the length's CRC does not match")
        }
        guard length >= 0, offset + 12 + length + 4 <= bytes.count else { break }
        let payload = Array(bytes[(offset + 12)..<(offset + 12 + length)])
        guard UInt32(word(offset + 12 + length, 4)) == maskedCRC32C(payload) else {
            throw TensorBoardReadError(path: path, record: events.count, reason: "the data's CRC does not match")
        }
        events.append(try decodeEvent(payload, path: path, record: events.count))
        offset += 16 + length
    }
    return events
}

private struct ProtoReader {
    let bytes: [UInt8]
    var offset = 0
    init(_ bytes: [UInt8]) { self.bytes = bytes }

    mutating func varint() throws -> UInt64 {
        var value: UInt64 = 0, shift: UInt64 = 0
        while true {
            guard offset < bytes.count, shift < 64 else { throw ProtoError() }
            let byte = bytes[offset]
            offset += 1
            value |= UInt64(byte & 0x7F) << shift
            if byte < 0x80 { return value }
            shift += 7
        }
    }

    /// The next field: number, wire type and raw value (varint, fixed bits or bytes).
    mutating func field() throws -> (number: Int, wire: UInt64, value: UInt64, data: [UInt8])? {
        guard offset < bytes.count else { return nil }
        let key = try varint()
        let wire = key & 7, number = Int(key >> 3)
        switch wire {
        case 0: return (number, wire, try varint(), [])
        case 1, 5:
            let size = wire == 1 ? 8 : 4
            guard offset + size <= bytes.count else { throw ProtoError() }
            let value = (0..<size).reduce(UInt64(0)) { $0 | UInt64(bytes[offset + $1]) << (8 * UInt64($1)) }
            offset += size
            return (number, wire, value, [])
        case 2:
            let size = Int(try varint())
            guard size >= 0, offset + size <= bytes.count else { throw ProtoError() }
            defer { offset += size }
            return (number, wire, 0, Array(bytes[offset..<offset + size]))
        default: throw ProtoError()
        }
    }
}

private struct ProtoError: Error {}

private func decodeEvent(_ payload: [UInt8], path: String, record: Int) throws -> TensorBoardEvent {
    var event = TensorBoardEvent()
    do {
        var reader = ProtoReader(payload)
        while let field = try reader.field() {
            switch field.number {
            case 1: event.wallTime = Double(bitPattern: field.value)
            case 2: event.step = Int(Int64(bitPattern: field.value))
            case 3: event.fileVersion = String(decoding: field.data, as: UTF8.self)
            case 5:
                var summary = ProtoReader(field.data)
                while let value = try summary.field() {
                    guard value.number == 1 else { continue }
                    var parts = ProtoReader(value.data)
                    var tag = ""
                    var scalar: Double?, histogram: (Double, Double)?, text: String?
                    while let part = try parts.field() {
                        switch part.number {
                        case 1: tag = String(decoding: part.data, as: UTF8.self)
                        case 2: scalar = Double(Float(bitPattern: UInt32(part.value)))
                        case 5:
                            var h = ProtoReader(part.data)
                            var count = 0.0, sum = 0.0
                            while let entry = try h.field() {
                                if entry.number == 3 { count = Double(bitPattern: entry.value) }
                                if entry.number == 4 { sum = Double(bitPattern: entry.value) }
                            }
                            histogram = (count, sum)
                        case 8:
                            var tensor = ProtoReader(part.data)
                            while let entry = try tensor.field() {
                                if entry.number == 8 { text = String(decoding: entry.data, as: UTF8.self) }
                            }
                        default: break
                        }
                    }
                    if let scalar { event.scalars[tag] = scalar }
                    if let histogram { event.histograms[tag] = histogram }
                    if let text { event.texts[tag] = text }
                }
            case 6:
                var log = ProtoReader(field.data)
                while let entry = try log.field() {
                    if entry.number == 1 { event.sessionStart = entry.value == 1 }
                }
            default: break
            }
        }
    } catch {
        throw TensorBoardReadError(path: path, record: record, reason: "the event is not a well-formed protocol buffer")
    }
    return event
}
