import Foundation
import LuzData
import LuzTensor

/// Netpbm images: PGM (grayscale, `P5` binary and `P2` plain text) and PPM (RGB, `P6` and
/// `P3`), the simplest image files there are, read into an ``Image`` (8 bits per sample).
///
/// Headers may hold comments (`#` to the end of the line) between their fields. Samples are
/// one byte for a maxval up to 255 and two (big-endian) above, up to 65535; a maxval other than
/// 255 is scaled to 0...255 with rounding (`sample × 255 / maxval`, as Pillow does), so that
/// ``Transform/toTensor`` gives `sample / maxval`. Bitmaps (PBM, `P1` / `P4`) and PAM (`P7`) are
/// not read. Errors are ``DatasetError/invalidImage(file:field:reason:)`` naming the file and the
/// field at fault: `magic`, `width`, `height`, `maxval` or `data`.
///
/// ```swift
/// let image = try PNM.image(contentsOf: URL(fileURLWithPath: "cat.ppm"))   // channels 3
/// try Data(PNM.encoded(image)).write(to: URL(fileURLWithPath: "copy.ppm"))
/// ```
public enum PNM {
    /// What a header announces.
    struct Header: Equatable {
        /// The format digit: 2, 3, 5 or 6.
        var format: UInt8
        var width: Int
        var height: Int
        var maxval: Int
        /// Where the samples start.
        var dataStart: Int

        var channels: Int { format == 3 || format == 6 ? 3 : 1 }
        var isBinary: Bool { format >= 5 }
        var sampleCount: Int { width * height * channels }
        /// The bytes of a binary raster.
        var dataBytes: Int { sampleCount * (maxval > 255 ? 2 : 1) }
    }

    /// Reads a PGM or PPM file.
    /// - Parameter url: the `.pgm`, `.ppm` or `.pnm` file.
    /// - Throws: ``DatasetError/invalidImage(file:field:reason:)`` naming the file and the
    ///   field; ``DatasetError/io(file:reason:)`` when it cannot be read.
    public static func image(contentsOf url: URL) throws -> Image {
        try image(contentsOf: url, name: url.lastPathComponent)
    }

    static func image(contentsOf url: URL, name: String) throws -> Image {
        try image(decoding: readFile(url, name: name), name: name)
    }

    /// Decodes a PGM or PPM image held in memory.
    /// - Parameters:
    ///   - bytes: the file's bytes.
    ///   - name: the name errors give for the file.
    /// - Throws: ``DatasetError/invalidImage(file:field:reason:)`` naming `name` and the field.
    public static func image(decoding bytes: [UInt8], name: String = "<memory>") throws -> Image {
        let header = try parseHeader(bytes, name: name)
        let pixels = header.isBinary ? try binarySamples(bytes, header, name: name) : try plainSamples(bytes, header, name: name)
        return Image(height: header.height, width: header.width, channels: header.channels, pixels: pixels)
    }

    /// Encodes an image as binary PGM (`P5`, one channel) or PPM (`P6`, three), maxval 255.
    public static func encoded(_ image: Image) -> [UInt8] {
        require(image.channels == 1 || image.channels == 3,
                "PNM.encoded: \(image.channels) channels; PGM holds 1 and PPM 3")
        let magic = image.channels == 1 ? "P5" : "P6"
        return Array("\(magic)\n\(image.width) \(image.height)\n255\n".utf8) + image.pixels
    }

    /// Checks a file's header and, for binary files, that the file holds the data it announces,
    /// reading only the start of the file.
    static func check(_ url: URL, name: String) throws {
        let reader = try PlainFileReader(url: url)
        var prefix = [UInt8](repeating: 0, count: min(reader.size, 4096))
        let n = try prefix.withUnsafeMutableBytes { try reader.read(into: $0) }
        prefix.removeLast(prefix.count - n)
        let header: Header
        if n < reader.size, let start = try? parseHeader(prefix, name: name), start.dataStart < n {
            header = start
        } else {
            // The whole file was read, or the header may go on past the prefix (long comments,
            // or a number cut at its end): parse the whole file.
            header = try parseHeader(n < reader.size ? readFile(url, name: name) : prefix, name: name)
        }
        if header.isBinary && reader.size - header.dataStart < header.dataBytes {
            throw truncated(header, available: max(reader.size - header.dataStart, 0), name: name)
        }
    }

