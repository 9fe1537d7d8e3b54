import Foundation
import Luz
import LuzDatasets
import LuzPlot

/// One of the three 28 × 28 ten-class image sets `kmnist-resnet` can train on.
public enum ImageDataset: String, Sendable, CaseIterable {
    /// Kuzushiji-MNIST, the seed's choice.
    case kmnist
    /// The handwritten digits.
    case mnist
    /// Zalando's clothing articles.
    case fashionMNIST = "fashion-mnist"

    /// The class names, in label order.
    public var classes: [String] {
        switch self {
        case .kmnist: return KMNIST.classes
        case .mnist: return MNIST.classes
        case .fashionMNIST: return FashionMNIST.classes
        }
    }

    /// The folder the files live in, in the cache and under `LUZ_DATASET_MIRROR`.
    public var folderName: String {
        switch self {
        case .kmnist: return KMNIST.folderName
        case .mnist: return MNIST.folderName
        case .fashionMNIST: return FashionMNIST.folderName
        }
    }

    /// The name people know it by.
    public var displayName: String {
        switch self {
        case .kmnist: return "KMNIST"
        case .mnist: return "MNIST"
        case .fashionMNIST: return "Fashion-MNIST"
        }
    }
}

/// The options of `kmnist-resnet`.
public struct KMNISTResNetOptions: Sendable {
    /// The shared settings.
    public var settings: ExampleSettings
    /// The data set (the seed's KMNIST by default).
    public var dataset = ImageDataset.kmnist
    /// Use only the first `limit` training and test images, for a quick run; `nil` for all.
    public var limit: Int?
    /// The batch size.
    public var batchSize = 128
    /// Adam's learning rate (torch's default).
    public var learningRate = 1e-3
    /// The folder holding `<dataset>/<file>`; `nil` for the cache (`LUZ_DATA_DIR`, else the user
    /// cache folder), with Debian's copy of Fashion-MNIST used when the cache has none.
    public var dataDirectory: URL?
    /// Where `LUZ_DATASET_MIRROR`, `LUZ_DATA_DIR` and the cache location are read (the process
    /// environment by default; tests pass their own).
    public var environment: [String: String] = ProcessInfo.processInfo.environment
    /// The number of test images drawn with their predicted labels.
    public var shownImages = 40

    /// The number of epochs when `settings.epochs` is `nil`: one, as in the seed.
    public static let defaultEpochs = 1

    /// Creates the options.
    public init(settings: ExampleSettings = ExampleSettings()) { self.settings = settings }
}

/// The seed's residual block: `x + ReLU(conv(ReLU(conv(x))))`, 3 × 3 kernels, padding 1.
public final class ResidualBlock: Module {
    /// The first convolution.
    public var conv1: Conv2d
    /// The second convolution.
    public var conv2: Conv2d

    /// Creates a block keeping `channels` channels.
    public init(_ channels: Int, generator: Generator? = nil) {
        conv1 = Conv2d(channels, channels, kernelSize: 3, padding: 1, generator: generator)
        conv2 = Conv2d(channels, channels, kernelSize: 3, padding: 1, generator: generator)
        super.init()
    }

    /// `x + ReLU(conv2(ReLU(conv1(x))))`.
    public override func forward(_ x: Tensor) -> Tensor {
        conv2(conv1(x).relu()).relu() + x
    }
}

/// The seed's KMNIST network: conv 1→32 · ReLU · residual block · conv 32→64 · ReLU · residual
/// block · max-pool 2 · dropout 0.25 · flatten · linear 9216→128 · ReLU · dropout 0.5 · linear
/// 128→10. Input `[batch, 1, 28, 28]`, output the ten class scores.
public final class ResidualNet: Module {
    /// The first convolution, 1 → 32 channels, 3 × 3, no padding.
    public var conv1: Conv2d
    /// The second convolution, 32 → 64 channels.
    public var conv2: Conv2d
    /// The residual block after the first convolution.
    public var residual1: ResidualBlock
    /// The residual block after the second convolution.
    public var residual2: ResidualBlock
    /// Dropout after pooling.
    public var dropout1: Dropout
    /// Dropout before the last layer.
    public var dropout2: Dropout
    /// The first linear layer, 9216 → 128.
    public var fc1: Linear
    /// The output layer, 128 → 10.
    public var fc2: Linear

