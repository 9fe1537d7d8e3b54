import FuzzSupport
import LuzDatasets

// PGM and PPM images (P2, P3, P5, P6, maxval up to 65535): any bytes must give an image or a
// DatasetError; an image that decodes encodes and decodes again to itself.
@_cdecl("LLVMFuzzerTestOneInput")
func testOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    guard let image = try? PNM.image(decoding: fuzzInput(data, size), name: "fuzz.pnm") else { return 0 }
    guard (try? PNM.image(decoding: PNM.encoded(image))) == image else {
        fatalError("PNM: a decoded image does not survive encoding")
    }
    return 0
}

runFuzzer(testOneInput)