    static func readFile(_ url: URL, name: String) throws -> [UInt8] {
        let reader: PlainFileReader
        do {
            reader = try PlainFileReader(url: url)
        } catch DatasetError.io(_, let reason) {
            throw DatasetError.io(file: name, reason: reason)
        }
        var bytes = [UInt8](repeating: 0, count: reader.size)
        let n = try bytes.withUnsafeMutableBytes { try reader.read(into: $0) }
        bytes.removeLast(bytes.count - n)
        return bytes
    }

    private static func isSpace(_ byte: UInt8) -> Bool {
        byte == 0x20 || byte == 0x09 || byte == 0x0a || byte == 0x0d || byte == 0x0b || byte == 0x0c
    }

    private static func isDigit(_ byte: UInt8) -> Bool { byte >= 0x30 && byte <= 0x39 }

    /// Up to a few bytes from `position`, as text for an error message.
    private static func found(_ bytes: [UInt8], at position: Int) -> String {
        guard position < bytes.count else { return "the end of the file" }
        return TarReader.printable(Array(bytes[position..<min(position + 8, bytes.count)]))
    }

    static func parseHeader(_ bytes: [UInt8], name: String) throws -> Header {
        func fail(_ field: String, _ reason: String) -> DatasetError {
            DatasetError.invalidImage(file: name, field: field, reason: reason)
        }
        guard bytes.count >= 2, bytes[0] == UInt8(ascii: "P") else {
            throw fail("magic", "expected P2, P3, P5 or P6 (PGM or PPM), found \(found(bytes, at: 0))")
        }
        let format: UInt8
        switch bytes[1] {
        case UInt8(ascii: "2"), UInt8(ascii: "3"), UInt8(ascii: "5"), UInt8(ascii: "6"):
            format = bytes[1] - 0x30
        case UInt8(ascii: "1"), UInt8(ascii: "4"):
            throw fail("magic", "P\(bytes[1] - 0x30) is a PBM bitmap, which is not read; expected P2, P3, P5 or P6 (PGM or PPM)")
        default:
            throw fail("magic", "expected P2, P3, P5 or P6 (PGM or PPM), found \(found(bytes, at: 0))")
        }
        var position = 2
        guard position < bytes.count, isSpace(bytes[position]) || bytes[position] == UInt8(ascii: "#") else {
            throw fail("magic", "expected whitespace after P\(format), found \(found(bytes, at: position))")
        }

        /// Skips whitespace and comments, then reads a positive decimal number.
        func number(_ field: String, limit: Int) throws -> Int {
            while position < bytes.count {
                if isSpace(bytes[position]) {
                    position += 1
                } else if bytes[position] == UInt8(ascii: "#") {
                    while position < bytes.count, bytes[position] != 0x0a, bytes[position] != 0x0d { position += 1 }
                } else {
                    break
                }
            }
            guard position < bytes.count else { throw fail(field, "missing: the file ends in the header") }
            var value = 0
            let start = position
            while position < bytes.count, isDigit(bytes[position]) {
                value = value * 10 + Int(bytes[position] - 0x30)
                position += 1
                guard value <= limit else { throw fail(field, "larger than \(limit)") }
            }
            guard position > start else { throw fail(field, "expected a decimal number, found \(found(bytes, at: start))") }
            guard value > 0 else { throw fail(field, "0; it must be at least 1") }
            guard position == bytes.count || isSpace(bytes[position]) || bytes[position] == UInt8(ascii: "#") else {
                throw fail(field, "expected a decimal number, found \(found(bytes, at: start))")
            }
            return value
        }
        let width = try number("width", limit: 1 << 24)
        let height = try number("height", limit: 1 << 24)
        let maxval = try number("maxval", limit: 65535)
        let (samples, overflow) = width.multipliedReportingOverflow(by: height)
        guard !overflow, samples <= 1 << 32 else {
            throw fail("height", "\(width) × \(height) pixels cannot be right")
        }
        // Exactly one whitespace character separates the header from a binary raster (whose
        // first byte may itself be a whitespace value).
        guard position < bytes.count else {
            return Header(format: format, width: width, height: height, maxval: maxval, dataStart: position)
        }
        guard isSpace(bytes[position]) else {
            throw fail("maxval", "expected one whitespace character after it, found \(found(bytes, at: position))")
        }
        return Header(format: format, width: width, height: height, maxval: maxval, dataStart: position + 1)
    }

