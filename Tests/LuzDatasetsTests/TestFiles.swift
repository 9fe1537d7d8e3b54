import CZlib
import Foundation
@testable import LuzDatasets

/// A fresh temporary folder, removed by `cleanup()`.
struct TemporaryDirectory {
    let url: URL

    init() throws {
        url = FileManager.default.temporaryDirectory
            .appendingPathComponent("luz-datasets-tests-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    func file(_ name: String) -> URL { url.appendingPathComponent(name) }

    /// The names of the files in a subfolder (hidden ones included), sorted.
    func contents(of folder: String = "") -> [String] {
        let path = folder.isEmpty ? url.path : url.appendingPathComponent(folder).path
        return ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted()
    }

    func cleanup() { try? FileManager.default.removeItem(at: url) }
}

/// Compresses bytes into one gzip member with zlib (deflateInit2 with 16 + MAX_WBITS).
func gzipCompressed(_ input: [UInt8], level: Int32 = 6) -> [UInt8] {
    var stream = z_stream()
    let status = deflateInit2_(&stream, level, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY,
                               zlibVersion(), Int32(MemoryLayout<z_stream>.size))
    precondition(status == Z_OK, "deflateInit2 failed: \(status)")
    defer { deflateEnd(&stream) }
    var output = [UInt8](repeating: 0, count: Int(deflateBound(&stream, uLong(input.count))) + 64)
    var source = input
    let produced = source.withUnsafeMutableBufferPointer { inBuffer in
        output.withUnsafeMutableBufferPointer { outBuffer -> Int in
            stream.next_in = inBuffer.baseAddress
            stream.avail_in = uInt(inBuffer.count)
            stream.next_out = outBuffer.baseAddress
            stream.avail_out = uInt(outBuffer.count)
            let result = deflate(&stream, Z_FINISH)
            precondition(result == Z_STREAM_END, "deflate did not finish: \(result)")
            return outBuffer.count - Int(stream.avail_out)
        }
    }
    return Array(output[0..<produced])
}

/// Deterministic pseudo-random bytes (a linear congruential sequence), compressible but not
/// trivially.
func sampleBytes(_ count: Int, seed: UInt64 = 1) -> [UInt8] {
    var state = seed
    return (0..<count).map { _ in
        state = state &* 6364136223846793005 &+ 1442695040888963407
        return UInt8(truncatingIfNeeded: (state >> 33) % 64)
    }
}

/// A small MNIST-style pair of IDX files: `count` images of `side × side` and their labels.
func mnistStyleFiles(count: Int, side: Int = 28, classes: Int = 10, seed: UInt64 = 7)
    -> (images: [UInt8], labels: [UInt8], pixels: [UInt8], labelValues: [UInt8]) {
    let pixels = sampleBytes(count * side * side, seed: seed).map { $0 &* 4 }
    let labels = (0..<count).map { UInt8($0 % classes) }
    let images = IDXArray(shape: [count, side, side], values: .uint8(pixels)).encoded()
    let labelFile = IDXArray(shape: [count], values: .uint8(labels)).encoded()
    return (images, labelFile, pixels, labels)
}

extension Array where Element == UInt8 {
    func write(to url: URL) throws { try Data(self).write(to: url) }
}
