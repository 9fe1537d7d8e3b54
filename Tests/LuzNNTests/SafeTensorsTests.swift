import Foundation
import LuzNN
import LuzTestSupport
import Testing

/// A fresh directory for one test's files, removed when `body` returns.
private func withScratchDirectory(_ body: (String) throws -> Void) rethrows {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("luz-nn-\(UUID().uuidString)").path
    try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: path) }
    try body(path)
}

/// The little-endian bytes of a value.
private func bytes<T>(_ value: T) -> [UInt8] {
    withUnsafeBytes(of: value) { Array($0) }
}

/// A file laid out by hand: [u64 header length][JSON header][data].
private func handWrittenFile(header: String, data: [UInt8]) -> [UInt8] {
    let json = Array(header.utf8)
    return bytes(UInt64(json.count).littleEndian) + json + data
}

private func expectWeightFileError(_ file: String, containing text: String, sourceLocation: SourceLocation = #_sourceLocation,
                                   _ body: () throws -> Void) {
    do {
        try body()
        Issue.record("expected a WeightFileError containing '\(text)'", sourceLocation: sourceLocation)
    } catch let error as WeightFileError {
        #expect(error.file == file, sourceLocation: sourceLocation)
        #expect(error.description.hasPrefix(file), sourceLocation: sourceLocation)
        #expect(error.reason.contains(text), "\(error)", sourceLocation: sourceLocation)
    } catch {
        Issue.record("unexpected error \(error)", sourceLocation: sourceLocation)
    }
}

