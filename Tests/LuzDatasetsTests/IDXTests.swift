import Foundation
import LuzTensor
@testable import LuzDatasets
import Testing

@Suite("IDX files")
struct IDXTests {
    static let samples: [IDXArray] = [
        IDXArray(shape: [2, 3], values: .uint8([0, 1, 2, 127, 128, 255])),
        IDXArray(shape: [5], values: .int8([-128, -1, 0, 1, 127])),
        IDXArray(shape: [2, 2], values: .int16([-32768, -2, 258, 32767])),
        IDXArray(shape: [3], values: .int32([Int32.min, 16_909_060, Int32.max])),
        IDXArray(shape: [2, 1, 2], values: .float32([-1.5, 0, .pi, 1e-30])),
        IDXArray(shape: [3], values: .float64([-2.25, 1e300, .ulpOfOne])),
    ]

    @Test("every type code round-trips, plain and gzip-compressed", arguments: samples)
    func roundTrip(_ array: IDXArray) throws {
        let dir = try TemporaryDirectory()
        defer { dir.cleanup() }
        let bytes = array.encoded()
        // The header: magic 00 00 <type> <rank>, then big-endian sizes.
        #expect(Array(bytes.prefix(4)) == [0, 0, array.elementType.rawValue, UInt8(array.shape.count)])
        #expect(bytes.count == 4 * (array.shape.count + 1) + array.values.count * array.elementType.byteCount)
        let plain = dir.file("array.idx")
        try array.write(to: plain)
        #expect(try IDXArray(contentsOf: plain) == array)
        let compressed = dir.file("array.idx.gz")
        try gzipCompressed(bytes).write(to: compressed)
        #expect(try IDXArray(contentsOf: compressed) == array)
    }

    @Test("big-endian values are decoded by hand-written bytes")
    func knownBytes() throws {
        let dir = try TemporaryDirectory()
        defer { dir.cleanup() }
        let url = dir.file("int32.idx")
        try [0, 0, 0x0C, 1, 0, 0, 0, 2, 0x01, 0x02, 0x03, 0x04, 0xFF, 0xFF, 0xFF, 0xFE].write(to: url)
        #expect(try IDXArray(contentsOf: url) == IDXArray(shape: [2], values: .int32([0x0102_0304, -2])))
        let floats = dir.file("float32.idx")
        try [0, 0, 0x0D, 1, 0, 0, 0, 1, 0x3F, 0xC0, 0, 0].write(to: floats)
        #expect(try IDXArray(contentsOf: floats) == IDXArray(shape: [1], values: .float32([1.5])))
    }

