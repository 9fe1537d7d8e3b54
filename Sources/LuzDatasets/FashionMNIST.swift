import Foundation
import LuzData
import LuzTensor

/// Fashion-MNIST: 28 × 28 grayscale images of Zalando clothing articles, 60 000 for training and
/// 10 000 for testing, in 10 classes.
///
/// Each element is an ``Example`` whose input is the transformed image (by default a `float32`
/// tensor `[1, 28, 28]` in [0, 1]) and whose target is the transformed 0-based label (by default
/// an `int64` scalar). Labels start at 0 as in PyTorch (R's torchvision adds 1).
///
/// Files are cached in `<root>/fashion-mnist/`, with `root` defaulting to the user cache folder (see
/// ``Downloader``); downloads are checked against the published MD5s. With the default `root`,
/// files missing from the cache are read in place from Debian's `dataset-fashion-mnist` package
/// (``debianFolder``) when it is installed, checked by content checksum, before any download.
///
/// ```swift
/// let train = try FashionMNIST(split: .train, download: true)
/// let loader = DataLoader(train, batchSize: 128, shuffle: true)
/// ```
public struct FashionMNIST: LabeledImageDataset {
    /// The article types, in label order.
    public static let classes = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]

    /// The cache folder name, also the folder fetched under `LUZ_DATASET_MIRROR`.
    public static let folderName = "fashion-mnist"

    static let resource = MNISTResource(
        folder: folderName,
        mirrors: ["http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"],
        md5: ["8d4fb7e6c68d591d4c3dfef9ec88bf0d", "25c81989df183df01b3e8a0aad5dffbe", "bef4ecab320f06d8554ea6380940ec79", "bb300cfdad3c16e7a12a480ee83cd310"],
        contentMD5: ["f4a8712d7a061bf5bd6d2ca38dc4d50a", "9018921c3c673c538a1fc5bad174d6f9", "8181f5470baa50b63fa0f6fddb340f0a", "15d484375f8d13e6eb1aabb0c3f46965"])

    /// Where Debian's `dataset-fashion-mnist` package installs the four files:
    /// `/usr/share/datasets/fashion-mnist/`.
    public static let debianFolder = URL(fileURLWithPath: "/usr/share/datasets/fashion-mnist", isDirectory: true)

    /// The files this dataset is made of, with their checksums: train-images, train-labels,
    /// t10k-images, t10k-labels.
    public static var files: [RemoteFile] { resource.files }

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
    ///   - root: the data folder holding `fashion-mnist/`; `nil` for ``Downloader/cacheRoot``
    ///     (`LUZ_DATA_DIR`, else the user cache folder).
    ///   - split: the training or the test set.
    ///   - download: fetch missing files from the mirrors (default `false`, as in torchvision).
    ///   - transform: applied to each image; `nil` (the default) converts it to a `float32`
    ///     tensor `[1, 28, 28]` in [0, 1], like ``Transform/toTensor`` but a whole batch at once.
    ///   - targetTransform: applied to each label; `nil` (the default) makes an `int64` scalar.
    ///   - downloader: the cache and mirror settings.
    ///   - systemFolder: a read-only folder holding the four files, read in place when `root` is
    ///     `nil` and the cache lacks them (``debianFolder`` by default; `nil` to skip it).
    /// - Throws: ``DatasetError`` naming the file when a file is missing, fails its checksum or
    ///   cannot be read.
    public init(root: URL? = nil, split: DatasetSplit = .train, download: Bool = false,
                transform: Transform<Image, Tensor>? = nil, targetTransform: Transform<Int, Tensor>? = nil,
                downloader: Downloader = Downloader(), systemFolder: URL? = FashionMNIST.debianFolder) throws {
        data = try Self.resource.load(root: root, split: split, download: download, downloader: downloader,
                                      systemFolder: systemFolder)
        self.split = split
        self.transform = transform
        self.targetTransform = targetTransform
    }
}
