import Foundation
import LuzData
import LuzTensor

/// CIFAR-10: 32 × 32 colour images in 10 classes, 50 000 for training (five batches of
/// 10 000) and 10 000 for testing (torchvision's `CIFAR10`).
///
/// Each element is an ``Example`` whose input is the transformed image (by default a `float32`
/// tensor `[3, 32, 32]` in [0, 1], red, green, blue) and whose target is the transformed
/// 0-based label (by default an `int64` scalar); ``classes`` names the labels.
///
/// The dataset is published as one archive, `cifar-10-binary.tar.gz` (the binary version,
/// 162 MB), cached in `<root>/cifar-10/`, with `root` defaulting to the user cache folder (see
/// ``Downloader``), checked against its published MD5 and extracted next to it into
/// `cifar-10-batches-bin/`, from which later loads read. Each record of its `.bin` files is one
/// label byte and 3072 pixel bytes: 1024 red, 1024 green, 1024 blue, each row-major.
///
/// ```swift
/// let train = try CIFAR10(split: .train, download: true)
/// let loader = DataLoader(train, batchSize: 128, shuffle: true)
/// ```
public struct CIFAR10: LabeledImageDataset {
    /// The classes, in label order (the archive's `batches.meta.txt`).
    public static let classes = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]

    /// The cache folder name, also the folder fetched under `LUZ_DATASET_MIRROR`.
    public static let folderName = "cifar-10"

    static let resource = CIFARResource(
        folder: folderName, mirrors: ["https://www.cs.toronto.edu/~kriz/"],
        archive: RemoteFile(name: "cifar-10-binary.tar.gz", md5: "c32a1d4ab5d03f1284b67883e8d87530"),
        batchesFolder: "cifar-10-batches-bin",
        trainFiles: (1...5).map { "data_batch_\($0).bin" }, testFiles: ["test_batch.bin"],
        labelClassCounts: [10])

    /// The archive the dataset is published as, with its published MD5.
    public static var archive: RemoteFile { resource.archive }

    /// The images and labels of the split.
    public let data: LabeledImages
    /// The split loaded.
    public let split: DatasetSplit
    /// The transform applied to each image; `nil` is ``Transform/toTensor``, done in bulk.
    public let transform: Transform<Image, Tensor>?
    /// The transform applied to each label; `nil` gives an `int64` scalar, done in bulk.
    public let targetTransform: Transform<Int, Tensor>?

    /// Loads a split, from the cache or downloaded.
    /// - Parameters:
    ///   - root: the data folder holding `cifar-10/`; `nil` for ``Downloader/cacheRoot``
    ///     (`LUZ_DATA_DIR`, else the user cache folder).
    ///   - split: the training set (`data_batch_1.bin` to `data_batch_5.bin`) or the test set
    ///     (`test_batch.bin`).
    ///   - download: fetch the archive from the mirrors when it is missing (default `false`, as
    ///     in torchvision).
    ///   - transform: applied to each image; `nil` (the default) converts it to a `float32`
    ///     tensor `[3, 32, 32]` in [0, 1], like ``Transform/toTensor`` but a whole batch at once.
    ///   - targetTransform: applied to each label; `nil` (the default) makes an `int64` scalar.
    ///   - downloader: the cache and mirror settings.
    /// - Throws: ``DatasetError`` naming the file when the archive is missing, fails its
    ///   checksum or cannot be extracted, or a batch file is malformed.
    public init(root: URL? = nil, split: DatasetSplit = .train, download: Bool = false,
                transform: Transform<Image, Tensor>? = nil, targetTransform: Transform<Int, Tensor>? = nil,
                downloader: Downloader = Downloader()) throws {
        try self.init(root: root, split: split, download: download, transform: transform,
                      targetTransform: targetTransform, downloader: downloader, resource: Self.resource)
    }

    /// Loads a split of the dataset `resource` describes (tests pass archives of their own).
    init(root: URL?, split: DatasetSplit, download: Bool, transform: Transform<Image, Tensor>?,
         targetTransform: Transform<Int, Tensor>?, downloader: Downloader, resource: CIFARResource) throws {
        let records = try resource.load(root: root, split: split, download: download, downloader: downloader)
        data = LabeledImages(count: records.count, height: 32, width: 32, channels: 3,
                             pixels: records.pixels, labels: records.labels[0])
        self.split = split
        self.transform = transform
        self.targetTransform = targetTransform
    }
}

