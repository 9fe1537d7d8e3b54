import LuzTensor

// Activations composed from differentiable Tensor ops (torch.nn.functional). The trap they
// share: an exponential branch that `where` discards still takes part in the backward pass,
// and 0·∞ is NaN, so each exponential is taken of the input clamped to the side where it is
// used (exp(min(x, 0)) cannot overflow).

/// SiLU (swish), x·σ(x) (torch's `F.silu`).
public func silu(_ x: Tensor) -> Tensor { x * x.sigmoid() }

/// ELU (torch's `F.elu`): x for x > 0 and α·(eˣ − 1) otherwise; torch's default α is 1.
public func elu(_ x: Tensor, alpha: Double = 1) -> Tensor {
    let positive = withNoGrad { x .> 0 }
    return Tensor.where(positive, x, alpha * x.clamped(max: 0).expm1())
}

/// SELU (torch's `F.selu`): scale·elu(x, α) with the constants of Klambauer et al.,
/// α ≈ 1.6733 and scale ≈ 1.0507, which keep activations at zero mean and unit variance.
public func selu(_ x: Tensor) -> Tensor {
    seluScale * elu(x, alpha: seluAlpha)
}

let seluAlpha = 1.6732632423543772848170429916717
let seluScale = 1.0507009873554804934193349852946

/// CELU (torch's `F.celu`): max(0, x) + min(0, α·(e^(x/α) − 1)); torch's default α is 1.
///
/// - Parameter alpha: α, nonzero.
public func celu(_ x: Tensor, alpha: Double = 1) -> Tensor {
    require(alpha != 0, "celu: alpha must be nonzero")
    let positive = withNoGrad { x .> 0 }
    return Tensor.where(positive, x, alpha * (x.clamped(max: 0) / alpha).expm1())
}

/// Mish, x·tanh(softplus(x)) (torch's `F.mish`).
public func mish(_ x: Tensor) -> Tensor { x * x.softplus().tanh() }

/// Hardtanh (torch's `F.hardtanh`): x clamped to [`minValue`, `maxValue`], torch's −1 and 1.
///
/// At exactly a bound the gradient is passed (see ``Tensor/clamped(min:max:)``); torch passes
/// none there.
public func hardtanh(_ x: Tensor, minValue: Double = -1, maxValue: Double = 1) -> Tensor {
    require(maxValue > minValue, "hardtanh: maxValue \(maxValue) must exceed minValue \(minValue)")
    return x.clamped(min: minValue, max: maxValue)
}

/// Hardsigmoid (torch's `F.hardsigmoid`): relu6(x + 3) / 6, that is 0 below −3, 1 above 3 and
/// x/6 + 1/2 between.
public func hardsigmoid(_ x: Tensor) -> Tensor { (x + 3).clamped(min: 0, max: 6) / 6 }

/// Hardswish (torch's `F.hardswish`): x·relu6(x + 3) / 6.
public func hardswish(_ x: Tensor) -> Tensor { x * hardsigmoid(x) }

/// log σ(x) = −softplus(−x), computed without overflow (torch's `F.logsigmoid`).
public func logSigmoid(_ x: Tensor) -> Tensor { -(-x).softplus() }

/// Softsign, x / (1 + |x|) (torch's `F.softsign`).
public func softsign(_ x: Tensor) -> Tensor { x / (x.abs() + 1) }

/// PReLU (torch's `F.prelu`): x for x > 0 and a·x otherwise, with a learned slope `a`.
///
/// - Parameters:
///   - x: the input; with more than one slope, its dimension 1 holds the channels.
///   - weight: the slopes: one element shared by all channels, or one per channel.
public func prelu(_ x: Tensor, weight: Tensor) -> Tensor {
    var slope = weight
    if weight.count != 1 {
        require(weight.rank == 1, "prelu: weight must be one-dimensional, got shape \(weight.shape)")
        require(x.rank >= 2 && x.shape[1] == weight.count,
                "prelu: \(weight.count) slopes need the input's dimension 1 to hold as many channels, got shape \(x.shape)")
        slope = weight.reshaped([weight.count] + Array(repeating: 1, count: x.rank - 2))
    } else if weight.rank > 0 {
        slope = weight.reshaped([])
    }
    let positive = withNoGrad { x .> 0 }
    return Tensor.where(positive, x, slope * x)
}
