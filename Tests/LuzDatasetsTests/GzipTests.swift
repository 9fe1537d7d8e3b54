import Foundation
@testable import LuzDatasets
import Testing

@Suite("gzip decompression")
struct GzipTests {
    @Test("round trip of zlib-compressed files of several sizes")
    func roundTrip() throws {
        let dir = try TemporaryDirectory()
        defer { dir.cleanup() }
        // Sizes around the reader's chunk size exercise refills across chunk boundaries.
        for size in [0, 1, 1000, GzipFileReader.chunkSize - 1, 3 * GzipFileReader.chunkSize + 17] {
            let original = sampleBytes(size, seed: UInt64(size))
            let url = dir.file("data-\(size).gz")
            try gzipCompressed(original).write(to: url)
            #expect(Gzip.isCompressed(url))
            let decompressed = try Gzip.decompress(contentsOf: url)
            #expect(decompressed.count == size)
            #expect(decompressed == original, "size \(size)")
        }
    }

    @Test("concatenated gzip members decompress to the concatenation")
    func concatenatedMembers() throws {
        let dir = try TemporaryDirectory()
        defer { dir.cleanup() }
        let first = sampleBytes(70_000, seed: 3), second = sampleBytes(5, seed: 4), third = sampleBytes(300_000, seed: 5)
        let url = dir.file("multi.gz")
        try (gzipCompressed(first) + gzipCompressed(second) + gzipCompressed(third, level: 1)).write(to: url)
        #expect(try Gzip.decompress(contentsOf: url) == first + second + third)
        #expect(try Checksum.contentMD5(ofGzip: url) == Checksum.md5(of: first + second + third))
    }

    @Test("damaged data is an error naming the file")
    func corruptData() throws {
        let dir = try TemporaryDirectory()
        defer { dir.cleanup() }
        var compressed = gzipCompressed(sampleBytes(50_000))
        for i in stride(from: 20, to: compressed.count - 20, by: 97) { compressed[i] ^= 0x5a }
        let url = dir.file("damaged.gz")
        try compressed.write(to: url)
        do {
            _ = try Gzip.decompress(contentsOf: url)
            Issue.record("damaged data decompressed without an error")
        } catch let error as DatasetError {
            guard case .corruptGzip(let file, _) = error else {
                Issue.record("unexpected error \(error)")
                return
            }
            #expect(file == "damaged.gz")
            #expect(error.description.contains("damaged.gz"))
        }
    }

    @Test("a gzip file cut short is an error, not short data")
    func truncatedStream() throws {
        let dir = try TemporaryDirectory()
        defer { dir.cleanup() }
        let compressed = gzipCompressed(sampleBytes(200_000))
        let url = dir.file("short.gz")
        try Array(compressed.prefix(compressed.count / 2)).write(to: url)
        #expect(throws: DatasetError.self) { try Gzip.decompress(contentsOf: url) }
        do {
            _ = try Gzip.decompress(contentsOf: url)
        } catch {
            #expect("\(error)".contains("short.gz"))
            #expect("\(error)".contains("ends early"))
        }
    }

    @Test("garbage after a member is an error")
    func trailingGarbage() throws {
        let dir = try TemporaryDirectory()
        defer { dir.cleanup() }
        let url = dir.file("garbage.gz")
        try (gzipCompressed(sampleBytes(1000)) + Array("not gzip at all".utf8)).write(to: url)
        #expect(throws: DatasetError.self) { try Gzip.decompress(contentsOf: url) }
    }

    @Test("a gzip bomb stops at the content's known size, in memory, while hashing and while verifying")
    func bombsStopAtTheKnownSize() throws {
        let bomb = gzipCompressed([UInt8](repeating: 0, count: 4_000_000))
        #expect { try Gzip.decompress(bomb, name: "bomb.gz", maximumBytes: 1000) } throws: { error in
            "\(error)".contains("bomb.gz") && "\(error)".contains("more than 1000 bytes")
        }
        #expect(try Gzip.decompress(bomb, maximumBytes: 4_000_000).count == 4_000_000)
        let dir = try TemporaryDirectory()
        defer { dir.cleanup() }
        let url = dir.file("bomb.gz")
        try bomb.write(to: url)
        #expect(throws: DatasetError.self) { try Checksum.contentMD5(ofGzip: url, maximumBytes: 60_008) }
        #expect(throws: DatasetError.self) { try Gzip.decompress(contentsOf: url, maximumBytes: 60_008) }
        let labels = RemoteFile(name: "bomb.gz", md5: "0", contentMD5: Checksum.md5(of: [UInt8](repeating: 0, count: 4_000_000)),
                                contentSize: 60_008)
        #expect { try Downloader.verify(url, as: labels) } throws: { error in
            guard case .checksumMismatch(_, _, _, _, let actualContent) = error as? DatasetError else { return false }
            return actualContent == nil     // not inflated to the end, so no content sum
        }
        #expect(MNIST.files.map(\.contentSize) == [47_040_016, 60_008, 7_840_016, 10_008])
    }

    @Test("data far beyond what an IDX header announces is not inflated to its end")
    func bombAfterTheData() throws {
        let content: [UInt8] = [0, 0, 0x08, 1, 0, 0, 0, 4, 1, 2, 3, 4] + [UInt8](repeating: 0, count: 8_000_000)
        #expect { try IDXArray(bytes: gzipCompressed(content), name: "tail.gz") } throws: { error in
            "\(error)".contains("tail.gz") && "\(error)".contains("needs 12 bytes but the data holds more than 65548")
        }
    }

    @Test("an IDX header inside gzip that announces more than the data holds is a truncation, read as it comes")
    func lyingCompressedHeaders() throws {
        // 100 × 100 bytes announced, 10 present: within the deflate ratio of the small file.
        let content: [UInt8] = [0, 0, 0x08, 2, 0, 0, 0, 100, 0, 0, 0, 100] + [UInt8](repeating: 7, count: 10)
        #expect { try IDXArray(bytes: gzipCompressed(content), name: "liar.gz") } throws: { error in
            "\(error)".contains("liar.gz") && "\(error)".contains("truncated")
        }
    }
}
