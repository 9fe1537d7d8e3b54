import LuzTensor

/// The nonlinearity between the two linear layers of a transformer's feed-forward block.
public enum TransformerActivation {
    /// max(x, 0) (torch's default, `activation="relu"`).
    case relu
    /// The exact GELU x·Φ(x) (torch's `activation="gelu"`).
    case gelu
    /// Any elementwise function (torch accepts a callable too).
    case custom((Tensor) -> Tensor)

    /// Applies the activation.
    public func callAsFunction(_ x: Tensor) -> Tensor {
        switch self {
        case .relu: return x.relu()
        case .gelu: return x.gelu()
        case .custom(let f): return f(x)
        }
    }
}

/// The settings shared by the encoder and decoder layers, kept so that a layer can be cloned.
struct TransformerLayerConfiguration {
    var modelDimension: Int
    var heads: Int
    var feedForwardDimension: Int
    var dropout: Double
    var activation: TransformerActivation
    var layerNormEpsilon: Double
    var batchFirst: Bool
    var normFirst: Bool
    var bias: Bool
    var dtype: DType
    var generator: Generator?

    /// A new attention block of this configuration.
    func makeAttention() -> MultiheadAttention {
        MultiheadAttention(embedDimension: modelDimension, heads: heads, dropout: dropout, bias: bias,
                           batchFirst: batchFirst, dtype: dtype, generator: generator)
    }

    /// The feed-forward block's two layers, modelDimension → feedForwardDimension → modelDimension.
    func makeFeedForward() -> (Linear, Linear) {
        (Linear(modelDimension, feedForwardDimension, bias: bias, dtype: dtype, generator: generator),
         Linear(feedForwardDimension, modelDimension, bias: bias, dtype: dtype, generator: generator))
    }

    /// A new normalization over the model dimension.
    func makeNorm() -> LayerNorm {
        LayerNorm(modelDimension, epsilon: layerNormEpsilon, bias: bias, dtype: dtype)
    }

    /// A new dropout with the configuration's probability.
    func makeDropout() -> Dropout { Dropout(probability: dropout, generator: generator) }
}

/// One transformer encoder layer (torch's `nn.TransformerEncoderLayer`): self-attention and a
/// feed-forward block, each wrapped in a residual connection and a layer normalization.
///
/// Post-norm (torch's default, the original transformer):
/// ```
/// x = norm1(x + dropout1(selfAttention(x)))
/// x = norm2(x + dropout2(linear2(dropout(activation(linear1(x))))))
/// ```
/// Pre-norm (`normFirst: true`, more stable for deep stacks):
/// `x = x + dropout1(selfAttention(norm1(x)))`, then `x = x + dropout2(feedForward(norm2(x)))`.
///
/// Children have torch's names — `self_attn`, `linear1`, `linear2`, `norm1`, `norm2`
/// (and the parameterless `dropout`, `dropout1`, `dropout2`) — so torch weights load by name.
///
/// ```swift
/// let layer = TransformerEncoderLayer(modelDimension: 64, heads: 4, feedForwardDimension: 256,
///                                     dropout: 0, batchFirst: true)
/// let y = layer(Tensor.randn([32, 10, 64]), keyPaddingMask: padding)   // [32, 10, 64]
/// ```
public final class TransformerEncoderLayer: Module {
    /// The self-attention block.
    @Key public var selfAttention: MultiheadAttention
    /// The feed-forward block's first layer, modelDimension → feedForwardDimension.
    public var linear1: Linear
    /// The dropout after the feed-forward activation.
    public var dropout: Dropout
    /// The feed-forward block's second layer, feedForwardDimension → modelDimension.
    public var linear2: Linear
    /// The normalization around the attention block.
    public var norm1: LayerNorm
    /// The normalization around the feed-forward block.
    public var norm2: LayerNorm
    /// The dropout on the attention block's output.
    public var dropout1: Dropout
    /// The dropout on the feed-forward block's output.
    public var dropout2: Dropout

    let configuration: TransformerLayerConfiguration

    /// The feed-forward activation.
    public var activation: TransformerActivation { configuration.activation }
    /// Whether the normalizations come before each block (pre-norm) rather than after the residual.
    public var normFirst: Bool { configuration.normFirst }
    /// Whether inputs are `[batch, length, features]` rather than `[length, batch, features]`.
    public var batchFirst: Bool { configuration.batchFirst }

