import FuzzSupport
import LuzDatasets

// IDX files, plain or gzip-compressed: any bytes must give an array or a DatasetError.
@_cdecl("LLVMFuzzerTestOneInput")
func testOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    if let array = try? IDXArray(bytes: fuzzInput(data, size), name: "fuzz.idx"), array.values.count <= 1 << 16 {
        _ = array.tensor()
        _ = array.encoded()
    }
    return 0
}

runFuzzer(testOneInput)
