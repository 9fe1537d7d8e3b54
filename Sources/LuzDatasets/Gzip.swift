import CZlib
import Foundation

/// A source of bytes read in order, filling caller-provided memory.
///
/// Readers fill the destination directly: decompressed data goes straight into the array that
/// will hold it, with no intermediate full-size copy.
protocol ByteReader: AnyObject {
    /// The file name used in error messages.
    var fileName: String { get }
    /// Fills `buffer` completely unless the data ends first; returns the number of bytes written.
    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int
}

/// Reads a plain (uncompressed) file in order.
final class PlainFileReader: ByteReader {
    let fileName: String
    /// The file's size in bytes.
    let size: Int
    private let file: UnsafeMutablePointer<FILE>

    init(url: URL) throws {
        fileName = url.lastPathComponent
        guard let file = fopen(url.path, "rb") else {
            throw DatasetError.io(file: fileName, reason: "cannot open \(url.path): \(systemErrorText())")
        }
        self.file = file
        var info = stat()
        size = fstat(fileno(file), &info) == 0 ? Int(info.st_size) : 0
    }

    deinit { fclose(file) }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        guard let base = buffer.baseAddress, buffer.count > 0 else { return 0 }
        let n = fread(base, 1, buffer.count, file)
        if n < buffer.count && ferror(file) != 0 {
            throw DatasetError.io(file: fileName, reason: "read error: \(systemErrorText())")
        }
        return n
    }
}

/// Reads bytes held in memory in order (parsing without a file: tests, fuzzing, network data).
final class MemoryReader: ByteReader {
    let fileName: String
    private let bytes: [UInt8]
    private var position = 0

    /// The number of bytes.
    var size: Int { bytes.count }

    init(_ bytes: [UInt8], name: String) {
        self.bytes = bytes
        fileName = name
    }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        let n = min(buffer.count, bytes.count - position)
        guard n > 0, let base = buffer.baseAddress else { return 0 }
        bytes.withUnsafeBytes { source in
            base.copyMemory(from: source.baseAddress! + position, byteCount: n)
        }
        position += n
        return n
    }
}

/// Decompresses a gzip file with zlib, streaming: the compressed file is read in chunks and
/// inflated straight into the caller's memory.
///
/// Several gzip members written one after the other (what `cat a.gz b.gz` or a parallel
/// compressor produces) decompress to the concatenation of their contents, as with `gunzip`.
final class GzipFileReader: ByteReader {
    let fileName: String
    /// The compressed file's size in bytes.
    let compressedSize: Int

    private let input: ByteReader
    // zlib keeps a pointer back to its z_stream and checks it on every call, so the stream must
    // never move: it lives on the heap, not in a Swift stored property.
    private let stream: UnsafeMutablePointer<z_stream>
    private let chunk: UnsafeMutableRawBufferPointer
    private var inputEnded = false
    private var memberEnded = false
    private var memberCount = 0
    private var finished = false
    /// Decompressed bytes produced so far.
    private(set) var totalOut = 0

    /// The size of the compressed chunks read from disk.
    static let chunkSize = 1 << 18

    convenience init(url: URL) throws {
        let file = try PlainFileReader(url: url)
        try self.init(input: file, compressedSize: file.size)
    }

    /// Decompresses what `input` holds (`compressedSize` bytes).
    init(input: ByteReader, compressedSize: Int) throws {
        self.input = input
        self.compressedSize = compressedSize
        fileName = input.fileName
        stream = .allocate(capacity: 1)
        stream.initialize(to: z_stream())
        chunk = .allocate(byteCount: Self.chunkSize, alignment: 16)
        // 16 + MAX_WBITS: expect a gzip header and trailer (and check its CRC-32).
        let status = inflateInit2_(stream, 16 + MAX_WBITS, zlibVersion(), Int32(MemoryLayout<z_stream>.size))
        guard status == Z_OK else {
            chunk.deallocate()
            stream.deinitialize(count: 1)
            stream.deallocate()
            throw DatasetError.corruptGzip(file: fileName, reason: "inflateInit2 failed with status \(status)")
        }
    }

    deinit {
        inflateEnd(stream)
        stream.deinitialize(count: 1)
        stream.deallocate()
        chunk.deallocate()
    }

