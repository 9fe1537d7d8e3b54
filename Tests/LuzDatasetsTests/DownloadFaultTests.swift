import Foundation
@testable import LuzDatasets
@_spi(FaultInjection) import LuzSerialization
import Testing

/// Downloads and cached files under injected write faults (a full disk, a read-only cache, a
/// failed rename): nothing partial reaches the cache, and the error names the file and cause.
@Suite("downloads under write faults")
struct DownloadFaultTests {
    @Test(arguments: [(FileWriteError.Step.write, ENOSPC, "No space left on device"),
                      (.create, EACCES, "Permission denied"),
                      (.rename, EACCES, "Permission denied")])
    func aFaultLeavesNothingInTheCacheAndSaysWhatFailed(step: FileWriteError.Step, code: Int32, text: String) throws {
        let server = try LoopbackHTTPServer()
        defer { server.stop() }
        let dir = try TemporaryDirectory()
        defer { dir.cleanup() }
        let (bytes, file) = DownloaderTests.sampleFile()
        server.route("/data/\(file.name)", .body(bytes))
        let downloader = DownloaderTests.downloader(cache: dir.url)
        let mirrors = [server.baseURL.appendingPathComponent("data")]
        #expect {
            try AtomicFileWriter.injectingFault(.fail(step, code: code), intoWritesUnder: dir.url.path) {
                try downloader.fetch(file, from: mirrors, into: dir.url)
            }
        } throws: { error in
            guard let error = error as? DatasetError, case .downloadFailed(let name, let attempts) = error else { return false }
            return name == file.name && attempts.count == 1 && attempts[0].contains(step.rawValue) && attempts[0].contains(text)
        }
        #expect(dir.contents().isEmpty)
        // Without the fault the same download succeeds.
        let url = try downloader.fetch(file, from: mirrors, into: dir.url)
        #expect(try Data(contentsOf: url) == Data(bytes))
        #expect(dir.contents() == [".\(file.name).verified", file.name])   // the file and its verification stamp
    }

    @Test func aFaultOnAFileMirrorToo() throws {
        let dir = try TemporaryDirectory(), mirror = try TemporaryDirectory()
        defer { dir.cleanup(); mirror.cleanup() }
        let (bytes, file) = DownloaderTests.sampleFile()
        try Data(bytes).write(to: mirror.file(file.name))
        #expect(throws: DatasetError.self) {
            try AtomicFileWriter.injectingFault(.fail(.write, code: ENOSPC), intoWritesUnder: dir.url.path) {
                try DownloaderTests.downloader(cache: dir.url).fetch(file, from: [mirror.url], into: dir.url)
            }
        }
        #expect(dir.contents().isEmpty)
    }

    @Test func aFailedRewriteKeepsThePreviousIDXFile() throws {
        let dir = try TemporaryDirectory()
        defer { dir.cleanup() }
        let url = dir.file("labels.idx")
        let old = IDXArray(shape: [3], values: .uint8([1, 2, 3]))
        try old.write(to: url)
        #expect(throws: DatasetError.io(file: "labels.idx", reason: "cannot write the temporary file: No space left on device")) {
            try AtomicFileWriter.injectingFault(.fail(.write, code: ENOSPC), intoWritesUnder: dir.url.path) {
                try IDXArray(shape: [4], values: .uint8([9, 9, 9, 9])).write(to: url)
            }
        }
        #expect(try IDXArray(contentsOf: url) == old)
        #expect(dir.contents() == ["labels.idx"])
    }
}
