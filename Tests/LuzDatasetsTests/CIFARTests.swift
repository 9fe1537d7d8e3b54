import Foundation
import LuzData
@testable import LuzDatasets
import LuzTensor
import Testing

/// Small CIFAR archives built by the tests, laid out as the published ones, served from
/// `file://` mirrors and a loopback HTTP server through `LUZ_DATASET_MIRROR`.
@Suite("CIFAR-10 and CIFAR-100")
struct CIFARTests {
    /// The records of one `.bin` file: `labels` bytes then 3072 pixels each.
    struct Batch {
        var labels: [[UInt8]]          // per record
        var pixels: [[UInt8]]          // per record, planar R, G, B
        var bytes: [UInt8] { zip(labels, pixels).flatMap { $0 + $1 } }
    }

    static func batch(count: Int, seed: UInt64, labels: (Int) -> [UInt8]) -> Batch {
        let pixels = (0..<count).map { sampleBytes(3072, seed: seed &* 1000 &+ UInt64($0)).map { $0 &* 4 &+ 1 } }
        return Batch(labels: (0..<count).map(labels), pixels: pixels)
    }

    /// A CIFAR-10 archive: five training batches and a test batch of `count` records each.
    static func cifar10Archive(count: Int = 10) -> (archive: [UInt8], train: [Batch], test: Batch) {
        let train = (1...5).map { b in batch(count: count, seed: UInt64(b)) { [UInt8(($0 + b) % 10)] } }
        let test = batch(count: count, seed: 9) { [UInt8(($0 * 3) % 10)] }
        var tar = TarBuilder()
        tar.directory("cifar-10-batches-bin/")
        tar.file("cifar-10-batches-bin/batches.meta.txt", CIFAR10.classes.joined(separator: "\n") + "\n")
        for (i, b) in train.enumerated() { tar.file("cifar-10-batches-bin/data_batch_\(i + 1).bin", b.bytes) }
        tar.file("cifar-10-batches-bin/test_batch.bin", test.bytes)
        tar.end()
        return (gzipCompressed(tar.bytes), train, test)
    }

    static func cifar100Archive(count: Int = 10) -> (archive: [UInt8], train: Batch, test: Batch) {
        let train = batch(count: count, seed: 21) { [UInt8($0 % 20), UInt8(($0 * 7 + 3) % 100)] }
        let test = batch(count: count, seed: 22) { [UInt8(19 - $0 % 20), UInt8(99 - $0 % 100)] }
        var tar = TarBuilder()
        tar.directory("cifar-100-binary/")
        tar.file("cifar-100-binary/fine_label_names.txt", CIFAR100.fineClasses.joined(separator: "\n") + "\n")
        tar.file("cifar-100-binary/coarse_label_names.txt", CIFAR100.coarseClasses.joined(separator: "\n") + "\n")
        tar.file("cifar-100-binary/train.bin", train.bytes)
        tar.file("cifar-100-binary/test.bin", test.bytes)
        tar.end()
        return (gzipCompressed(tar.bytes), train, test)
    }

    /// The published resource with the tests' archive's MD5 (or `md5`) in place of the real one.
    static func resource(_ published: CIFARResource, archive: [UInt8], md5: String? = nil) -> CIFARResource {
        var resource = published
        resource.archive = RemoteFile(name: published.archive.name, md5: md5 ?? Checksum.md5(of: archive))
        return resource
    }

    /// Puts `archive` in `<mirror>/<folder>/` and returns a downloader whose cache is `cache`
    /// and whose mirror override is that folder as a `file://` URL.
    static func fileMirror(_ archive: [UInt8], name: String, folder: String, in dir: TemporaryDirectory) throws -> Downloader {
        let mirror = dir.url.appendingPathComponent("mirror")
        try FileManager.default.createDirectory(at: mirror.appendingPathComponent(folder), withIntermediateDirectories: true)
        try archive.write(to: mirror.appendingPathComponent(folder).appendingPathComponent(name))
        return Downloader(environment: ["LUZ_DATA_DIR": dir.url.appendingPathComponent("cache").path, "HOME": "/nonexistent",
                                        "LUZ_DATASET_MIRROR": mirror.absoluteString],
                          showsProgress: false)
    }

    /// What `toTensor` gives for a planar record: byte / 255, channel after channel.
    static func expectedTensor(_ pixels: [UInt8]) -> [Float] { pixels.map { Float($0) / 255 } }

