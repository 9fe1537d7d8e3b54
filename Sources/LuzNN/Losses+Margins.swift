import LuzTensor

// Losses on pairs and triplets of embeddings, and the multi-label losses. The pair and
// triplet losses take three tensors, so their values are not ``Loss``es.

/// The cosine embedding loss (torch's `cosine_embedding_loss`): with c the cosine similarity
/// of `x1` and `x2` along the last dimension, 1 − c where the target is 1 and max(0, c − margin)
/// where it is −1 (0 for any other target, as in torch).
///
/// The similarity is torch's x1·x2 / √((‖x1‖² + 1e-12)·(‖x2‖² + 1e-12)), finite for a zero vector.
///
/// - Parameters:
///   - x1: `[N, D]` or `[D]`.
///   - x2: the shape of `x1`.
///   - target: `[N]` (or a scalar for `[D]` inputs) of 1 and −1.
///   - margin: torch's 0; values in [−1, 1] make sense, [0, 0.5] is suggested.
public func cosineEmbeddingLoss(_ x1: Tensor, _ x2: Tensor, _ target: Tensor, margin: Double = 0,
                                reduction: Reduction = .mean) -> Tensor {
    checkSameShape(x1, x2, "cosineEmbeddingLoss")
    require(x1.rank == 1 || x1.rank == 2, "cosineEmbeddingLoss: inputs must be [N, D] or [D], got \(x1.shape)")
    require(target.shape == Array(x1.shape.dropLast()),
            "cosineEmbeddingLoss: target shape \(target.shape) must be the inputs' shape \(x1.shape) without the last dimension")
    let epsilon = 1e-12
    let product = (x1 * x2).sum(dim: -1)
    let squared1 = (x1 * x1).sum(dim: -1) + epsilon
    let squared2 = (x2 * x2).sum(dim: -1) + epsilon
    let cosine = product / (squared1 * squared2).sqrt()
    let zero = scalar(0, like: cosine)
    let (isPositive, isNegative) = withNoGrad { (target .== 1, target .== -1) }
    let loss = Tensor.where(isPositive, 1 - cosine, zero)
        + Tensor.where(isNegative, (cosine - margin).clamped(min: 0), zero)
    return reduce(loss, reduction)
}

/// The margin ranking loss (torch's `margin_ranking_loss`): max(0, −y·(x1 − x2) + margin),
/// for a target y = 1 when `x1` should rank higher and −1 when `x2` should.
///
/// - Parameter margin: torch's 0.
public func marginRankingLoss(_ x1: Tensor, _ x2: Tensor, _ target: Tensor, margin: Double = 0,
                              reduction: Reduction = .mean) -> Tensor {
    checkSameShape(x1, x2, "marginRankingLoss")
    checkSameShape(x1, target, "marginRankingLoss")
    return reduce((-target * (x1 - x2) + margin).clamped(min: 0), reduction)
}

/// The triplet margin loss (torch's `triplet_margin_loss`): max(d(a, p) − d(a, n) + margin, 0)
/// with d(u, v) = ‖u − v + eps‖ₚ along the last dimension (torch's `pairwise_distance`). With
/// `swap`, d(a, n) is replaced by min(d(a, n), d(p, n)) (Balntas et al.).
///
/// - Parameters:
///   - anchor: `[N, D]` or `[D]`.
///   - positive: the anchor's shape.
///   - negative: the anchor's shape.
///   - margin: torch's 1.
///   - p: the norm's order (torch's 2).
///   - eps: added to the differences, so the distance's gradient is finite (torch's 1e-6).
///   - swap: use the harder of the two negative distances (torch's false).
public func tripletMarginLoss(_ anchor: Tensor, _ positive: Tensor, _ negative: Tensor, margin: Double = 1,
                              p: Double = 2, eps: Double = 1e-6, swap: Bool = false,
                              reduction: Reduction = .mean) -> Tensor {
    checkSameShape(anchor, positive, "tripletMarginLoss")
    checkSameShape(anchor, negative, "tripletMarginLoss")
    require(anchor.rank == 1 || anchor.rank == 2, "tripletMarginLoss: inputs must be [N, D] or [D], got \(anchor.shape)")
    require(margin > 0, "tripletMarginLoss: margin must be positive, got \(margin)")
    func distance(_ u: Tensor, _ v: Tensor) -> Tensor { (u - v + eps).norm(p: p, dims: [-1]) }
    let positiveDistance = distance(anchor, positive)
    var negativeDistance = distance(anchor, negative)
    if swap { negativeDistance = negativeDistance.minimum(distance(positive, negative)) }
    return reduce((positiveDistance - negativeDistance + margin).clamped(min: 0), reduction)
}

