import LuzNN
import LuzTensor

/// A ResNet-18-shaped block: two 3×3 convolutions with batch norm, and a 1×1 projection when
/// the shape changes (the tree torchvision's `BasicBlock` builds).
private final class WalkBasicBlock: Module {
    var conv1: Conv2d
    var bn1: BatchNorm2d
    var conv2: Conv2d
    var bn2: BatchNorm2d
    var downsample: Sequential?

    init(_ input: Int, _ output: Int, stride: Int) {
        conv1 = Conv2d(input, output, kernelSize: 3, stride: Size2D(stride), padding: 1, bias: false)
        bn1 = BatchNorm2d(output)
        conv2 = Conv2d(output, output, kernelSize: 3, padding: 1, bias: false)
        bn2 = BatchNorm2d(output)
        if stride != 1 || input != output {
            downsample = Sequential { Conv2d(input, output, kernelSize: 1, stride: Size2D(stride), bias: false); BatchNorm2d(output) }
        }
        super.init()
    }

    override func forward(_ x: Tensor) -> Tensor {
        let y = bn2(conv2(bn1(conv1(x)).relu()))
        return (y + (downsample?(x) ?? x)).relu()
    }
}

/// ResNet-18's module tree (the stem, four stages of two basic blocks, the head) with fewer
/// channels than torchvision's: the walk's cost depends on the tree, not on the tensor sizes.
private final class WalkResNet18: Module {
    var conv1 = Conv2d(3, 16, kernelSize: 7, stride: 2, padding: 3, bias: false)
    var bn1 = BatchNorm2d(16)
    var layers: [Sequential]
    var fc = Linear(128, 10)

    override init() {
        var stages: [Sequential] = []
        var input = 16
        for (i, output) in [16, 32, 64, 128].enumerated() {
            stages.append(Sequential {
                WalkBasicBlock(input, output, stride: i == 0 ? 1 : 2)
                WalkBasicBlock(output, output, stride: 1)
            })
            input = output
        }
        layers = stages
        super.init()
    }
}

/// The cost of one reflection walk of a module tree (`parameters()`, which every inspection
/// pays since modules do not cache their members), on a ResNet-18 tree and a 2-layer
/// transformer encoder; `quality` is the number of modules walked.
func moduleWalk(calls: Int = 2000) {
    let models: [(String, Module)] = [
        ("walk-res18", WalkResNet18()),
        ("walk-tf2", TransformerEncoder(TransformerEncoderLayer(modelDimension: 64, heads: 4, feedForwardDimension: 256),
                                        layerCount: 2)),
    ]
    for (name, model) in models {
        var count = 0
        let seconds = timed {
            for _ in 0..<calls { count &+= model.parameters().count }
        }
        _ = count
        report(name, steps: calls, seconds: seconds, quality: Double(model.modules().count))
    }
}