    @Test("published facts: archive names, MD5s, classes in label order")
    func publishedFacts() {
        #expect(CIFAR10.archive == RemoteFile(name: "cifar-10-binary.tar.gz", md5: "c32a1d4ab5d03f1284b67883e8d87530"))
        #expect(CIFAR100.archive == RemoteFile(name: "cifar-100-binary.tar.gz", md5: "03b5dce01913d631647c71ecec9e9cb8"))
        #expect(CIFAR10.classes == ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"])
        #expect(CIFAR100.fineClasses.count == 100 && Set(CIFAR100.fineClasses).count == 100)
        #expect(CIFAR100.coarseClasses.count == 20 && Set(CIFAR100.coarseClasses).count == 20)
        // Both lists are in alphabetical order in the archive's label files.
        #expect(CIFAR100.fineClasses == CIFAR100.fineClasses.sorted() && CIFAR100.coarseClasses == CIFAR100.coarseClasses.sorted())
        #expect(CIFAR100.fineClasses[0] == "apple" && CIFAR100.fineClasses[99] == "worm")
        #expect(CIFAR100.coarseClasses[0] == "aquatic_mammals" && CIFAR100.coarseClasses[19] == "vehicles_2")
    }

    @Test("CIFAR-10 from a file:// mirror: downloaded, verified, extracted; pixels and labels exact")
    func cifar10() throws {
        let dir = try TemporaryDirectory()
        defer { dir.cleanup() }
        let (archive, train, test) = Self.cifar10Archive()
        let downloader = try Self.fileMirror(archive, name: "cifar-10-binary.tar.gz", folder: "cifar-10", in: dir)
        let resource = Self.resource(CIFAR10.resource, archive: archive)
        func load(_ split: DatasetSplit, download: Bool = true) throws -> CIFAR10 {
            try CIFAR10(root: nil, split: split, download: download, transform: nil, targetTransform: nil,
                        downloader: downloader, resource: resource)
        }
        let trainSet = try load(.train)
        #expect(trainSet.count == 50)
        #expect(dir.contents(of: "cache/cifar-10") == [".cifar-10-binary.tar.gz.verified", "cifar-10-batches-bin", "cifar-10-binary.tar.gz"])
        #expect(dir.contents(of: "cache/cifar-10/cifar-10-batches-bin")
                == ["batches.meta.txt", "data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin",
                    "data_batch_5.bin", "test_batch.bin"])
        // Record 3 of batch 2 is element 13.
        let example = trainSet[13]
        #expect(example.input.shape == [3, 32, 32] && example.input.dtype == .float32)
        #expect(example.input.scalars(as: Float.self) == Self.expectedTensor(train[1].pixels[3]))
        #expect(example.target.shape == [] && example.target.item(as: Int64.self) == Int64(train[1].labels[3][0]))
        #expect(trainSet.data.labels == train.flatMap { $0.labels.map { $0[0] } })
        // The image is channels last: pixel (row 5, column 7), green is plane 1 at 5 × 32 + 7.
        let image = trainSet.data.image(at: 13)
        #expect(image.channels == 3 && image.height == 32 && image.width == 32)
        for channel in 0..<3 {
            #expect(image.pixels[(5 * 32 + 7) * 3 + channel] == train[1].pixels[3][channel * 1024 + 5 * 32 + 7])
        }
        #expect(Transform<Image, Tensor>.toTensor(image).scalars(as: Float.self) == example.input.scalars(as: Float.self))
        // The batched path is what stacking the elements gives.
        let indices = [49, 0, 13, 22]
        let fast = try #require(trainSet.batch(at: indices))
        let slow = Example.collated(indices.map { trainSet[$0] })
        #expect(fast.input.shape == [4, 3, 32, 32] && fast.target.shape == [4])
        #expect(fast.input.scalars(as: Float.self) == slow.input.scalars(as: Float.self))
        #expect(fast.target.scalars(as: Int64.self) == slow.target.scalars(as: Int64.self))

