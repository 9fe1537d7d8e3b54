import Foundation
import LuzData
@testable import LuzDatasets
import LuzTensor
import Testing

@Suite("MNIST-style datasets")
struct MNISTTests {
    /// For the tests' own small files, which are not the published ones.
    static let ownFiles = Downloader(verifiesCachedFiles: false)

    /// Writes small MNIST-style files into `<root>/<folder>/` and returns the pixels and labels.
    static func makeCache(in root: URL, folder: String, count: Int, testCount: Int = 7)
        throws -> (pixels: [UInt8], labels: [UInt8]) {
        let dir = root.appendingPathComponent(folder)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let train = mnistStyleFiles(count: count)
        try gzipCompressed(train.images).write(to: dir.appendingPathComponent("train-images-idx3-ubyte.gz"))
        try gzipCompressed(train.labels).write(to: dir.appendingPathComponent("train-labels-idx1-ubyte.gz"))
        let test = mnistStyleFiles(count: testCount, seed: 99)
        try gzipCompressed(test.images).write(to: dir.appendingPathComponent("t10k-images-idx3-ubyte.gz"))
        try gzipCompressed(test.labels).write(to: dir.appendingPathComponent("t10k-labels-idx1-ubyte.gz"))
        return (train.pixels, train.labelValues)
    }

    @Test("elements: [1, 28, 28] floats in [0, 1] and 0-based int64 labels; batches match")
    func elements() throws {
        let dir = try TemporaryDirectory()
        defer { dir.cleanup() }
        let (pixels, labels) = try Self.makeCache(in: dir.url, folder: "mnist", count: 30)
        let train = try MNIST(root: dir.url, split: .train, downloader: Self.ownFiles)
        #expect(train.count == 30)
        #expect(try MNIST(root: dir.url, split: .test, downloader: Self.ownFiles).count == 7)
        let example = train[3]
        #expect(example.input.shape == [1, 28, 28] && example.input.dtype == .float32)
        #expect(example.input.scalars(as: Float.self) == pixels[3 * 784..<4 * 784].map { Float($0) / 255 })
        #expect(example.target.shape == [] && example.target.item(as: Int64.self) == Int64(labels[3]))
        // The bulk path gives what stacking the elements gives.
        let indices = [5, 0, 29, 3]
        let fast = try #require(train.batch(at: indices))
        let slow = Example.collated(indices.map { train[$0] })
        #expect(fast.input.shape == [4, 1, 28, 28] && fast.target.shape == [4])
        #expect(fast.input.scalars(as: Float.self) == slow.input.scalars(as: Float.self))
        #expect(fast.target.scalars(as: Int64.self) == slow.target.scalars(as: Int64.self))
        #expect(MNIST.classes.count == 10 && FashionMNIST.classes[9] == "Ankle boot" && KMNIST.classes[0] == "o")
    }

    @Test("custom transforms apply per element and disable the bulk path")
    func transforms() throws {
        let dir = try TemporaryDirectory()
        defer { dir.cleanup() }
        let (pixels, labels) = try Self.makeCache(in: dir.url, folder: "fashion-mnist", count: 12)
        let dataset = try FashionMNIST(
            root: dir.url,
            transform: Transform.toTensor.then(.normalize(mean: [0.5], std: [0.25])),
            targetTransform: Transform { Tensor([Int64($0 + 100)], shape: []) }, downloader: Self.ownFiles)
        #expect(dataset.batch(at: [0, 1]) == nil)
        let example = dataset[2]
        let expected = pixels[2 * 784..<3 * 784].map { (Float($0) / 255 - 0.5) / 0.25 }
        let actual = example.input.scalars(as: Float.self)
        #expect(zip(actual, expected).allSatisfy { abs($0 - $1) < 1e-5 })
        #expect(example.target.item(as: Int64.self) == Int64(labels[2]) + 100)
        let loader = DataLoader(dataset, batchSize: 5)
        #expect(loader.map(\.input.shape) == [[5, 1, 28, 28], [5, 1, 28, 28], [2, 1, 28, 28]])
    }

