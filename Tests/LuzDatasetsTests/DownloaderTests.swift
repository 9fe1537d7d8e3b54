import Foundation
@testable import LuzDatasets
import LuzSerialization
import LuzTensor
import Testing

/// Downloads from a loopback HTTP server and `file://` mirrors, into temporary caches.
@Suite("downloads")
struct DownloaderTests {
    /// A compressed IDX file and its description with correct checksums.
    static func sampleFile(name: String = "train-labels-idx1-ubyte.gz", count: Int = 5000)
        -> (bytes: [UInt8], file: RemoteFile) {
        let content = IDXArray(shape: [count], values: .uint8(sampleBytes(count, seed: 11))).encoded()
        let compressed = gzipCompressed(content)
        return (compressed, RemoteFile(name: name, md5: Checksum.md5(of: compressed),
                                       contentMD5: Checksum.md5(of: content)))
    }

    /// A downloader that never draws a progress bar and reads no real environment.
    static func downloader(cache: URL, mirror: String? = nil) -> Downloader {
        var environment = ["LUZ_DATA_DIR": cache.path, "HOME": "/nonexistent"]
        if let mirror { environment["LUZ_DATASET_MIRROR"] = mirror }
        return Downloader(environment: environment, showsProgress: false, timeout: 20)
    }

    @Test("a download over HTTP lands in the cache, verified, with nothing else left")
    func download() throws {
        let server = try LoopbackHTTPServer()
        defer { server.stop() }
        let dir = try TemporaryDirectory()
        defer { dir.cleanup() }
        let (bytes, file) = Self.sampleFile()
        server.route("/data/\(file.name)", .body(bytes))
        let downloader = Self.downloader(cache: dir.url)
        let folder = dir.url.appendingPathComponent("mnist")
        let url = try downloader.fetch(file, from: [server.baseURL.appendingPathComponent("data")], into: folder)
        #expect(url == folder.appendingPathComponent(file.name))
        #expect(try Data(contentsOf: url) == Data(bytes))
        #expect(dir.contents(of: "mnist") == [".\(file.name).verified", file.name])   // the file and its verification stamp
        // Cached now: a second fetch does not ask the server again.
        _ = try downloader.fetch(file, from: [server.baseURL.appendingPathComponent("data")], into: folder)
        #expect(server.requestedPaths == ["/data/\(file.name)"])
    }

    @Test("after a 404 on the first mirror the second one is used")
    func mirrorFallback() throws {
        let server = try LoopbackHTTPServer()
        defer { server.stop() }
        let dir = try TemporaryDirectory()
        defer { dir.cleanup() }
        let (bytes, file) = Self.sampleFile()
        server.route("/second/\(file.name)", .body(bytes))
        let mirrors = [server.baseURL.appendingPathComponent("first"), server.baseURL.appendingPathComponent("second")]
        let url = try Self.downloader(cache: dir.url).fetch(file, from: mirrors, into: dir.url)
        #expect(try Data(contentsOf: url) == Data(bytes))
        #expect(server.requestedPaths == ["/first/\(file.name)", "/second/\(file.name)"])
        #expect(dir.contents() == [".\(file.name).verified", file.name])
    }

    @Test("every mirror failing gives an error listing each URL and its reason")
    func allMirrorsFail() throws {
        let server = try LoopbackHTTPServer()
        defer { server.stop() }
        let dir = try TemporaryDirectory()
        defer { dir.cleanup() }
        let (_, file) = Self.sampleFile()
        let mirrors = [server.baseURL.appendingPathComponent("a"), server.baseURL.appendingPathComponent("b")]
        do {
            try Self.downloader(cache: dir.url).fetch(file, from: mirrors, into: dir.url)
            Issue.record("a download with no mirror serving the file succeeded")
        } catch let error as DatasetError {
            guard case .downloadFailed(let name, let attempts) = error else {
                Issue.record("unexpected error \(error)")
                return
            }
            #expect(name == file.name)
            #expect(attempts.count == 2)
            #expect(attempts.allSatisfy { $0.contains("404") })
        }
        #expect(dir.contents().isEmpty)
    }