        // The test split is read from the extracted folder, even without the archive.
        try FileManager.default.removeItem(at: dir.url.appendingPathComponent("cache/cifar-10/cifar-10-binary.tar.gz"))
        let testSet = try load(.test, download: false)
        #expect(testSet.count == 10)
        #expect(testSet.data.labels == test.labels.map { $0[0] })
        #expect(testSet[9].input.scalars(as: Float.self) == Self.expectedTensor(test.pixels[9]))
    }

    @Test("CIFAR-100 over HTTP: fine labels by default, coarse on request")
    func cifar100() throws {
        let server = try LoopbackHTTPServer()
        defer { server.stop() }
        let dir = try TemporaryDirectory()
        defer { dir.cleanup() }
        let (archive, train, test) = Self.cifar100Archive()
        server.route("/cifar-100/cifar-100-binary.tar.gz", .body(archive))
        let downloader = Downloader(environment: ["LUZ_DATA_DIR": dir.url.path, "HOME": "/nonexistent",
                                                  "LUZ_DATASET_MIRROR": server.baseURL.absoluteString],
                                    showsProgress: false, timeout: 20)
        let resource = Self.resource(CIFAR100.resource, archive: archive)
        func load(_ split: DatasetSplit, _ labels: CIFAR100.Granularity) throws -> CIFAR100 {
            try CIFAR100(root: nil, split: split, labels: labels, download: true, transform: nil, targetTransform: nil,
                         downloader: downloader, resource: resource)
        }
        let fine = try load(.train, .fine)
        #expect(server.requestedPaths == ["/cifar-100/cifar-100-binary.tar.gz"])
        #expect(fine.count == 10 && fine.granularity == .fine && fine.classes == CIFAR100.fineClasses)
        #expect(fine.data.labels == train.labels.map { $0[1] })
        #expect(fine.fineLabels == train.labels.map { $0[1] } && fine.coarseLabels == train.labels.map { $0[0] })
        #expect(fine[4].target.item(as: Int64.self) == Int64(train.labels[4][1]))
        #expect(fine[4].input.shape == [3, 32, 32])
        #expect(fine[4].input.scalars(as: Float.self) == Self.expectedTensor(train.pixels[4]))

        let coarse = try load(.test, .coarse)
        #expect(server.requestedPaths.count == 1)    // cached and extracted: not fetched again
        #expect(coarse.classes == CIFAR100.coarseClasses)
        #expect(coarse.data.labels == test.labels.map { $0[0] })
        #expect(coarse[7].target.item(as: Int64.self) == Int64(test.labels[7][0]))
        #expect(coarse[7].input.scalars(as: Float.self) == Self.expectedTensor(test.pixels[7]))
        // Custom transforms go element by element.
        let shifted = try CIFAR100(root: nil, split: .test, labels: .coarse, download: false, transform: .toTensor,
                                   targetTransform: Transform { Tensor([Int64($0 + 1000)], shape: []) },
                                   downloader: downloader, resource: resource)
        #expect(shifted.batch(at: [0]) == nil)
        #expect(shifted[7].target.item(as: Int64.self) == Int64(test.labels[7][0]) + 1000)
        #expect(shifted[7].input.scalars(as: Float.self) == coarse[7].input.scalars(as: Float.self))
    }

    @Test("an archive failing its checksum is deleted and nothing is extracted")
    func checksumMismatch() throws {
        let dir = try TemporaryDirectory()
        defer { dir.cleanup() }
        let (archive, _, _) = Self.cifar10Archive(count: 2)
        let downloader = try Self.fileMirror(archive, name: "cifar-10-binary.tar.gz", folder: "cifar-10", in: dir)
        // The published MD5: the tests' archive is not the published one.
        #expect { try CIFAR10(split: .train, download: true, downloader: downloader) } throws: { error in
            guard case let .checksumMismatch(file, expected, actual, _, _)? = error as? DatasetError else { return false }
            return file == "cifar-10-binary.tar.gz" && expected == "c32a1d4ab5d03f1284b67883e8d87530"
                && actual == Checksum.md5(of: archive) && "\(error)".contains("the file was deleted")
        }
        #expect(dir.contents(of: "cache/cifar-10").isEmpty)
    }

    @Test("missing files without download, and malformed batch files, are errors naming the file")
    func errors() throws {
        let dir = try TemporaryDirectory()
        defer { dir.cleanup() }
        #expect { try CIFAR100(root: dir.url, split: .test) } throws: { error in
            guard case let .notFound(file, hint)? = error as? DatasetError else { return false }
            return file == "cifar-100-binary.tar.gz" && hint.contains(dir.url.appendingPathComponent("cifar-100").path)
                && hint.contains("download: true")
        }
        // An extracted file that is not a whole number of records.
        let batches = dir.url.appendingPathComponent("cifar-10/cifar-10-batches-bin")
        try FileManager.default.createDirectory(at: batches, withIntermediateDirectories: true)
        try [UInt8](repeating: 1, count: 3073 * 2 + 5).write(to: batches.appendingPathComponent("test_batch.bin"))
        #expect { try CIFAR10(root: dir.url, split: .test) } throws: { error in
            guard case let .invalidHeader(file, reason)? = error as? DatasetError else { return false }
            return file == "cifar-10-batches-bin/test_batch.bin" && reason.contains("6151 bytes are not a whole number of 3073-byte records")
        }
        // A label outside the classes.
        var bad = Self.batch(count: 3, seed: 1) { _ in [3] }
        bad.labels[2] = [10]
        try bad.bytes.write(to: batches.appendingPathComponent("test_batch.bin"))
        #expect { try CIFAR10(root: dir.url, split: .test) } throws: { error in
            "\(error)".contains("test_batch.bin") && "\(error)".contains("label 10 of record 2 is outside 0...9")
        }
        // An archive that lacks a file the split needs.
        var tar = TarBuilder()
        tar.file("cifar-100-binary/train.bin", Self.batch(count: 1, seed: 1) { _ in [0, 0] }.bytes)
        tar.end()
        let folder = dir.url.appendingPathComponent("cifar-100")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try gzipCompressed(tar.bytes).write(to: folder.appendingPathComponent("cifar-100-binary.tar.gz"))
        let own = Downloader(environment: [:], verifiesCachedFiles: false)
        #expect(try CIFAR100(root: dir.url, split: .train, downloader: own).count == 1)
        #expect { try CIFAR100(root: dir.url, split: .test, downloader: own) } throws: { error in
            archiveError(error)?.entry == "cifar-100-binary/test.bin" && archiveError(error)?.reason.contains("missing") == true
        }
    }
}
