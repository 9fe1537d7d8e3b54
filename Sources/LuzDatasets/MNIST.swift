import Foundation
import LuzData
import LuzTensor

/// MNIST: 28 × 28 grayscale images of handwritten digits, 60 000 for training and 10 000 for
/// testing, in 10 classes `0`–`9`.
///
/// Each element is an ``Example`` whose input is the transformed image (by default a `float32`
/// tensor `[1, 28, 28]` in [0, 1]) and whose target is the transformed 0-based label (by default
/// an `int64` scalar). Labels start at 0 as in PyTorch (R's torchvision adds 1).
///
/// Files are cached in `<root>/mnist/`, with `root` defaulting to the user cache folder (see
/// ``Downloader``); downloads are checked against the published MD5s.
///
/// ```swift
/// let train = try MNIST(split: .train, download: true)
/// let loader = DataLoader(train, batchSize: 128, shuffle: true)
/// ```
public struct MNIST: LabeledImageDataset {
    /// The digits `"0"` to `"9"`.
    public static let classes = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"]

    /// The cache folder name, also the folder fetched under `LUZ_DATASET_MIRROR`.
    public static let folderName = "mnist"

    static let resource = MNISTResource(
        folder: folderName,
        mirrors: ["https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/", "https://storage.googleapis.com/cvdf-datasets/mnist/"],
        md5: ["f68b3c2dcbeaaa9fbdd348bbdeb94873", "d53e105ee54ea40749a09fcbcd1e9432", "9fb629c4189551a2d022fa330f9573f3", "ec29112dd5afa0611ce80d1b7f02629c"],
        contentMD5: ["6bbc9ace898e44ae57da46a324031adb", "a25bea736e30d166cdddb491f175f624", "2646ac647ad5339dbf082846283269ea", "27ae3e4e09519cfbb04c329615203637"])

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
    ///   - root: the data folder holding `mnist/`; `nil` for ``Downloader/cacheRoot``
    ///     (`LUZ_DATA_DIR`, else the user cache folder).
    ///   - split: the training or the test set.
    ///   - download: fetch missing files from the mirrors (default `false`, as in torchvision).
    ///   - transform: applied to each image; `nil` (the default) converts it to a `float32`
    ///     tensor `[1, 28, 28]` in [0, 1], like ``Transform/toTensor`` but a whole batch at once.
    ///   - targetTransform: applied to each label; `nil` (the default) makes an `int64` scalar.
    ///   - downloader: the cache and mirror settings.
    /// - Throws: ``DatasetError`` naming the file when a file is missing, fails its checksum or
    ///   cannot be read.
    public init(root: URL? = nil, split: DatasetSplit = .train, download: Bool = false,
                transform: Transform<Image, Tensor>? = nil, targetTransform: Transform<Int, Tensor>? = nil,
                downloader: Downloader = Downloader()) throws {
        data = try Self.resource.load(root: root, split: split, download: download, downloader: downloader)
        self.split = split
        self.transform = transform
        self.targetTransform = targetTransform
    }
}
