import LuzNN
import LuzTestSupport
import Testing

/// A custom model written the STYLE.md way: stored sub-modules and a forward override.
private final class TwoLayer: Module {
    let hidden = Linear(3, 4, generator: Generator(seed: 1))
    let output = Linear(4, 2, generator: Generator(seed: 2))
    let scale = 2.0                         // not a tensor or module: ignored
    override func forward(_ input: Tensor) -> Tensor { output(relu(hidden(input))) * scale }
}

/// Every kind of member the reflection walk recognizes.
private class Members: Module {
    var direct = Tensor.zeros([2], requiresGrad: true)
    var missing: Tensor? = nil
    var present: Tensor? = Tensor.ones([1], requiresGrad: true)
    var list: [Tensor] = [Tensor.zeros([1], requiresGrad: true), Tensor.zeros([3], requiresGrad: true)]
    @Buffer var statistics = Tensor.zeros([5])
    @Key("torch_style_name") var renamed = Tensor.zeros([2, 2], requiresGrad: true)
    var blocks: [Linear] = [Linear(1, 1), Linear(1, 2)]
    var named: [String: Module] = ["b": ReLU(), "a": Tanh()]
    var optionalChild: Module? = Identity()
    lazy var lazyTensor = Tensor.zeros([7], requiresGrad: true)
}

/// Subclasses add their properties after the superclass's.
private final class MoreMembers: Members {
    var extra = Tensor.zeros([1], requiresGrad: true)
}

@Suite("Modules")
struct ModuleTests {
    @Test func parametersAreDiscoveredWithDottedNames() {
        let model = TwoLayer()
        #expect(model.namedParameters().map(\.name) == ["hidden.weight", "hidden.bias", "output.weight", "output.bias"])
        #expect(model.parameters().count == 4)
        #expect(model.parameters()[0] === model.hidden.weight)
        #expect(model.parameterCount == 3 * 4 + 4 + 4 * 2 + 2)
        #expect(model.namedChildren().map(\.name) == ["hidden", "output"])
        #expect(model.namedModules().map(\.name) == ["", "hidden", "output"])
    }

