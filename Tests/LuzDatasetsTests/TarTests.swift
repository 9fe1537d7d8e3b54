import Foundation
@testable import LuzDatasets
import Testing

/// Writes tar archives byte by byte, independently of the reader under test: ustar headers,
/// pax extended headers, GNU long names, the end-of-archive blocks.
struct TarBuilder {
    private(set) var bytes: [UInt8] = []

    /// A 512-byte header with its checksum.
    static func header(name: String, size: Int, type: Character = "0", prefix: String = "", linkName: String = "",
                       mode: Int = 0o644, gnu: Bool = false) -> [UInt8] {
        var block = [UInt8](repeating: 0, count: 512)
        func put(_ text: String, at offset: Int, width: Int) {
            let utf8 = Array(text.utf8)
            precondition(utf8.count <= width, "\(text) does not fit in \(width) bytes")
            block.replaceSubrange(offset..<(offset + utf8.count), with: utf8)
        }
        func octal(_ value: Int, at offset: Int, width: Int) {
            put(String(repeating: "0", count: max(0, width - 1 - String(value, radix: 8).count)) + String(value, radix: 8),
                at: offset, width: width - 1)
        }
        put(name, at: 0, width: 100)
        octal(mode, at: 100, width: 8)
        octal(0, at: 108, width: 8)
        octal(0, at: 116, width: 8)
        octal(size, at: 124, width: 12)
        octal(1_700_000_000, at: 136, width: 12)
        block[156] = type.asciiValue!
        put(linkName, at: 157, width: 100)
        if gnu {
            put("ustar  ", at: 257, width: 8)
        } else {
            put("ustar", at: 257, width: 6)
            put("00", at: 263, width: 2)
            put(prefix, at: 345, width: 155)
        }
        put("        ", at: 148, width: 8)
        let sum = block.reduce(0) { $0 + Int($1) }
        let text = String(sum, radix: 8)
        put(String(repeating: "0", count: 6 - text.count) + text, at: 148, width: 6)
        block[154] = 0
        block[155] = 0x20
        return block
    }

    /// Data padded to whole 512-byte blocks.
    static func padded(_ data: [UInt8]) -> [UInt8] {
        data + [UInt8](repeating: 0, count: (512 - data.count % 512) % 512)
    }

    mutating func file(_ name: String, _ contents: [UInt8], prefix: String = "", gnu: Bool = false) {
        bytes += Self.header(name: name, size: contents.count, prefix: prefix, gnu: gnu) + Self.padded(contents)
    }

    mutating func file(_ name: String, _ text: String) { file(name, Array(text.utf8)) }

    mutating func directory(_ name: String) {
        bytes += Self.header(name: name, size: 0, type: "5", mode: 0o755)
    }

    mutating func symbolicLink(_ name: String, to target: String) {
        bytes += Self.header(name: name, size: 0, type: "2", linkName: target)
    }

    /// A pax extended header holding `records` (key, value), for the entry that follows.
    mutating func pax(_ records: [(String, String)]) {
        var data: [UInt8] = []
        for (key, value) in records {
            let body = " \(key)=\(value)\n"
            // The length counts its own digits.
            var length = body.utf8.count + 1
            while String(length).count + body.utf8.count > length { length += 1 }
            data += Array("\(length)\(body)".utf8)
        }
        bytes += Self.header(name: "./PaxHeaders/entry", size: data.count, type: "x") + Self.padded(data)
    }

    /// A GNU long-name record for the entry that follows.
    mutating func gnuLongName(_ name: String) {
        let data = Array(name.utf8) + [0]
        bytes += Self.header(name: "././@LongLink", size: data.count, type: "L", gnu: true) + Self.padded(data)
    }

    mutating func raw(_ data: [UInt8]) { bytes += data }

    /// The two zero blocks that end an archive.
    mutating func end() { bytes += [UInt8](repeating: 0, count: 1024) }
}

/// The `DatasetError.invalidArchive` fields of an error, or `nil`.
func archiveError(_ error: any Error) -> (file: String, entry: String, reason: String)? {
    guard case let .invalidArchive(file, entry, reason)? = error as? DatasetError else { return nil }
    return (file, entry, reason)
}

@Suite("tar archives")
struct TarTests {
    static let systemTar = "/usr/bin/tar"
    static let hasSystemTar = FileManager.default.isExecutableFile(atPath: systemTar)

