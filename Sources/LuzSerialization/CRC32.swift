/// CRC-32 (the IEEE 802.3 polynomial, as zlib's `crc32` and gzip compute it), in Swift so that
/// the weight-file layer needs no system library.
///
/// Luz writes the checksum of each tensor's bytes into a safetensors file's metadata and checks
/// it when reading: a flipped bit in a weight then fails the load naming the tensor, instead of
/// training on (a single flipped exponent bit turns a weight into 1e35).
enum CRC32 {
    /// The remainders of every byte value (reflected polynomial 0xEDB88320).
    static let table: [UInt32] = (0..<256).map { byte in
        var crc = UInt32(byte)
        for _ in 0..<8 { crc = crc & 1 == 1 ? 0xEDB8_8320 ^ (crc >> 1) : crc >> 1 }
        return crc
    }

    /// The CRC-32 of `bytes`.
    static func checksum(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        table.withUnsafeBufferPointer { table in
            for byte in bytes { crc = table[Int((crc ^ UInt32(byte)) & 0xFF)] ^ (crc >> 8) }
        }
        return crc ^ 0xFFFF_FFFF
    }

    /// The checksum as eight hexadecimal digits, as stored in metadata.
    static func hex(_ value: UInt32) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: 8 - digits.count) + digits
    }
}
