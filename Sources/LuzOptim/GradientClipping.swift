import Foundation
import LuzSerialization
import LuzTensor

/// Scales the gradients of `parameters` together so that their combined norm is at most
/// `maximumNorm` (torch's `clip_grad_norm_`): if the norm ‖g‖ exceeds it, every gradient is
/// multiplied by maximumNorm / (‖g‖ + 1e-6).
///
/// - Parameters:
///   - normType: the p of the p-norm over all gradient elements (2); `.infinity` for the
///     largest absolute value.
/// - Returns: the total norm before clipping (for logging; torch returns it too).
@discardableResult
public func clipGradientNorm(_ parameters: [Tensor], maximumNorm: Double, normType: Double = 2) -> Double {
    require(normType > 0, "clipGradientNorm: normType must be positive, got \(normType)")
    let gradients = parameters.compactMap(\.grad)
    if gradients.isEmpty { return 0 }
    var total = 0.0
    for gradient in gradients {
        for value in gradient.doubles {
            if normType == .infinity {
                total = Swift.max(total, Swift.abs(value))
            } else if normType == 2 {
                total += value * value
            } else {
                total += pow(Swift.abs(value), normType)
            }
        }
    }
    if normType != .infinity { total = normType == 2 ? total.squareRoot() : pow(total, 1 / normType) }
    let coefficient = maximumNorm / (total + 1e-6)
    if coefficient < 1 {
        withNoGrad {
            for gradient in gradients { gradient.multiplyInPlace(Tensor.full([], value: coefficient, dtype: gradient.dtype)) }
        }
    }
    return total
}

/// Limits every gradient element of `parameters` to [−maximumValue, maximumValue] in place
/// (torch's `clip_grad_value_`).
public func clipGradientValue(_ parameters: [Tensor], maximumValue: Double) {
    require(maximumValue >= 0, "clipGradientValue: maximumValue must be non-negative, got \(maximumValue)")
    withNoGrad {
        for parameter in parameters {
            guard let gradient = parameter.grad else { continue }
            gradient.copy(from: gradient.clamped(min: -maximumValue, max: maximumValue))
        }
    }
}
