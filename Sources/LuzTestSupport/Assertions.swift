import LuzTensor
import Testing

/// Records a test issue unless `actual` and `expected` have the same shape and every element
/// satisfies `|actual − expected| ≤ atol + rtol·|expected|`. The failure message shows both
/// shapes, the worst element and (for small tensors) all values.
@discardableResult
public func assertClose(_ actual: Tensor, _ expected: Tensor, rtol: Double = 1e-5, atol: Double = 1e-6,
                        _ comment: String = "", sourceLocation: SourceLocation = #_sourceLocation) -> Bool {
    guard actual.shape == expected.shape else {
        Issue.record("\(comment) shapes differ: \(actual.shape) vs expected \(expected.shape)",
                     sourceLocation: sourceLocation)
        return false
    }
    let a = actual.doubles, e = expected.doubles
    var worst = -1
    var worstExcess = 0.0
    for i in 0..<a.count {
        if a[i].isNaN != e[i].isNaN {
            worst = i
            worstExcess = .infinity
            break
        }
        if a[i].isNaN || a[i] == e[i] { continue }
        let excess = Swift.abs(a[i] - e[i]) - (atol + rtol * Swift.abs(e[i]))
        if excess > worstExcess { worstExcess = excess; worst = i }
    }
    if worst >= 0 {
        var message = "\(comment) not close at flat index \(worst): \(a[worst]) vs expected \(e[worst]) (shape \(actual.shape), rtol \(rtol), atol \(atol))"
        if a.count <= 64 { message += "\nactual:   \(a)\nexpected: \(e)" }
        Issue.record(Comment(rawValue: message), sourceLocation: sourceLocation)
        return false
    }
    return true
}

/// `assertClose` against Swift values in the tensor's shape.
@discardableResult
public func assertClose(_ actual: Tensor, _ expected: [Double], rtol: Double = 1e-5, atol: Double = 1e-6,
                        _ comment: String = "", sourceLocation: SourceLocation = #_sourceLocation) -> Bool {
    guard expected.count == actual.count else {
        Issue.record("\(comment) \(actual.count) values (shape \(actual.shape)) vs \(expected.count) expected",
                     sourceLocation: sourceLocation)
        return false
    }
    return assertClose(actual, Tensor(expected, shape: actual.shape), rtol: rtol, atol: atol, comment,
                       sourceLocation: sourceLocation)
}

/// Compares the gradients autograd computes for `function` with central finite differences,
/// torch's `gradcheck`: every input must be float64 and require grad.
///
/// The output is reduced to a scalar by a fixed random projection, so every output element's
/// gradient path is exercised, and each input element is perturbed by ±`eps`.
@discardableResult
public func checkGradients(_ inputs: [Tensor], eps: Double = 1e-6, rtol: Double = 1e-4, atol: Double = 1e-6,
                           _ comment: String = "", sourceLocation: SourceLocation = #_sourceLocation,
                           _ function: ([Tensor]) -> Tensor) -> Bool {
    for (i, input) in inputs.enumerated() {
        require(input.dtype == .float64, "checkGradients: input \(i) must be float64, got \(input.dtype)")
    }
    let probe = withNoGrad { function(inputs) }
    let projection = Tensor.uniform(probe.shape, low: 0.5, high: 1.5, dtype: .float64,
                                    generator: Generator(seed: 1234))
    func objective() -> Double {
        withNoGrad { (function(inputs).to(.float64) * projection).sum().item }
    }
    for input in inputs where input.requiresGrad { input.grad = nil }
    let loss = (function(inputs).to(.float64) * projection).sum()
    loss.backward()
    var ok = true
    for (index, input) in inputs.enumerated() where input.requiresGrad {
        let analytic = input.grad ?? Tensor.zeros(like: input)
        var numeric = [Double](repeating: 0, count: input.count)
        input.withUnsafeMutableBufferPointer(as: Double.self) { values in
            for j in 0..<values.count {
                let saved = values[j]
                values[j] = saved + eps
                let plus = objective()
                values[j] = saved - eps
                let minus = objective()
                values[j] = saved
                numeric[j] = (plus - minus) / (2 * eps)
            }
        }
        ok = assertClose(analytic, Tensor(numeric, shape: input.shape), rtol: rtol, atol: atol,
                         "\(comment) gradient of input \(index)", sourceLocation: sourceLocation) && ok
    }
    return ok
}

/// A float64 tensor of uniform values in `range` that requires grad, from a fixed seed.
public func gradInput(_ shape: [Int], in range: ClosedRange<Double> = -1...1, seed: UInt64 = 7) -> Tensor {
    Tensor.uniform(shape, low: range.lowerBound, high: range.upperBound, dtype: .float64,
                   generator: Generator(seed: seed), requiresGrad: true)
}
