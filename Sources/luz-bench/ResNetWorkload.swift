import Foundation
import LuzDatasets
import LuzNN
import LuzOptim
import LuzTensor

/// The seed's residual block: x + ReLU(conv(ReLU(conv(x)))), 3×3 kernels, padding 1.
final class ResidualBlock: Module {
    var conv1: Conv2d
    var conv2: Conv2d

    init(_ channels: Int) {
        conv1 = Conv2d(channels, channels, kernelSize: 3, padding: 1)
        conv2 = Conv2d(channels, channels, kernelSize: 3, padding: 1)
        super.init()
    }

    override func forward(_ x: Tensor) -> Tensor {
        conv2(conv1(x).relu()).relu() + x
    }
}

/// The seed's KMNIST network (WORKLOADS.md): two convolutions with residual blocks, max-pool,
/// dropout, and two linear layers.
final class KMNISTNet: Module {
    var conv1 = Conv2d(1, 32, kernelSize: 3)
    var conv2 = Conv2d(32, 64, kernelSize: 3)
    var residual1 = ResidualBlock(32)
    var residual2 = ResidualBlock(64)
    var dropout1 = Dropout(probability: 0.25)
    var dropout2 = Dropout(probability: 0.5)
    var fc1 = Linear(9216, 128)
    var fc2 = Linear(128, 10)

    override func forward(_ input: Tensor) -> Tensor {
        var x = residual1(conv1(input).relu())
        x = residual2(conv2(x).relu())
        x = dropout1(x.maxPool2d(kernelSize: 2)).flattened(from: 1)
        return fc2(dropout2(fc1(x).relu()))
    }
}

/// The first `count` Fashion-MNIST training images in [0, 1] and their labels, from Debian's
/// copy (or `FASHION_MNIST_DIR`), like the peer script.
func fashionMNIST(first count: Int) throws -> (Tensor, Tensor) {
    let root = ProcessInfo.processInfo.environment["FASHION_MNIST_DIR"] ?? "/usr/share/datasets/fashion-mnist/"
    let images = try IDXArray(contentsOf: URL(fileURLWithPath: root).appendingPathComponent("train-images-idx3-ubyte.gz"))
    let labels = try IDXArray(contentsOf: URL(fileURLWithPath: root).appendingPathComponent("train-labels-idx1-ubyte.gz"))
    // Only the images used are converted, as the peer slices its uint8 array before astype.
    let x = images.tensor(dtype: .float32, items: 0..<count).reshaped([count, 1, 28, 28]) / 255
    let y = labels.tensor(dtype: .int64, items: 0..<count)
    return (x, y)
}

/// Adam steps of the residual net on batches of 128: 2 warm-up steps, then one epoch over the
/// first 2560 images (20 steps), timed. Prints the common line plus images/s and GFLOP/s.
func resnet() {
    let count = Int(ProcessInfo.processInfo.environment["RESNET_N"] ?? "") ?? 2560
    let x: Tensor, y: Tensor
    do {
        (x, y) = try fashionMNIST(first: count)
    } catch {
        FileHandle.standardError.write("luz-bench resnet: \(error) (install dataset-fashion-mnist or set FASHION_MNIST_DIR)\n".data(using: .utf8)!)
        return
    }
    manualSeed(benchSeed)
    let model = KMNISTNet()
    let optimizer = Adam(groups: [ParameterGroup(model.parameters())])
    let generator = Generator(seed: benchSeed)
    func epoch(_ x: Tensor, _ y: Tensor, batch: Int) -> Int {
        let permutation = Tensor.randperm(x.shape[0], generator: generator)
        var steps = 0
        var start = 0
        while start < x.shape[0] {
            let index = permutation[start..<min(start + batch, x.shape[0])]
            let loss = crossEntropy(model(x[index]), y[index])
            optimizer.zeroGrad()
            loss.backward()
            optimizer.step()
            steps += 1
            start += batch
        }
        return steps
    }
    _ = epoch(x[0..<256], y[0..<256], batch: 128)   // warm-up, as the peer does
    var steps = 0
    let seconds = timed { steps = epoch(x, y, batch: 128) }
    var correct = 0
    withNoGrad {
        var start = 0
        while start < count {
            let end = min(start + 256, count)
            let predicted = model(x[start..<end]).argmax(dim: 1)
            correct += Int((predicted .== y[start..<end]).sum().item)
            start = end
        }
    }
    report("resnet", steps: steps, seconds: seconds, quality: Double(correct) / Double(count))
    let imagesPerSecond = Double(count) / seconds
    print(String(format: "resnet     images/s=%8.1f GFLOP/s=%7.1f (0.40 GFLOP per image, forward and backward)",
                 imagesPerSecond, imagesPerSecond * 0.40))
}