/// The multi-label soft margin loss (torch's `multilabel_soft_margin_loss`): per example, the
/// mean over the C classes of −w·(y·log σ(x) + (1 − y)·log σ(−x)), for targets in {0, 1}.
///
/// - Parameters:
///   - input: `[N, C]` (or `[C]`) logits.
///   - target: the input's shape.
///   - weight: per-class weights, broadcast against the input.
///   - reduction: over the N per-example losses.
public func multilabelSoftMarginLoss(_ input: Tensor, _ target: Tensor, weight: Tensor? = nil,
                                     reduction: Reduction = .mean) -> Tensor {
    checkSameShape(input, target, "multilabelSoftMarginLoss")
    require(input.rank >= 1, "multilabelSoftMarginLoss: input needs a class dimension, got a scalar")
    var loss = -(target * logSigmoid(input) + (1 - target) * logSigmoid(-input))
    if let weight { loss = loss * weight }
    return reduce(loss.mean(dim: -1), reduction)
}

/// torchvision's `sigmoid_focal_loss` (Lin et al., RetinaNet): the binary cross-entropy of
/// the logits, scaled by (1 − pₜ)^γ to down-weight easy examples and by αₜ to balance the
/// classes, where pₜ = σ(x) for y = 1 and 1 − σ(x) for y = 0, and αₜ = α·y + (1 − α)·(1 − y).
///
/// Its defaults are torchvision's: α = 0.25, γ = 2 and no reduction.
///
/// - Parameters:
///   - input: logits.
///   - target: the input's shape, values in [0, 1].
///   - alpha: the weight of the positive class, in [0, 1]; a negative value disables it.
///   - gamma: the focusing exponent γ ≥ 0 (0 gives the weighted cross-entropy).
public func sigmoidFocalLoss(_ input: Tensor, _ target: Tensor, alpha: Double = 0.25, gamma: Double = 2,
                             reduction: Reduction = .none) -> Tensor {
    checkSameShape(input, target, "sigmoidFocalLoss")
    require(gamma >= 0, "sigmoidFocalLoss: gamma must be non-negative, got \(gamma)")
    let probability = input.sigmoid()
    let crossEntropy = binaryCrossEntropyWithLogits(input, target, reduction: .none)
    let probabilityOfTruth = probability * target + (1 - probability) * (1 - target)
    var loss = gamma == 0 ? crossEntropy : crossEntropy * (1 - probabilityOfTruth).pow(gamma)
    if alpha >= 0 { loss = (alpha * target + (1 - alpha) * (1 - target)) * loss }
    return reduce(loss, reduction)
}

// MARK: - Loss values

/// ``cosineEmbeddingLoss(_:_:_:margin:reduction:)`` as a value (torch's `nn.CosineEmbeddingLoss`).
public struct CosineEmbeddingLoss {
    /// The similarity below which a dissimilar pair costs nothing (torch's 0).
    public var margin: Double
    /// How the per-pair losses are combined.
    public var reduction: Reduction
    /// Creates the loss with torch's defaults.
    public init(margin: Double = 0, reduction: Reduction = .mean) {
        self.margin = margin
        self.reduction = reduction
    }
    /// The loss of the pairs (`x1`, `x2`) labelled 1 (similar) or −1 (dissimilar) by `target`.
    public func callAsFunction(_ x1: Tensor, _ x2: Tensor, _ target: Tensor) -> Tensor {
        cosineEmbeddingLoss(x1, x2, target, margin: margin, reduction: reduction)
    }
}

