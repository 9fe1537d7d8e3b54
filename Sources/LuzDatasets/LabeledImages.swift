import Foundation
import LuzData
import LuzTensor

/// Which part of a dataset to load.
public enum DatasetSplit: String, Sendable, CaseIterable {
    /// The training set (60 000 images for the MNIST family, 50 000 for CIFAR).
    case train
    /// The test set (10 000 images for the MNIST family and for CIFAR).
    case test
}

/// Labelled 8-bit images: the storage behind ``MNIST``, ``KMNIST`` and ``FashionMNIST`` (read
/// from a pair of IDX files) and ``CIFAR10`` and ``CIFAR100`` (three channels).
///
/// The pixels stay bytes (47 MB for 60 000 images instead of 188 MB of floats); each image is
/// converted when read, and ``imageTensor(at:)`` converts many at once.
///
/// Pixels are stored channel-first, in the layout of the tensors made from them (`[count,
/// channels, height, width]`, CIFAR's own layout), so that ``imageTensor(at:)`` is one lookup
/// per byte in order; ``image(at:)`` interleaves the channels into an ``Image`` (channels last).
public struct LabeledImages: Sendable {
    /// The number of images.
    public let count: Int
    /// The number of pixel rows of each image.
    public let height: Int
    /// The number of pixel columns of each image.
    public let width: Int
    /// The number of channels of each image: 1 for grayscale, 3 for RGB.
    public let channels: Int
    /// All pixels, image after image, each one channel after the other and each channel
    /// row-major (`((image × channels + channel) × height + row) × width + column`); with one
    /// channel simply row-major images. 0 is the background of the MNIST family.
    public let pixels: [UInt8]
    /// The class of each image, 0-based.
    public let labels: [UInt8]

    /// Reads an images file (type `0x08`, three dimensions) and a labels file (type `0x08`, one
    /// dimension), gzip-compressed or not.
    /// - Throws: IDX and gzip errors naming the file, or ``DatasetError/invalidHeader(file:reason:)``
    ///   when the files' shapes, types or counts do not match.
    public init(imagesFile: URL, labelsFile: URL) throws {
        let images = try IDXArray(contentsOf: imagesFile)
        let labels = try IDXArray(contentsOf: labelsFile)
        guard case .uint8(let pixels) = images.values, images.shape.count == 3 else {
            throw DatasetError.invalidHeader(
                file: imagesFile.lastPathComponent,
                reason: "expected unsigned bytes in 3 dimensions (count, rows, columns), found \(images.elementType) with shape \(images.shape)")
        }
        guard case .uint8(let labelBytes) = labels.values, labels.shape.count == 1 else {
            throw DatasetError.invalidHeader(
                file: labelsFile.lastPathComponent,
                reason: "expected unsigned bytes in 1 dimension, found \(labels.elementType) with shape \(labels.shape)")
        }
        guard labels.shape[0] == images.shape[0] else {
            throw DatasetError.invalidHeader(
                file: labelsFile.lastPathComponent,
                reason: "\(labels.shape[0]) labels for the \(images.shape[0]) images of \(imagesFile.lastPathComponent)")
        }
        self.init(count: images.shape[0], height: images.shape[1], width: images.shape[2],
                  pixels: pixels, labels: labelBytes)
    }

    /// Creates the storage from bytes in memory.
    /// - Parameters:
    ///   - count: the number of images.
    ///   - height: the rows of each image.
    ///   - width: the columns of each image.
    ///   - channels: the channels of each image (1, the default, for grayscale).
    ///   - pixels: `count × channels × height × width` bytes, channel-first (see ``pixels``).
    ///   - labels: one 0-based class per image.
    public init(count: Int, height: Int, width: Int, channels: Int = 1, pixels: [UInt8], labels: [UInt8]) {
        require(channels >= 1, "LabeledImages: \(channels) channels")
        require(pixels.count == count * channels * height * width && labels.count == count,
                "LabeledImages: \(pixels.count) pixels and \(labels.count) labels for \(count) images of \(height) × \(width) × \(channels)")
        self.count = count
        self.height = height
        self.width = width
        self.channels = channels
        self.pixels = pixels
        self.labels = labels
    }

