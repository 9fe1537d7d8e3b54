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

/// Seconds elapsed while running a throwing `body`.
func timedThrowing(_ body: () throws -> Void) throws -> Double {
    let start = DispatchTime.now().uptimeNanoseconds
    try body()
    return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
}