/// ``marginRankingLoss(_:_:_:margin:reduction:)`` as a value (torch's `nn.MarginRankingLoss`).
public struct MarginRankingLoss {
    /// By how much the right order must win (torch's 0).
    public var margin: Double
    /// How the per-pair losses are combined.
    public var reduction: Reduction
    /// Creates the loss with torch's defaults.
    public init(margin: Double = 0, reduction: Reduction = .mean) {
        self.margin = margin
        self.reduction = reduction
    }
    /// The loss of the scores `x1`, `x2` against the order `target` (1: `x1` first, −1: `x2`).
    public func callAsFunction(_ x1: Tensor, _ x2: Tensor, _ target: Tensor) -> Tensor {
        marginRankingLoss(x1, x2, target, margin: margin, reduction: reduction)
    }
}

/// ``tripletMarginLoss(_:_:_:margin:p:eps:swap:reduction:)`` as a value (torch's
/// `nn.TripletMarginLoss`).
public struct TripletMarginLoss {
    /// By how much the negative must be farther than the positive (torch's 1).
    public var margin: Double
    /// The norm's order (torch's 2).
    public var p: Double
    /// Added to the differences (torch's 1e-6).
    public var eps: Double
    /// Whether to use the harder of the two negative distances (torch's false).
    public var swap: Bool
    /// How the per-triplet losses are combined.
    public var reduction: Reduction
    /// Creates the loss with torch's defaults.
    public init(margin: Double = 1, p: Double = 2, eps: Double = 1e-6, swap: Bool = false,
                reduction: Reduction = .mean) {
        self.margin = margin
        self.p = p
        self.eps = eps
        self.swap = swap
        self.reduction = reduction
    }
    /// The loss of the triplets (`anchor`, `positive`, `negative`).
    public func callAsFunction(_ anchor: Tensor, _ positive: Tensor, _ negative: Tensor) -> Tensor {
        tripletMarginLoss(anchor, positive, negative, margin: margin, p: p, eps: eps, swap: swap, reduction: reduction)
    }
}

/// ``multilabelSoftMarginLoss(_:_:weight:reduction:)`` as a value (torch's
/// `nn.MultiLabelSoftMarginLoss`).
public struct MultiLabelSoftMarginLoss: Loss {
    /// Per-class weights, or `nil`.
    public var weight: Tensor?
    /// How the per-example losses are combined.
    public var reduction: Reduction
    /// Creates the loss.
    public init(weight: Tensor? = nil, reduction: Reduction = .mean) {
        self.weight = weight
        self.reduction = reduction
    }
    /// The loss of the logits `prediction` against the 0/1 labels `target`.
    public func callAsFunction(_ prediction: Tensor, _ target: Tensor) -> Tensor {
        multilabelSoftMarginLoss(prediction, target, weight: weight, reduction: reduction)
    }
}

/// ``sigmoidFocalLoss(_:_:alpha:gamma:reduction:)`` as a value, with torchvision's defaults
/// (α = 0.25, γ = 2, no reduction: a training loop wants ``Reduction/mean`` or
/// ``Reduction/sum``).
public struct SigmoidFocalLoss: Loss {
    /// The weight of the positive class; negative disables it (torchvision's 0.25).
    public var alpha: Double
    /// The focusing exponent (torchvision's 2).
    public var gamma: Double
    /// How the per-element losses are combined (torchvision's none).
    public var reduction: Reduction
    /// Creates the loss with torchvision's defaults.
    public init(alpha: Double = 0.25, gamma: Double = 2, reduction: Reduction = .none) {
        self.alpha = alpha
        self.gamma = gamma
        self.reduction = reduction
    }
    /// The loss of the logits `prediction` against `target`.
    public func callAsFunction(_ prediction: Tensor, _ target: Tensor) -> Tensor {
        sigmoidFocalLoss(prediction, target, alpha: alpha, gamma: gamma, reduction: reduction)
    }
}