    /// Creates the layer.
    ///
    /// - Parameters:
    ///   - modelDimension: the width of the inputs and outputs (torch's `d_model`).
    ///   - heads: the number of attention heads (torch's `nhead`).
    ///   - feedForwardDimension: the hidden width of the feed-forward block (torch's
    ///     `dim_feedforward`, 2048 by default).
    ///   - dropout: the dropout probability everywhere in the layer (torch's 0.1).
    ///   - activation: ReLU (torch's default) or GELU.
    ///   - layerNormEpsilon: the normalizations' ε (torch's 1e-5).
    ///   - batchFirst: inputs are `[batch, length, features]`; torch's default `false` means
    ///     `[length, batch, features]`.
    ///   - normFirst: pre-norm instead of torch's default post-norm.
    ///   - bias: learn biases in the linear layers and normalizations (torch's `true`).
    ///   - dtype: the parameters' element type.
    ///   - generator: the source of the initial weights and the dropout masks.
    public convenience init(modelDimension: Int, heads: Int, feedForwardDimension: Int = 2048, dropout: Double = 0.1,
                            activation: TransformerActivation = .relu, layerNormEpsilon: Double = 1e-5,
                            batchFirst: Bool = false, normFirst: Bool = false, bias: Bool = true,
                            dtype: DType = .float32, generator: Generator? = nil) {
        self.init(configuration: TransformerLayerConfiguration(
            modelDimension: modelDimension, heads: heads, feedForwardDimension: feedForwardDimension, dropout: dropout,
            activation: activation, layerNormEpsilon: layerNormEpsilon, batchFirst: batchFirst, normFirst: normFirst,
            bias: bias, dtype: dtype, generator: generator))
    }

    init(configuration c: TransformerLayerConfiguration) {
        configuration = c
        _selfAttention = Key(wrappedValue: c.makeAttention(), "self_attn")
        (linear1, linear2) = c.makeFeedForward()
        dropout = c.makeDropout()
        norm1 = c.makeNorm()
        norm2 = c.makeNorm()
        dropout1 = c.makeDropout()
        dropout2 = c.makeDropout()
        super.init()
    }

    /// A new layer with the same settings and a copy of this layer's weights (torch's
    /// `copy.deepcopy`, which is how `nn.TransformerEncoder` builds its stack).
    public func copied() -> TransformerEncoderLayer {
        let copy = TransformerEncoderLayer(configuration: configuration)
        copy.train(isTraining)
        try! copy.loadStateDict(stateDict())
        return copy
    }

    /// The layer applied to `input` without masks.
    public override func forward(_ input: Tensor) -> Tensor {
        encode(input, mask: nil, keyPaddingMask: nil, causal: false)
    }

    /// The layer applied to `source` (torch's `forward`).
    ///
    /// - Parameters:
    ///   - source: `[batch, length, modelDimension]` (`[length, batch, ...]` unless `batchFirst`).
    ///   - mask: `[length, length]` or `[batch·heads, length, length]`: bool with `true` for
    ///     positions that may *not* be attended (torch's convention), or added to the scores.
    ///   - keyPaddingMask: `[batch, length]`, `true` for padding positions.
    ///   - attendedKeys: Hugging Face's mask instead (`attention_mask`): 1 for tokens, 0 for
    ///     padding (see ``MultiheadAttention``).
    ///   - causal: hide later positions from each position (a causal mask built in).
    public func callAsFunction(_ source: Tensor, mask: Tensor? = nil, keyPaddingMask: Tensor? = nil,
                               attendedKeys: Tensor? = nil, causal: Bool = false) -> Tensor {
        let padding = resolvedKeyPaddingMask(keyPaddingMask, attendedKeys: attendedKeys, op: "TransformerEncoderLayer")
        let output = encode(source, mask: mask, keyPaddingMask: padding, causal: causal)
        runForwardHooks(input: source, output: output)
        return output
    }

    private func encode(_ source: Tensor, mask: Tensor?, keyPaddingMask: Tensor?, causal: Bool) -> Tensor {
        var x = source
        if normFirst {
            x = x + attentionBlock(norm1(x), mask: mask, keyPaddingMask: keyPaddingMask, causal: causal)
            x = x + feedForwardBlock(norm2(x))
        } else {
            x = norm1(x + attentionBlock(x, mask: mask, keyPaddingMask: keyPaddingMask, causal: causal))
            x = norm2(x + feedForwardBlock(x))
        }
        return x
    }

    private func attentionBlock(_ x: Tensor, mask: Tensor?, keyPaddingMask: Tensor?, causal: Bool) -> Tensor {
        let attended = selfAttention(x, x, x, keyPaddingMask: keyPaddingMask, attentionMask: mask, causal: causal,
                                     weights: .none).output
        return dropout1(attended)
    }