    @Test("a checksum mismatch deletes the file and names the file and the sums")
    func checksumMismatch() throws {
        let server = try LoopbackHTTPServer()
        defer { server.stop() }
        let dir = try TemporaryDirectory()
        defer { dir.cleanup() }
        let (bytes, file) = Self.sampleFile()
        let (otherBytes, otherFile) = Self.sampleFile(count: 4000)
        server.route("/m/\(file.name)", .body(otherBytes))
        do {
            try Self.downloader(cache: dir.url).fetch(file, from: [server.baseURL.appendingPathComponent("m")], into: dir.url)
            Issue.record("a file with the wrong content was accepted")
        } catch let error as DatasetError {
            #expect(error == .checksumMismatch(file: file.name, expected: file.md5!, actual: otherFile.md5!,
                                               expectedContent: file.contentMD5, actualContent: otherFile.contentMD5))
            let message = error.description
            for part in [file.name, file.md5!, otherFile.md5!, file.contentMD5!, otherFile.contentMD5!] {
                #expect(message.contains(part), "the message lacks \(part): \(message)")
            }
        }
        #expect(dir.contents().isEmpty)
        _ = bytes
    }

    @Test("a recompressed file passes by its content checksum")
    func recompressedPasses() throws {
        let server = try LoopbackHTTPServer()
        defer { server.stop() }
        let dir = try TemporaryDirectory()
        defer { dir.cleanup() }
        let (_, file) = Self.sampleFile()
        let content = IDXArray(shape: [5000], values: .uint8(sampleBytes(5000, seed: 11))).encoded()
        let recompressed = gzipCompressed(content, level: 9)
        #expect(Checksum.md5(of: recompressed) != file.md5)
        server.route("/\(file.name)", .body(recompressed))
        let url = try Self.downloader(cache: dir.url).fetch(file, from: [server.baseURL], into: dir.url)
        #expect(try IDXArray(contentsOf: url).values == .uint8(sampleBytes(5000, seed: 11)))
    }

    @Test("a body shorter than its Content-Length fails and leaves nothing in the cache")
    func truncatedBody() throws {
        let server = try LoopbackHTTPServer()
        defer { server.stop() }
        let dir = try TemporaryDirectory()
        defer { dir.cleanup() }
        let (bytes, file) = Self.sampleFile(count: 200_000)
        server.route("/\(file.name)", .truncated(bytes, sent: bytes.count / 2))
        // No checksum: only the transfer itself can tell the file is short.
        let unchecked = RemoteFile(name: file.name)
        let error = #expect(throws: DatasetError.self) {
            try Self.downloader(cache: dir.url).fetch(unchecked, from: [server.baseURL], into: dir.url)
        }
        guard case .downloadFailed(let name, let attempts)? = error else {
            Issue.record("unexpected error \(String(describing: error))")
            return
        }
        #expect(name == file.name && attempts.count == 1)
        #expect(attempts.first?.hasPrefix(server.baseURL.appendingPathComponent(file.name).absoluteString) == true)
        #expect(dir.contents().isEmpty)
    }

    @Test("a connection cut mid-transfer fails and leaves nothing in the cache")
    func cutMidTransfer() throws {
        let server = try LoopbackHTTPServer()
        defer { server.stop() }
        let dir = try TemporaryDirectory()
        defer { dir.cleanup() }
        let (bytes, file) = Self.sampleFile(count: 2_000_000)
        server.route("/\(file.name)", .cut(bytes, sent: bytes.count / 3))
        let folder = dir.url.appendingPathComponent("kmnist")
        let error = #expect(throws: DatasetError.self) {
            try Self.downloader(cache: dir.url).fetch(RemoteFile(name: file.name), from: [server.baseURL], into: folder)
        }
        guard case .downloadFailed(let name, _)? = error else {
            Issue.record("unexpected error \(String(describing: error))")
            return
        }
        #expect(name == file.name)
        #expect(dir.contents(of: "kmnist").isEmpty)
        // With a good mirror after the broken one, the download completes.
        server.route("/good/\(file.name)", .body(bytes))
        _ = try Self.downloader(cache: dir.url).fetch(
            file, from: [server.baseURL, server.baseURL.appendingPathComponent("good")], into: folder)
        #expect(dir.contents(of: "kmnist") == [".\(file.name).verified", file.name])
    }

    @Test("file:// mirrors and plain paths work; LUZ_DATASET_MIRROR replaces the default mirrors")
    func fileMirrorAndOverride() throws {
        let dir = try TemporaryDirectory()
        defer { dir.cleanup() }
        let (bytes, file) = Self.sampleFile()
        let mirror = dir.url.appendingPathComponent("mirror/mnist")
        try FileManager.default.createDirectory(at: mirror, withIntermediateDirectories: true)
        try bytes.write(to: mirror.appendingPathComponent(file.name))

        let base = dir.url.appendingPathComponent("mirror").absoluteString
        let downloader = Self.downloader(cache: dir.url.appendingPathComponent("cache"), mirror: base)
        let defaults = [URL(string: "http://127.0.0.1:9/never-used/")!]
        let mirrors = downloader.mirrors(for: "mnist", defaults: defaults)
        #expect(mirrors.map(\.standardizedFileURL.path) == [mirror.standardizedFileURL.path])
        #expect(Self.downloader(cache: dir.url).mirrors(for: "mnist", defaults: defaults) == defaults)
        let url = try downloader.fetch(file, from: mirrors, into: downloader.cacheRoot.appendingPathComponent("mnist"))
        #expect(url.path.hasSuffix("cache/mnist/\(file.name)"))
        #expect(try Data(contentsOf: url) == Data(bytes))

        let plainPath = Self.downloader(cache: dir.url, mirror: dir.url.appendingPathComponent("mirror").path)
        #expect(plainPath.mirrors(for: "mnist", defaults: []).first?.isFileURL == true)
    }

    @Test("the cache root: LUZ_DATA_DIR, else XDG_CACHE_HOME/luz, else ~/.cache/luz")
    func cacheRoot() {
        #expect(Downloader(environment: ["LUZ_DATA_DIR": "/data/luz", "XDG_CACHE_HOME": "/x"]).cacheRoot.path == "/data/luz")
        #expect(Downloader(environment: ["XDG_CACHE_HOME": "/x", "HOME": "/home/u"]).cacheRoot.path == "/x/luz")
        #if !os(macOS)
        #expect(Downloader(environment: ["HOME": "/home/u"]).cacheRoot.path == "/home/u/.cache/luz")
        #endif
    }

    @Test("leftovers of a killed download are removed before the next one; a live one is kept")
    func stalePartials() throws {
        let dir = try TemporaryDirectory()
        defer { dir.cleanup() }
        // Left by killed processes: nobody holds them locked, whatever process id they name
        // (this one's: ids are reused).
        let stale = dir.file(".train-images-idx3-ubyte.gz.4194305.123.partial")
        let reused = dir.file(".train-images-idx3-ubyte.gz.\(getpid()).5.partial")
        try [1, 2, 3].write(to: stale)
        try [1, 2, 3].write(to: reused)
        let live = try AtomicFileWriter(path: dir.file("train-labels-idx1-ubyte.gz").path)
        defer { live.discard() }
        Downloader.removeStalePartials(in: dir.url)
        #expect(dir.contents() == [URL(fileURLWithPath: live.temporaryPath).lastPathComponent])
    }
}