    /// An archive with a folder, files, a long name in a pax header, a GNU long name, a ustar
    /// prefix and a pax size that overrides the header's.
    static func sampleArchive() -> (bytes: [UInt8], long: String, gnuLong: String) {
        let long = "data/" + String(repeating: "long-folder-name/", count: 8) + "file.bin"
        let gnuLong = "data/" + String(repeating: "g", count: 150) + ".txt"
        var tar = TarBuilder()
        tar.directory("data/")
        tar.file("data/a.txt", "alpha\n")
        tar.file("./data/empty", [])
        tar.pax([("path", long), ("mtime", "1700000000.5")])
        tar.file("data/placeholder", sampleBytes(1500, seed: 3))
        tar.gnuLongName(gnuLong)
        tar.file("data/truncated-name", Array("gnu\n".utf8), gnu: true)
        tar.file("deep.txt", Array("prefixed\n".utf8), prefix: "data/with/prefix")
        // The pax size is the true one; the header's octal field says 0 (as for files over 8 GiB).
        tar.pax([("size", "700")])
        tar.raw(TarBuilder.header(name: "data/sized", size: 0) + TarBuilder.padded(sampleBytes(700, seed: 4)))
        tar.end()
        return (tar.bytes, long, gnuLong)
    }

    @Test("reads folders and files, pax paths and sizes, GNU long names and ustar prefixes")
    func readsEntries() throws {
        let (bytes, long, gnuLong) = Self.sampleArchive()
        let entries = try TarArchive.entries(decoding: bytes, name: "sample.tar")
        #expect(entries.map(\.path) == ["data", "data/a.txt", "data/empty", long, gnuLong, "data/with/prefix/deep.txt", "data/sized"])
        #expect(entries[0].kind == .directory && entries[0].contents.isEmpty)
        #expect(entries[1].kind == .file && entries[1].contents == Array("alpha\n".utf8) && entries[1].size == 6)
        #expect(entries[2].contents.isEmpty && entries[2].kind == .file)
        #expect(entries[3].contents == sampleBytes(1500, seed: 3))
        #expect(entries[4].contents == Array("gnu\n".utf8))
        #expect(entries[5].contents == Array("prefixed\n".utf8))
        #expect(entries[6].contents == sampleBytes(700, seed: 4) && entries[6].size == 700)
        // The same archive gzip-compressed reads the same (the reader does not know the size).
        #expect(try TarArchive.entries(decoding: gzipCompressed(bytes), name: "sample.tar.gz") == entries)
        // The destination folder itself (`./`) is no entry, and the pax record naming it does
        // not carry over to the next one.
        var root = TarBuilder()
        root.pax([("path", "./")])
        root.directory("ignored/")
        root.file("b", "b")
        root.end()
        #expect(try TarArchive.entries(decoding: root.bytes).map(\.path) == ["b"])
    }

    @Test("extraction writes the files and folders, and nothing else")
    func extracts() throws {
        let dir = try TemporaryDirectory()
        defer { dir.cleanup() }
        let (bytes, long, gnuLong) = Self.sampleArchive()
        try gzipCompressed(bytes).write(to: dir.file("sample.tar.gz"))
        let target = dir.url.appendingPathComponent("out/nested")
        let paths = try TarArchive.extract(contentsOf: dir.file("sample.tar.gz"), to: target)
        #expect(paths.count == 7)
        #expect(try Data(contentsOf: target.appendingPathComponent("data/a.txt")) == Data("alpha\n".utf8))
        #expect(try Data(contentsOf: target.appendingPathComponent(long)) == Data(sampleBytes(1500, seed: 3)))
        #expect(try Data(contentsOf: target.appendingPathComponent(gnuLong)) == Data("gnu\n".utf8))
        #expect(try Data(contentsOf: target.appendingPathComponent("data/sized")) == Data(sampleBytes(700, seed: 4)))
        #expect(dir.contents(of: "out/nested") == ["data"])
        #expect(dir.contents(of: "out/nested/data").sorted() == ["a.txt", "empty", gnuLong.dropFirst(5).description, "long-folder-name", "sized", "with"].sorted())
        // Extracting again replaces the files in place.
        try TarArchive.extract(contentsOf: dir.file("sample.tar.gz"), to: target)
        #expect(dir.contents(of: "out/nested/data").count == 6)
    }