/// CIFAR-100: 32 × 32 colour images in 100 classes grouped into 20 superclasses, 50 000 for
/// training and 10 000 for testing (torchvision's `CIFAR100`).
///
/// Each image has two labels, a fine one (its class, ``fineClasses``) and a coarse one (its
/// superclass, ``coarseClasses``); ``granularity`` chooses which one the targets are, fine by
/// default as in torchvision. Each element is an ``Example`` whose input is the transformed
/// image (by default a `float32` tensor `[3, 32, 32]` in [0, 1]) and whose target is the
/// transformed 0-based label (by default an `int64` scalar).
///
/// The dataset is published as `cifar-100-binary.tar.gz` (161 MB), cached in
/// `<root>/cifar-100/`, checked against its published MD5 and extracted next to it into
/// `cifar-100-binary/` (`train.bin`, `test.bin`). Each record is a coarse label byte, a fine
/// label byte and 3072 pixel bytes (1024 red, 1024 green, 1024 blue, each row-major).
///
/// ```swift
/// let train = try CIFAR100(split: .train, labels: .coarse, download: true)
/// ```
public struct CIFAR100: LabeledImageDataset {
    /// Which of an image's two labels the targets are.
    public enum Granularity: String, Sendable, CaseIterable {
        /// The class among 100 (``CIFAR100/fineClasses``), torchvision's targets.
        case fine
        /// The superclass among 20 (``CIFAR100/coarseClasses``).
        case coarse
    }

    /// The 100 classes, in fine-label order (the archive's `fine_label_names.txt`).
    public static let fineClasses = [
        "apple", "aquarium_fish", "baby", "bear", "beaver", "bed", "bee", "beetle", "bicycle", "bottle",
        "bowl", "boy", "bridge", "bus", "butterfly", "camel", "can", "castle", "caterpillar", "cattle",
        "chair", "chimpanzee", "clock", "cloud", "cockroach", "couch", "crab", "crocodile", "cup", "dinosaur",
        "dolphin", "elephant", "flatfish", "forest", "fox", "girl", "hamster", "house", "kangaroo", "keyboard",
        "lamp", "lawn_mower", "leopard", "lion", "lizard", "lobster", "man", "maple_tree", "motorcycle", "mountain",
        "mouse", "mushroom", "oak_tree", "orange", "orchid", "otter", "palm_tree", "pear", "pickup_truck", "pine_tree",
        "plain", "plate", "poppy", "porcupine", "possum", "rabbit", "raccoon", "ray", "road", "rocket",
        "rose", "sea", "seal", "shark", "shrew", "skunk", "skyscraper", "snail", "snake", "spider",
        "squirrel", "streetcar", "sunflower", "sweet_pepper", "table", "tank", "telephone", "television", "tiger", "tractor",
        "train", "trout", "tulip", "turtle", "wardrobe", "whale", "willow_tree", "wolf", "woman", "worm",
    ]

    /// The 20 superclasses, in coarse-label order (the archive's `coarse_label_names.txt`).
    public static let coarseClasses = [
        "aquatic_mammals", "fish", "flowers", "food_containers", "fruit_and_vegetables",
        "household_electrical_devices", "household_furniture", "insects", "large_carnivores",
        "large_man-made_outdoor_things", "large_natural_outdoor_scenes", "large_omnivores_and_herbivores",
        "medium_mammals", "non-insect_invertebrates", "people", "reptiles", "small_mammals", "trees",
        "vehicles_1", "vehicles_2",
    ]

    /// The cache folder name, also the folder fetched under `LUZ_DATASET_MIRROR`.
    public static let folderName = "cifar-100"

    static let resource = CIFARResource(
        folder: folderName, mirrors: ["https://www.cs.toronto.edu/~kriz/"],
        archive: RemoteFile(name: "cifar-100-binary.tar.gz", md5: "03b5dce01913d631647c71ecec9e9cb8"),
        batchesFolder: "cifar-100-binary", trainFiles: ["train.bin"], testFiles: ["test.bin"],
        labelClassCounts: [20, 100])

    /// The archive the dataset is published as, with its published MD5.
    public static var archive: RemoteFile { resource.archive }

