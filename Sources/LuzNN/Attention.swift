import LuzTensor

/// Scaled dot-product attention (torch's `scaled_dot_product_attention`):
/// ```
/// softmax(Q Kᵀ · scale + mask) V,    scale = 1/√E by default
/// ```
/// over the last two dimensions, with any leading (batch, head) dimensions broadcast.
///
/// The products run through BLAS one (batch, head) matrix at a time, spread over the cores,
/// with the scale, masks and softmax fused into one pass over the scores and a fused backward.
///
/// - Parameters:
///   - query: `[..., L, E]`.
///   - key: `[..., S, E]`.
///   - value: `[..., S, Ev]`.
///   - mask: broadcastable to `[..., L, S]`: a **bool** mask whose `true` entries *may be
///     attended* (torch's convention for this function — the opposite of
///     ``MultiheadAttention``'s masks), or a floating-point mask added to the scores (−∞ hides
///     a position). Masks receive no gradient.
///   - causal: hide key `j > i` from query `i` (torch's `is_causal`: the lower triangle aligned
///     at the top left, also when `L ≠ S`). Combines with `mask`.
///   - scale: the factor applied to `Q Kᵀ`; `nil` for 1/√E (torch's default).
///   - dropout: the probability of zeroing an attention weight (torch's `dropout_p`).
///   - training: apply the dropout; pass `false` in evaluation.
///   - generator: the source of the dropout mask (the default generator when `nil`).
/// - Returns: `[..., L, Ev]`. A query whose every key is hidden gets a zero output, as in torch.
public func scaledDotProductAttention(query: Tensor, key: Tensor, value: Tensor, mask: Tensor? = nil,
                                      causal: Bool = false, scale: Double? = nil, dropout: Double = 0,
                                      training: Bool = true, generator: Generator? = nil) -> Tensor {
    require(query.rank >= 2 && key.rank >= 2 && value.rank >= 2,
            "scaledDotProductAttention: query \(query.shape), key \(key.shape) and value \(value.shape) need at least 2 dimensions")
    require((0...1).contains(dropout), "scaledDotProductAttention: dropout \(dropout) is outside [0, 1]")
    let l = query.shape[query.rank - 2], e = query.shape[query.rank - 1]
    let s = key.shape[key.rank - 2], dv = value.shape[value.rank - 1]
    require(key.shape[key.rank - 1] == e,
            "scaledDotProductAttention: query \(query.shape) and key \(key.shape) differ in their last dimension")
    require(value.shape[value.rank - 2] == s,
            "scaledDotProductAttention: key \(key.shape) and value \(value.shape) differ in length (dimension -2)")
    require(query.dtype.isFloatingPoint, "scaledDotProductAttention: needs floating-point tensors, got \(query.dtype)")
    // One element type and one batch shape for all three (broadcast and converted as in torch).
    let dtype = query.dtype
    let batchShape = broadcastShapes([Array(query.shape.dropLast(2)), Array(key.shape.dropLast(2)),
                                      Array(value.shape.dropLast(2))])
    func prepared(_ t: Tensor) -> Tensor {
        let typed = t.dtype == dtype ? t : t.to(dtype)
        let target = batchShape + Array(t.shape.suffix(2))
        return typed.shape == target ? typed : typed.expanded(to: target)
    }
    let q = prepared(query), k = query === key ? q : prepared(key)
    let v = value === key ? k : (value === query ? q : prepared(value))
    let batch = batchShape.reduce(1, *)
    let qOperand = AttentionOperand(q, batchStride: l * e, headStride: 0, rowStride: e, rows: l, columns: e)
    let kOperand = AttentionOperand(k, batchStride: s * e, headStride: 0, rowStride: e, rows: s, columns: e)
    let vOperand = AttentionOperand(v, batchStride: s * dv, headStride: 0, rowStride: dv, rows: s, columns: dv)
    var masks: [AttentionMask] = []
    if let mask { masks.append(broadcastMask(mask, batchShape: batchShape, queries: l, keys: s)) }
    let layout = AttentionOutputLayout(shape: batchShape + [l, dv], batchStride: l * dv, headStride: 0, rowStride: dv)
    let factor = scale ?? 1 / Double(e).squareRoot()
    guard training && dropout > 0 else {
        return Tensor.attention(query: qOperand, key: kOperand, value: vOperand, batch: batch, heads: 1,
                                scale: factor, masks: masks, causal: causal, layout: layout)
    }
    // Dropout acts on the weights, so they become a tensor of the graph here.
    let weights = Tensor.attentionProbabilities(query: qOperand, key: kOperand, batch: batch, heads: 1,
                                                scale: factor, masks: masks, causal: causal)
    let dropped = LuzNN.dropout(weights, probability: dropout, training: true, generator: generator)
    return Tensor.attentionValues(dropped, value: vOperand, layout: layout)
}

