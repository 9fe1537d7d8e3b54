import LuzNN
import LuzTestSupport
import Testing

/// A user's model with plain `var` members and no wrapper, cache call or `didSet`.
private final class Replaceable: Module {
    var fc = Linear(2, 3)
    var scale = Tensor.ones([3], requiresGrad: true)
    override func forward(_ input: Tensor) -> Tensor { fc(input) * scale }
}

/// Replacing a member after the module was inspected is seen by the next inspection: modules
/// keep no cache that could go stale.
@Suite struct ModuleReplacementTests {
    @Test func replacingAChildOfAUserModuleIsSeenEverywhere() {
        let model = Replaceable()
        let old = model.fc
        #expect(model.parameters().contains { $0 === old.weight })
        _ = model.namedParameters()
        _ = model.stateDict()

        model.fc = Linear(3, 5)
        let new = model.fc
        #expect(model.parameters().count == 3)
        // The module's own parameters come before its children's, as in torch.
        #expect(model.parameters()[1] === new.weight && model.parameters()[2] === new.bias!)
        #expect(!model.parameters().contains { $0 === old.weight || $0 === old.bias! })
        let named = model.namedParameters()
        #expect(named.map(\.name) == ["scale", "fc.weight", "fc.bias"])
        #expect(named[1].parameter === new.weight)
        let state = model.stateDict()
        #expect(state["fc.weight"] === new.weight)
        #expect(state["fc.weight"]?.shape == [5, 3])
        #expect(model.modules().contains { $0 === new } && !model.modules().contains { $0 === old })
    }

    @Test func replacingAParameterTensorOfAUserModuleIsSeen() {
        let model = Replaceable()
        let old = model.scale
        #expect(model.stateDict()["scale"] === old)
        model.scale = Tensor.zeros([3], requiresGrad: true)
        #expect(model.parameters().first === model.scale)
        #expect(model.namedParameters().first?.parameter === model.scale)
        #expect(model.stateDict()["scale"] === model.scale)
        #expect(!model.parameters().contains { $0 === old })
    }

    @Test func replacingAChildInsideABuiltInCompositeIsSeen() {
        let layer = TransformerEncoderLayer(modelDimension: 8, heads: 2, feedForwardDimension: 16)
        let encoder = TransformerEncoder(layer, layerCount: 1)
        let inner = encoder.layers[0]
        let old = inner.linear1
        #expect(encoder.stateDict()["layers.0.linear1.weight"] === old.weight)
        inner.linear1 = Linear(8, 16)
        let state = encoder.stateDict()
        #expect(state["layers.0.linear1.weight"] === inner.linear1.weight)
        #expect(state["layers.0.linear1.bias"] === inner.linear1.bias!)
        #expect(encoder.parameters().contains { $0 === inner.linear1.weight })
        #expect(!encoder.parameters().contains { $0 === old.weight })
        #expect(encoder.namedParameters().first { $0.name == "layers.0.linear1.weight" }?.parameter === inner.linear1.weight)
    }

    @Test func appendingToAModuleListIsSeenWithoutACacheCall() {
        let list = ModuleList([Linear(2, 2)])
        #expect(list.parameters().count == 2)
        list.append(Linear(2, 2))
        #expect(list.namedParameters().map(\.name) == ["0.weight", "0.bias", "1.weight", "1.bias"])
    }
}