    private func refill() throws {
        let n = try input.read(into: chunk)
        if n == 0 { inputEnded = true }
        stream.pointee.next_in = chunk.baseAddress!.assumingMemoryBound(to: Bytef.self)
        stream.pointee.avail_in = uInt(n)
    }

    private func zlibMessage(_ status: Int32) -> String {
        if let message = stream.pointee.msg { return String(cString: message) }
        return "zlib status \(status)"
    }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        guard let base = buffer.baseAddress, buffer.count > 0, !finished else { return 0 }
        var written = 0
        while written < buffer.count {
            if stream.pointee.avail_in == 0 && !inputEnded { try refill() }
            if memberEnded {
                // Another member follows only if there is more input; otherwise the data is done.
                if stream.pointee.avail_in == 0 {
                    finished = true
                    break
                }
                inflateReset(stream)
                memberEnded = false
            }
            // avail_out is 32-bit: feed very large destinations in slices.
            let slice = min(buffer.count - written, Int(UInt32.max >> 1))
            stream.pointee.next_out = (base + written).assumingMemoryBound(to: Bytef.self)
            stream.pointee.avail_out = uInt(slice)
            let status = inflate(stream, Z_NO_FLUSH)
            let produced = slice - Int(stream.pointee.avail_out)
            written += produced
            totalOut += produced
            switch status {
            case Z_OK:
                continue
            case Z_STREAM_END:
                memberEnded = true
                memberCount += 1
            case Z_BUF_ERROR:
                // No progress was possible: the input is exhausted in the middle of a member.
                if stream.pointee.avail_in == 0 && inputEnded {
                    throw DatasetError.corruptGzip(
                        file: fileName,
                        reason: "the compressed data ends early (unexpected end of file after \(totalOut) decompressed bytes)")
                }
            case Z_DATA_ERROR where memberCount > 0 && produced == 0 && stream.pointee.total_out == 0:
                throw DatasetError.corruptGzip(
                    file: fileName,
                    reason: "unexpected data after gzip member \(memberCount): \(zlibMessage(status))")
            case Z_NEED_DICT, Z_DATA_ERROR, Z_STREAM_ERROR:
                throw DatasetError.corruptGzip(
                    file: fileName, reason: "\(zlibMessage(status)) (after \(totalOut) decompressed bytes)")
            case Z_MEM_ERROR:
                throw DatasetError.io(file: fileName, reason: "zlib ran out of memory")
            default:
                throw DatasetError.corruptGzip(file: fileName, reason: zlibMessage(status))
            }
        }
        return written
    }

    /// Reads and discards the rest of the data, returning how many bytes it held; stops once
    /// more than `maximum` came out (a bomb after the expected data is not inflated whole).
    func skipToEnd(maximum: Int = .max) throws -> Int {
        let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 16, alignment: 16)
        defer { scratch.deallocate() }
        var total = 0
        while true {
            let n = try read(into: scratch)
            total += n
            if n < scratch.count || total > maximum { return total }
        }
    }
}

/// gzip decompression of whole files, over zlib.
public enum Gzip {
    /// The largest expansion ratio deflate can reach (a stream of repeated bytes): no valid
    /// gzip file decompresses to more than about 1032 times its size.
    static let maximumRatio = 1032

    /// Returns whether the file starts with the gzip magic bytes `1f 8b`.
    public static func isCompressed(_ url: URL) -> Bool {
        guard let file = fopen(url.path, "rb") else { return false }
        defer { fclose(file) }
        var magic: (UInt8, UInt8) = (0, 0)
        let n = withUnsafeMutableBytes(of: &magic) { fread($0.baseAddress, 1, 2, file) }
        return n == 2 && magic.0 == 0x1f && magic.1 == 0x8b
    }

    /// Decompresses a gzip file (one or several members) into memory.
    ///
    /// The output array starts at the size recorded in the file's trailer (at most 64 MiB: the
    /// trailer is the file's word, not a fact) and grows as data arrives.
    /// - Parameters:
    ///   - url: the `.gz` file.
    /// - Throws: ``DatasetError/corruptGzip(file:reason:)`` naming the file when the data is
    ///   damaged or ends early; ``DatasetError/io(file:reason:)`` when it cannot be read.
    ///   - maximumBytes: the most the content may hold (its known size); more is an error,
    ///     raised as soon as the output passes it, so that a gzip bomb is not inflated whole.
    public static func decompress(contentsOf url: URL, maximumBytes: Int? = nil) throws -> [UInt8] {
        try decompress(GzipFileReader(url: url), trailerSize: trailerSize(of: url), maximumBytes: maximumBytes)
    }