    /// Creates the network.
    /// - Parameter generator: the source of the initial weights and the dropout masks.
    public init(generator: Generator? = nil) {
        conv1 = Conv2d(1, 32, kernelSize: 3, generator: generator)
        conv2 = Conv2d(32, 64, kernelSize: 3, generator: generator)
        residual1 = ResidualBlock(32, generator: generator)
        residual2 = ResidualBlock(64, generator: generator)
        dropout1 = Dropout(probability: 0.25, generator: generator)
        dropout2 = Dropout(probability: 0.5, generator: generator)
        fc1 = Linear(9216, 128, generator: generator)
        fc2 = Linear(128, 10, generator: generator)
        super.init()
    }

    /// The class scores `[batch, 10]`.
    public override func forward(_ input: Tensor) -> Tensor {
        var x = residual1(conv1(input).relu())
        x = residual2(conv2(x).relu())
        x = dropout1(x.maxPool2d(kernelSize: 2)).flattened(from: 1)
        return fc2(dropout2(fc1(x).relu()))
    }
}

/// `kmnist-resnet`: the seed's residual network on KMNIST (or MNIST, Fashion-MNIST), one epoch
/// by default, evaluated on the test set; figures: the training curves and a grid of test
/// images with their predicted labels (red when wrong).
///
/// The files come from the cache (downloaded there on first use), from `dataDirectory`, or,
/// for Fashion-MNIST, from Debian's `dataset-fashion-mnist` package. Without network, set
/// `LUZ_DATASET_MIRROR` to a mirror URL or a local folder holding `<dataset>/<file>`.
public enum KMNISTResNet {
    /// The command name, also the figures' folder.
    public static let name = "kmnist-resnet"

    /// Runs the example.
    /// - Returns: `dataset`, `test_accuracy`, `test_loss`, `train_accuracy` (over the epoch, in
    ///   training mode), `train_images`, `test_images`, `epochs`, `seconds`.
    public static func run(_ options: KMNISTResNetOptions) throws -> ExampleResult {
        let settings = options.settings
        let epochs = settings.epochs ?? KMNISTResNetOptions.defaultEpochs
        if let limit = options.limit, limit < 1 {
            throw ExampleError.invalidOption("kmnist-resnet: --limit must be positive, got \(limit)")
        }
        let dataset = options.dataset
        let train = try load(dataset, split: .train, dataDirectory: options.dataDirectory,
                             environment: options.environment, example: name)
        let test = try load(dataset, split: .test, dataDirectory: options.dataDirectory,
                            environment: options.environment, example: name)
        let trainCount = min(options.limit ?? train.count, train.count)
        let testCount = min(options.limit ?? test.count, test.count)
        settings.say("kmnist-resnet: the seed's residual net on \(dataset.displayName), \(trainCount) training and "
                     + "\(testCount) test images, \(epochs) epoch\(epochs == 1 ? "" : "s"), batches of \(options.batchSize)")

        let trainSet = Subset(ImageSet(images: train), indices: Array(0..<trainCount))
        let testSet = Subset(ImageSet(images: test), indices: Array(0..<testCount))
        let network = ResidualNet(generator: settings.generator(1))
        let batches = DataSource.dataset(trainSet, batchSize: options.batchSize, shuffle: true,
                                         generator: settings.generator(2))
        let (fitted, seconds) = try timed {
            try network
                .setup(loss: CrossEntropyLoss(), optimizer: Adam.self, metrics: [Accuracy()])
                .learningRate(options.learningRate)
                .fit(batches, epochs: EpochSpec(epochs), callbacks: settings.fitCallbacks("kmnist-resnet"), verbose: !settings.quiet)
        }
        let testBatches = DataSource.dataset(testSet, batchSize: 256)
        let evaluation = try fitted.evaluate(testBatches)
        let accuracy = evaluation["acc"] ?? .nan
        settings.say(String(format: "  test accuracy %.4f, test loss %.4f (%.0f s of training)",
                            accuracy, evaluation["loss"] ?? .nan, seconds))

        var result = ExampleResult(example: name)
        result.add("dataset", dataset.rawValue)
        result.add("test_accuracy", accuracy)
        result.add("test_loss", evaluation["loss"] ?? .nan)
        result.add("train_accuracy", fitted.records.value(set: "train", metric: "acc") ?? .nan)
        result.add("train_images", trainCount)
        result.add("test_images", testCount)
        result.add("epochs", fitted.epochsTrained)
        result.add("seconds", seconds)

        let curves = fitted.plot(title: "\(dataset.displayName): loss and accuracy per epoch")
        result.figures.append(try settings.write(curves, example: name, name: "curves"))

        let shown = Array(0..<min(options.shownImages, testCount))
        if !shown.isEmpty {
            let predicted = try fitted.predict(test.imageTensor(at: shown), batchSize: 256).argmax(dim: 1).scalars(as: Int64.self)
            let pixels = test.height * test.width
            let images = shown.map { Array(test.pixels[$0 * pixels..<($0 + 1) * pixels]) }
            let truth = shown.map { Int64(test.labels[$0]) }
            let captions = predicted.map { dataset.classes[Int($0)] }
            let colors = zip(predicted, truth).map { $0 == $1 ? Color.darkGray : Color.red }
            let wrong = zip(predicted, truth).filter { $0 != $1 }.count
            let grid = Figure.imageGrid(images, width: test.width, height: test.height, captions: captions,
                                        captionColors: colors, columns: 10,
                                        title: "\(dataset.displayName) test images, predicted labels (\(wrong) wrong in red)")
            result.figures.append(try settings.write(grid, example: name, name: "predictions"))
        }
        return result
    }

