import FuzzSupport
import LuzDatasets

// gzip streams (one or several members): any bytes must give the content or a DatasetError.
@_cdecl("LLVMFuzzerTestOneInput")
func testOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    _ = try? Gzip.decompress(fuzzInput(data, size), name: "fuzz.gz")
    return 0
}

runFuzzer(testOneInput)
