import Foundation
@testable import LuzDatasets
import Testing

// The in-memory entry points the fuzzers use, and inputs that must be refused before any
// large allocation: a header may announce terabytes, the data never holds them.
@Suite("Parsers on hostile bytes")
struct ParserHardeningTests {
    func header(type: UInt8, shape: [UInt32]) -> [UInt8] {
        [0, 0, type, UInt8(shape.count)] + shape.flatMap { s in [UInt8(s >> 24), UInt8((s >> 16) & 0xff), UInt8((s >> 8) & 0xff), UInt8(s & 0xff)] }
    }

    @Test func idxFromMemoryMatchesTheFileReader() throws {
        let array = IDXArray(shape: [2, 3], values: .int16([1, -2, 3, -4, 5, 32767]))
        #expect(try IDXArray(bytes: array.encoded()) == array)
        #expect(try IDXArray(bytes: gzipCompressed(array.encoded())) == array)
    }

    @Test func idxHeadersAnnouncingTerabytesAreRefusedBeforeAllocating() throws {
        // 2³² × 2³² × 2³² doubles, and 8 MB behind a gzip stream of a few dozen bytes.
        let plain = header(type: 0x0E, shape: [.max, .max, .max])
        #expect { try IDXArray(bytes: plain, name: "huge.idx") } throws: { error in
            (error as? DatasetError)?.file == "huge.idx" && "\(error)".contains("announces more than")
        }
        let compressed = gzipCompressed(header(type: 0x0E, shape: [1000, 1000]))
        #expect { try IDXArray(bytes: compressed, name: "huge.idx.gz") } throws: { error in
            "\(error)".contains("more than the compressed file can hold")
        }
        // Zero elements in an absurd shape: a valid, empty array.
        let empty = header(type: 0x08, shape: [0, .max, .max, .max])
        #expect(try IDXArray(bytes: empty).values.count == 0)
        #expect(try IDXArray(bytes: empty).tensor().count == 0)
    }

    @Test func truncatedIDXDataIsATruncationError() {
        let bytes = IDXArray(shape: [4], values: .int32([1, 2, 3, 4])).encoded().dropLast(3)
        #expect(throws: DatasetError.truncated(file: "t.idx", expectedBytes: 24, actualBytes: 21)) {
            try IDXArray(bytes: Array(bytes), name: "t.idx")
        }
    }

    @Test func gzipFromMemory() throws {
        let content = sampleBytes(10_000)
        #expect(try Gzip.decompress(gzipCompressed(content)) == content)
        #expect(try Gzip.decompress(gzipCompressed([1, 2]) + gzipCompressed([3])) == [1, 2, 3])
        var damaged = gzipCompressed(content)
        damaged[damaged.count / 2] ^= 0xff
        #expect { try Gzip.decompress(damaged, name: "bad.gz") } throws: { error in
            (error as? DatasetError)?.file == "bad.gz"
        }
        #expect(throws: DatasetError.self) { try Gzip.decompress(Array(gzipCompressed(content).prefix(40)), name: "cut.gz") }
        #expect(throws: DatasetError.self) { try Gzip.decompress([0x1f, 0x8b], name: "tiny.gz") }
    }

    @Test func csvFromArbitraryBytes() {
        // Text already decoded (invalid UTF-8 replaced) with a NUL byte parses; an unclosed quote is an error.
        let text = String(decoding: [0x61, 0x2c, 0x62, 0x0a, 0xff, 0x00, 0x2c, 0x22, 0x78] as [UInt8], as: UTF8.self)
        #expect { try CSVTable(parsing: text, source: "bytes.csv") } throws: { error in
            "\(error)".contains("bytes.csv") && "\(error)".contains("never closed")
        }
    }
}