/// The broadcast of several shapes (torch's `broadcast_shapes`).
private func broadcastShapes(_ shapes: [[Int]]) -> [Int] {
    let rank = shapes.map(\.count).max() ?? 0
    var result = [Int](repeating: 1, count: rank)
    for shape in shapes {
        for (i, size) in shape.enumerated() {
            let d = rank - shape.count + i
            require(result[d] == 1 || size == 1 || result[d] == size,
                    "scaledDotProductAttention: batch shapes \(shapes) do not broadcast")
            if size != 1 { result[d] = size }
        }
    }
    return result
}

/// An SDPA mask broadcast to `batchShape + [queries, keys]`, as strides over the flattened batch
/// when its batch dimensions are all 1 or all full, materialized otherwise.
private func broadcastMask(_ mask: Tensor, batchShape: [Int], queries: Int, keys: Int) -> AttentionMask {
    let full = batchShape + [queries, keys]
    require(mask.rank <= full.count,
            "scaledDotProductAttention: mask \(mask.shape) has more dimensions than the scores \(full)")
    var padded = [Int](repeating: 1, count: full.count - mask.rank) + mask.shape
    for (i, size) in padded.enumerated() {
        require(size == 1 || size == full[i],
                "scaledDotProductAttention: mask \(mask.shape) does not broadcast to the scores \(full)")
    }
    var values = mask.rank == padded.count ? mask : mask.reshaped(padded)
    let maskBatch = Array(padded.dropLast(2))
    var batchStride = 0
    if maskBatch.allSatisfy({ $0 == 1 }) {
        batchStride = 0
    } else {
        if maskBatch != batchShape {
            values = withNoGrad { values.expanded(to: batchShape + Array(padded.suffix(2))) }
            padded = values.shape
        }
        batchStride = padded[padded.count - 2] * padded[padded.count - 1]
    }
    let rows = padded[padded.count - 2], columns = padded[padded.count - 1]
    let meaning: AttentionMask.Meaning = values.dtype == .bool ? .trueAttends : .additive
    require(values.dtype == .bool || values.dtype.isFloatingPoint,
            "scaledDotProductAttention: the mask must be bool or floating point, got \(values.dtype)")
    return AttentionMask(withNoGrad { values.detached() }, meaning: meaning, batchStride: batchStride, headStride: 0,
                         rowStride: rows == 1 ? 0 : columns, columnStride: columns == 1 ? 0 : 1)
}

/// Which attention weights ``MultiheadAttention`` returns with its output.
public enum AttentionWeights: Sendable {
    /// None (torch's `need_weights=False`): the cheapest.
    case none
    /// The weights averaged over the heads, `[batch, L, S]` (torch's default,
    /// `need_weights=True, average_attn_weights=True`).
    case averaged
    /// One set of weights per head, `[batch, heads, L, S]` (torch's `average_attn_weights=False`).
    case perHead
}

