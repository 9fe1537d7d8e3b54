import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import LuzSerialization

/// One entry of a tar archive, as ``TarArchive/entries(contentsOf:)`` reads it.
public struct TarEntry: Equatable, Sendable {
    /// What an entry is.
    public enum Kind: Equatable, Sendable {
        /// A regular file (type `0`, NUL or `7`); its bytes are in ``TarEntry/contents``.
        case file
        /// A folder (type `5`).
        case directory
        /// A symbolic link (type `2`) to ``TarEntry/linkTarget``.
        case symbolicLink
        /// A hard link (type `1`) to the earlier entry ``TarEntry/linkTarget``.
        case hardLink
        /// A device, a FIFO or a type this reader does not know, with the header's type byte.
        case other(typeflag: UInt8)
    }

    /// The path in the archive: relative, `/`-separated, without `.` components, a leading
    /// `./` or a trailing `/` (folders); it never holds a `..` component.
    public var path: String
    /// What the entry is.
    public var kind: Kind
    /// The size of the entry's data in bytes (0 for folders and links).
    public var size: Int
    /// The permission bits recorded for the entry (`0o644`).
    public var mode: Int
    /// What a link points to; `nil` for other kinds.
    public var linkTarget: String?
    /// The entry's data (files; empty for other kinds).
    public var contents: [UInt8]

    /// Creates an entry.
    public init(path: String, kind: Kind, size: Int = 0, mode: Int = 0o644, linkTarget: String? = nil, contents: [UInt8] = []) {
        self.path = path
        self.kind = kind
        self.size = size
        self.mode = mode
        self.linkTarget = linkTarget
        self.contents = contents
    }
}

/// Reading and extracting tar archives (`.tar`, and `.tar.gz` through ``Gzip``): the POSIX
/// ustar format with pax extended headers (`path`, `linkpath`, `size`) and GNU long names.
///
/// The reader trusts nothing in an archive: every header's checksum is checked, every size is
/// checked against the data that follows, an archive that ends before its end-of-archive block
/// is refused, and so is any path that would land outside the destination (an absolute path or
/// one with a `..` component). Errors are ``DatasetError/invalidArchive(file:entry:reason:)``
/// naming the archive and the entry.
///
/// ```swift
/// try TarArchive.extract(contentsOf: archive, to: folder)      // cifar-10-binary.tar.gz
/// let readme = try TarArchive.entries(contentsOf: archive).first { $0.path.hasSuffix("readme.html") }
/// ```
public enum TarArchive {
    /// Reads every entry of an archive, files with their contents, into memory.
    ///
    /// The archive is decompressed first when it starts with the gzip magic bytes.
    /// - Parameter url: the `.tar` or `.tar.gz` file.
    /// - Throws: ``DatasetError/invalidArchive(file:entry:reason:)`` naming the archive and the
    ///   entry; gzip and I/O errors naming the archive.
    public static func entries(contentsOf url: URL) throws -> [TarEntry] {
        try readEntries(TarReader(url: url))
    }

    /// Reads every entry of an archive held in memory (gzip-compressed or not).
    /// - Parameters:
    ///   - bytes: the archive.
    ///   - name: the name errors give for the archive.
    /// - Throws: ``DatasetError/invalidArchive(file:entry:reason:)`` naming `name` and the entry.
    public static func entries(decoding bytes: [UInt8], name: String = "<memory>") throws -> [TarEntry] {
        try readEntries(TarReader(bytes: bytes, name: name))
    }