    /// Checks what a network built for the dataset assumes: the image size and the label range.
    /// A wrong file otherwise loads and stops the program later, in a layer far from the cause.
    /// - Throws: ``DatasetError/invalidHeader(file:reason:)`` naming the file.
    public func check(height: Int, width: Int, classCount: Int, imagesFile: String, labelsFile: String) throws {
        guard self.height == height, self.width == width else {
            throw DatasetError.invalidHeader(
                file: imagesFile, reason: "the images are \(self.height) × \(self.width), the dataset's are \(height) × \(width)")
        }
        if let index = labels.firstIndex(where: { Int($0) >= classCount }) {
            throw DatasetError.invalidHeader(
                file: labelsFile, reason: "label \(labels[index]) of image \(index) is outside 0...\(classCount - 1)")
        }
    }

    /// The image at `index`, channels last as ``Image`` has them (the storage is
    /// channel-first: the channels are interleaved here).
    public func image(at index: Int) -> Image {
        require(index >= 0 && index < count, "LabeledImages: index \(index) out of range 0..<\(count)")
        let plane = height * width
        let size = plane * channels
        guard channels > 1 else {
            return Image(height: height, width: width, channels: 1, pixels: Array(pixels[index * size..<(index + 1) * size]))
        }
        let interleaved = pixels.withUnsafeBufferPointer { source in
            [UInt8](unsafeUninitializedCapacity: size) { out, initialized in
                let base = index * size
                for channel in 0..<channels {
                    let from = base + channel * plane
                    for p in 0..<plane { out[p * channels + channel] = source[from + p] }
                }
                initialized = size
            }
        }
        return Image(height: height, width: width, channels: channels, pixels: interleaved)
    }

    /// The images at `indices` (all of them when `nil`) as one `float32` tensor of shape
    /// `[n, channels, height, width]` with values in [0, 1], what ``Transform/toTensor`` gives
    /// for each.
    public func imageTensor(at indices: [Int]? = nil) -> Tensor {
        let size = channels * height * width
        let n = indices?.count ?? count
        return pixels.withUnsafeBufferPointer { source in
            Tensor(shape: [n, channels, height, width]) { (out: UnsafeMutableBufferPointer<Float>) in
                // A table lookup: one load per pixel instead of a conversion and a multiply.
                let table = (0..<256).map { Float($0) / 255 }
                table.withUnsafeBufferPointer { table in
                    guard let indices else {
                        for i in 0..<source.count { out[i] = table[Int(source[i])] }
                        return
                    }
                    for (row, index) in indices.enumerated() {
                        require(index >= 0 && index < count, "LabeledImages: index \(index) out of range 0..<\(count)")
                        let from = index * size, to = row * size
                        for p in 0..<size { out[to + p] = table[Int(source[from + p])] }
                    }
                }
            }
        }
    }

    /// The labels at `indices` (all of them when `nil`) as an `int64` tensor of shape `[n]`.
    public func labelTensor(at indices: [Int]? = nil) -> Tensor {
        let values = indices.map { $0.map { Int64(labels[$0]) } } ?? labels.map { Int64($0) }
        return Tensor(values)
    }

    /// The number of images of each class `0..<classCount`.
    public func classCounts(_ classCount: Int) -> [Int] {
        var counts = [Int](repeating: 0, count: classCount)
        for label in labels where Int(label) < classCount { counts[Int(label)] += 1 }
        return counts
    }
}

/// Where a dataset of the MNIST family is published, and the checksums of its files.
struct MNISTResource {
    /// The dataset's folder in the cache and under a mirror override.
    let folder: String
    /// The published mirrors, each a folder holding the four files.
    let mirrors: [URL]
    /// The files, train-images, train-labels, t10k-images, t10k-labels.
    let files: [RemoteFile]