    @Test("paths that leave the folder are refused, naming the entry; nothing is written outside",
          arguments: ["/etc/evil", "../evil", "data/../../evil", "./../evil", "data/.."])
    func escapingPaths(path: String) throws {
        let dir = try TemporaryDirectory()
        defer { dir.cleanup() }
        for viaPax in [false, true] {
            var tar = TarBuilder()
            tar.file("ok.txt", "fine")
            if viaPax {
                tar.pax([("path", path)])
                tar.file("harmless", "evil")
            } else {
                tar.file(path, "evil")
            }
            tar.end()
            try tar.bytes.write(to: dir.file("escape.tar"))
            #expect { try TarArchive.entries(decoding: tar.bytes, name: "escape.tar") } throws: { error in
                guard let (file, entry, reason) = archiveError(error) else { return false }
                return file == "escape.tar" && entry == path && (reason.contains("absolute") || reason.contains("'..'"))
            }
            let target = dir.url.appendingPathComponent("target")
            #expect(throws: DatasetError.self) { try TarArchive.extract(contentsOf: dir.file("escape.tar"), to: target) }
            #expect(dir.contents().sorted() == ["escape.tar", "target"])
            #expect(dir.contents(of: "target") == ["ok.txt"])
        }
    }

    @Test("a truncated archive is refused, naming the entry; extraction leaves no partial file")
    func truncated() throws {
        var tar = TarBuilder()
        tar.file("first.bin", sampleBytes(600, seed: 1))
        tar.file("second.bin", sampleBytes(5000, seed: 2))
        tar.end()
        let whole = tar.bytes
        // Cut in the second file's data, in its header, right after it (no end block), and in
        // the padding after its data.
        let cuts: [(Int, String, String)] = [
            (1536 + 512 + 2000, "second.bin", "its data is 5000 bytes"),
            (1536 + 100, "the header after first.bin (offset 1536)", "ends 100 bytes into a 512-byte header"),
            (1536 + 512 + 5120, "the header after second.bin (offset 7168)", "end-of-archive block"),
            (1536 + 512 + 5010, "second.bin", "padding"),
        ]
        let dir = try TemporaryDirectory()
        defer { dir.cleanup() }
        for (cut, entry, reason) in cuts {
            let bytes = Array(whole.prefix(cut))
            for compressed in [false, true] {
                let input = compressed ? gzipCompressed(bytes) : bytes
                #expect { try TarArchive.entries(decoding: input, name: "cut.tar") } throws: { error in
                    guard let found = archiveError(error) else { return false }
                    return found.file == "cut.tar" && found.entry == entry && found.reason.contains("truncated")
                        && found.reason.contains(reason)
                }
                try input.write(to: dir.file("cut.tar"))
                let target = dir.url.appendingPathComponent("out-\(cut)-\(compressed)")
                #expect(throws: DatasetError.self) { try TarArchive.extract(contentsOf: dir.file("cut.tar"), to: target) }
                // The complete first file is there; the cut one is not, not even as a temporary file.
                let left = dir.contents(of: target.lastPathComponent)
                #expect(left == (entry == "second.bin" || cut < 1536 + 512 + 5000 ? ["first.bin"] : ["first.bin", "second.bin"]))
            }
        }
        // A header announcing far more than the archive holds is refused before reading.
        var huge = TarBuilder()
        huge.raw(TarBuilder.header(name: "huge.bin", size: 0o77777777777))
        huge.end()
        #expect { try TarArchive.entries(decoding: huge.bytes, name: "huge.tar") } throws: { error in
            archiveError(error)?.entry == "huge.bin" && archiveError(error)?.reason.contains("the archive has 1024 left") == true
        }
    }

    @Test("a header with a wrong checksum is refused, naming the entry")
    func badChecksum() throws {
        var tar = TarBuilder()
        tar.file("good.txt", "good")
        var header = TarBuilder.header(name: "damaged.txt", size: 4)
        header[130] ^= 0x01     // one bit of the size field
        tar.raw(header + TarBuilder.padded(Array("oops".utf8)))
        tar.end()
        #expect { try TarArchive.entries(decoding: tar.bytes, name: "bad.tar") } throws: { error in
            guard let found = archiveError(error) else { return false }
            return found.file == "bad.tar" && found.entry == "damaged.txt" && found.reason.contains("header checksum")
        }
        // Not a tar archive at all.
        #expect { try TarArchive.entries(decoding: Array(repeating: 0x41, count: 2048), name: "text.tar") } throws: { error in
            archiveError(error)?.reason.contains("checksum") == true
        }
        #expect { try TarArchive.entries(decoding: [], name: "empty.tar") } throws: { error in
            archiveError(error)?.entry == "the first header"
        }
    }

    @Test("malformed pax records and numeric fields are refused")
    func malformedMetadata() throws {
        var tar = TarBuilder()
        let data = Array("99 path=x\n".utf8)
        tar.raw(TarBuilder.header(name: "PaxHeaders/x", size: data.count, type: "x") + TarBuilder.padded(data))
        tar.file("x", "x")
        tar.end()
        #expect { try TarArchive.entries(decoding: tar.bytes, name: "pax.tar") } throws: { error in
            archiveError(error)?.entry == "PaxHeaders/x" && archiveError(error)?.reason.contains("pax record 1") == true
        }
        var size = TarBuilder()
        size.pax([("size", "-5")])
        size.file("x", "x")
        size.end()
        #expect { try TarArchive.entries(decoding: size.bytes, name: "pax.tar") } throws: { error in
            archiveError(error)?.reason.contains("pax size") == true
        }
    }

    @Test("links are read but not extracted; extraction does not follow a link already there")
    func links() throws {
        var tar = TarBuilder()
        tar.symbolicLink("link", to: "/etc")
        tar.end()
        let entries = try TarArchive.entries(decoding: tar.bytes, name: "link.tar")
        #expect(entries == [TarEntry(path: "link", kind: .symbolicLink, linkTarget: "/etc")])
        let dir = try TemporaryDirectory()
        defer { dir.cleanup() }
        try tar.bytes.write(to: dir.file("link.tar"))
        #expect { try TarArchive.extract(contentsOf: dir.file("link.tar"), to: dir.url.appendingPathComponent("a")) } throws: { error in
            archiveError(error)?.entry == "link" && archiveError(error)?.reason.contains("symbolic link") == true
        }
        // A link in the target folder pointing outside it: a file under it is refused.
        let outside = dir.url.appendingPathComponent("outside")
        try FileManager.default.createDirectory(at: outside, withIntermediateDirectories: true)
        let target = dir.url.appendingPathComponent("b")
        try FileManager.default.createDirectory(at: target, withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(at: target.appendingPathComponent("sub"), withDestinationURL: outside)
        var through = TarBuilder()
        through.file("sub/planted.txt", "planted")
        through.end()
        try through.bytes.write(to: dir.file("through.tar"))
        #expect { try TarArchive.extract(contentsOf: dir.file("through.tar"), to: target) } throws: { error in
            archiveError(error)?.entry == "sub/planted.txt" && archiveError(error)?.reason.contains("symbolic link") == true
        }
        #expect(dir.contents(of: "outside").isEmpty)
    }

    @Test("archives made by the system tar read back: ustar, gnu, pax, gzip",
          .enabled(if: hasSystemTar, "needs /usr/bin/tar"))
    func systemTar() throws {
        let dir = try TemporaryDirectory()
        defer { dir.cleanup() }
        let source = dir.url.appendingPathComponent("source")
        let long = "nested/" + String(repeating: "a", count: 120) + "/" + String(repeating: "b", count: 110) + ".bin"
        let files: [String: [UInt8]] = [
            "top.txt": Array("top\n".utf8),
            "nested/inner.bin": sampleBytes(10_000, seed: 5),
            "nested/empty": [],
            long: sampleBytes(513, seed: 6),
        ]
        for (path, contents) in files {
            let url = source.appendingPathComponent(path)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try contents.write(to: url)
        }
        for (format, flags) in [("gnu", ["--format=gnu", "-cf"]), ("pax", ["--format=pax", "-cf"]), ("gz", ["--format=gnu", "-czf"]),
                                ("ustar", ["--format=ustar", "-cf"])] {
            let archive = dir.file("made-by-tar.\(format)")
            // ustar cannot hold a 110-character file name: leave the long file out there.
            let members = format == "ustar" ? ["top.txt", "nested/inner.bin", "nested/empty"] : ["."]
            let process = Process()
            process.executableURL = URL(fileURLWithPath: Self.systemTar)
            process.arguments = flags + [archive.path, "-C", source.path] + members
            try process.run()
            process.waitUntilExit()
            try #require(process.terminationStatus == 0, "tar \(flags) failed")
            let entries = try TarArchive.entries(contentsOf: archive)
            let read = Dictionary(uniqueKeysWithValues: entries.filter { $0.kind == .file }.map { ($0.path, $0.contents) })
            let expected = format == "ustar" ? files.filter { $0.key != long } : files
            #expect(read == expected, "format \(format)")
            if format != "ustar" {
                #expect(entries.contains { $0.path == "nested" && $0.kind == .directory })
            }
            let target = dir.url.appendingPathComponent("extracted-\(format)")
            try TarArchive.extract(contentsOf: archive, to: target)
            for (path, contents) in expected {
                let url = target.appendingPathComponent(path)
                if contents.isEmpty {
                    // Foundation's Data(contentsOf:) leaks its read buffer for an empty file
                    // (swift-corelibs-foundation), which the sanitizer pass reports: check the size.
                    let size = try FileManager.default.attributesOfItem(atPath: url.path)[.size] as? NSNumber
                    #expect(size?.intValue == 0, "\(format): \(path)")
                } else {
                    #expect(try Data(contentsOf: url) == Data(contents), "\(format): \(path)")
                }
            }
        }
        // And the other way round: the system tar lists what the tests' builder writes, so the
        // builder's archives are real ones.
        let (bytes, long2, _) = Self.sampleArchive()
        try bytes.write(to: dir.file("built.tar"))
        let list = Process()
        let pipe = Pipe()
        list.executableURL = URL(fileURLWithPath: Self.systemTar)
        list.arguments = ["-tf", dir.file("built.tar").path]
        list.standardOutput = pipe
        try list.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        list.waitUntilExit()
        #expect(list.terminationStatus == 0)
        #expect(output.contains(long2) && output.contains("data/with/prefix/deep.txt"))
    }
}