    /// Extracts the files and folders of an archive into `folder`, creating it if needed.
    ///
    /// Each file is written to a hidden temporary file next to its destination and renamed
    /// into place once complete (``AtomicFileWriter``): an archive found truncated or damaged
    /// halfway leaves the files before the damage whole and no partial file. Existing files of
    /// the same names are replaced. Links, devices and FIFOs are refused rather than skipped, as
    /// is a path through an existing symbolic link. Permission bits are not restored: files get
    /// `0o644`, folders `0o755` (less the umask).
    /// - Parameters:
    ///   - url: the `.tar` or `.tar.gz` file.
    ///   - folder: the destination.
    /// - Returns: the paths extracted, relative to `folder`, in archive order.
    /// - Throws: ``DatasetError/invalidArchive(file:entry:reason:)`` naming the archive and the
    ///   entry; ``DatasetError/io(file:reason:)`` when a file cannot be written.
    @discardableResult
    public static func extract(contentsOf url: URL, to folder: URL) throws -> [String] {
        let reader = try TarReader(url: url)
        let name = reader.archiveName
        let root = folder.standardizedFileURL.path
        try makeDestination(folder, archive: name)
        var extracted: [String] = []
        while let header = try reader.next() {
            let components = header.path.split(separator: "/").map(String.init)
            switch header.kind {
            case .directory:
                try makeFolders(root: root, components: components, archive: name, entry: header.path)
            case .file:
                try makeFolders(root: root, components: components.dropLast(), archive: name, entry: header.path)
                try extractFile(reader, to: root + "/" + header.path, entry: header.path)
            case .symbolicLink, .hardLink:
                throw DatasetError.invalidArchive(
                    file: name, entry: header.path,
                    reason: "a \(header.kind == .symbolicLink ? "symbolic" : "hard") link to \(header.linkTarget ?? "?"): only files and folders are extracted")
            case .other(let type):
                throw DatasetError.invalidArchive(
                    file: name, entry: header.path,
                    reason: "of type '\(TarReader.describe(type))' (a device, a FIFO or unknown): only files and folders are extracted")
            }
            extracted.append(header.path)
        }
        return extracted
    }

    private static func readEntries(_ reader: TarReader) throws -> [TarEntry] {
        var entries: [TarEntry] = []
        while let header = try reader.next() {
            let contents = header.kind == .file ? try reader.readData() : []
            entries.append(TarEntry(path: header.path, kind: header.kind, size: header.kind == .file ? header.size : 0,
                                    mode: header.mode, linkTarget: header.linkTarget, contents: contents))
        }
        return entries
    }

    private static func extractFile(_ reader: TarReader, to path: String, entry: String) throws {
        let name = reader.archiveName
        func mapped<R>(_ body: () throws -> R) throws -> R {
            do {
                return try body()
            } catch let error as FileWriteError {
                throw DatasetError.io(file: name, reason: "cannot extract \(entry) to \(path): \(error.reason)")
            }
        }
        let writer = try mapped { try AtomicFileWriter(path: path) }
        defer { writer.discard() }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
        defer { buffer.deallocate() }
        while true {
            let n = try reader.readData(into: buffer)
            if n == 0 { break }
            try mapped { try writer.write(UnsafeRawBufferPointer(rebasing: buffer[0..<n])) }
        }
        // An entry is whole with its padding: an archive cut there is as truncated as one cut
        // in the data, and keeps nothing of the entry the error names.
        try reader.skipRest()
        try mapped { try writer.commit() }
    }

    /// Creates the destination folder (which may be, or be under, a link of the caller's).
    private static func makeDestination(_ folder: URL, archive: String) throws {
        do {
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        } catch {
            throw DatasetError.io(file: archive, reason: "cannot create the folder \(folder.path): \(error.localizedDescription)")
        }
    }

    /// Creates the folders `components` under `root` one by one, refusing to go through a
    /// symbolic link or a file: an archive must not write outside the folder by way of a link
    /// already there.
    private static func makeFolders<C: Collection>(root: String, components: C, archive: String, entry: String) throws
        where C.Element == String {
        var path = root
        for component in components {
            path += "/" + component
            var info = stat()
            if lstat(path, &info) != 0 {
                // Created now, or by someone else in between: checked below like any other.
                guard mkdir(path, 0o755) == 0 || errno == EEXIST, lstat(path, &info) == 0 else {
                    throw DatasetError.io(file: archive, reason: "cannot create the folder \(path) for \(entry): \(systemErrorText())")
                }
            }
            let type = info.st_mode & S_IFMT
            guard type == S_IFDIR else {
                let what = type == S_IFLNK ? "a symbolic link (extraction does not follow links)" : "not a folder"
                throw DatasetError.invalidArchive(file: archive, entry: entry, reason: "\(path) is \(what)")
            }
        }
    }
}