    init(folder: String, mirrors: [String], md5: [String], contentMD5: [String?]) {
        self.folder = folder
        self.mirrors = mirrors.map { URL(string: $0)! }
        let names = ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
                     "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"]
        // The same shapes for the whole family: 60 000 and 10 000 images of 28 × 28 and their labels.
        let sizes = [16 + 60_000 * 784, 8 + 60_000, 16 + 10_000 * 784, 8 + 10_000]
        files = names.indices.map { RemoteFile(name: names[$0], md5: md5[$0], contentMD5: contentMD5[$0], contentSize: sizes[$0]) }
    }

    /// Finds (downloading if allowed) and reads the images and labels of one split: from the
    /// cache, else (when `root` is `nil`) from `systemFolder`, a read-only copy such as Debian's,
    /// read in place, else downloaded.
    func load(root: URL?, split: DatasetSplit, download: Bool, downloader: Downloader,
              systemFolder: URL? = nil) throws -> LabeledImages {
        let directory = (root ?? downloader.cacheRoot).appendingPathComponent(folder, isDirectory: true)
        let installed = root == nil ? systemFolder : nil
        let (images, labels) = split == .train ? (files[0], files[1]) : (files[2], files[3])
        var urls: [URL] = []
        for file in [images, labels] {
            let local = directory.appendingPathComponent(file.name)
            let system = installed?.appendingPathComponent(file.name)
            if FileManager.default.fileExists(atPath: local.path) {
                urls.append(try downloader.verifiedCachedFile(file, at: local))
            } else if let system, FileManager.default.fileExists(atPath: system.path) {
                urls.append(try downloader.verifiedInstalledFile(file, at: system))
            } else if download {
                urls.append(try downloader.fetch(file, from: downloader.mirrors(for: folder, defaults: mirrors),
                                                 into: directory))
            } else {
                try downloader.checkFolder(directory, for: file.name)
                throw DatasetError.notFound(
                    file: file.name,
                    hint: "no copy in \(directory.path); pass download: true to fetch it (LUZ_DATASET_MIRROR names another mirror)")
            }
        }
        let data = try LabeledImages(imagesFile: urls[0], labelsFile: urls[1])
        try data.check(height: 28, width: 28, classCount: 10, imagesFile: images.name, labelsFile: labels.name)
        return data
    }
}

/// A dataset of labelled images held as ``LabeledImages``, read through optional image and label
/// transforms: what ``MNIST``, ``KMNIST``, ``FashionMNIST``, ``CIFAR10`` and ``CIFAR100`` have in
/// common. Conforming types get `count`, element access and the batched fast path.
public protocol LabeledImageDataset: Dataset where Element == Example {
    /// The images and labels.
    var data: LabeledImages { get }
    /// The transform applied to each image; `nil` is ``Transform/toTensor``, done in bulk.
    var transform: Transform<Image, Tensor>? { get }
    /// The transform applied to each label; `nil` gives an `int64` scalar, done in bulk.
    var targetTransform: Transform<Int, Tensor>? { get }
}

extension LabeledImageDataset {
    /// The number of images.
    public var count: Int { data.count }

    /// The image and label at `index`, transformed (random transforms with the epoch seed 0).
    public subscript(index: Int) -> Example {
        element(at: index, epochSeed: 0)
    }

    /// Whether a transform draws random numbers (augmentation).
    public var isRandomized: Bool { (transform?.isRandom ?? false) || (targetTransform?.isRandom ?? false) }

    /// The image and label at `index`, transformed with the draws of `Generator(epochSeed:element:)`.
    public func element(at index: Int, epochSeed: UInt64) -> Example {
        let generator = isRandomized ? Generator(epochSeed: epochSeed, element: index) : Generator.default
        return data.example(at: index, transform: transform, targetTransform: targetTransform, generator: generator)
    }

    /// With the default transforms, the images and labels at `indices` converted in one pass.
    public func batch(at indices: [Int]) -> Example? {
        data.batch(at: indices, transform: transform, targetTransform: targetTransform)
    }
}

/// The element-reading code shared by the labelled image datasets.
extension LabeledImages {
    func example(at index: Int, transform: Transform<Image, Tensor>?, targetTransform: Transform<Int, Tensor>?,
                 generator: Generator) -> Example {
        let input = transform.map { $0(image(at: index), generator: generator) }
            ?? imageTensor(at: [index]).reshaped([channels, height, width])
        let label = Int(labels[index])
        let target = targetTransform.map { $0(label, generator: generator) } ?? Tensor([Int64(label)], shape: [])
        return Example(input: input, target: target)
    }

    func batch(at indices: [Int], transform: Transform<Image, Tensor>?, targetTransform: Transform<Int, Tensor>?) -> Example? {
        // Only the built-in conversions have a batched form; custom transforms go one by one.
        guard transform == nil, targetTransform == nil else { return nil }
        return Example(input: imageTensor(at: indices), target: labelTensor(at: indices))
    }
}