/// Multi-head attention (torch's `nn.MultiheadAttention`): the query, key and value are
/// projected, split into `heads` heads of `embedDimension / heads` features, attended with
/// ``scaledDotProductAttention(query:key:value:mask:causal:scale:dropout:training:generator:)``
/// head by head, merged, and projected again.
///
/// Parameters carry torch's names, so that a `state_dict()` saved from PyTorch loads by name:
/// `in_proj_weight` `[3E, E]` (query, key and value projections stacked) and `in_proj_bias`
/// `[3E]`, or `q_proj_weight` `[E, E]`, `k_proj_weight` `[E, keyDimension]` and
/// `v_proj_weight` `[E, valueDimension]` when the key or value width differs from E; then
/// `out_proj.weight` `[E, E]` and `out_proj.bias` `[E]`. Initialized as torch does: Xavier
/// uniform projections, zero biases, and the output projection's default ``Linear`` weight.
///
/// **Masks follow torch's `nn.MultiheadAttention`: in a bool mask, `true` means the position
/// may *not* be attended** (the opposite of
/// ``scaledDotProductAttention(query:key:value:mask:causal:scale:dropout:training:generator:)``'s
/// bool masks). Floating-point masks are added to the scores.
///
/// ```swift
/// let attention = MultiheadAttention(embedDimension: 64, heads: 4, batchFirst: true)
/// let x = Tensor.randn([8, 10, 64])                                 // [batch, length, E]
/// let padding = Tensor.zeros([8, 10], dtype: .bool)                  // true = padded key
/// let (y, weights) = attention(x, x, x, keyPaddingMask: padding)     // [8, 10, 64], [8, 10, 10]
/// ```
///
/// The heads are never copied out of the projections: each head's matrices are read in place
/// (see `Tensor+Attention.swift`), and the output is written straight in the layout the output
/// projection reads.
public final class MultiheadAttention: Module {
    /// The model width E (the query's last dimension and the output's).
    public let embedDimension: Int
    /// The number of heads; each has `embedDimension / heads` features.
    public let heads: Int
    /// The width of the key input.
    public let keyDimension: Int
    /// The width of the value input.
    public let valueDimension: Int
    /// Whether inputs are `[batch, length, features]` (`true`) or torch's default
    /// `[length, batch, features]`.
    public let batchFirst: Bool
    /// The probability of zeroing an attention weight in training mode.
    public var dropout: Double
    /// The source of the dropout masks; the default generator when `nil`.
    public var generator: Generator?

    /// The stacked query, key and value projection weights `[3E, E]` (when key and value have
    /// width E).
    @Key("in_proj_weight") public var inputProjectionWeight: Tensor? = nil
    /// The query projection `[E, E]` (when the key or value width differs from E).
    @Key("q_proj_weight") public var queryProjectionWeight: Tensor? = nil
    /// The key projection `[E, keyDimension]` (when the key or value width differs from E).
    @Key("k_proj_weight") public var keyProjectionWeight: Tensor? = nil
    /// The value projection `[E, valueDimension]` (when the key or value width differs from E).
    @Key("v_proj_weight") public var valueProjectionWeight: Tensor? = nil
    /// The stacked projection biases `[3E]`, or `nil` without biases.
    @Key("in_proj_bias") public var inputProjectionBias: Tensor? = nil
    /// The output projection, E → E.
    @Key public var outputProjection: Linear

    /// The width of each head.
    public var headDimension: Int { embedDimension / heads }

    /// Creates the layer.
    ///
    /// - Parameters:
    ///   - embedDimension: the model width E; the query's last dimension.
    ///   - heads: the number of heads; must divide E.
    ///   - dropout: the probability of zeroing attention weights in training (torch's 0).
    ///   - bias: learn biases for the input and output projections (torch's `true`).
    ///   - keyDimension: the key's width (E when `nil`).
    ///   - valueDimension: the value's width (E when `nil`).
    ///   - batchFirst: inputs are `[batch, length, features]`; torch's default `false` means
    ///     `[length, batch, features]`.
    ///   - dtype: the parameters' element type.
    ///   - generator: the source of the initial weights and the dropout masks.
    public init(embedDimension: Int, heads: Int, dropout: Double = 0, bias: Bool = true,
                keyDimension: Int? = nil, valueDimension: Int? = nil, batchFirst: Bool = false,
                dtype: DType = .float32, generator: Generator? = nil) {
        require(embedDimension > 0 && heads > 0 && embedDimension % heads == 0,
                "MultiheadAttention: embedDimension \(embedDimension) must be a positive multiple of heads \(heads)")
        require((0...1).contains(dropout), "MultiheadAttention: dropout \(dropout) is outside [0, 1]")
        self.embedDimension = embedDimension
        self.heads = heads
        self.keyDimension = keyDimension ?? embedDimension
        self.valueDimension = valueDimension ?? embedDimension
        self.batchFirst = batchFirst
        self.dropout = dropout
        self.generator = generator
        let e = embedDimension
        _outputProjection = Key(wrappedValue: Linear(e, e, bias: bias, dtype: dtype, generator: generator), "out_proj")
        super.init()
        if self.keyDimension == e && self.valueDimension == e {
            let w = Tensor.zeros([3 * e, e], dtype: dtype, requiresGrad: true)
            Initializer.xavierUniform(w, generator: generator)
            inputProjectionWeight = w
        } else {
            let shapes = [[e, e], [e, self.keyDimension], [e, self.valueDimension]]
            let weights = shapes.map { shape -> Tensor in
                let w = Tensor.zeros(shape, dtype: dtype, requiresGrad: true)
                Initializer.xavierUniform(w, generator: generator)
                return w
            }
            queryProjectionWeight = weights[0]
            keyProjectionWeight = weights[1]
            valueProjectionWeight = weights[2]
        }
        if bias {
            inputProjectionBias = Tensor.zeros([3 * e], dtype: dtype, requiresGrad: true)
            if let outputBias = outputProjection.bias { Initializer.zeros(outputBias) }
        }
    }

