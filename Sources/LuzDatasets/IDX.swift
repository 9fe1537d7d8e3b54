import Foundation
import LuzSerialization
import LuzTensor

/// The element types of the IDX format, named by their type code in the file header.
public enum IDXElementType: UInt8, CaseIterable, Sendable {
    /// Unsigned bytes (type code `0x08`): MNIST pixels and labels.
    case uint8 = 0x08
    /// Signed bytes (`0x09`).
    case int8 = 0x09
    /// Big-endian 16-bit integers (`0x0B`).
    case int16 = 0x0B
    /// Big-endian 32-bit integers (`0x0C`).
    case int32 = 0x0C
    /// Big-endian 32-bit floats (`0x0D`).
    case float32 = 0x0D
    /// Big-endian 64-bit floats (`0x0E`).
    case float64 = 0x0E

    /// The size of one element in bytes.
    public var byteCount: Int {
        switch self {
        case .uint8, .int8: return 1
        case .int16: return 2
        case .int32, .float32: return 4
        case .float64: return 8
        }
    }
}

/// The values of an IDX file, in host byte order, in a Swift array of the file's element type.
public enum IDXValues: Equatable, Sendable {
    /// Type code `0x08`.
    case uint8([UInt8])
    /// Type code `0x09`.
    case int8([Int8])
    /// Type code `0x0B`.
    case int16([Int16])
    /// Type code `0x0C`.
    case int32([Int32])
    /// Type code `0x0D`.
    case float32([Float])
    /// Type code `0x0E`.
    case float64([Double])

    /// The element type these values are stored as.
    public var elementType: IDXElementType {
        switch self {
        case .uint8: return .uint8
        case .int8: return .int8
        case .int16: return .int16
        case .int32: return .int32
        case .float32: return .float32
        case .float64: return .float64
        }
    }

    /// The number of values.
    public var count: Int {
        switch self {
        case .uint8(let v): return v.count
        case .int8(let v): return v.count
        case .int16(let v): return v.count
        case .int32(let v): return v.count
        case .float32(let v): return v.count
        case .float64(let v): return v.count
        }
    }
}

/// An n-dimensional array read from (or to be written to) an IDX file, the format of MNIST and
/// its relatives.
///
/// The format: a 4-byte magic number (two zero bytes, the type code, the number of dimensions),
/// one big-endian 32-bit size per dimension, then the values in row-major order, big-endian.
public struct IDXArray: Equatable, Sendable {
    /// The size of each dimension.
    public var shape: [Int]
    /// The values in row-major order.
    public var values: IDXValues

    /// Creates an array, checking that the values fill the shape.
    public init(shape: [Int], values: IDXValues) {
        require(shape.allSatisfy { $0 >= 0 && $0 <= Int(UInt32.max) },
                "IDXArray: every dimension must be in 0...\(UInt32.max), got \(shape)")
        require(shape.count <= 255, "IDXArray: at most 255 dimensions, got \(shape.count)")
        require(shape.reduce(1, *) == values.count,
                "IDXArray: \(values.count) values do not fill shape \(shape)")
        self.shape = shape
        self.values = values
    }

    /// The element type.
    public var elementType: IDXElementType { values.elementType }

    /// The largest file content this reader accepts (16 GiB): a header announcing more is refused
    /// before anything is allocated.
    public static let maximumByteCount = 1 << 34