    @Test("a random transform augments each epoch anew, the same with and without prefetching")
    func augmentingTransform() throws {
        let dir = try TemporaryDirectory()
        defer { dir.cleanup() }
        _ = try Self.makeCache(in: dir.url, folder: "mnist", count: 20)
        let augmentation = Transform<Image, Tensor>.toTensor.then(.composed([
            .randomCrop(size: 28, padding: 4), .randomHorizontalFlip(), .randomErasing(),
        ]))
        let dataset = try MNIST(root: dir.url, transform: augmentation, downloader: Self.ownFiles)
        #expect(dataset.isRandomized)
        #expect(try !MNIST(root: dir.url, downloader: Self.ownFiles).isRandomized)
        // An element's draws are those of Generator(epochSeed:element:).
        let image = dataset.data.image(at: 4)
        #expect(dataset.element(at: 4, epochSeed: 31).input.scalars(as: Float.self)
                == augmentation(image, generator: Generator(epochSeed: 31, element: 4)).scalars(as: Float.self))
        #expect(dataset[4].input.scalars(as: Float.self) == dataset.element(at: 4, epochSeed: 0).input.scalars(as: Float.self))
        func epochs(prefetch: Int) -> [[Float]] {
            let loader = DataLoader(dataset, batchSize: 8, shuffle: true, generator: Generator(seed: 2), prefetch: prefetch)
            return (0..<2).flatMap { _ in loader.map { $0.input.scalars(as: Float.self) } }
        }
        let plain = epochs(prefetch: 0)
        #expect(plain == epochs(prefetch: 2))
        #expect(plain[0] != plain[3], "two epochs began with the same batch")
    }

    @Test("datasets use their own folders: MNIST files are never read as KMNIST")
    func separateFolders() throws {
        let dir = try TemporaryDirectory()
        defer { dir.cleanup() }
        _ = try Self.makeCache(in: dir.url, folder: "mnist", count: 4)
        #expect(try MNIST(root: dir.url, downloader: Self.ownFiles).count == 4)
        do {
            _ = try KMNIST(root: dir.url, download: false)
            Issue.record("KMNIST loaded MNIST's files")
        } catch let error as DatasetError {
            guard case .notFound(let file, let hint) = error else {
                Issue.record("unexpected error \(error)")
                return
            }
            #expect(file == "train-images-idx3-ubyte.gz")
            #expect(hint.contains("kmnist"))
        }
    }

    @Test("labels and images of different counts are refused")
    func mismatchedFiles() throws {
        let dir = try TemporaryDirectory()
        defer { dir.cleanup() }
        let a = mnistStyleFiles(count: 5), b = mnistStyleFiles(count: 6)
        try a.images.write(to: dir.file("images"))
        try b.labels.write(to: dir.file("labels"))
        #expect(throws: DatasetError.self) {
            try LabeledImages(imagesFile: dir.file("images"), labelsFile: dir.file("labels"))
        }
    }
}

/// The real Fashion-MNIST files Debian's `dataset-fashion-mnist` installs (recompressed: their
/// `.gz` MD5s are not the published ones, their content is).
@Suite("real Fashion-MNIST through a file:// mirror")
struct RealFashionMNISTTests {
    static let debianFolder = URL(fileURLWithPath: "/usr/share/datasets/fashion-mnist")
    /// Whether all four files are there (a fresh machine has none: the test is skipped there).
    static let installed = FashionMNIST.files.allSatisfy {
        FileManager.default.fileExists(atPath: debianFolder.appendingPathComponent($0.name).path)
    }

    @Test("downloaded, verified by content checksum and loaded: 60000 + 10000 images, 6000 per class",
          .enabled(if: installed, "needs Debian's dataset-fashion-mnist (apt-get install -y dataset-fashion-mnist)"))
    func load() throws {
        let names = FashionMNIST.files.map(\.name)
        let dir = try TemporaryDirectory()
        defer { dir.cleanup() }
        let downloader = Downloader(
            environment: ["LUZ_DATA_DIR": dir.url.path,
                          "LUZ_DATASET_MIRROR": Self.debianFolder.deletingLastPathComponent().absoluteString],
            showsProgress: false)
        // The Debian files fail the published .gz MD5 and must pass on content.
        let published = try Checksum.md5(of: Self.debianFolder.appendingPathComponent(names[1]))
        #expect(published != FashionMNIST.files[1].md5)

        // No system folder: the files must come through the mirror into the cache.
        let train = try FashionMNIST(split: .train, download: true, downloader: downloader, systemFolder: nil)
        let test = try FashionMNIST(split: .test, download: true, downloader: downloader, systemFolder: nil)
        #expect(dir.contents(of: "fashion-mnist").filter { !$0.hasPrefix(".") } == names.sorted())
        // Verified on download; checked against their stamps (written at the first load) after.
        #expect(dir.contents(of: "fashion-mnist").filter { $0.hasSuffix(".verified") }.count == 4)
        #expect(try FashionMNIST(split: .test, downloader: downloader, systemFolder: nil).count == 10_000)
        #expect(train.count == 60_000 && test.count == 10_000)
        #expect(train.data.height == 28 && train.data.width == 28)
        #expect(test.data.height == 28 && test.data.width == 28)
        #expect(train.data.classCounts(10) == Array(repeating: 6000, count: 10))
        #expect(test.data.classCounts(10) == Array(repeating: 1000, count: 10))
        let example = train[0]
        #expect(example.input.shape == [1, 28, 28])
        #expect(example.target.item(as: Int64.self) == 9)  // the first training image is an ankle boot
    }

    @Test("read in place from Debian's folder by default: nothing cached, content checksums pass",
          .enabled(if: installed, "needs Debian's dataset-fashion-mnist (apt-get install -y dataset-fashion-mnist)"))
    func readInPlace() throws {
        let dir = try TemporaryDirectory()
        defer { dir.cleanup() }
        let downloader = Downloader(environment: ["LUZ_DATA_DIR": dir.url.path], showsProgress: false)
        let test = try FashionMNIST(split: .test, downloader: downloader)
        #expect(test.count == 10_000 && test.data.classCounts(10) == Array(repeating: 1000, count: 10))
        #expect(dir.contents().isEmpty)
    }
}