    /// Self-attention of `input` without masks; the output only.
    public override func forward(_ input: Tensor) -> Tensor {
        attend(input, input, input, keyPaddingMask: nil, attentionMask: nil, causal: false, weights: .none).output
    }

    /// Attends from `query` to `key`/`value` (torch's `forward`).
    ///
    /// - Parameters:
    ///   - query: `[batch, L, E]` (`[L, batch, E]` unless `batchFirst`), or `[L, E]` unbatched.
    ///   - key: `[batch, S, keyDimension]` (or sequence-first / unbatched likewise).
    ///   - value: `[batch, S, valueDimension]`.
    ///   - keyPaddingMask: `[batch, S]` (`[S]` unbatched): bool with `true` for keys to ignore
    ///     (padding), or floating point added to the scores.
    ///   - attendedKeys: Hugging Face's convention instead of `keyPaddingMask` (its
    ///     `attention_mask`): `[batch, S]`, **1 for keys to attend, 0 for padding**, int, float
    ///     or bool. A float `keyPaddingMask` of only 0 and 1 is refused as a mix-up of the two.
    ///   - attentionMask: `[L, S]` or `[batch·heads, L, S]`: bool with `true` for positions that
    ///     may *not* be attended, or floating point added to the scores.
    ///   - causal: also hide key `j > i` from query `i`. (torch treats `is_causal` as a hint
    ///     that `attentionMask` is causal and requires the mask; here the flag builds it.)
    ///   - weights: which attention weights to return (torch's default: averaged over heads).
    ///     They are the weights after dropout, as torch returns them; a query whose every key
    ///     is hidden gets zero weights and a zero attention output (torch gives NaN there when
    ///     it computes weights, zero when it does not).
    /// - Returns: the output, shaped like `query`, and the weights `[batch, L, S]` or
    ///   `[batch, heads, L, S]` (without the batch dimension when unbatched), or `nil`.
    public func callAsFunction(_ query: Tensor, _ key: Tensor, _ value: Tensor, keyPaddingMask: Tensor? = nil,
                               attendedKeys: Tensor? = nil, attentionMask: Tensor? = nil, causal: Bool = false,
                               weights: AttentionWeights = .averaged) -> (output: Tensor, weights: Tensor?) {
        let padding = resolvedKeyPaddingMask(keyPaddingMask, attendedKeys: attendedKeys, op: "MultiheadAttention")
        let result = attend(query, key, value, keyPaddingMask: padding, attentionMask: attentionMask,
                            causal: causal, weights: weights)
        runForwardHooks(input: query, output: result.output)
        return result
    }