    /// The images and the labels chosen by ``granularity``.
    public let data: LabeledImages
    /// The split loaded.
    public let split: DatasetSplit
    /// Whether the targets are the fine labels or the coarse ones.
    public let granularity: Granularity
    /// The fine label (0..<100) of each image, whichever ``granularity`` is.
    public let fineLabels: [UInt8]
    /// The coarse label (0..<20) of each image, whichever ``granularity`` is.
    public let coarseLabels: [UInt8]
    /// The transform applied to each image; `nil` is ``Transform/toTensor``, done in bulk.
    public let transform: Transform<Image, Tensor>?
    /// The transform applied to each label; `nil` gives an `int64` scalar, done in bulk.
    public let targetTransform: Transform<Int, Tensor>?

    /// The names of the targets' classes: ``fineClasses`` or ``coarseClasses``.
    public var classes: [String] { granularity == .fine ? Self.fineClasses : Self.coarseClasses }

    /// Loads a split, from the cache or downloaded.
    /// - Parameters:
    ///   - root: the data folder holding `cifar-100/`; `nil` for ``Downloader/cacheRoot``
    ///     (`LUZ_DATA_DIR`, else the user cache folder).
    ///   - split: the training set (`train.bin`) or the test set (`test.bin`).
    ///   - labels: the targets' granularity: `.fine` (the default, as torchvision), 100
    ///     classes, or `.coarse`, 20 superclasses.
    ///   - download: fetch the archive from the mirrors when it is missing (default `false`).
    ///   - transform: applied to each image; `nil` (the default) converts it to a `float32`
    ///     tensor `[3, 32, 32]` in [0, 1], like ``Transform/toTensor`` but a whole batch at once.
    ///   - targetTransform: applied to each label; `nil` (the default) makes an `int64` scalar.
    ///   - downloader: the cache and mirror settings.
    /// - Throws: ``DatasetError`` naming the file when the archive is missing, fails its
    ///   checksum or cannot be extracted, or a data file is malformed.
    public init(root: URL? = nil, split: DatasetSplit = .train, labels: Granularity = .fine, download: Bool = false,
                transform: Transform<Image, Tensor>? = nil, targetTransform: Transform<Int, Tensor>? = nil,
                downloader: Downloader = Downloader()) throws {
        try self.init(root: root, split: split, labels: labels, download: download, transform: transform,
                      targetTransform: targetTransform, downloader: downloader, resource: Self.resource)
    }

    /// Loads a split of the dataset `resource` describes (tests pass archives of their own).
    init(root: URL?, split: DatasetSplit, labels: Granularity, download: Bool, transform: Transform<Image, Tensor>?,
         targetTransform: Transform<Int, Tensor>?, downloader: Downloader, resource: CIFARResource) throws {
        let records = try resource.load(root: root, split: split, download: download, downloader: downloader)
        coarseLabels = records.labels[0]
        fineLabels = records.labels[1]
        data = LabeledImages(count: records.count, height: 32, width: 32, channels: 3, pixels: records.pixels,
                             labels: labels == .fine ? fineLabels : coarseLabels)
        self.split = split
        granularity = labels
        self.transform = transform
        self.targetTransform = targetTransform
    }
}

/// Where a CIFAR dataset is published and how its archive is laid out.
struct CIFARResource: Sendable {
    /// The dataset's folder in the cache and under a mirror override.
    let folder: String
    /// The published mirrors, each a folder holding the archive.
    let mirrors: [URL]
    /// The archive and its checksum.
    var archive: RemoteFile
    /// The folder the archive holds its data files in.
    let batchesFolder: String
    let trainFiles: [String]
    let testFiles: [String]
    /// The number of classes of each label byte at the start of a record, in record order.
    let labelClassCounts: [Int]

    init(folder: String, mirrors: [String], archive: RemoteFile, batchesFolder: String,
         trainFiles: [String], testFiles: [String], labelClassCounts: [Int]) {
        self.folder = folder
        self.mirrors = mirrors.map { URL(string: $0)! }
        self.archive = archive
        self.batchesFolder = batchesFolder
        self.trainFiles = trainFiles
        self.testFiles = testFiles
        self.labelClassCounts = labelClassCounts
    }

    /// The pixels of one image: 32 × 32 in three channels.
    static let imageBytes = 3 * 32 * 32