/// A header of a tar archive once its pax and GNU long-name records are applied.
struct TarHeader {
    var path: String
    var kind: TarEntry.Kind
    /// The size of the data that follows the header.
    var size: Int
    var mode: Int
    var linkTarget: String?
}

/// Reads a tar archive in order, header after header, with each file's data in between: the
/// archive is never held in memory whole (CIFAR's is 180 MB).
final class TarReader {
    /// The archive's name, for errors.
    let archiveName: String
    private let input: ByteReader
    /// The archive's size when known (a plain file or bytes in memory): a size that cannot fit
    /// is refused before reading.
    private let knownSize: Int?
    /// Bytes consumed so far.
    private var offset = 0
    /// Data bytes of the current entry not read yet, and the padding after them.
    private var remaining = 0
    private var padding = 0
    /// The current entry's path and data size, for errors.
    private var current = ""
    private var currentSize = 0
    private var previous: String?
    private var ended = false

    static let blockSize = 512
    /// The largest pax or GNU long-name record read (their content is held in memory).
    static let maximumMetadataSize = 1 << 20

    init(input: ByteReader, name: String, knownSize: Int?) {
        self.input = input
        archiveName = name
        self.knownSize = knownSize
    }

    /// Reads `url`, decompressing it when it starts with the gzip magic bytes.
    convenience init(url: URL) throws {
        let file = try PlainFileReader(url: url)
        if Gzip.isCompressed(url) {
            self.init(input: try GzipFileReader(input: file, compressedSize: file.size), name: file.fileName, knownSize: nil)
        } else {
            self.init(input: file, name: file.fileName, knownSize: file.size)
        }
    }

    /// Reads bytes in memory, decompressing them when they start with the gzip magic bytes.
    convenience init(bytes: [UInt8], name: String) throws {
        let memory = MemoryReader(bytes, name: name)
        if bytes.count >= 2, bytes[0] == 0x1f, bytes[1] == 0x8b {
            self.init(input: try GzipFileReader(input: memory, compressedSize: bytes.count), name: name, knownSize: nil)
        } else {
            self.init(input: memory, name: name, knownSize: bytes.count)
        }
    }

    private func fail(_ entry: String, _ reason: String) -> DatasetError {
        DatasetError.invalidArchive(file: archiveName, entry: entry, reason: reason)
    }

    /// How errors name a header that cannot be read, which starts at `start`.
    private func headerPosition(_ start: Int) -> String {
        previous.map { "the header after \($0) (offset \(start))" } ?? "the first header"
    }

