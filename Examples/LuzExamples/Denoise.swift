import Foundation
import Luz
import LuzDatasets
import LuzPlot

/// The options of `denoise`.
public struct DenoiseOptions: Sendable {
    /// The shared settings.
    public var settings: ExampleSettings
    /// Use only the first `limit` training images, for a quick run; `nil` for all 60 000.
    public var limit: Int?
    /// The number of test images the result is measured on (the first ones of the test set).
    public var testImages = 2000
    /// The standard deviation of the Gaussian noise added to the images (pixels in [0, 1]).
    public var noise = 0.3
    /// Augment the training images (random crop with a 2-pixel padding, horizontal flip)
    /// before the noise is added.
    public var augment = true
    /// The batch size.
    public var batchSize = 64
    /// Adam's learning rate.
    public var learningRate = 2e-3
    /// The folder holding `fashion-mnist/<file>`; `nil` for the cache or Debian's copy.
    public var dataDirectory: URL?
    /// Where `LUZ_DATASET_MIRROR`, `LUZ_DATA_DIR` and the cache location are read.
    public var environment: [String: String] = ProcessInfo.processInfo.environment
    /// The number of test images drawn noisy, denoised and clean.
    public var shownImages = 10

    /// The number of epochs when `settings.epochs` is `nil`.
    public static let defaultEpochs = 5

    /// Creates the options.
    public init(settings: ExampleSettings = ExampleSettings()) { self.settings = settings }
}

/// The convolutional autoencoder of the `autoenc` benchmark workload: two stride-2
/// convolutions take a `[N, 1, 28, 28]` image down to 32 maps of 7 × 7, two stride-2 transposed
/// convolutions bring it back to 28 × 28, and a sigmoid keeps the pixels in (0, 1).
public func convolutionalAutoencoder(generator: Generator? = nil) -> Sequential {
    Sequential {
        Conv2d(1, 16, kernelSize: 3, stride: 2, padding: 1, generator: generator); ReLU()
        Conv2d(16, 32, kernelSize: 3, stride: 2, padding: 1, generator: generator); ReLU()
        ConvTranspose2d(32, 16, kernelSize: 3, stride: 2, padding: 1, outputPadding: 1, generator: generator); ReLU()
        ConvTranspose2d(16, 1, kernelSize: 3, stride: 2, padding: 1, outputPadding: 1, generator: generator); Sigmoid()
    }
}

/// Fashion-MNIST images as denoising examples: the input is the image (augmented, when an
/// augmentation is given) plus Gaussian noise, clamped to [0, 1]; the target is the same image
/// without the noise. Each element of each epoch draws its crop, flip and noise from its own
/// generator, `Generator(epochSeed:element:)`, so an epoch is the same bit for bit with or
/// without prefetching, and after a resume.
struct NoisyImages: Dataset {
    let images: LabeledImages
    let count: Int
    let noise: Double
    let augmentation: Transform<Tensor, Tensor>?

    var isRandomized: Bool { true }

    subscript(index: Int) -> Example { element(at: index, epochSeed: 0) }

    func element(at index: Int, epochSeed: UInt64) -> Example {
        let generator = Generator(epochSeed: epochSeed, element: index)
        var clean = images.imageTensor(at: [index]).reshaped([1, images.height, images.width])
        if let augmentation { clean = augmentation(clean, generator: generator) }
        return Example(input: noisy(clean, noise: noise, generator: generator), target: clean)
    }
}

/// `images` plus N(0, noise²) noise, clamped to [0, 1].
func noisy(_ images: Tensor, noise: Double, generator: Generator) -> Tensor {
    (images + noise * Tensor.randn(images.shape, generator: generator)).clamped(min: 0, max: 1)
}

/// The peak signal-to-noise ratio in decibels of images in [0, 1] whose mean squared error is
/// `mse`: 10·log₁₀(1 / mse).
func psnr(mse: Double) -> Double { 10 * log10(1 / mse) }

/// `denoise`: a convolutional autoencoder trained with `fit` to remove Gaussian noise from
/// Fashion-MNIST images, with augmentation on; it reports the test MSE and PSNR of its output
/// against the clean images, beside those of the noisy input. Figures: noisy, denoised and
/// clean test images, and the training curves.
///
/// The files come from the cache, from `dataDirectory`, from Debian's `dataset-fashion-mnist`
/// package, or are downloaded; without network, `LUZ_DATASET_MIRROR` points at a mirror.
public enum Denoise {
    /// The command name, also the figures' folder.
    public static let name = "denoise"

