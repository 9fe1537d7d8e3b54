import Foundation
@testable import LuzNN
@testable import LuzSerialization
import LuzTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// Weight files that are damaged or malformed in ways the reader used to accept: a flipped bit
// in a tensor's bytes, a shape whose byte size overflows, bytes between tensors that belong to
// none, and paths that are not regular files (a FIFO blocked the reader forever).

/// A safetensors file made by hand: the header JSON, then `data`.
func handMadeSafeTensors(header: String, data: [UInt8]) -> [UInt8] {
    var headerBytes = Array(header.utf8)
    while headerBytes.count % 8 != 0 { headerBytes.append(0x20) }
    var bytes: [UInt8] = []
    var length = UInt64(headerBytes.count).littleEndian
    withUnsafeBytes(of: &length) { bytes.append(contentsOf: $0) }
    return bytes + headerBytes + data
}

func expectDecodingError(_ bytes: [UInt8], containing text: String, sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(sourceLocation: sourceLocation) { try SafeTensors.decode(bytes, name: "hand.safetensors") } throws: { error in
        "\(error)".hasPrefix("hand.safetensors") && "\(error)".contains(text)
    }
}

@Suite("Weight-file integrity")
struct WeightFileIntegrityTests {
    @Test func aFlippedBitNamesTheDamagedTensor() throws {
        let scratch = try TemporaryFolder("luz-integrity")
        defer { scratch.remove() }
        let directory = scratch.path
        let model = Sequential { Linear(3, 4); ReLU(); Linear(4, 2) }
        let path = directory + "/model.safetensors"
        try model.save(to: path)
        var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        // The last tensor written is the last of the state dict: 2.bias, at the file's end.
        #expect(model.stateDict().keys.last == "2.bias")
        bytes[bytes.count - 2] ^= 0x40
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        #expect { try Sequential { Linear(3, 4); ReLU(); Linear(4, 2) }.load(from: path) } throws: { error in
            let text = "\(error)"
            return text.hasPrefix(path) && text.contains("damaged") && text.contains("'2.bias'")
        }
    }

    @Test func checksumsRoundTripOutsideTheUsersMetadata() throws {
        var state: StateDict = ["w": Tensor([1.0, 2.0, 3.0]), "empty": Tensor.zeros([0, 3]), "flag": Tensor([true, false])]
        state.metadata = ["note": "kept"]
        let decoded = try SafeTensors.decode(SafeTensors.encode(state))
        #expect(decoded.metadata == ["note": "kept"])
        #expect(decoded["w"]?.doubles == [1, 2, 3])
        #expect(decoded["empty"]?.shape == [0, 3])
        // The checksum of a known string: zlib's crc32("123456789") is cbf43926.
        let check = Array("123456789".utf8).withUnsafeBytes { CRC32.checksum($0) }
        #expect(check == 0xCBF4_3926)
    }

    @Test func aDamagedChecksumEntryIsAnError() throws {
        let weights = Tensor([1.0, 2.0])
        var bytes = SafeTensors.encode(["w": weights])
        // Find the stored checksum's digits and replace the first by a letter that is not one.
        let crc = weights.withUnsafeBufferPointer(as: Double.self) { CRC32.checksum(UnsafeRawBufferPointer($0)) }
        let digits = Array(CRC32.hex(crc).utf8)
        let at = try #require((0...(bytes.count - digits.count)).first { Array(bytes[$0..<($0 + digits.count)]) == digits })
        bytes[at] = UInt8(ascii: "z")
        expectDecodingError(bytes, containing: "luz.crc32")
    }

    @Test func aShapeWhoseByteSizeOverflowsIsRefusedEvenWithAZero() {
        let bytes = handMadeSafeTensors(
            header: #"{"x":{"dtype":"F32","shape":[0,4611686018427387904,4611686018427387904],"data_offsets":[0,0]}}"#,
            data: [])
        expectDecodingError(bytes, containing: "too large")
    }

    @Test func bytesThatBelongToNoTensorAreRefused() {
        let gap = handMadeSafeTensors(
            header: #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}"#,
            data: [UInt8](repeating: 0, count: 12))
        expectDecodingError(gap, containing: "bytes 4..<8 of the data section, before 'b', belong to no tensor")
        let tail = handMadeSafeTensors(
            header: #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#, data: [UInt8](repeating: 0, count: 8))
        expectDecodingError(tail, containing: "bytes 4..<8 at the end of the data section")
        let late = handMadeSafeTensors(
            header: #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#, data: [UInt8](repeating: 0, count: 8))
        expectDecodingError(late, containing: "bytes 0..<4")
    }

    @Test func aDirectoryIsNotAWeightFile() throws {
        let scratch = try TemporaryFolder("luz-integrity")
        defer { scratch.remove() }
        let directory = scratch.path
        #expect { try StateDict(contentsOf: directory) } throws: { "\($0)".contains("not a regular file") }
    }

    /// A FIFO with no writer blocked `open` forever; the child process has 30 s before an alarm
    /// ends it, so a regression fails instead of hanging the suite.
    @Test func aFIFOIsRefusedWithoutBlocking() async throws {
        await #expect(processExitsWith: .success) {
            let path = FileManager.default.temporaryDirectory.appendingPathComponent("luz-fifo-\(getpid())").path
            guard mkfifo(path, 0o600) == 0 else { exit(2) }
            defer { unlink(path) }
            alarm(30)
            do {
                _ = try StateDict(contentsOf: path)
                exit(3)
            } catch {
                exit("\(error)".contains("not a regular file") ? 0 : 4)
            }
        }
    }
}