    /// Reads an IDX file, gzip-compressed (detected from its first bytes) or not.
    ///
    /// The header is checked against the file before any memory is allocated for the data: the
    /// announced size must be exactly what the file holds (plain files), and no more than a
    /// gzip stream of that size can expand to (compressed files). Compressed data is inflated
    /// straight into the result array.
    /// - Parameter url: the file to read.
    /// - Throws: ``DatasetError/truncated(file:expectedBytes:actualBytes:)`` when the file holds
    ///   less than its header announces, ``DatasetError/invalidHeader(file:reason:)`` for a bad
    ///   magic number, type code or absurd size, gzip errors for damaged compressed data.
    public init(contentsOf url: URL) throws {
        let reader: ByteReader
        let limit: Int
        let exact: Bool
        if Gzip.isCompressed(url) {
            let gzip = try GzipFileReader(url: url)
            reader = gzip
            let (product, overflow) = gzip.compressedSize.multipliedReportingOverflow(by: Gzip.maximumRatio)
            limit = overflow ? Int.max : product
            exact = false
        } else {
            let plain = try PlainFileReader(url: url)
            reader = plain
            limit = plain.size
            exact = true
        }
        try self.init(reader: reader, availableBytes: limit, exact: exact)
    }

    /// Parses IDX data held in memory, gzip-compressed (detected from its first bytes) or not,
    /// with the same checks as ``init(contentsOf:)``.
    /// - Parameters:
    ///   - bytes: the file content.
    ///   - name: the name errors give for the data.
    public init(bytes: [UInt8], name: String = "<memory>") throws {
        let input = MemoryReader(bytes, name: name)
        if bytes.starts(with: [0x1f, 0x8b]) {
            let gzip = try GzipFileReader(input: input, compressedSize: bytes.count)
            let (limit, overflow) = bytes.count.multipliedReportingOverflow(by: Gzip.maximumRatio)
            try self.init(reader: gzip, availableBytes: overflow ? Int.max : limit, exact: false)
        } else {
            try self.init(reader: input, availableBytes: bytes.count, exact: true)
        }
    }