    @Test func everyKindOfMemberIsFound() {
        let model = MoreMembers()
        _ = model.lazyTensor
        let names = model.namedParameters().map(\.name)
        // A module's own parameters first, then its children's (torch's order).
        #expect(names == ["direct", "present", "list.0", "list.1", "torch_style_name", "lazyTensor", "extra",
                          "blocks.0.weight", "blocks.0.bias", "blocks.1.weight", "blocks.1.bias"])
        #expect(model.namedBuffers().map(\.name) == ["statistics"])
        #expect(model.namedChildren().map(\.name) == ["blocks.0", "blocks.1", "named.a", "named.b", "optionalChild"])
        #expect(model.stateDict().keys.contains("statistics"))
    }

    @Test func sequentialNamesChildrenByPositionLikeTorch() {
        let net = Sequential {
            Linear(4, 16); ReLU()
            Linear(16, 3)
        }
        #expect(net.count == 3)
        #expect(net[0] is Linear && net[1] is ReLU)
        #expect(net.stateDict().keys == ["0.weight", "0.bias", "2.weight", "2.bias"])
        let x = Tensor.randn([5, 4])
        let manual = (net[2] as! Linear)((net[0] as! Linear)(x).relu())
        assertClose(net(x), manual)
    }

    @Test func sequentialBuilderSupportsLoopsAndConditions() {
        let deep = true
        let net = Sequential {
            for _ in 0..<3 { Linear(2, 2); Tanh() }
            if deep { Linear(2, 2) } else { Identity() }
        }
        #expect(net.count == 7)
        #expect(net.namedParameters().count == 8)
        net.append(Softmax(dim: 1))
        #expect(net.namedModules().count == 9)
    }

    @Test func moduleListNamesItsElementsUnderTheProperty() {
        final class Deep: Module {
            let layers = ModuleList((0..<3).map { _ in Linear(2, 2) })
            override func forward(_ input: Tensor) -> Tensor { layers.reduce(input) { $1($0).tanh() } }
        }
        let model = Deep()
        #expect(model.namedParameters().map(\.name) == ["layers.0.weight", "layers.0.bias", "layers.1.weight",
                                                        "layers.1.bias", "layers.2.weight", "layers.2.bias"])
        #expect(model(Tensor.randn([4, 2])).shape == [4, 2])
        model.layers.append(Linear(2, 2))
        #expect(model.parameters().count == 8)
    }

    @Test func replacingAParameterOfABuiltInLayerIsSeen() {
        let layer = Linear(2, 2)
        _ = layer.parameters()
        let replacement = Tensor.ones([2, 2], requiresGrad: true)
        layer.weight = replacement
        #expect(layer.parameters()[0] === replacement)
    }

    @Test func trainAndEvalRecurse() {
        let net = Sequential { Linear(2, 2); Dropout(probability: 0.5); Sequential { BatchNorm1d(2) } }
        #expect(net.modules().allSatisfy { $0.isTraining })
        net.eval()
        #expect(net.modules().allSatisfy { !$0.isTraining })
        net.train()
        #expect(net.modules().allSatisfy { $0.isTraining })
    }

    @Test func freezeAndUnfreeze() {
        let model = TwoLayer()
        model.hidden.freeze()
        #expect(model.trainableParameterCount == 4 * 2 + 2)
        let loss = model(Tensor.randn([2, 3])).sum()
        loss.backward()
        #expect(model.hidden.weight.grad == nil)
        #expect(model.output.weight.grad != nil)
        model.unfreeze()
        #expect(model.trainableParameterCount == model.parameterCount)
    }

    @Test func zeroGradClearsOrZeroes() {
        let model = TwoLayer()
        model(Tensor.randn([2, 3])).sum().backward()
        model.zeroGrad(setToNil: false)
        #expect(model.parameters().allSatisfy { $0.grad != nil && $0.grad!.doubles.allSatisfy { $0 == 0 } })
        model.zeroGrad()
        #expect(model.parameters().allSatisfy { $0.grad == nil })
    }

    @Test func forwardHooksSeeOutputsAndCanBeRemoved() {
        let model = TwoLayer()
        var seen: [[Int]] = []
        let handle = model.hidden.registerForwardHook { module, input, output in
            #expect(module === model.hidden)
            #expect(input.shape == [5, 3])
            seen.append(output.shape)
        }
        _ = model(Tensor.randn([5, 3]))
        #expect(seen == [[5, 4]])
        handle.remove()
        _ = model(Tensor.randn([5, 3]))
        #expect(seen.count == 1)
    }

    @Test func activationsCaptureEveryLayerByName() {
        let net = Sequential { Linear(2, 3); ReLU(); Linear(3, 1) }
        let x = Tensor.randn([4, 2])
        let activations = withNoGrad { net.activations(for: x) }
        #expect(activations.keys == ["0", "1", "2"])
        assertClose(activations["1"]!, (net[0] as! Linear)(x).relu())
        assertClose(activations["2"]!, net(x))
        let chosen = net.activations(for: x, of: ["1"])
        #expect(chosen.keys == ["1"])
        // The hooks are gone afterwards.
        #expect(net.activations(for: x, of: []).isEmpty)
    }

    /// The seed notebook's model: `layer1(x) |> tanh()`, tanh as a function, not a module.
    final class SeedNet: Module {
        var layer1 = Linear(2, 4)
        var layer2 = Linear(4, 4)
        var output = Linear(4, 2)
        override func forward(_ x: Tensor) -> Tensor { output(layer2(layer1(x).tanh()).relu()) }
    }

    @Test func aLayersActivationIncludesTheActivationFunctionAppliedToIt() {
        let net = SeedNet()
        let x = Tensor.randn([5, 2])
        let activations = withNoGrad { net.activations(for: x) }
        #expect(activations.keys == ["layer1", "layer2", "output"])
        let first = net.layer1(x)
        assertClose(activations["layer1"]!, first.tanh())
        assertClose(activations["layer2"]!, net.layer2(first.tanh()).relu())
        assertClose(activations["output"]!, net(x))
        #expect(activations["layer1"]!.gradientOperation == nil)   // detached
        // The caller says which operations count: none gives each module's plain output.
        let plain = net.activations(for: x, functions: [])
        assertClose(plain["layer1"]!, first)
        let onlyTanh = net.activations(for: x, functions: ["tanh"])
        assertClose(onlyTanh["layer2"]!, net.layer2(first.tanh()))
        // A module of its own keeps the layer before it as it is.
        let sequential = Sequential { Linear(2, 3); Tanh(); Linear(3, 1) }
        let entries = sequential.activations(for: x)
        assertClose(entries["0"]!, (sequential[0] as! Linear)(x))
        assertClose(entries["1"]!, (sequential[0] as! Linear)(x).tanh())
    }

    @Test func descriptionAndSummaryReadLikeTorchAndKeras() {
        let net = Sequential { Linear(4, 16); ReLU(); Linear(16, 3) }
        #expect(net.description == """
            Sequential(
              (0): Linear(inputFeatures: 4, outputFeatures: 16, bias: true)
              (1): ReLU()
              (2): Linear(inputFeatures: 16, outputFeatures: 3, bias: true)
            )
            """)
        let summary = net.summary(input: Tensor.randn([32, 4]))
        #expect(summary.contains("0 (Linear)"))
        #expect(summary.contains("[32, 16]"))
        #expect(summary.contains("Total parameters: 131"))
        #expect(summary.contains("Trainable parameters: 131"))
        net[0].freeze()
        #expect(net.summary().contains("Non-trainable parameters: 80"))
    }

    @Test func summaryChangesNoState() {
        let net = Sequential { Linear(2, 3); BatchNorm1d(3); Dropout(probability: 0.5) }
        net[2].eval()
        _ = net.summary(input: Tensor.randn([4, 2]))
        let batchNorm = net[1] as! BatchNorm1d
        assertClose(batchNorm.runningMean!, [0, 0, 0])
        #expect(batchNorm.batchesTracked!.item == 0)
        #expect(net.isTraining && batchNorm.isTraining && !net[2].isTraining)
    }

    @Test func sharedParametersAreListedOnce() {
        let shared = Linear(2, 2)
        let net = Sequential { shared; ReLU(); shared }
        #expect(net.parameters().count == 2)
        #expect(net.namedParameters().map(\.name) == ["0.weight", "0.bias"])
    }
}