    private func attend(_ query: Tensor, _ key: Tensor, _ value: Tensor, keyPaddingMask: Tensor?,
                        attentionMask: Tensor?, causal: Bool, weights: AttentionWeights) -> (output: Tensor, weights: Tensor?) {
        require((query.rank == 3 && key.rank == 3 && value.rank == 3) || (query.rank == 2 && key.rank == 2 && value.rank == 2),
                "MultiheadAttention: query \(query.shape), key \(key.shape) and value \(value.shape) must all be batched (3-D) or all unbatched (2-D)")
        if query.rank == 2 {
            // Unbatched: a batch of one, removed again from the results.
            let batchDim = batchFirst ? 0 : 1
            let q = query.unsqueezed(dim: batchDim)
            let k = key === query ? q : key.unsqueezed(dim: batchDim)
            let v = value === key ? k : (value === query ? q : value.unsqueezed(dim: batchDim))
            let result = attend(q, k, v, keyPaddingMask: keyPaddingMask?.unsqueezed(dim: 0),
                                attentionMask: attentionMask, causal: causal, weights: weights)
            return (result.output.squeezed(dim: batchDim), result.weights?.squeezed(dim: 0))
        }
        let e = embedDimension, d = headDimension
        let (batch, l) = batchFirst ? (query.shape[0], query.shape[1]) : (query.shape[1], query.shape[0])
        let (keyBatch, s) = batchFirst ? (key.shape[0], key.shape[1]) : (key.shape[1], key.shape[0])
        require(query.shape[2] == e, "MultiheadAttention: query \(query.shape) should have \(e) features")
        require(key.shape[2] == keyDimension, "MultiheadAttention: key \(key.shape) should have \(keyDimension) features")
        require(value.shape[2] == valueDimension, "MultiheadAttention: value \(value.shape) should have \(valueDimension) features")
        require(keyBatch == batch && Array(value.shape.prefix(2)) == Array(key.shape.prefix(2)),
                "MultiheadAttention: query \(query.shape), key \(key.shape) and value \(value.shape) disagree on batch or length")

        // Projections: one GEMM for self-attention, two when key and value are the same tensor.
        let q: AttentionOperand, k: AttentionOperand, v: AttentionOperand
        func headView(_ t: Tensor, _ offset: Int) -> AttentionOperand {
            AttentionOperand.heads(of: t, batchFirst: batchFirst, columnOffset: offset, columns: d)
        }
        let b = inputProjectionBias
        func biasRows(_ start: Int, _ count: Int) -> Tensor? { b?.narrowed(dim: 0, start: start, length: count) }
        if let w = inputProjectionWeight {
            if query === key && key === value {
                let qkv = linear(query, weight: w, bias: b)
                (q, k, v) = (headView(qkv, 0), headView(qkv, e), headView(qkv, 2 * e))
            } else if key === value {
                let qp = linear(query, weight: w.narrowed(dim: 0, start: 0, length: e), bias: biasRows(0, e))
                let kv = linear(key, weight: w.narrowed(dim: 0, start: e, length: 2 * e), bias: biasRows(e, 2 * e))
                (q, k, v) = (headView(qp, 0), headView(kv, 0), headView(kv, e))
            } else {
                let parts = w.split(size: e, dim: 0)
                q = headView(linear(query, weight: parts[0], bias: biasRows(0, e)), 0)
                k = headView(linear(key, weight: parts[1], bias: biasRows(e, e)), 0)
                v = headView(linear(value, weight: parts[2], bias: biasRows(2 * e, e)), 0)
            }
        } else {
            q = headView(linear(query, weight: queryProjectionWeight!, bias: biasRows(0, e)), 0)
            k = headView(linear(key, weight: keyProjectionWeight!, bias: biasRows(e, e)), 0)
            v = headView(linear(value, weight: valueProjectionWeight!, bias: biasRows(2 * e, e)), 0)
        }

        var masks: [AttentionMask] = []
        if let keyPaddingMask {
            require(keyPaddingMask.shape == [batch, s],
                    "MultiheadAttention: key padding mask \(keyPaddingMask.shape) should be [\(batch), \(s)]")
            masks.append(multiheadMask(keyPaddingMask, batchStride: s, headStride: 0, rowStride: 0))
        }
        if let attentionMask {
            if attentionMask.rank == 2 {
                require(attentionMask.shape == [l, s],
                        "MultiheadAttention: a 2-D attention mask should be [\(l), \(s)], got \(attentionMask.shape)")
                masks.append(multiheadMask(attentionMask, batchStride: 0, headStride: 0, rowStride: s))
            } else {
                require(attentionMask.shape == [batch * self.heads, l, s],
                        "MultiheadAttention: a 3-D attention mask should be [\(batch * self.heads), \(l), \(s)], got \(attentionMask.shape)")
                masks.append(multiheadMask(attentionMask, batchStride: self.heads * l * s, headStride: l * s, rowStride: s))
            }
        }

        let scale = 1 / Double(d).squareRoot()
        let layout = AttentionOutputLayout.mergedHeads(batch: batch, heads: self.heads, length: l, columns: d,
                                                       batchFirst: batchFirst)
        let dropping = isTraining && dropout > 0
        if weights == .none && !dropping {
            // The fused kernel: the weights never become a tensor of the graph.
            let attended = Tensor.attention(query: q, key: k, value: v, batch: batch, heads: self.heads, scale: scale,
                                            masks: masks, causal: causal, layout: layout)
            return (outputProjection(attended), nil)
        }
        var probabilities = Tensor.attentionProbabilities(query: q, key: k, batch: batch, heads: self.heads,
                                                          scale: scale, masks: masks, causal: causal)
        if dropping {
            probabilities = LuzNN.dropout(probabilities, probability: dropout, training: true, generator: generator)
        }
        let output = outputProjection(Tensor.attentionValues(probabilities, value: v, layout: layout))
        switch weights {
        case .none: return (output, nil)
        case .averaged: return (output, probabilities.mean(dim: 1))
        case .perHead: return (output, probabilities)
        }
    }