    private func feedForwardBlock(_ x: Tensor) -> Tensor {
        dropout2(linear2(dropout(activation(linear1(x)))))
    }

    public override var configurationDescription: String {
        "modelDimension: \(configuration.modelDimension), heads: \(configuration.heads), feedForwardDimension: \(configuration.feedForwardDimension), normFirst: \(normFirst), batchFirst: \(batchFirst)"
    }
}

/// A stack of encoder layers with an optional final normalization (torch's
/// `nn.TransformerEncoder`). Layers are named `layers.0`, `layers.1`, … and the final
/// normalization `norm`, as in torch.
///
/// ```swift
/// let encoder = TransformerEncoder(TransformerEncoderLayer(modelDimension: 64, heads: 4, batchFirst: true),
///                                  layerCount: 2)
/// ```
public final class TransformerEncoder: Module {
    /// The layers, applied in order.
    public let layers: ModuleList<TransformerEncoderLayer>
    /// The normalization applied to the last layer's output, or `nil` (a pre-norm stack usually
    /// has one).
    public let norm: LayerNorm?

    /// Creates the stack from given layers.
    public init(_ layers: [TransformerEncoderLayer], norm: LayerNorm? = nil) {
        self.layers = ModuleList(layers)
        self.norm = norm
        super.init()
    }

    /// Creates a stack of `layerCount` copies of `layer`, weights included, as torch does (so all
    /// layers start equal; `layer` itself is not part of the stack).
    public convenience init(_ layer: TransformerEncoderLayer, layerCount: Int, norm: LayerNorm? = nil) {
        require(layerCount > 0, "TransformerEncoder: layerCount must be positive, got \(layerCount)")
        self.init((0..<layerCount).map { _ in layer.copied() }, norm: norm)
    }

    /// The stack applied to `input` without masks.
    public override func forward(_ input: Tensor) -> Tensor {
        encode(input, mask: nil, keyPaddingMask: nil, causal: false)
    }

    /// The stack applied to `source`; the masks go to every layer (see
    /// ``TransformerEncoderLayer/callAsFunction(_:mask:keyPaddingMask:attendedKeys:causal:)``).
    public func callAsFunction(_ source: Tensor, mask: Tensor? = nil, keyPaddingMask: Tensor? = nil,
                               attendedKeys: Tensor? = nil, causal: Bool = false) -> Tensor {
        let padding = resolvedKeyPaddingMask(keyPaddingMask, attendedKeys: attendedKeys, op: "TransformerEncoder")
        let output = encode(source, mask: mask, keyPaddingMask: padding, causal: causal)
        runForwardHooks(input: source, output: output)
        return output
    }

    private func encode(_ source: Tensor, mask: Tensor?, keyPaddingMask: Tensor?, causal: Bool) -> Tensor {
        var x = source
        for layer in layers { x = layer(x, mask: mask, keyPaddingMask: keyPaddingMask, causal: causal) }
        return norm.map { $0(x) } ?? x
    }
}

/// One transformer decoder layer (torch's `nn.TransformerDecoderLayer`): self-attention over
/// the target, attention from the target to the encoder's output (`memory`), and a
/// feed-forward block, each with a residual connection and a layer normalization.
///
/// Post-norm (torch's default):
/// ```
/// x = norm1(x + dropout1(selfAttention(x)))
/// x = norm2(x + dropout2(crossAttention(x, memory)))
/// x = norm3(x + dropout3(linear2(dropout(activation(linear1(x))))))
/// ```
/// Pre-norm (`normFirst: true`) normalizes each block's input instead: `x = x + block(norm(x))`.
///
/// Children have torch's names: `self_attn`, `multihead_attn`, `linear1`, `linear2`, `norm1`,
/// `norm2`, `norm3` (and `dropout`, `dropout1`…`dropout3`).
public final class TransformerDecoderLayer: Module, StructuredModule {
    /// The self-attention over the target.
    @Key public var selfAttention: MultiheadAttention
    /// The attention from the target to the memory.
    @Key public var crossAttention: MultiheadAttention
    /// The feed-forward block's first layer.
    public var linear1: Linear
    /// The dropout after the feed-forward activation.
    public var dropout: Dropout
    /// The feed-forward block's second layer.
    public var linear2: Linear
    /// The normalization around the self-attention block.
    public var norm1: LayerNorm
    /// The normalization around the cross-attention block.
    public var norm2: LayerNorm
    /// The normalization around the feed-forward block.
    public var norm3: LayerNorm
    /// The dropout on the self-attention output.
    public var dropout1: Dropout
    /// The dropout on the cross-attention output.
    public var dropout2: Dropout
    /// The dropout on the feed-forward output.
    public var dropout3: Dropout