@Suite("Safetensors weight files")
struct SafeTensorsTests {
    @Test func aModuleRoundTripsThroughAFile() throws {
        try withScratchDirectory { directory in
            let path = directory + "/model.safetensors"
            let original = Sequential { Linear(3, 4); BatchNorm1d(4); ReLU(); Linear(4, 2, bias: false) }
            _ = original(Tensor.randn([8, 3]))         // moves the running statistics off their defaults
            try original.save(to: path, metadata: ["epoch": "3"])
            let copy = Sequential { Linear(3, 4); BatchNorm1d(4); ReLU(); Linear(4, 2, bias: false) }
            let copyWeight = copy.parameters()[0]
            try copy.load(from: path)
            for ((name, a), (_, b)) in zip(original.stateDict(), copy.stateDict()) {
                #expect(a.dtype == b.dtype, "\(name)")
                assertClose(b, a, rtol: 0, atol: 0, name)
            }
            #expect(copy.parameters()[0] === copyWeight)    // loaded in place
            let state = try StateDict(contentsOf: path)
            #expect(state.metadata == ["epoch": "3"])
            #expect(state.keys == ["0.weight", "0.bias", "1.weight", "1.bias", "1.running_mean", "1.running_var",
                                   "1.num_batches_tracked", "3.weight"])
            #expect(state["1.num_batches_tracked"]!.dtype == .int64)
            // No temporary file is left behind.
            #expect(try FileManager.default.contentsOfDirectory(atPath: directory) == ["model.safetensors"])
        }
    }

    @Test func everyDtypeRoundTrips() throws {
        let state: StateDict = [
            "f32": Tensor([1.5, -2.25, 1e-30], dtype: .float32),
            "f64": Tensor([[Double.pi, -1], [0, 1e300]]),
            "i64": Tensor([Int64.min, -1, 0, Int64.max]),
            "bool": Tensor([true, false, true]),
            "scalar": Tensor(scalar: 4.0),
            "empty": Tensor.zeros([0, 3]),
        ]
        let decoded = try SafeTensors.decode(SafeTensors.encode(state))
        #expect(decoded.keys == state.keys)
        for (key, tensor) in state {
            #expect(decoded[key]!.dtype == tensor.dtype, "\(key)")
            #expect(decoded[key]!.shape == tensor.shape, "\(key)")
            #expect(decoded[key]!.doubles == tensor.doubles, "\(key)")
        }
    }

    @Test func writtenFilesFollowTheLayout() {
        let encoded = SafeTensors.encode(["w": Tensor([Float(1), 2])])
        let headerLength = Int(encoded[0..<8].enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) })
        #expect((8 + headerLength) % 8 == 0)                 // data 8-byte aligned, as the reference writer pads
        let header = String(decoding: encoded[8..<(8 + headerLength)], as: UTF8.self)
        // The checksum of each tensor's bytes travels in the metadata (CRC-32 of 1.0f, 2.0f).
        #expect(header.trimmingCharacters(in: .whitespaces) ==
                #"{"__metadata__":{"luz.crc32":"{\"w\":\"2e3fa576\"}"},"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#)
        #expect(Array(encoded[(8 + headerLength)...]) == bytes(Float(1).bitPattern.littleEndian) + bytes(Float(2).bitPattern.littleEndian))
    }

    @Test func aHandWrittenFileLoads() throws {
        let header = #"{"__metadata__":{"format":"pt"},"layer.weight":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]},"# +
            #""layer.bias":{"dtype":"F64","shape":[2],"data_offsets":[16,32]},"# +
            #""steps":{"dtype":"I64","shape":[],"data_offsets":[32,40]},"mask":{"dtype":"BOOL","shape":[3],"data_offsets":[40,43]}}"#
        var data: [UInt8] = []
        data += [0x00, 0x00, 0x80, 0x3F]                      // 1.0f
        data += [0x00, 0x00, 0x00, 0xC0]                      // -2.0f
        data += [0x00, 0x00, 0x00, 0x3F]                      // 0.5f
        data += [0x00, 0x00, 0x40, 0x40]                      // 3.0f
        data += [0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xF0, 0x3F]   // 1.0
        data += [0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0xC0]   // -2.5
        data += [0x2A, 0, 0, 0, 0, 0, 0, 0]                   // 42
        data += [0x01, 0x00, 0x01]
        var loaded: StateDict?
        try withScratchDirectory { directory in
            let path = directory + "/by-hand.safetensors"
            try Data(handWrittenFile(header: header, data: data)).write(to: URL(fileURLWithPath: path))
            loaded = try StateDict(contentsOf: path)
        }
        let state = try #require(loaded)
        #expect(state.metadata == ["format": "pt"])
        #expect(state.keys == ["layer.weight", "layer.bias", "steps", "mask"])
        #expect(state["layer.weight"]!.shape == [2, 2] && state["layer.weight"]!.dtype == .float32)
        #expect(state["layer.weight"]!.doubles == [1, -2, 0.5, 3])
        #expect(state["layer.bias"]!.doubles == [1, -2.5])
        #expect(state["steps"]!.shape == [] && state["steps"]!.item == 42)
        #expect(state["mask"]!.scalars(as: Bool.self) == [true, false, true])
        // And straight into a module with those names.
        final class Holder: Module { let layer = Linear(2, 2, dtype: .float64) }
        let holder = Holder()
        try holder.loadStateDict(state.scoped(to: "layer").prefixed(with: "layer"))
        #expect(holder.layer.weight.doubles == [1, -2, 0.5, 3] && holder.layer.weight.dtype == .float64)
    }

    @Test func otherWritersDtypesAreConverted() throws {
        let header = #"{"h":{"dtype":"F16","shape":[3],"data_offsets":[0,6]},"b":{"dtype":"BF16","shape":[1],"data_offsets":[6,8]},"# +
            #""i":{"dtype":"I32","shape":[1],"data_offsets":[8,12]},"u":{"dtype":"U8","shape":[1],"data_offsets":[12,13]}}"#
        let data: [UInt8] = [0x00, 0x3C, 0x00, 0xC0, 0x01, 0x00,   // f16: 1, -2, smallest subnormal 2^-24
                             0xC0, 0x3F,                          // bf16: 1.5
                             0xFE, 0xFF, 0xFF, 0xFF,              // i32: -2
                             0xFF]                                // u8: 255
        let state = try SafeTensors.decode(handWrittenFile(header: header, data: data))
        #expect(state["h"]!.doubles == [1, -2, pow(2, -24)])
        #expect(state["b"]!.doubles == [1.5])
        #expect(state["i"]!.dtype == .int64 && state["i"]!.item == -2)
        #expect(state["u"]!.item == 255)
    }

    @Test func aTruncatedFileIsAnErrorNamingTheFile() throws {
        try withScratchDirectory { directory in
            let path = directory + "/truncated.safetensors"
            let full = SafeTensors.encode(["w": Tensor.ones([10])])
            for cut in [full.count - 1, full.count - 40, 20, 7, 0] {
                try Data(full[0..<cut]).write(to: URL(fileURLWithPath: path))
                expectWeightFileError(path, containing: "truncated") { _ = try StateDict(contentsOf: path) }
            }
            expectWeightFileError(path + ".missing", containing: "cannot open") { _ = try StateDict(contentsOf: path + ".missing") }
        }
    }

    @Test func malformedHeadersAreErrorsNotCrashes() {
        let cases: [(String, [UInt8], String)] = [
            ("not json", [], "malformed header"),
            (#"{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}"#, Array(repeating: 0, count: 8), "malformed header"),
            (#"[1, 2]"#, [], "not a JSON object"),
            (#"{"w":{"dtype":"Q8","shape":[1],"data_offsets":[0,1]}}"#, [0], "unsupported dtype 'Q8'"),
            (#"{"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#, Array(repeating: 0, count: 8), "needs 12 bytes"),
            (#"{"w":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}}"#, Array(repeating: 0, count: 8), "non-negative integer"),
            (#"{"w":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}}"#, Array(repeating: 0, count: 8), "reversed"),
            (#"{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,16]}}"#, Array(repeating: 0, count: 8), "truncated"),
            (#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#,
             Array(repeating: 0, count: 12), "overlap"),
            (#"{"w":{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,8]}}"#, [], "too large"),
            (#"{"w":{"shape":[2],"data_offsets":[0,8]}}"#, Array(repeating: 0, count: 8), "no dtype"),
            (#"{"w":{"dtype":"F32","shape":[2],"data_offsets":[0]}}"#, Array(repeating: 0, count: 8), "data_offsets"),
            (#"{"__metadata__":{"k":1}}"#, [], "not a string"),
            (String(repeating: "[", count: 100_000), [], "nesting"),
            (#"{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#,
             Array(repeating: 0, count: 8), "duplicate"),
        ]
        for (header, data, expected) in cases {
            expectWeightFileError("case", containing: expected) {
                _ = try SafeTensors.decode(handWrittenFile(header: header, data: data), name: "case")
            }
        }
        // A header length larger than the file is caught before anything is allocated.
        expectWeightFileError("huge", containing: "truncated") {
            _ = try SafeTensors.decode(bytes(UInt64.max.littleEndian) + [0x7B], name: "huge")
        }
    }

    @Test func loadingChecksKeysAndShapes() throws {
        try withScratchDirectory { directory in
            let model = Sequential { Linear(3, 4); ReLU(); Linear(4, 2) }
            // A wrong-shape file: the first layer saved as Linear(3, 5).
            let wrong = directory + "/wrong-shape.safetensors"
            try Sequential { Linear(3, 5); ReLU(); Linear(4, 2) }.save(to: wrong)
            let before = model.parameters()[2].doubles
            // The error names the file as well as the entry and both shapes.
            expectWeightFileError(wrong, containing: "'0.weight': expected [4, 3]") { try model.load(from: wrong) }
            #expect(model.parameters()[2].doubles == before)      // nothing was loaded
            let message = StateDictError.shapeMismatch(key: "0.weight", expected: [4, 3], found: [5, 3]).description
            #expect(message.contains("0.weight") && message.contains("[4, 3]") && message.contains("[5, 3]"))

            var state = model.stateDict()
            state["2.bias"] = nil
            #expect(throws: StateDictError.missingKey("2.bias")) { try model.loadStateDict(state) }
            state = model.stateDict()
            state["extra"] = Tensor.zeros([1])
            #expect(throws: StateDictError.unexpectedKey("extra")) { try model.loadStateDict(state) }
            try model.loadStateDict(state, strict: false)
            // A weight-file error names the file.
            expectWeightFileError(directory + "/nothing", containing: "cannot open") { try model.load(from: directory + "/nothing") }
        }
    }

    @Test func writingIntoAMissingDirectoryFails() {
        withScratchDirectory { directory in
            let path = directory + "/no/such/dir/model.safetensors"
            expectWeightFileError(path, containing: "temporary file") { try Sequential { Linear(1, 1) }.save(to: path) }
        }
    }

    @Test func stateDictKeepsOrderAndSupportsEditing() {
        var state: StateDict = ["b": Tensor([1.0]), "a": Tensor([2.0])]
        state["c"] = Tensor([3.0])
        state["b"] = Tensor([4.0])
        #expect(state.keys == ["b", "a", "c"])
        state["a"] = nil
        #expect(state.keys == ["b", "c"] && state.count == 2)
        #expect(state.map(\.key) == ["b", "c"])
        let nested = state.prefixed(with: "encoder")
        #expect(nested.keys == ["encoder.b", "encoder.c"])
        #expect(nested.scoped(to: "encoder").keys == ["b", "c"])
        let snapshot = nested.cloned()
        #expect(snapshot["encoder.b"]! !== nested["encoder.b"]!)
        #expect(state.description.contains("b: float64 [1]"))
    }
}