    @Test("a truncated file is an error naming the file and the expected size")
    func truncated() throws {
        let dir = try TemporaryDirectory()
        defer { dir.cleanup() }
        let bytes = IDXArray(shape: [10, 4, 4], values: .uint8(sampleBytes(160))).encoded()
        let plain = dir.file("images-idx3-ubyte")
        try Array(bytes.prefix(100)).write(to: plain)
        #expect(throws: DatasetError.truncated(file: "images-idx3-ubyte", expectedBytes: 176, actualBytes: 100)) {
            try IDXArray(contentsOf: plain)
        }
        let compressed = dir.file("images-idx3-ubyte.gz")
        try gzipCompressed(Array(bytes.prefix(100))).write(to: compressed)
        #expect(throws: DatasetError.truncated(file: "images-idx3-ubyte.gz", expectedBytes: 176, actualBytes: 100)) {
            try IDXArray(contentsOf: compressed)
        }
        // A header cut in the middle of its sizes.
        let header = dir.file("header-only")
        try Array(bytes.prefix(9)).write(to: header)
        #expect(throws: DatasetError.truncated(file: "header-only", expectedBytes: 16, actualBytes: 9)) {
            try IDXArray(contentsOf: header)
        }
        let message = DatasetError.truncated(file: "images-idx3-ubyte", expectedBytes: 176, actualBytes: 100).description
        #expect(message.contains("images-idx3-ubyte") && message.contains("176") && message.contains("100"))
    }

    @Test("a header announcing an absurd size is refused before allocating")
    func absurdHeader() throws {
        let dir = try TemporaryDirectory()
        defer { dir.cleanup() }
        // 0xFFFFFFFF^3 float64 values: overflows; and 2^32 × 2^20 bytes: far beyond any limit.
        let huge: [UInt8] = [0, 0, 0x0E, 3, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 1, 2, 3]
        for (name, content) in [("huge.idx", huge), ("huge.idx.gz", gzipCompressed(huge))] {
            let url = dir.file(name)
            try content.write(to: url)
            do {
                _ = try IDXArray(contentsOf: url)
                Issue.record("\(name): an absurd header was accepted")
            } catch let error as DatasetError {
                guard case .invalidHeader(let file, _) = error else {
                    Issue.record("\(name): unexpected error \(error)")
                    continue
                }
                #expect(file == name)
            }
        }
        // Plausible in itself (60000 × 28 × 28 bytes) but more than this small gzip file can
        // expand to.
        let mnistHeader: [UInt8] = [0, 0, 8, 3, 0, 0, 0xEA, 0x60, 0, 0, 0, 28, 0, 0, 0, 28, 1, 2, 3, 4]
        let small = dir.file("small.gz")
        try gzipCompressed(mnistHeader).write(to: small)
        #expect(throws: DatasetError.self) { try IDXArray(contentsOf: small) }
    }

    @Test("a file longer than its header says, a bad magic and an unknown type code are errors")
    func malformed() throws {
        let dir = try TemporaryDirectory()
        defer { dir.cleanup() }
        let long = dir.file("long.idx")
        try (IDXArray(shape: [2], values: .uint8([1, 2])).encoded() + [3]).write(to: long)
        #expect(throws: DatasetError.self) { try IDXArray(contentsOf: long) }
        let longGzip = dir.file("long.idx.gz")
        try gzipCompressed(IDXArray(shape: [2], values: .uint8([1, 2])).encoded() + [3]).write(to: longGzip)
        #expect(throws: DatasetError.self) { try IDXArray(contentsOf: longGzip) }
        let magic = dir.file("magic.idx")
        try [1, 0, 8, 1, 0, 0, 0, 1, 5].write(to: magic)
        #expect(throws: DatasetError.self) { try IDXArray(contentsOf: magic) }
        let type = dir.file("type.idx")
        try [0, 0, 0x0A, 1, 0, 0, 0, 1, 5].write(to: type)
        do {
            _ = try IDXArray(contentsOf: type)
            Issue.record("type code 0x0A was accepted")
        } catch {
            #expect("\(error)".contains("0x0a"))
        }
    }

    @Test("values convert to tensors of the natural or a requested type")
    func tensors() {
        let bytes = IDXArray(shape: [2, 2], values: .uint8([0, 5, 200, 255]))
        let t = bytes.tensor()
        #expect(t.shape == [2, 2] && t.dtype == .int64)
        #expect(t.scalars(as: Int64.self) == [0, 5, 200, 255])
        #expect(bytes.tensor(dtype: .float32).scalars(as: Float.self) == [0, 5, 200, 255])
        let doubles = IDXArray(shape: [2], values: .float64([1.5, -2])).tensor()
        #expect(doubles.dtype == .float64 && doubles.scalars(as: Double.self) == [1.5, -2])
    }

    @Test("a range of items converts only those items, as slicing the whole tensor would give")
    func itemRange() {
        let images = IDXArray(shape: [4, 2, 3], values: .uint8((0..<24).map { UInt8($0 * 7) }))
        for range in [0..<4, 1..<3, 3..<4, 2..<2] {
            let part = images.tensor(dtype: .float32, items: range)
            #expect(part.shape == [range.count, 2, 3])
            #expect(part.scalars(as: Float.self) == images.tensor(dtype: .float32)[range].scalars(as: Float.self))
        }
        let labels = IDXArray(shape: [5], values: .int32([3, -1, 4, 1, 5]))
        #expect(labels.tensor(items: 1..<4).scalars(as: Int64.self) == [-1, 4, 1])
        #expect(IDXArray(shape: [], values: .float64([2.5])).tensor().scalars(as: Double.self) == [2.5])
    }
}

extension IDXArray: CustomTestStringConvertible {
    public var testDescription: String { "\(elementType) \(shape)" }
}
