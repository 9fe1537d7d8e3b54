import Foundation
import LuzTensor

/// How ``klDivergence(_:_:reduction:logTarget:)`` combines the per-element terms: torch's four
/// choices, of which only ``batchMean`` gives the divergence of each example's distribution
/// averaged over the batch.
public enum KLDivReduction: Sendable {
    /// The mean over every element (torch's default `'mean'`, kept for compatibility; it divides
    /// by the number of classes too, so it is not the KL divergence).
    case mean
    /// The sum divided by the size of dimension 0 (torch's `'batchmean'`): the mathematical
    /// KL divergence per example.
    case batchMean
    /// The sum.
    case sum
    /// No reduction: one term per element.
    case none
}

/// The Kullback–Leibler divergence loss (torch's `kl_div`), with the input as
/// log-probabilities: y·(log y − x) per element, 0 where y = 0 (torch's `xlogy`), or, with
/// `logTarget`, e^y·(y − x) for a target given as log-probabilities.
///
/// - Parameters:
///   - input: log-probabilities log q.
///   - target: probabilities p (log-probabilities with `logTarget`), the input's shape.
///   - reduction: torch's default is ``KLDivReduction/mean``; ``KLDivReduction/batchMean`` is
///     the divergence.
///   - logTarget: whether `target` holds log-probabilities (torch's `log_target`, false).
public func klDivergence(_ input: Tensor, _ target: Tensor, reduction: KLDivReduction = .mean,
                         logTarget: Bool = false) -> Tensor {
    checkSameShape(input, target, "klDivergence")
    let loss: Tensor
    if logTarget {
        loss = target.exp() * (target - input)
    } else {
        // y·log y with 0 at y = 0; there the log is taken of 1 instead, so that neither the
        // value nor the gradient of the discarded branch is −∞ or NaN. A negative target gives
        // NaN, as torch's `xlogy` does.
        let nonzero = withNoGrad { target .!= 0 }
        let safe = Tensor.where(nonzero, target, scalar(1, like: target))
        loss = Tensor.where(nonzero, target * safe.log(), scalar(0, like: target)) - target * input
    }
    switch reduction {
    case .mean: return loss.mean()
    case .batchMean: return loss.sum() / Double(input.rank == 0 ? 1 : Swift.max(input.shape[0], 1))
    case .sum: return loss.sum()
    case .none: return loss
    }
}

/// The negative log-likelihood of a target under a Poisson distribution (torch's
/// `poisson_nll_loss`): eˣ − y·x when the input is the log-rate (`logInput`, torch's default)
/// and x − y·log(x + eps) when it is the rate. With `full`, Stirling's approximation of
/// log(y!), y·log y − y + ½·log(2π·y), is added where y > 1 (as in torch).
///
/// - Parameters:
///   - logInput: whether `input` is the log of the rate (torch's `log_input`, true).
///   - full: whether to add the Stirling term (torch's false).
///   - eps: kept off log(0) when the input is the rate (torch's 1e-8).
public func poissonNLLLoss(_ input: Tensor, _ target: Tensor, logInput: Bool = true, full: Bool = false,
                           eps: Double = 1e-8, reduction: Reduction = .mean) -> Tensor {
    checkSameShape(input, target, "poissonNLLLoss")
    var loss = logInput ? input.exp() - target * input : input - target * (input + eps).log()
    if full {
        let large = withNoGrad { target .> 1 }
        let safe = Tensor.where(large, target, scalar(1, like: target))
        let logFactorial = safe * safe.log() - safe
        let stirling = logFactorial + ((2 * Double.pi) * safe).log() * 0.5
        loss = loss + Tensor.where(large, stirling, scalar(0, like: target))
    }
    return reduce(loss, reduction)
}