    init(reader: ByteReader, availableBytes: Int, exact: Bool) throws {
        let file = reader.fileName
        func readExactly(_ buffer: UnsafeMutableRawBufferPointer, offset: Int, expectedTotal: Int) throws {
            let got = try reader.read(into: buffer)
            if got < buffer.count {
                throw DatasetError.truncated(file: file, expectedBytes: expectedTotal, actualBytes: offset + got)
            }
        }

        var magic = [UInt8](repeating: 0, count: 4)
        try magic.withUnsafeMutableBytes { try readExactly($0, offset: 0, expectedTotal: 4) }
        guard magic[0] == 0, magic[1] == 0 else {
            throw DatasetError.invalidHeader(
                file: file, reason: String(format: "magic number starts with %02x %02x, not 00 00", magic[0], magic[1]))
        }
        guard let type = IDXElementType(rawValue: magic[2]) else {
            throw DatasetError.invalidHeader(
                file: file, reason: String(format: "unknown type code 0x%02x", magic[2]))
        }
        let rank = Int(magic[3])
        let headerSize = 4 * (rank + 1)
        var sizes = [UInt8](repeating: 0, count: 4 * rank)
        try sizes.withUnsafeMutableBytes { try readExactly($0, offset: 4, expectedTotal: headerSize) }
        let shape = (0..<rank).map { d in
            sizes[4 * d..<4 * d + 4].reduce(0) { ($0 << 8) | Int($1) }
        }

        // Size checks come before any allocation: a damaged header must not ask for terabytes.
        var dataSize = type.byteCount
        for size in shape {
            let (product, overflow) = dataSize.multipliedReportingOverflow(by: size)
            guard !overflow, product <= IDXArray.maximumByteCount else {
                throw DatasetError.invalidHeader(
                    file: file, reason: "shape \(shape) of \(type) announces more than \(IDXArray.maximumByteCount) bytes")
            }
            dataSize = product
        }
        let expectedTotal = headerSize + dataSize
        if exact {
            if availableBytes < expectedTotal {
                throw DatasetError.truncated(file: file, expectedBytes: expectedTotal, actualBytes: availableBytes)
            }
            if availableBytes > expectedTotal {
                throw DatasetError.invalidHeader(
                    file: file,
                    reason: "shape \(shape) of \(type) needs \(expectedTotal) bytes but the file has \(availableBytes)")
            }
        } else if expectedTotal > availableBytes {
            throw DatasetError.invalidHeader(
                file: file,
                reason: "shape \(shape) of \(type) needs \(expectedTotal) bytes, more than the compressed file can hold (at most \(availableBytes))")
        }

        let count = dataSize / type.byteCount
        // A compressed file's header is only its word: the data it announces (up to the deflate
        // ratio times the file) is read in chunks into a growing buffer, so that a lying header
        // costs the memory of the data really there, not of the claim.
        let compressed: [UInt8]? = exact ? nil : try {
            var data: [UInt8] = []
            var chunk = [UInt8](repeating: 0, count: Swift.min(dataSize, 1 << 20))
            while data.count < dataSize {
                let wanted = Swift.min(chunk.count, dataSize - data.count)
                let got = try chunk.withUnsafeMutableBytes { try reader.read(into: UnsafeMutableRawBufferPointer(rebasing: $0[0..<wanted])) }
                data.append(contentsOf: chunk[0..<got])
                if got < wanted { throw DatasetError.truncated(file: file, expectedBytes: expectedTotal, actualBytes: headerSize + data.count) }
            }
            return data
        }()
        /// Fills `buffer` (the values' bytes) from the file or from the bytes read already.
        func fill(_ buffer: UnsafeMutableRawBufferPointer) throws {
            if let compressed {
                compressed.withUnsafeBytes { buffer.copyMemory(from: $0) }
            } else {
                try readExactly(buffer, offset: headerSize, expectedTotal: expectedTotal)
            }
        }
        func load<T>(_: T.Type, swap: (inout T) -> Void) throws -> [T] {
            try [T](unsafeUninitializedCapacity: count) { buffer, initialized in
                try fill(UnsafeMutableRawBufferPointer(buffer))
                for i in 0..<count { swap(&buffer[i]) }
                initialized = count
            }
        }
        let values: IDXValues
        switch type {
        case .uint8:
            values = .uint8(try compressed ?? [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
                try fill(UnsafeMutableRawBufferPointer(buffer))
                initialized = count
            })
        case .int8:
            values = .int8(try load(Int8.self) { _ in })
        case .int16:
            values = .int16(try load(Int16.self) { $0 = Int16(bigEndian: $0) })
        case .int32:
            values = .int32(try load(Int32.self) { $0 = Int32(bigEndian: $0) })
        case .float32:
            values = .float32(try load(Float.self) { $0 = Float(bitPattern: UInt32(bigEndian: $0.bitPattern)) })
        case .float64:
            values = .float64(try load(Double.self) { $0 = Double(bitPattern: UInt64(bigEndian: $0.bitPattern)) })
        }
        if !exact, let gzip = reader as? GzipFileReader {
            // Reading to the end checks the stream's CRC; past a little extra data it only costs.
            let extra = try gzip.skipToEnd(maximum: 1 << 16)
            if extra > 0 {
                let holds = extra > 1 << 16 ? "more than \(expectedTotal + (1 << 16))" : "\(expectedTotal + extra)"
                throw DatasetError.invalidHeader(
                    file: file, reason: "shape \(shape) of \(type) needs \(expectedTotal) bytes but the data holds \(holds)")
            }
        }
        self.init(shape: shape, values: values)
    }

    /// The file content: header and big-endian values.
    public func encoded() -> [UInt8] {
        var bytes: [UInt8] = [0, 0, elementType.rawValue, UInt8(shape.count)]
        for size in shape {
            let s = UInt32(size)
            bytes += [UInt8(s >> 24), UInt8((s >> 16) & 0xff), UInt8((s >> 8) & 0xff), UInt8(s & 0xff)]
        }
        func append<T>(_ array: [T], _ bigEndian: (T) -> T) {
            bytes.reserveCapacity(bytes.count + array.count * MemoryLayout<T>.size)
            for value in array {
                withUnsafeBytes(of: bigEndian(value)) { bytes.append(contentsOf: $0) }
            }
        }
        switch values {
        case .uint8(let v): bytes += v
        case .int8(let v): append(v) { $0 }
        case .int16(let v): append(v) { $0.bigEndian }
        case .int32(let v): append(v) { $0.bigEndian }
        case .float32(let v): append(v) { Float(bitPattern: $0.bitPattern.bigEndian) }
        case .float64(let v): append(v) { Double(bitPattern: $0.bitPattern.bigEndian) }
        }
        return bytes
    }

