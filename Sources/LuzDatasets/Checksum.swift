import Crypto
import Foundation

/// MD5 checksums of files, as lowercase hexadecimal strings (the form datasets publish).
///
/// MD5 is broken for security but still what every dataset publishes; it guards against
/// truncated or damaged downloads and wrong mirrors, not against an attacker.
public enum Checksum {
    /// The MD5 of a file's bytes, read in chunks.
    /// - Throws: ``DatasetError/io(file:reason:)`` when the file cannot be read.
    public static func md5(of url: URL) throws -> String {
        let reader = try PlainFileReader(url: url)
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
        defer { buffer.deallocate() }
        var hash = Insecure.MD5()
        while true {
            let n = try reader.read(into: buffer)
            if n > 0 { hash.update(bufferPointer: UnsafeRawBufferPointer(rebasing: buffer[0..<n])) }
            if n < buffer.count { break }
        }
        return hex(hash.finalize())
    }

    /// The MD5 of a gzip file's decompressed content, computed while inflating in chunks (the
    /// content is never held in memory whole).
    /// - Parameter maximumBytes: the content's known size: inflating stops with an error as soon
    ///   as it is passed (a hostile mirror's gzip bomb is not inflated whole).
    /// - Throws: gzip errors naming the file when its data is damaged or too large.
    public static func contentMD5(ofGzip url: URL, maximumBytes: Int? = nil) throws -> String {
        var hash = Insecure.MD5()
        try Gzip.forEachChunk(of: url, maximumBytes: maximumBytes) { hash.update(bufferPointer: $0) }
        return hex(hash.finalize())
    }

    /// The MD5 of bytes in memory.
    public static func md5<Bytes: Sequence>(of bytes: Bytes) -> String where Bytes.Element == UInt8 {
        hex(Insecure.MD5.hash(data: Array(bytes)))
    }

    static func hex<D: Sequence>(_ digest: D) -> String where D.Element == UInt8 {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        for byte in digest {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}
