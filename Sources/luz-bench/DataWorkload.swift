import Foundation
import LuzData
import LuzDatasets
import LuzTensor

// `luz-bench data`: reading the whole Fashion-MNIST training set (gunzip, IDX parse, conversion
// to a float tensor in [0, 1]) from Debian's copy, then one shuffled epoch of batches of 128
// through a DataLoader without a model. Not part of the default run; the Python figure to
// compare with is numpy + gzip on the same files (see the closing notes).

func dataLoading() {
    let directory = ProcessInfo.processInfo.environment["FASHION_MNIST_DIR"] ?? "/usr/share/datasets/fashion-mnist/"
    let root = URL(fileURLWithPath: directory)
    do {
        var images = Tensor.zeros([1])
        var loadSeconds = Double.infinity
        for _ in 0..<5 {
            loadSeconds = min(loadSeconds, try timedThrowing {
                let data = try LabeledImages(imagesFile: root.appendingPathComponent("train-images-idx3-ubyte.gz"),
                                             labelsFile: root.appendingPathComponent("train-labels-idx1-ubyte.gz"))
                images = data.imageTensor()
            })
        }
        print(String(format: "data       load train set: %.3f s (best of 5), images %@", loadSeconds, "\(images.shape)"))
        let dataset = try FashionMNIST(root: root.deletingLastPathComponent(), split: .train)
        let loader = DataLoader(dataset, batchSize: 128, shuffle: true, generator: Generator(seed: benchSeed))
        var batches = 0
        let epochSeconds = timed { for _ in loader { batches += 1 } }
        print(String(format: "data       one epoch of %d batches of 128: %.3f s", batches, epochSeconds))
    } catch {
        FileHandle.standardError.write("luz-bench data: \(error) (install dataset-fashion-mnist or set FASHION_MNIST_DIR)\n".data(using: .utf8)!)
    }
}

// `luz-bench augment`: one epoch of the Fashion-MNIST training set (60 000 images of 28 × 28)
// through CIFAR-style augmentation, random crop 28 with padding 4, horizontal flip and
// normalize, in batches of 128 without a model and without prefetching: all of it on the
// iterating thread, the time a prefetching loader's thread spends per epoch. Luz only (the
// PyTorch peer has no such line); the goal is well under 5 % of a resnet epoch.
func augmentedEpoch() {
    let directory = ProcessInfo.processInfo.environment["FASHION_MNIST_DIR"] ?? "/usr/share/datasets/fashion-mnist/"
    let root = URL(fileURLWithPath: directory)
    do {
        let dataset = try FashionMNIST(root: root.deletingLastPathComponent(), split: .train)
        let augmented = dataset.transformed(.composed([
            .randomCrop(size: 28, padding: 4),
            .randomHorizontalFlip(),
            .normalize(mean: [0.2860], std: [0.3530]),
        ]))
        let loader = DataLoader(augmented, batchSize: 128, shuffle: true, generator: Generator(seed: benchSeed))
        var best = Double.infinity
        var batches = 0
        for _ in 0..<3 {
            batches = 0
            best = min(best, timed { for _ in loader { batches += 1 } })
        }
        print(String(format: "augment    one epoch of %d images (crop 28 pad 4, flip, normalize), %d batches of 128: %.3f s (best of 3), %.1f µs/image",
                     dataset.count, batches, best, 1e6 * best / Double(dataset.count)))
    } catch {
        FileHandle.standardError.write("luz-bench augment: \(error) (install dataset-fashion-mnist or set FASHION_MNIST_DIR)\n".data(using: .utf8)!)
    }
}

/// Seconds elapsed while running a throwing `body`.
func timedThrowing(_ body: () throws -> Void) throws -> Double {
    let start = DispatchTime.now().uptimeNanoseconds
    try body()
    return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
}