    /// Runs the example.
    /// - Returns: `test_mse`, `test_psnr` (the denoised test images against the clean ones),
    ///   `noisy_mse`, `noisy_psnr` (the noisy inputs against the clean ones), `noise`,
    ///   `train_images`, `test_images`, `epochs`, `seconds`.
    public static func run(_ options: DenoiseOptions) throws -> ExampleResult {
        let settings = options.settings
        let epochs = settings.epochs ?? DenoiseOptions.defaultEpochs
        if let limit = options.limit, limit < 1 {
            throw ExampleError.invalidOption("denoise: --limit must be positive, got \(limit)")
        }
        guard options.noise > 0, options.testImages > 0 else {
            throw ExampleError.invalidOption("denoise: --noise and --test-images must be positive")
        }
        let train = try KMNISTResNet.load(.fashionMNIST, split: .train, dataDirectory: options.dataDirectory,
                                          environment: options.environment, example: name)
        let test = try KMNISTResNet.load(.fashionMNIST, split: .test, dataDirectory: options.dataDirectory,
                                         environment: options.environment, example: name)
        let trainCount = min(options.limit ?? train.count, train.count)
        let testCount = min(options.testImages, test.count)
        settings.say("denoise: a convolutional autoencoder removes Gaussian noise (σ = \(options.noise)) from "
                     + "\(trainCount) Fashion-MNIST images\(options.augment ? " (augmented)" : ""), \(epochs) epoch\(epochs == 1 ? "" : "s")")

        let augmentation: Transform<Tensor, Tensor>? = options.augment
            ? .composed([.randomCrop(size: Size2D(train.height, train.width), padding: 2), .randomHorizontalFlip()])
            : nil
        let trainSet = NoisyImages(images: train, count: trainCount, noise: options.noise, augmentation: augmentation)
        // The test images get their noise once, from a generator of their own.
        let clean = test.imageTensor(at: Array(0..<testCount))
        let corrupted = noisy(clean, noise: options.noise, generator: settings.generator(3))
        let loader = DataLoader(trainSet, batchSize: options.batchSize, shuffle: true,
                                generator: settings.generator(2), prefetch: 2)
        let network = convolutionalAutoencoder(generator: settings.generator(1))
        let (fitted, seconds) = try timed {
            try network
                .setup(loss: MSELoss(), optimizer: Adam.self)
                .learningRate(options.learningRate)
                .fit(.loader(loader), epochs: EpochSpec(epochs), validData: .tensors(corrupted, clean),
                     callbacks: settings.fitCallbacks(name), verbose: !settings.quiet)
        }
        let denoised = try fitted.predict(corrupted, batchSize: 256)
        let testMSE = (denoised - clean).pow(2).mean().item
        let noisyMSE = (corrupted - clean).pow(2).mean().item
        settings.say(String(format: "  test MSE %.5f (PSNR %.2f dB) against %.5f (%.2f dB) for the noisy input (%.0f s of training)",
                            testMSE, psnr(mse: testMSE), noisyMSE, psnr(mse: noisyMSE), seconds))

        var result = ExampleResult(example: name)
        result.add("test_mse", testMSE)
        result.add("test_psnr", psnr(mse: testMSE))
        result.add("noisy_mse", noisyMSE)
        result.add("noisy_psnr", psnr(mse: noisyMSE))
        result.add("noise", options.noise)
        result.add("train_images", trainCount)
        result.add("test_images", testCount)
        result.add("epochs", fitted.epochsTrained)
        result.add("seconds", seconds)

        let curves = fitted.plot(title: "Denoising Fashion-MNIST: mean squared error per epoch")
        result.figures.append(try settings.write(curves, example: name, name: "curves"))
        let shown = min(options.shownImages, testCount)
        if shown > 0 {
            let rows = [("noisy", corrupted), ("denoised", denoised), ("clean", clean)]
            let pixels = test.height * test.width
            var images: [[Float]] = []
            var captions: [String] = []
            for (caption, tensor) in rows {
                let values = tensor[0..<shown].contiguousCopy().floats
                for i in 0..<shown {
                    images.append(Array(values[i * pixels..<(i + 1) * pixels]))
                    captions.append(caption)
                }
            }
            let grid = Figure.imageGrid(images, width: test.width, height: test.height, captions: captions, columns: shown,
                                        title: String(format: "Test images: noisy (σ = %.2f), denoised, clean", options.noise))
            result.figures.append(try settings.write(grid, example: name, name: "images"))
        }
        return result
    }
}