    /// Writes the array as an (uncompressed) IDX file, through a temporary file renamed into
    /// place (``AtomicFileWriter``).
    /// - Throws: ``DatasetError/io(file:reason:)`` naming the file and the step that failed.
    public func write(to url: URL) throws {
        do {
            try AtomicFileWriter.write(encoded(), to: url.path)
        } catch let error as FileWriteError {
            throw DatasetError.io(file: url.lastPathComponent, reason: error.reason)
        }
    }

    /// The values as a tensor of the array's shape: `float32` and `float64` arrays keep their
    /// type, integer arrays become `int64` unless `dtype` asks for another type.
    /// - Parameters:
    ///   - dtype: the element type of the result, or `nil` for the natural one.
    ///   - items: the items (indices along the first dimension) to convert, all by default: the
    ///     first 2 560 images of a 60 000-image file as `float32` take 8 MB instead of 188.
    public func tensor(dtype: DType? = nil, items: Range<Int>? = nil) -> Tensor {
        let itemCount = shape.first ?? 1
        let range = items ?? 0..<itemCount
        require(!shape.isEmpty || items == nil, "IDXArray.tensor: a scalar array has no items to select")
        require(range.lowerBound >= 0 && range.upperBound <= itemCount,
                "IDXArray.tensor: items \(range) out of range for \(itemCount) items")
        // From the element count, not the product of the other dimensions (which may overflow
        // when there are no items: a [0, 2³², 2³²] array is valid and empty).
        let itemSize = itemCount == 0 ? 0 : values.count / itemCount
        let resultShape = shape.isEmpty || items == nil ? shape : [range.count] + shape.dropFirst()
        let elements = (range.lowerBound * itemSize)..<(range.upperBound * itemSize)
        func make<S, T: TensorScalar>(_ source: [S], _ convert: (S) -> T) -> Tensor {
            source.withUnsafeBufferPointer { input in
                Tensor(shape: resultShape) { (output: UnsafeMutableBufferPointer<T>) in
                    let first = elements.lowerBound
                    for i in 0..<elements.count { output[i] = convert(input[first + i]) }
                }
            }
        }
        func build<S>(_ source: [S], toDouble: (S) -> Double, natural: DType,
                      toInt: (S) -> Int64) -> Tensor {
            switch dtype ?? natural {
            case .float32: return make(source) { Float(toDouble($0)) }
            case .float64: return make(source) { toDouble($0) }
            case .int64: return make(source) { toInt($0) }
            case .bool: return make(source) { toDouble($0) != 0 }
            }
        }
        switch values {
        case .uint8(let v): return build(v, toDouble: { Double($0) }, natural: .int64, toInt: { Int64($0) })
        case .int8(let v): return build(v, toDouble: { Double($0) }, natural: .int64, toInt: { Int64($0) })
        case .int16(let v): return build(v, toDouble: { Double($0) }, natural: .int64, toInt: { Int64($0) })
        case .int32(let v): return build(v, toDouble: { Double($0) }, natural: .int64, toInt: { Int64($0) })
        case .float32(let v): return build(v, toDouble: { Double($0) }, natural: .float32, toInt: { Int64(exactly: $0.rounded(.towardZero)) ?? 0 })
        case .float64(let v): return build(v, toDouble: { $0 }, natural: .float64, toInt: { Int64(exactly: $0.rounded(.towardZero)) ?? 0 })
        }
    }
}
