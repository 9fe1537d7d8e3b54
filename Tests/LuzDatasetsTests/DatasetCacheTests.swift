import Foundation
@testable import LuzDatasets
import Testing

// Files found in the cache are no longer trusted: checked against the published checksums once
// (then a stamp records it), and checked for the image size and label range the dataset has.
// Errors name the file.

/// Writes MNIST-style files into `<root>/mnist/` with the given image side and class count.
func writeMNISTCache(in root: URL, count: Int = 6, side: Int = 28, classes: Int = 10) throws {
    let dir = root.appendingPathComponent("mnist")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    let files = mnistStyleFiles(count: count, side: side, classes: classes)
    try gzipCompressed(files.images).write(to: dir.appendingPathComponent("train-images-idx3-ubyte.gz"))
    try gzipCompressed(files.labels).write(to: dir.appendingPathComponent("train-labels-idx1-ubyte.gz"))
}

@Suite("Dataset cache checks")
struct DatasetCacheTests {
    @Test("a file copied into the cache by hand that is not the published one is refused, naming it")
    func handCopiedFilesAreVerified() throws {
        let dir = try TemporaryDirectory()
        defer { dir.cleanup() }
        try writeMNISTCache(in: dir.url)
        #expect { _ = try MNIST(root: dir.url, split: .train) } throws: { error in
            let text = "\(error)"
            return text.contains("train-images-idx3-ubyte.gz") && text.contains(dir.url.path)
                && text.contains("not the published file")
        }
    }

    @Test("a verified file gets a stamp; a changed file is checked again")
    func stamps() throws {
        let dir = try TemporaryDirectory()
        defer { dir.cleanup() }
        let local = dir.file("labels.idx")
        try Array("the published content".utf8).write(to: local)
        let file = RemoteFile(name: "labels.idx", md5: Checksum.md5(of: Array("the published content".utf8)))
        let downloader = Downloader(environment: [:])
        #expect(try downloader.verifiedCachedFile(file, at: local) == local)
        #expect(dir.contents() == [".labels.idx.verified", "labels.idx"])
        // Same size, other bytes, a new modification time: checked again, and refused.
        try Array("the damaged  content".utf8).write(to: local)
        try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSinceNow: 60)], ofItemAtPath: local.path)
        #expect(throws: DatasetError.self) { try downloader.verifiedCachedFile(file, at: local) }
        // The stamp is what is trusted: the same size and time again pass without hashing.
        try Array("the published content".utf8).write(to: local)
        #expect(try downloader.verifiedCachedFile(file, at: local) == local)
    }

    @Test("images of the wrong size and labels out of range are refused at load, naming the file")
    func shapesAndLabelsAreChecked() throws {
        let small = try TemporaryDirectory()
        defer { small.cleanup() }
        try writeMNISTCache(in: small.url, side: 5)
        let own = Downloader(verifiesCachedFiles: false)
        #expect { _ = try MNIST(root: small.url, downloader: own) } throws: { error in
            "\(error)".contains("train-images-idx3-ubyte.gz") && "\(error)".contains("5 × 5") && "\(error)".contains("28 × 28")
        }
        let labels = try TemporaryDirectory()
        defer { labels.cleanup() }
        try writeMNISTCache(in: labels.url, count: 14, classes: 13)
        #expect { _ = try MNIST(root: labels.url, downloader: own) } throws: { error in
            "\(error)".contains("train-labels-idx1-ubyte.gz") && "\(error)".contains("label 10 of image 10 is outside 0...9")
        }
    }

    @Test("LUZ_DATA_DIR naming a regular file says so in words")
    func cacheRootThatIsAFile() throws {
        let dir = try TemporaryDirectory()
        defer { dir.cleanup() }
        let path = dir.file("not-a-folder").path
        try Array("x".utf8).write(to: URL(fileURLWithPath: path))
        let downloader = Downloader(environment: ["LUZ_DATA_DIR": path], showsProgress: false)
        for download in [false, true] {
            #expect { _ = try MNIST(download: download, downloader: downloader) } throws: { error in
                "\(error)".contains("LUZ_DATA_DIR is \(path), which is a file, not a folder")
            }
        }
    }
}
