import Foundation

extension Tensor: CustomStringConvertible, CustomDebugStringConvertible {
    /// The values laid out like PyTorch prints them (nested brackets, aligned columns, the middle
    /// elided with `...` for large tensors), followed by the shape and element type.
    public var description: String {
        let values = doubles
        // A shape like [2⁴⁰, 0] holds nothing but would still take 2⁴⁰ turns to print in full.
        let elide = count > 1000 || shape.contains { $0 > 1000 }
        let formatted = Tensor.formatter(for: values, dtype: dtype)
        var width = 0
        for v in values { width = Swift.max(width, formatted(v).count) }
        func pad(_ s: String) -> String { String(repeating: " ", count: Swift.max(0, width - s.count)) + s }

        var strides = [Int](repeating: 1, count: rank)
        // Wrapping: with a zero dimension (count 0) the products may overflow but are never used.
        for i in stride(from: rank - 2, through: 0, by: -1) { strides[i] = strides[i + 1] &* shape[i + 1] }
        let prefix = "tensor("
        func render(dim: Int, base: Int, indent: Int) -> String {
            if dim == rank { return pad(formatted(values[base])) }
            let n = shape[dim]
            var parts: [String] = []
            let shown: [Int?] = (elide && n > 6) ? [0, 1, 2, nil, n - 3, n - 2, n - 1] : (0..<n).map { $0 }
            for i in shown {
                if let i { parts.append(render(dim: dim + 1, base: base + i * strides[dim], indent: indent + 1)) }
                else { parts.append("...") }
            }
            if dim == rank - 1 { return "[" + parts.joined(separator: ", ") + "]" }
            let separator = "," + String(repeating: "\n", count: rank - dim - 1) + String(repeating: " ", count: indent + 1)
            return "[" + parts.joined(separator: separator) + "]"
        }
        let body = rank == 0 ? formatted(values.first ?? 0) : render(dim: 0, base: 0, indent: prefix.count)
        var suffix = ", shape: \(describe(shape)), dtype: \(dtype)"
        if let node { suffix += ", gradFn: \(node.op)" } else if requiresGrad { suffix += ", requiresGrad: true" }
        return prefix + body + suffix + ")"
    }

    public var debugDescription: String { description }

    /// A formatter that prints every value of a tensor the same way, like torch: whole floats as
    /// `1.`, otherwise four decimals, or scientific notation for very large or small magnitudes.
    private static func formatter(for values: [Double], dtype: DType) -> (Double) -> String {
        switch dtype {
        case .bool: return { $0 != 0 ? "true" : "false" }
        // The values arrive as doubles: Int64.max becomes 2⁶³, which `Int64(_:)` would trap on.
        case .int64: return { Int64(exactly: $0).map(String.init) ?? String(format: "%.0f", $0) }
        default: break
        }
        let finite = values.filter { $0.isFinite }
        let maxMagnitude = finite.map { Swift.abs($0) }.max() ?? 0
        let minMagnitude = finite.filter { $0 != 0 }.map { Swift.abs($0) }.min() ?? 0
        let allWhole = finite.allSatisfy { $0 == $0.rounded() }
        func special(_ v: Double) -> String? {
            if v.isNaN { return "nan" }
            if v.isInfinite { return v > 0 ? "inf" : "-inf" }
            return nil
        }
        if maxMagnitude >= 1e8 || (minMagnitude > 0 && minMagnitude < 1e-4) {
            return { v in special(v) ?? String(format: "%.4e", v) }
        }
        if allWhole {
            return { v in special(v) ?? (String(format: "%.0f", v) + ".") }
        }
        return { v in special(v) ?? String(format: "%.4f", v) }
    }
}
