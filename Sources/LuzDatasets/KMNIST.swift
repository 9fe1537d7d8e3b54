import Foundation
import LuzData
import LuzTensor

/// Kuzushiji-MNIST: 28 × 28 grayscale images of cursive Japanese (kuzushiji) hiragana, 60 000
/// for training and 10 000 for testing, in 10 classes.
///
/// Its only host (`codh.rois.ac.jp`, plain http) is often unreachable: set `LUZ_DATASET_MIRROR`
/// to a mirror or a local folder holding `kmnist/<file>`, or put the four files in the cache
/// folder `kmnist`.
///
/// Each element is an ``Example`` whose input is the transformed image (by default a `float32`
/// tensor `[1, 28, 28]` in [0, 1]) and whose target is the transformed 0-based label (by default
/// an `int64` scalar). Labels start at 0 as in PyTorch (R's torchvision adds 1).
///
/// Files are cached in `<root>/kmnist/`, with `root` defaulting to the user cache folder (see
/// ``Downloader``); downloads are checked against the published MD5s.
///
/// ```swift
/// let train = try KMNIST(split: .train, download: true)
/// let loader = DataLoader(train, batchSize: 128, shuffle: true)
/// ```
public struct KMNIST: LabeledImageDataset {
    /// The romanized hiragana (お き す つ な は ま や れ を).
    public static let classes = ["o", "ki", "su", "tsu", "na", "ha", "ma", "ya", "re", "wo"]

    /// The cache folder name, also the folder fetched under `LUZ_DATASET_MIRROR`.
    public static let folderName = "kmnist"

    static let resource = MNISTResource(
        folder: folderName,
        mirrors: ["http://codh.rois.ac.jp/kmnist/dataset/kmnist/"],
        md5: ["bdb82020997e1d708af4cf47b453dcf7", "e144d726b3acfaa3e44228e80efcd344", "5c965bf0a639b31b8f53240b1b52f4d7", "7320c461ea6c1c855c0b718fb2a4b134"],
        contentMD5: [nil, nil, nil, nil])

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
    ///   - root: the data folder holding `kmnist/`; `nil` for ``Downloader/cacheRoot``
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