    let configuration: TransformerLayerConfiguration

    /// The feed-forward activation.
    public var activation: TransformerActivation { configuration.activation }
    /// Whether the normalizations come before each block (pre-norm).
    public var normFirst: Bool { configuration.normFirst }
    /// Whether inputs are `[batch, length, features]` rather than `[length, batch, features]`.
    public var batchFirst: Bool { configuration.batchFirst }

    /// Creates the layer; the parameters mean what they mean for
    /// ``TransformerEncoderLayer/init(modelDimension:heads:feedForwardDimension:dropout:activation:layerNormEpsilon:batchFirst:normFirst:bias:dtype:generator:)``.
    public convenience init(modelDimension: Int, heads: Int, feedForwardDimension: Int = 2048, dropout: Double = 0.1,
                            activation: TransformerActivation = .relu, layerNormEpsilon: Double = 1e-5,
                            batchFirst: Bool = false, normFirst: Bool = false, bias: Bool = true,
                            dtype: DType = .float32, generator: Generator? = nil) {
        self.init(configuration: TransformerLayerConfiguration(
            modelDimension: modelDimension, heads: heads, feedForwardDimension: feedForwardDimension, dropout: dropout,
            activation: activation, layerNormEpsilon: layerNormEpsilon, batchFirst: batchFirst, normFirst: normFirst,
            bias: bias, dtype: dtype, generator: generator))
    }

    init(configuration c: TransformerLayerConfiguration) {
        configuration = c
        _selfAttention = Key(wrappedValue: c.makeAttention(), "self_attn")
        _crossAttention = Key(wrappedValue: c.makeAttention(), "multihead_attn")
        (linear1, linear2) = c.makeFeedForward()
        dropout = c.makeDropout()
        norm1 = c.makeNorm()
        norm2 = c.makeNorm()
        norm3 = c.makeNorm()
        dropout1 = c.makeDropout()
        dropout2 = c.makeDropout()
        dropout3 = c.makeDropout()
        super.init()
    }

    /// A new layer with the same settings and a copy of this layer's weights.
    public func copied() -> TransformerDecoderLayer {
        let copy = TransformerDecoderLayer(configuration: configuration)
        copy.train(isTraining)
        try! copy.loadStateDict(stateDict())
        return copy
    }

    /// The layer applied to `inputs[0]` (the target) attending to `inputs[1]` (the memory), or to
    /// the inputs named `"target"` and `"memory"`, without masks: the form the training loop
    /// calls (a ``StructuredModule``). For masks, call
    /// ``callAsFunction(_:memory:targetMask:memoryMask:targetKeyPaddingMask:memoryKeyPaddingMask:targetCausal:memoryCausal:)``.
    public func forward(inputs: TensorTree) -> TensorTree {
        let (target, memory) = decoderInputs(inputs, "TransformerDecoderLayer")
        return .tensor(self(target, memory: memory))
    }

    /// The layer applied to `target`, attending to `memory` (torch's `forward`).
    ///
    /// - Parameters:
    ///   - target: `[batch, T, modelDimension]` (`[T, batch, ...]` unless `batchFirst`).
    ///   - memory: the encoder output, `[batch, S, modelDimension]`.
    ///   - targetMask: the self-attention mask, `[T, T]` or `[batch·heads, T, T]` (bool `true`
    ///     = may *not* attend, or additive).
    ///   - memoryMask: the cross-attention mask, `[T, S]` or `[batch·heads, T, S]`.
    ///   - targetKeyPaddingMask: `[batch, T]`, `true` for padded target positions.
    ///   - memoryKeyPaddingMask: `[batch, S]`, `true` for padded memory positions.
    ///   - targetCausal: hide later target positions in the self-attention (the usual
    ///     decoder mask, built in).
    ///   - memoryCausal: apply a causal mask in the cross-attention too.
    public func callAsFunction(_ target: Tensor, memory: Tensor, targetMask: Tensor? = nil, memoryMask: Tensor? = nil,
                               targetKeyPaddingMask: Tensor? = nil, memoryKeyPaddingMask: Tensor? = nil,
                               targetCausal: Bool = false, memoryCausal: Bool = false) -> Tensor {
        var x = target
        if normFirst {
            x = x + selfAttentionBlock(norm1(x), targetMask, targetKeyPaddingMask, targetCausal)
            x = x + crossAttentionBlock(norm2(x), memory, memoryMask, memoryKeyPaddingMask, memoryCausal)
            x = x + feedForwardBlock(norm3(x))
        } else {
            x = norm1(x + selfAttentionBlock(x, targetMask, targetKeyPaddingMask, targetCausal))
            x = norm2(x + crossAttentionBlock(x, memory, memoryMask, memoryKeyPaddingMask, memoryCausal))
            x = norm3(x + feedForwardBlock(x))
        }
        runForwardHooks(input: target, output: x)
        return x
    }