    /// One split's images, from the data directory, the cache, Debian's copy, or downloaded;
    /// `example` names the command in the message of a failure.
    static func load(_ dataset: ImageDataset, split: DatasetSplit, dataDirectory: URL?,
                     environment: [String: String], example: String) throws -> LabeledImages {
        let downloader = Downloader(environment: environment)
        let root = dataDirectory
        do {
            switch dataset {
            case .kmnist:
                return try KMNIST(root: root, split: split, download: true, downloader: downloader).data
            case .mnist:
                return try MNIST(root: root, split: split, download: true, downloader: downloader).data
            case .fashionMNIST:
                // With no data directory, FashionMNIST reads Debian's copy in place before downloading.
                return try FashionMNIST(root: root, split: split, download: true, downloader: downloader).data
            }
        } catch let error as DatasetError {
            throw ExampleError.dataUnavailable(unavailableMessage(dataset, error: error, downloader: downloader, root: root,
                                                                  example: example))
        }
    }

    /// What went wrong and how to get the files without network.
    static func unavailableMessage(_ dataset: ImageDataset, error: DatasetError, downloader: Downloader, root: URL?,
                                   example: String) -> String {
        let folder = dataset.folderName
        let cache = (root ?? downloader.cacheRoot).appendingPathComponent(folder).path
        var lines = [
            "\(example): cannot get \(dataset.displayName): \(error)",
            "",
            "Without network, point LUZ_DATASET_MIRROR at a mirror or a local copy: a URL (https://, http://, file://)",
            "or a folder under which \(folder)/<file> can be read, for example",
            "    LUZ_DATASET_MIRROR=/path/to/mirror swift run -c release luz-examples \(example)\(example == name ? " --dataset \(dataset.rawValue)" : "")",
            "with the four files \(FashionMNIST.files.map(\.name).joined(separator: ", "))",
            "in /path/to/mirror/\(folder)/ (they are checked against the published checksums).",
            "Or copy the four files into \(cache)/.",
        ]
        if downloader.mirrorOverride != nil {
            lines.insert("(LUZ_DATASET_MIRROR is set to \(downloader.environment["LUZ_DATASET_MIRROR"] ?? ""); check that it holds \(folder)/.)", at: 1)
        }
        if dataset == .fashionMNIST {
            lines.append("On Debian, `apt-get install dataset-fashion-mnist` installs Fashion-MNIST where this example finds it.")
        }
        return lines.joined(separator: "\n")
    }
}

/// Labelled images as a dataset of `[1, 28, 28]` images in [0, 1] and `int64` labels, gathering
/// a batch in one pass.
struct ImageSet: Dataset {
    let images: LabeledImages

    var count: Int { images.count }

    subscript(index: Int) -> Example {
        Example(input: images.imageTensor(at: [index]).reshaped([1, images.height, images.width]),
                target: Tensor([Int64(images.labels[index])], shape: []))
    }

    func batch(at indices: [Int]) -> Example? {
        Example(input: images.imageTensor(at: indices), target: images.labelTensor(at: indices))
    }
}