@Suite("downloads from hostile mirrors")
struct HostileMirrorTests {
    /// Serves the sample file at `/<folder>/<name>` as `behavior` makes of its bytes, and runs
    /// `body` with the server, a fresh cache folder, the bytes and the file.
    func withMirror(_ folder: String, _ behavior: ([UInt8]) -> LoopbackHTTPServer.Behavior,
                    _ body: (URL, TemporaryDirectory, [UInt8], RemoteFile) throws -> Void) throws {
        let server = try LoopbackHTTPServer()
        defer { server.stop() }
        let dir = try TemporaryDirectory()
        defer { dir.cleanup() }
        let (bytes, file) = DownloaderTests.sampleFile()
        server.route("/\(folder)/\(file.name)", behavior(bytes))
        try body(server.baseURL.appendingPathComponent(folder), dir, bytes, file)
    }

    /// A byte every 50 ms never trips the 20 s stall timeout; the overall deadline (1 s here,
    /// from LUZ_DOWNLOAD_DEADLINE) ends the transfer, and nothing is left in the cache.
    @Test func aTricklingMirrorMeetsTheOverallDeadline() throws {
        try withMirror("slow", { .trickle($0, interval: 0.05) }) { mirror, dir, bytes, file in
            var downloader = DownloaderTests.downloader(cache: dir.url)
            downloader.environment["LUZ_DOWNLOAD_DEADLINE"] = "1"
            #expect(downloader.transferDeadline(forBytes: 26_421_856) == 1)
            // The total is named once the response's headers are in; on a loaded machine the
            // deadline can pass before they are, and then the message gives the bytes alone.
            #expect { try downloader.fetch(file, from: [mirror], into: dir.url) } throws: { error in
                let message = "\(error)"
                return message.contains("longer than its deadline of 1 s")
                    && (message.contains("of \(bytes.count) received") || message.contains(" bytes received"))
            }
            #expect(dir.contents().isEmpty)
            // Without the variable the deadline grows with the size: 2 minutes plus 20 kB/s.
            #expect(DownloaderTests.downloader(cache: dir.url).transferDeadline(forBytes: 26_421_856) > 1400)
        }
    }

    /// A mirror that labels the gzip file as gzip-encoded content: the transport decodes it, so
    /// the sizes differ; the error says what happened instead of "truncated".
    @Test func aGzipContentEncodingIsNamedAsSuch() throws {
        try withMirror("encoded", { .encoded($0, contentEncoding: "gzip") }) { mirror, dir, _, file in
            #expect { try DownloaderTests.downloader(cache: dir.url).fetch(file, from: [mirror], into: dir.url) } throws: { error in
                "\(error)".contains("Content-Encoding: gzip although identity was asked") && !"\(error)".contains("truncated")
            }
            #expect(dir.contents().isEmpty)
        }
    }
}