/// The negative log-likelihood of a target under a Gaussian with predicted mean and variance
/// (torch's `gaussian_nll_loss`): ½·(log max(σ², eps) + (x − y)² / max(σ², eps)), plus
/// ½·log(2π) with `full`.
///
/// As in torch the clamp to `eps` is not differentiated: the gradient with respect to the
/// variance is that of the unclamped formula evaluated at the clamped value.
///
/// - Parameters:
///   - input: the predicted means.
///   - target: the targets, the input's shape.
///   - variance: the predicted variances: the input's shape, that shape with the last
///     dimension 1, or that shape without its last dimension (one variance per example).
///   - full: whether to add the constant ½·log(2π) (torch's false).
///   - eps: the smallest variance used (torch's 1e-6).
public func gaussianNLLLoss(_ input: Tensor, _ target: Tensor, variance: Tensor, full: Bool = false,
                            eps: Double = 1e-6, reduction: Reduction = .mean) -> Tensor {
    checkSameShape(input, target, "gaussianNLLLoss")
    var variance = variance
    if variance.shape != input.shape {
        if input.rank >= 1, variance.shape == Array(input.shape.dropLast()) {
            variance = variance.unsqueezed(dim: -1)
        }
        require(variance.shape == input.shape
                    || (input.rank >= 1 && variance.shape == Array(input.shape.dropLast()) + [1]),
                "gaussianNLLLoss: variance shape \(variance.shape) fits neither the input shape \(input.shape), nor it with a last dimension of 1 or without its last dimension")
    }
    require(withNoGrad { (variance .< 0).to(.float64).sum().item } == 0,
            "gaussianNLLLoss: variance has negative entries")
    let clamped = variance + withNoGrad { variance.clamped(min: eps) - variance }
    let difference = input - target
    var loss = 0.5 * (clamped.log() + difference * difference / clamped)
    if full { loss = loss + 0.5 * Foundation.log(2 * Double.pi) }
    return reduce(loss, reduction)
}

// MARK: - Loss values

/// ``klDivergence(_:_:reduction:logTarget:)`` as a value (torch's `nn.KLDivLoss`).
public struct KLDivLoss: Loss {
    /// How the terms are combined (torch's `'mean'`; ``KLDivReduction/batchMean`` is the divergence).
    public var reduction: KLDivReduction
    /// Whether the target holds log-probabilities (torch's false).
    public var logTarget: Bool
    /// Creates the loss.
    public init(reduction: KLDivReduction = .mean, logTarget: Bool = false) {
        self.reduction = reduction
        self.logTarget = logTarget
    }
    /// The loss of log-probabilities `prediction` against `target`.
    public func callAsFunction(_ prediction: Tensor, _ target: Tensor) -> Tensor {
        klDivergence(prediction, target, reduction: reduction, logTarget: logTarget)
    }
}

/// ``poissonNLLLoss(_:_:logInput:full:eps:reduction:)`` as a value (torch's `nn.PoissonNLLLoss`).
public struct PoissonNLLLoss: Loss {
    /// Whether the prediction is the log of the rate (torch's true).
    public var logInput: Bool
    /// Whether to add Stirling's term (torch's false).
    public var full: Bool
    /// Kept off log(0) when the prediction is the rate (torch's 1e-8).
    public var eps: Double
    /// How the per-element losses are combined.
    public var reduction: Reduction
    /// Creates the loss with torch's defaults.
    public init(logInput: Bool = true, full: Bool = false, eps: Double = 1e-8, reduction: Reduction = .mean) {
        self.logInput = logInput
        self.full = full
        self.eps = eps
        self.reduction = reduction
    }
    /// The loss of `prediction` against the counts `target`.
    public func callAsFunction(_ prediction: Tensor, _ target: Tensor) -> Tensor {
        poissonNLLLoss(prediction, target, logInput: logInput, full: full, eps: eps, reduction: reduction)
    }
}

/// ``gaussianNLLLoss(_:_:variance:full:eps:reduction:)`` as a value (torch's
/// `nn.GaussianNLLLoss`). It takes three tensors, so it is not a ``Loss``.
public struct GaussianNLLLoss {
    /// Whether to add the constant ½·log(2π) (torch's false).
    public var full: Bool
    /// The smallest variance used (torch's 1e-6).
    public var eps: Double
    /// How the per-element losses are combined.
    public var reduction: Reduction
    /// Creates the loss with torch's defaults.
    public init(full: Bool = false, eps: Double = 1e-6, reduction: Reduction = .mean) {
        self.full = full
        self.eps = eps
        self.reduction = reduction
    }
    /// The loss of the means `prediction` with variances `variance` against `target`.
    public func callAsFunction(_ prediction: Tensor, _ target: Tensor, variance: Tensor) -> Tensor {
        gaussianNLLLoss(prediction, target, variance: variance, full: full, eps: eps, reduction: reduction)
    }
}
