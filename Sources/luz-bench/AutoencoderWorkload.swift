import Foundation
import LuzNN
import LuzOptim
import LuzTensor

/// The `autoenc` workload's model: two stride-2 convolutions down to 32 × 7 × 7, two stride-2
/// transposed convolutions back to 1 × 28 × 28, a sigmoid at the end.
func convolutionalAutoencoder() -> Sequential {
    Sequential {
        Conv2d(1, 16, kernelSize: 3, stride: 2, padding: 1); ReLU()
        Conv2d(16, 32, kernelSize: 3, stride: 2, padding: 1); ReLU()
        ConvTranspose2d(32, 16, kernelSize: 3, stride: 2, padding: 1, outputPadding: 1); ReLU()
        ConvTranspose2d(16, 1, kernelSize: 3, stride: 2, padding: 1, outputPadding: 1); Sigmoid()
    }
}

/// Adam steps of the convolutional autoencoder on batches of 64 of the first 3200 Fashion-MNIST
/// training images, the loss the MSE against the input: 2 warm-up steps, then one epoch
/// (50 steps), timed. The quality is the MSE over the 3200 images after the epoch.
func autoencoderWorkload() {
    let count = 3200
    let x: Tensor
    do {
        (x, _) = try fashionMNIST(first: count)
    } catch {
        FileHandle.standardError.write("luz-bench autoenc: \(error) (install dataset-fashion-mnist or set FASHION_MNIST_DIR)\n".data(using: .utf8)!)
        return
    }
    manualSeed(benchSeed)
    let model = convolutionalAutoencoder()
    let optimizer = Adam(groups: [ParameterGroup(model.parameters())], learningRate: 1e-3)
    let generator = Generator(seed: benchSeed)
    func epoch(_ x: Tensor) -> Int {
        let permutation = Tensor.randperm(x.shape[0], generator: generator)
        var steps = 0
        var start = 0
        while start < x.shape[0] {
            let batch = x[permutation[start..<min(start + 64, x.shape[0])]]
            let loss = mseLoss(model(batch), batch)
            optimizer.zeroGrad()
            loss.backward()
            optimizer.step()
            steps += 1
            start += 64
        }
        return steps
    }
    _ = epoch(x[0..<128])   // warm-up, as the peer does
    var steps = 0
    let seconds = timed { steps = epoch(x) }
    let mse = withNoGrad { mseLoss(model(x), x).item }
    report("autoenc", steps: steps, seconds: seconds, quality: mse)
}

/// `luz-bench autoenc-layers`: the fastest of five runs of each layer of the autoencoder on a
/// batch of 64, forward alone and forward with backward, in microseconds.
func autoencoderLayers() {
    let model = convolutionalAutoencoder()
    let generator = Generator(seed: benchSeed)
    var input = Tensor.rand([64, 1, 28, 28], generator: generator)
    for (index, layer) in model.children().enumerated() {
        let x = index == 0 ? input : input.detached().requiringGrad()
        func fastest(_ body: () -> Void) -> Double {
            body()
            var best = Double.infinity
            for _ in 0..<5 {
                best = min(best, timed { for _ in 0..<20 { body() } } / 20)
            }
            return best * 1e6
        }
        let forward = fastest { _ = withNoGrad { layer(x) } }
        let both = fastest { layer(x).sum().backward() }
        print(String(format: "autoenc-layers %-52@ forward %7.0f us  forward+backward %7.0f us",
                     String(describing: layer) as NSString, forward, both))
        input = withNoGrad { layer(x) }
    }
    // The phases of a training step on the whole model.
    let batch = Tensor.rand([64, 1, 28, 28], generator: generator)
    let optimizer = Adam(groups: [ParameterGroup(model.parameters())], learningRate: 1e-3)
    var forward = 0.0, backward = 0.0, update = 0.0
    let steps = 100
    for step in 0..<(steps + 5) {
        var loss: Tensor!
        let f = timed { loss = mseLoss(model(batch), batch) }
        optimizer.zeroGrad()
        let b = timed { loss.backward() }
        let u = timed { optimizer.step() }
        if step >= 5 { forward += f; backward += b; update += u }
    }
    print(String(format: "autoenc-layers training step: forward %.0f us, backward %.0f us, Adam %.0f us",
                 forward / Double(steps) * 1e6, backward / Double(steps) * 1e6, update / Double(steps) * 1e6))
}