    /// A key-padding or attention mask with torch's `nn.MultiheadAttention` meaning.
    private func multiheadMask(_ mask: Tensor, batchStride: Int, headStride: Int, rowStride: Int) -> AttentionMask {
        require(mask.dtype == .bool || mask.dtype.isFloatingPoint,
                "MultiheadAttention: masks must be bool or floating point, got \(mask.dtype)")
        return AttentionMask(withNoGrad { mask.detached() }, meaning: mask.dtype == .bool ? .trueHides : .additive,
                             batchStride: batchStride, headStride: headStride, rowStride: rowStride, columnStride: 1)
    }

    /// Reads torch's separate projections (`q_proj_weight`, `k_proj_weight`, `v_proj_weight`,
    /// as a layer whose key or value width differs from E saves them, or as another library
    /// stores them) into this layer's packed `in_proj_weight` when it has one.
    public override func adaptIncomingState(_ state: inout StateDict, prefix: String) {
        guard inputProjectionWeight != nil, state[prefix + "in_proj_weight"] == nil,
              let query = state[prefix + "q_proj_weight"], let key = state[prefix + "k_proj_weight"],
              let value = state[prefix + "v_proj_weight"] else { return }
        state[prefix + "in_proj_weight"] = Tensor.cat([query, key, value], dim: 0)
        for name in ["q_proj_weight", "k_proj_weight", "v_proj_weight"] { state[prefix + name] = nil }
    }

    public override var ownGenerators: [(name: String, generator: Generator)] {
        generator.map { [("generator", $0)] } ?? []
    }

    public override var configurationDescription: String {
        var parts = ["embedDimension: \(embedDimension)", "heads: \(heads)"]
        if dropout > 0 { parts.append("dropout: \(dropout)") }
        if keyDimension != embedDimension { parts.append("keyDimension: \(keyDimension)") }
        if valueDimension != embedDimension { parts.append("valueDimension: \(valueDimension)") }
        parts.append("batchFirst: \(batchFirst)")
        return parts.joined(separator: ", ")
    }
}

/// torch's key-padding mask (bool, `true` = ignore the key) from either convention: torch's
/// `keyPaddingMask` itself, or Hugging Face's `attendedKeys` (its `attention_mask`: 1 for keys
/// to attend, 0 for padding, int, float or bool).
///
/// The two conventions are opposite, so a mix-up must not pass silently: a floating-point
/// `keyPaddingMask` of only zeros and ones (torch would add it to the scores, masking nothing)
/// is refused as the Hugging Face mask it almost surely is.
func resolvedKeyPaddingMask(_ keyPaddingMask: Tensor?, attendedKeys: Tensor?, op: String) -> Tensor? {
    require(keyPaddingMask == nil || attendedKeys == nil,
            "\(op): pass keyPaddingMask (torch's: true = padding) or attendedKeys (Hugging Face's attention_mask: 1 = attend), not both")
    if let attendedKeys {
        let values = attendedKeys.dtype == .bool ? attendedKeys.to(.int64) : attendedKeys
        let zeros = values .== 0
        require((zeros.logicalOr(values .== 1)).to(.int64).min().item == 1,
                "\(op): attendedKeys (Hugging Face's attention_mask) must hold only 1 (attend) and 0 (padding)")
        return zeros
    }
    if let mask = keyPaddingMask, mask.dtype.isFloatingPoint, mask.count > 0 {
        let binary = ((mask .== 0).logicalOr(mask .== 1)).to(.int64).min().item == 1
        require(!binary || (mask .== 1).to(.int64).max().item == 0,
                "\(op): this floating-point keyPaddingMask holds only 0 and 1, which is Hugging Face's attention_mask (1 = attend): pass it as attendedKeys, or pass torch's bool mask (true = padding); a float keyPaddingMask is added to the scores (-inf hides a key)")
    }
    return keyPaddingMask
}
