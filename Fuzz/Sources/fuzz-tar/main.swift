import FuzzSupport
import LuzDatasets

// tar archives, plain or gzip-compressed (ustar, pax extended headers, GNU long names): any
// bytes must give the entries or a DatasetError, and never allocate what a header announces
// before the data is there.
@_cdecl("LLVMFuzzerTestOneInput")
func testOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    _ = try? TarArchive.entries(decoding: fuzzInput(data, size), name: "fuzz.tar")
    return 0
}

runFuzzer(testOneInput)
