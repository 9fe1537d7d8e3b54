import FuzzSupport
import LuzNN

// safetensors weight files: decoding, then loading into a module (shape and key checks).
let module = Sequential { Linear(2, 3); ReLU(); Linear(3, 2) }

@_cdecl("LLVMFuzzerTestOneInput")
func testOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    guard let state = try? SafeTensors.decode(fuzzInput(data, size), name: "fuzz.safetensors") else { return 0 }
    for (_, tensor) in state where tensor.count <= 1 << 16 { _ = tensor.description }
    try? module.loadStateDict(state, strict: false)
    try? module.loadStateDict(state)
    _ = SafeTensors.encode(state)
    return 0
}

runFuzzer(testOneInput)