    /// Decompresses gzip data held in memory (one or several members).
    /// - Parameters:
    ///   - bytes: the compressed data.
    ///   - name: the name errors give for the data (a file or URL name).
    /// - Throws: ``DatasetError/corruptGzip(file:reason:)`` naming `name` when the data is
    ///   damaged or ends early.
    ///   - maximumBytes: the most the content may hold; more is an error, raised as soon as the
    ///     output passes it.
    public static func decompress(_ bytes: [UInt8], name: String = "<memory>", maximumBytes: Int? = nil) throws -> [UInt8] {
        var trailer: Int?
        if bytes.count >= 4 {
            trailer = bytes[(bytes.count - 4)...].reversed().reduce(0) { ($0 << 8) | Int($1) }
        }
        let input = MemoryReader(bytes, name: name)
        return try decompress(GzipFileReader(input: input, compressedSize: bytes.count), trailerSize: trailer,
                              maximumBytes: maximumBytes)
    }

    /// The largest first allocation for decompressed data; beyond it the output grows.
    static let initialCapacityLimit = 1 << 26

    private static func decompress(_ reader: GzipFileReader, trailerSize: Int?, maximumBytes: Int?) throws -> [UInt8] {
        // A single-member file's trailer gives the exact size (modulo 2^32, hence the cap from
        // the deflate ratio); one extra byte detects data beyond it without a second pass.
        var capacity = trailerSize ?? reader.compressedSize * 4
        capacity = min(capacity, reader.compressedSize * maximumRatio + 4096, initialCapacityLimit, maximumBytes ?? .max) + 1
        var result = try [UInt8](unsafeUninitializedCapacity: capacity) { buffer, initialized in
            initialized = try reader.read(into: UnsafeMutableRawBufferPointer(buffer))
        }
        try checkSize(result.count, maximumBytes, reader.fileName)
        guard result.count == capacity else { return result }
        // More members, a wrong trailer or a large file: append the rest chunk by chunk.
        try forEachChunk(of: reader, maximumBytes: maximumBytes.map { $0 - result.count }) { result.append(contentsOf: $0) }
        return result
    }

    private static func checkSize(_ count: Int, _ maximumBytes: Int?, _ name: String) throws {
        if let maximumBytes, count > maximumBytes {
            throw DatasetError.corruptGzip(file: name, reason: "decompresses to more than \(maximumBytes) bytes, the size its content has")
        }
    }

    /// Calls `body` with successive slices of the decompressed data (at most `chunkSize` bytes
    /// each), without holding the whole content in memory: used to checksum content.
    /// Stops with an error as soon as more than `maximumBytes` came out.
    static func forEachChunk(of url: URL, chunkSize: Int = 1 << 20, maximumBytes: Int? = nil,
                             _ body: (UnsafeRawBufferPointer) throws -> Void) throws {
        try forEachChunk(of: try GzipFileReader(url: url), chunkSize: chunkSize, maximumBytes: maximumBytes, body)
    }

    private static func forEachChunk(of reader: GzipFileReader, chunkSize: Int = 1 << 20, maximumBytes: Int? = nil,
                                     _ body: (UnsafeRawBufferPointer) throws -> Void) throws {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: chunkSize, alignment: 16)
        defer { buffer.deallocate() }
        var total = 0
        while true {
            let n = try reader.read(into: buffer)
            total += n
            try checkSize(total, maximumBytes, reader.fileName)
            if n > 0 { try body(UnsafeRawBufferPointer(rebasing: buffer[0..<n])) }
            if n < chunkSize { return }
        }
    }

    /// The uncompressed size (modulo 2³²) stored in the last member's trailer.
    static func trailerSize(of url: URL) -> Int? {
        guard let file = fopen(url.path, "rb") else { return nil }
        defer { fclose(file) }
        guard fseek(file, -4, SEEK_END) == 0 else { return nil }
        var size: UInt32 = 0
        guard withUnsafeMutableBytes(of: &size, { fread($0.baseAddress, 1, 4, file) }) == 4 else { return nil }
        return Int(UInt32(littleEndian: size))
    }
}