    /// Reads up to `buffer.count` bytes, as many as the input has.
    private func fill(_ buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        var done = 0
        while done < buffer.count {
            let n = try input.read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[done...]))
            if n == 0 { break }
            done += n
        }
        offset += done
        return done
    }

    /// Reads the current entry's data into `buffer`, at most what is left of it; 0 at its end.
    /// - Throws: ``DatasetError/invalidArchive(file:entry:reason:)`` when the archive ends first.
    func readData(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        let wanted = min(buffer.count, remaining)
        guard wanted > 0 else { return 0 }
        let n = try fill(UnsafeMutableRawBufferPointer(rebasing: buffer[0..<wanted]))
        remaining -= n
        if n < wanted {
            throw fail(current, "truncated: its data is \(currentSize) bytes, the archive ends after \(currentSize - remaining) of them")
        }
        return n
    }

    /// The rest of the current entry's data, read in chunks (memory grows with the data found,
    /// never with the size a header announces).
    func readData() throws -> [UInt8] {
        var result: [UInt8] = []
        let chunk = UnsafeMutableRawBufferPointer.allocate(byteCount: min(max(remaining, 1), 1 << 20), alignment: 16)
        defer { chunk.deallocate() }
        while true {
            let n = try readData(into: chunk)
            if n == 0 { return result }
            result.append(contentsOf: UnsafeRawBufferPointer(rebasing: chunk[0..<n]))
        }
    }

    /// Skips what is left of the current entry and its padding.
    func skipRest() throws {
        let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 16, alignment: 16)
        defer { scratch.deallocate() }
        while try readData(into: scratch) > 0 {}
        while padding > 0 {
            let wanted = min(padding, scratch.count)
            let n = try fill(UnsafeMutableRawBufferPointer(rebasing: scratch[0..<wanted]))
            padding -= n
            if n < wanted {
                throw fail(current, "truncated: the archive ends in the padding after the entry's data (a tar archive is made of 512-byte blocks)")
            }
        }
    }

    /// The next file, folder or link, or `nil` at the end-of-archive block. Pax extended
    /// headers and GNU long names are read and applied to the entry they precede.
    func next() throws -> TarHeader? {
        guard !ended else { return nil }
        try skipRest()
        var paxPath: String?
        var paxLink: String?
        var paxSize: Int?
        var longName: String?
        var longLink: String?
        let block = UnsafeMutableRawBufferPointer.allocate(byteCount: Self.blockSize, alignment: 16)
        defer { block.deallocate() }
        while true {
            let start = offset
            let n = try fill(block)
            if n == 0 {
                throw fail(headerPosition(start), "truncated: the archive ends without its end-of-archive block (512 zero bytes)")
            }
            if n < Self.blockSize {
                throw fail(headerPosition(start), "truncated: the archive ends \(n) bytes into a 512-byte header")
            }
            let bytes = UnsafeRawBufferPointer(block)
            if bytes.allSatisfy({ $0 == 0 }) {
                // One zero block ends the archive (writers add a second and pad to a record):
                // what follows is not read.
                ended = true
                return nil
            }
            let rawName = Self.string(bytes, 0, 100)
            let label = rawName.isEmpty ? "at offset \(start)" : rawName
            try checkChecksum(bytes, entry: label)
            let magic = Array(bytes[257..<263])
            let posix = magic == Array("ustar\0".utf8)
            let gnu = magic == Array("ustar ".utf8)
            guard posix || gnu || magic.allSatisfy({ $0 == 0 }) else {
                throw fail(label, "magic: expected \"ustar\", found \(Self.printable(magic))")
            }
            let type = bytes[156]
            let size = try number(bytes, 124, 12, field: "size", entry: label)
            let mode = (try? number(bytes, 100, 8, field: "mode", entry: label)) ?? 0o644

            switch type {
            case UInt8(ascii: "x"), UInt8(ascii: "g"), UInt8(ascii: "L"), UInt8(ascii: "K"):
                guard size <= Self.maximumMetadataSize else {
                    throw fail(label, "size: a \(type == UInt8(ascii: "L") || type == UInt8(ascii: "K") ? "GNU long name" : "pax header") of \(size) bytes (more than \(Self.maximumMetadataSize))")
                }
                try begin(label, size: size, hasData: true)
                let data = try readData()
                try skipRest()
                previous = label
                switch type {
                case UInt8(ascii: "x"):
                    let records = try paxRecords(data, entry: label)
                    if let path = records["path"] { paxPath = path }
                    if let link = records["linkpath"] { paxLink = link }
                    if let text = records["size"] {
                        guard !text.isEmpty, text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), let value = Int(text) else {
                            throw fail(label, "pax size: expected a decimal number, found \(Self.printable(Array(text.utf8)))")
                        }
                        paxSize = value
                    }
                case UInt8(ascii: "L"):
                    longName = Self.string(data)
                case UInt8(ascii: "K"):
                    longLink = Self.string(data)
                default:
                    break   // a global pax header: nothing in it changes how entries are read
                }
                continue
            default:
                break
            }

            var name = rawName
            let prefix = posix ? Self.string(bytes, 345, 155) : ""
            if !prefix.isEmpty { name = prefix + "/" + name }
            if let longName { name = longName }
            if let paxPath { name = paxPath }
            let entrySize = paxSize ?? size
            let kind: TarEntry.Kind
            switch type {
            case 0, UInt8(ascii: "0"), UInt8(ascii: "7"): kind = .file
            case UInt8(ascii: "5"): kind = .directory
            case UInt8(ascii: "2"): kind = .symbolicLink
            case UInt8(ascii: "1"): kind = .hardLink
            default: kind = .other(typeflag: type)
            }
            // An old-style folder is a regular-file entry whose name ends with a slash.
            let isFolder = kind == .directory || (kind == .file && name.hasSuffix("/") && entrySize == 0)
            let path = try safePath(name, entry: name.isEmpty ? label : name, isFolder: isFolder)
            // Only files and unknown types carry data (as tar does: a folder's or a link's size
            // field says nothing about what follows).
            var hasData = false
            if case .other = kind { hasData = true }
            if kind == .file { hasData = true }
            try begin(path.isEmpty ? "./" : path, size: entrySize, hasData: hasData)
            previous = path.isEmpty ? "./" : path
            // The folder itself (`./`, what `tar -C folder .` writes first) is not an entry;
            // the records that named it are used up all the same.
            if path.isEmpty {
                (paxPath, paxLink, paxSize, longName, longLink) = (nil, nil, nil, nil, nil)
                continue
            }
            var linkTarget: String?
            if kind == .symbolicLink || kind == .hardLink {
                linkTarget = paxLink ?? longLink ?? Self.string(bytes, 157, 100)
            }
            return TarHeader(path: path, kind: isFolder ? .directory : kind, size: hasData ? entrySize : 0,
                             mode: mode, linkTarget: linkTarget)
        }
    }

    /// Starts an entry whose data is `size` bytes (`hasData`), checking that they fit.
    private func begin(_ entry: String, size: Int, hasData: Bool) throws {
        current = entry
        let dataSize = hasData ? size : 0
        currentSize = dataSize
        remaining = dataSize
        let (blocks, overflow) = dataSize.addingReportingOverflow(Self.blockSize - 1)
        guard !overflow else { throw fail(entry, "size: \(size) bytes cannot be right") }
        padding = blocks / Self.blockSize * Self.blockSize - dataSize
        if let knownSize, dataSize > knownSize - offset {
            throw fail(entry, "truncated: its data is \(dataSize) bytes, the archive has \(knownSize - offset) left")
        }
    }

    /// Checks the header checksum: the sum of the header's bytes with the checksum field
    /// counted as spaces (unsigned, or signed as some old writers summed).
    private func checkChecksum(_ bytes: UnsafeRawBufferPointer, entry: String) throws {
        let recorded = try number(bytes, 148, 8, field: "checksum", entry: entry)
        var unsigned = 0, signed = 0
        for i in 0..<Self.blockSize {
            let byte = (148..<156).contains(i) ? 0x20 : bytes[i]
            unsigned += Int(byte)
            signed += Int(Int8(bitPattern: byte))
        }
        guard recorded == unsigned || recorded == signed else {
            throw fail(entry, "header checksum: the header records \(recorded), its bytes sum to \(unsigned) (a damaged archive, or not a tar archive)")
        }
    }

    /// A numeric field: octal digits (after optional spaces, ended by a space or NUL), or GNU's
    /// base-256 form (first byte 0x80) for values too large for octal.
    private func number(_ bytes: UnsafeRawBufferPointer, _ start: Int, _ length: Int, field: String, entry: String) throws -> Int {
        let field8 = bytes[start..<(start + length)]
        if let first = field8.first, first & 0x80 != 0 {
            guard first == 0x80 else { throw fail(entry, "\(field): a negative base-256 number") }
            var value = 0
            for byte in field8.dropFirst() {
                guard value <= (Int.max >> 8) else { throw fail(entry, "\(field): a base-256 number too large") }
                value = value << 8 | Int(byte)
            }
            return value
        }
        var value = 0
        var digits = 0
        var index = field8.startIndex
        while index < field8.endIndex, field8[index] == 0x20 { index += 1 }
        while index < field8.endIndex {
            let byte = field8[index]
            if byte == 0 || byte == 0x20 { break }
            guard byte >= 0x30 && byte <= 0x37 else {
                throw fail(entry, "\(field): expected octal digits, found \(Self.printable(Array(field8)))")
            }
            value = value * 8 + Int(byte - 0x30)
            digits += 1
            index += 1
        }
        guard digits > 0 else {
            throw fail(entry, "\(field): expected octal digits, found \(Self.printable(Array(field8)))")
        }
        return value
    }

    /// Parses pax records, `"<length> <key>=<value>\n"` each, `length` counting the whole record.
    private func paxRecords(_ data: [UInt8], entry: String) throws -> [String: String] {
        var records: [String: String] = [:]
        var position = 0
        var number = 1
        while position < data.count {
            // A pax header may be padded with NULs after its last record.
            if data[position...].allSatisfy({ $0 == 0 }) { break }
            var length = 0
            var cursor = position
            while cursor < data.count, data[cursor] >= 0x30, data[cursor] <= 0x39, length <= Self.maximumMetadataSize {
                length = length * 10 + Int(data[cursor] - 0x30)
                cursor += 1
            }
            guard cursor > position, cursor < data.count, data[cursor] == 0x20,
                  length > cursor - position + 1, length <= data.count - position,
                  data[position + length - 1] == 0x0a else {
                throw fail(entry, "pax record \(number): expected \"<length> <key>=<value>\\n\" with the right length")
            }
            let body = data[(cursor + 1)..<(position + length - 1)]
            guard let equals = body.firstIndex(of: UInt8(ascii: "=")) else {
                throw fail(entry, "pax record \(number): no '=' between key and value")
            }
            let key = String(decoding: body[body.startIndex..<equals], as: UTF8.self)
            let value = String(decoding: body[(equals + 1)...], as: UTF8.self)
            records[key] = value
            position += length
            number += 1
        }
        return records
    }

    /// Normalizes a path and refuses any that would leave the destination folder.
    private func safePath(_ name: String, entry: String, isFolder: Bool) throws -> String {
        guard !name.isEmpty else { throw fail(entry, "path: empty") }
        guard !name.utf8.contains(0) else { throw fail(entry, "path: holds a NUL byte") }
        guard !name.hasPrefix("/") else {
            throw fail(entry, "path: absolute; an archive's paths must stay inside the folder it is extracted to")
        }
        let components = name.split(separator: "/", omittingEmptySubsequences: true).filter { $0 != "." }
        guard !components.contains("..") else {
            throw fail(entry, "path: has a '..' component; an archive's paths must stay inside the folder it is extracted to")
        }
        if components.isEmpty && !isFolder { throw fail(entry, "path: names the folder itself, not a file") }
        return components.joined(separator: "/")
    }

    /// The bytes `start..<start + length` up to the first NUL, as UTF-8 text.
    static func string(_ bytes: UnsafeRawBufferPointer, _ start: Int, _ length: Int) -> String {
        let field = bytes[start..<(start + length)]
        let end = field.firstIndex(of: 0) ?? field.endIndex
        return String(decoding: field[field.startIndex..<end], as: UTF8.self)
    }

    /// The bytes up to the first NUL, as UTF-8 text.
    static func string(_ bytes: [UInt8]) -> String {
        String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
    }

    /// Bytes shown as text, with unprintable ones escaped (`"ab\0\x8f"`).
    static func printable(_ bytes: [UInt8]) -> String {
        var text = "\""
        for byte in bytes {
            switch byte {
            case 0: text += "\\0"
            case 0x20...0x7e where byte != 0x22 && byte != 0x5c: text.append(Character(UnicodeScalar(byte)))
            default: text += "\\x" + String(byte, radix: 16)
            }
        }
        return text + "\""
    }

    /// A type byte as text.
    static func describe(_ type: UInt8) -> String {
        (0x21...0x7e).contains(type) ? String(UnicodeScalar(type)) : "\\x" + String(type, radix: 16)
    }
}