    /// The records of a split: the images' pixels (channel-first, as stored) and each label
    /// byte's values.
    struct Records {
        var count = 0
        var pixels: [UInt8] = []
        var labels: [[UInt8]]
    }

    /// Finds the split's data files (extracting the archive, downloaded if allowed, when they
    /// are missing) and reads them.
    func load(root: URL?, split: DatasetSplit, download: Bool, downloader: Downloader) throws -> Records {
        let directory = (root ?? downloader.cacheRoot).appendingPathComponent(folder, isDirectory: true)
        let batches = directory.appendingPathComponent(batchesFolder, isDirectory: true)
        let names = split == .train ? trainFiles : testFiles
        let urls = names.map { batches.appendingPathComponent($0) }
        // Extracted files are whole (each was renamed into place once complete) and came from
        // the verified archive; a file missing means the archive was never extracted, or
        // extracting it was interrupted: extract it (again).
        if !urls.allSatisfy({ FileManager.default.fileExists(atPath: $0.path) }) {
            let local = directory.appendingPathComponent(archive.name)
            let verified: URL
            if FileManager.default.fileExists(atPath: local.path) {
                verified = try downloader.verifiedCachedFile(archive, at: local)
            } else if download {
                verified = try downloader.fetch(archive, from: downloader.mirrors(for: folder, defaults: mirrors), into: directory)
            } else {
                try downloader.checkFolder(directory, for: archive.name)
                throw DatasetError.notFound(
                    file: archive.name,
                    hint: "no copy in \(directory.path) and no extracted \(batchesFolder)/ there; pass download: true to fetch it (LUZ_DATASET_MIRROR names another mirror)")
            }
            try TarArchive.extract(contentsOf: verified, to: directory)
            if let missing = names.first(where: { !FileManager.default.fileExists(atPath: batches.appendingPathComponent($0).path) }) {
                throw DatasetError.invalidArchive(file: archive.name, entry: "\(batchesFolder)/\(missing)",
                                                  reason: "missing: the archive does not hold it")
            }
        }
        var records = Records(labels: Array(repeating: [], count: labelClassCounts.count))
        for url in urls { try read(url, into: &records) }
        return records
    }

    /// Appends the records of one `.bin` file: label bytes then 3072 pixel bytes each.
    func read(_ url: URL, into records: inout Records) throws {
        let name = "\(batchesFolder)/\(url.lastPathComponent)"
        let reader = try PlainFileReader(url: url)
        let labelBytes = labelClassCounts.count
        let recordSize = labelBytes + Self.imageBytes
        guard reader.size > 0, reader.size % recordSize == 0 else {
            throw DatasetError.invalidHeader(
                file: name, reason: "\(reader.size) bytes are not a whole number of \(recordSize)-byte records (\(labelBytes) label byte\(labelBytes == 1 ? "" : "s") and 3072 pixels each)")
        }
        let bytes = try [UInt8](unsafeUninitializedCapacity: reader.size) { buffer, initialized in
            initialized = try reader.read(into: UnsafeMutableRawBufferPointer(buffer))
        }
        guard bytes.count == reader.size else {
            throw DatasetError.truncated(file: name, expectedBytes: reader.size, actualBytes: bytes.count)
        }
        let count = bytes.count / recordSize
        let start = records.pixels.count
        records.pixels.append(contentsOf: repeatElement(0, count: count * Self.imageBytes))
        try bytes.withUnsafeBufferPointer { source in
            for k in 0..<labelBytes {
                let classes = labelClassCounts[k]
                var labels = [UInt8](repeating: 0, count: count)
                for i in 0..<count {
                    let label = source[i * recordSize + k]
                    guard Int(label) < classes else {
                        throw DatasetError.invalidHeader(
                            file: name, reason: "label \(label) of record \(i) is outside 0...\(classes - 1)")
                    }
                    labels[i] = label
                }
                records.labels[k].append(contentsOf: labels)
            }
            records.pixels.withUnsafeMutableBufferPointer { pixels in
                for i in 0..<count {
                    let from = source.baseAddress! + i * recordSize + labelBytes
                    (pixels.baseAddress! + start + i * Self.imageBytes).update(from: from, count: Self.imageBytes)
                }
            }
        }
        records.count += count
    }
}