    private func selfAttentionBlock(_ x: Tensor, _ mask: Tensor?, _ keyPaddingMask: Tensor?, _ causal: Bool) -> Tensor {
        dropout1(selfAttention(x, x, x, keyPaddingMask: keyPaddingMask, attentionMask: mask, causal: causal,
                               weights: .none).output)
    }

    private func crossAttentionBlock(_ x: Tensor, _ memory: Tensor, _ mask: Tensor?, _ keyPaddingMask: Tensor?,
                                     _ causal: Bool) -> Tensor {
        dropout2(crossAttention(x, memory, memory, keyPaddingMask: keyPaddingMask, attentionMask: mask, causal: causal,
                                weights: .none).output)
    }

    private func feedForwardBlock(_ x: Tensor) -> Tensor {
        dropout3(linear2(dropout(activation(linear1(x)))))
    }

    public override var configurationDescription: String {
        "modelDimension: \(configuration.modelDimension), heads: \(configuration.heads), feedForwardDimension: \(configuration.feedForwardDimension), normFirst: \(normFirst), batchFirst: \(batchFirst)"
    }
}

/// A stack of decoder layers with an optional final normalization (torch's
/// `nn.TransformerDecoder`); layers named `layers.0`, …, the final normalization `norm`.
public final class TransformerDecoder: Module, StructuredModule {
    /// The layers, applied in order.
    public let layers: ModuleList<TransformerDecoderLayer>
    /// The normalization applied to the last layer's output, or `nil`.
    public let norm: LayerNorm?

    /// Creates the stack from given layers.
    public init(_ layers: [TransformerDecoderLayer], norm: LayerNorm? = nil) {
        self.layers = ModuleList(layers)
        self.norm = norm
        super.init()
    }

    /// Creates a stack of `layerCount` copies of `layer`, weights included, as torch does.
    public convenience init(_ layer: TransformerDecoderLayer, layerCount: Int, norm: LayerNorm? = nil) {
        require(layerCount > 0, "TransformerDecoder: layerCount must be positive, got \(layerCount)")
        self.init((0..<layerCount).map { _ in layer.copied() }, norm: norm)
    }

    /// The stack applied to `inputs[0]` (the target) attending to `inputs[1]` (the memory), or to
    /// the inputs named `"target"` and `"memory"`, without masks: the form the training loop
    /// calls (a ``StructuredModule``). For masks, call
    /// ``callAsFunction(_:memory:targetMask:memoryMask:targetKeyPaddingMask:memoryKeyPaddingMask:targetCausal:memoryCausal:)``.
    public func forward(inputs: TensorTree) -> TensorTree {
        let (target, memory) = decoderInputs(inputs, "TransformerDecoder")
        return .tensor(self(target, memory: memory))
    }

    /// The stack applied to `target`, every layer attending to `memory`; the masks go to every
    /// layer (see ``TransformerDecoderLayer``).
    public func callAsFunction(_ target: Tensor, memory: Tensor, targetMask: Tensor? = nil, memoryMask: Tensor? = nil,
                               targetKeyPaddingMask: Tensor? = nil, memoryKeyPaddingMask: Tensor? = nil,
                               targetCausal: Bool = false, memoryCausal: Bool = false) -> Tensor {
        var x = target
        for layer in layers {
            x = layer(x, memory: memory, targetMask: targetMask, memoryMask: memoryMask,
                      targetKeyPaddingMask: targetKeyPaddingMask, memoryKeyPaddingMask: memoryKeyPaddingMask,
                      targetCausal: targetCausal, memoryCausal: memoryCausal)
        }
        if let norm { x = norm(x) }
        runForwardHooks(input: target, output: x)
        return x
    }
}

/// The target and memory of a decoder's structured inputs: by position or by name.
private func decoderInputs(_ inputs: TensorTree, _ op: String) -> (target: Tensor, memory: Tensor) {
    if case .dictionary = inputs {
        return (inputs["target"].singleTensor("\(op)'s target"), inputs["memory"].singleTensor("\(op)'s memory"))
    }
    return (inputs[0].singleTensor("\(op)'s target"), inputs[1].singleTensor("\(op)'s memory"))
}