    private static func truncated(_ header: Header, available: Int, name: String) -> DatasetError {
        let shape = "\(header.width) × \(header.height)" + (header.channels == 3 ? " × 3" : "")
        let unit = header.maxval > 255 ? " × 2 bytes" : " bytes"
        return DatasetError.invalidImage(
            file: name, field: "data",
            reason: "truncated: \(shape)\(unit) = \(header.dataBytes) bytes of samples announced, \(available) found")
    }

    /// The table scaling a sample in `0...maxval` to `0...255`.
    private static func scale(_ maxval: Int) -> [UInt8] {
        (0...maxval).map { UInt8(($0 * 255 + maxval / 2) / maxval) }
    }

    private static func outOfRange(_ sample: Int, at index: Int, _ header: Header, name: String) -> DatasetError {
        let pixel = index / header.channels
        return DatasetError.invalidImage(
            file: name, field: "data",
            reason: "sample \(sample) of pixel (row \(pixel / header.width), column \(pixel % header.width)) exceeds the maxval \(header.maxval)")
    }

    private static func binarySamples(_ bytes: [UInt8], _ header: Header, name: String) throws -> [UInt8] {
        let available = bytes.count - header.dataStart
        guard available >= header.dataBytes else { throw truncated(header, available: max(available, 0), name: name) }
        let count = header.sampleCount
        if header.maxval == 255 { return Array(bytes[header.dataStart..<(header.dataStart + count)]) }
        let table = scale(header.maxval)
        var out = [UInt8](repeating: 0, count: count)
        let wide = header.maxval > 255
        for i in 0..<count {
            let sample = wide
                ? Int(bytes[header.dataStart + 2 * i]) << 8 | Int(bytes[header.dataStart + 2 * i + 1])
                : Int(bytes[header.dataStart + i])
            guard sample <= header.maxval else { throw outOfRange(sample, at: i, header, name: name) }
            out[i] = table[sample]
        }
        return out
    }

    private static func plainSamples(_ bytes: [UInt8], _ header: Header, name: String) throws -> [UInt8] {
        let count = header.sampleCount
        var position = header.dataStart
        // Every sample takes at least one digit: a count the file cannot hold is refused
        // before anything is allocated for it.
        guard count <= bytes.count - position else {
            throw DatasetError.invalidImage(
                file: name, field: "data",
                reason: "truncated: \(count) samples announced, the file has \(max(bytes.count - position, 0)) bytes left")
        }
        let table = header.maxval == 255 ? nil : scale(header.maxval)
        var out = [UInt8](repeating: 0, count: count)
        for i in 0..<count {
            while position < bytes.count {
                if isSpace(bytes[position]) {
                    position += 1
                } else if bytes[position] == UInt8(ascii: "#") {
                    while position < bytes.count, bytes[position] != 0x0a, bytes[position] != 0x0d { position += 1 }
                } else {
                    break
                }
            }
            guard position < bytes.count else {
                throw DatasetError.invalidImage(
                    file: name, field: "data", reason: "truncated: \(count) samples announced, \(i) found")
            }
            let start = position
            var sample = 0
            while position < bytes.count, isDigit(bytes[position]), sample <= 1_000_000 {
                sample = sample * 10 + Int(bytes[position] - 0x30)
                position += 1
            }
            guard position > start else {
                throw DatasetError.invalidImage(
                    file: name, field: "data", reason: "sample \(i): expected a decimal number, found \(found(bytes, at: start))")
            }
            guard sample <= header.maxval else { throw outOfRange(sample, at: i, header, name: name) }
            out[i] = table.map { $0[sample] } ?? UInt8(sample)
        }
        return out
    }
}
