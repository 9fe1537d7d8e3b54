extension Tensor {
    /// Dropout's kernel: each element is zeroed when a uniform draw from `generator` falls below
    /// `probability`, and scaled by 1 / (1 − `probability`) otherwise, in one pass; the gradient
    /// goes through the same mask. One draw per element, in order, so the result is the same
    /// as multiplying by a mask built from `Tensor.rand(shape, dtype: .float64, generator:)`.
    ///
    /// `probability` must be in [0, 1).
    public func droppingOut(probability: Double, generator: Generator) -> Tensor {
        require(probability >= 0 && probability < 1,
                "dropout: probability \(probability) must be in [0, 1) here")
        require(dtype.isFloatingPoint, "dropout: needs a floating-point tensor, got \(dtype)")
        let out = Tensor.empty(shape, dtype: dtype)
        let keep = Tensor.empty(shape, dtype: .bool)
        let scale = 1 / (1 - probability)
        // The mask as bytes 0/1, so that the loops below multiply rather than branch on a
        // random condition (a mispredicted branch per element costs more than the rest).
        let k = UnsafeMutableRawPointer(keep.pointer(Bool.self)).assumingMemoryBound(to: UInt8.self), n = count
        generator.withStream { stream in
            for i in 0..<n { k[i] = stream.nextUniform() >= probability ? 1 : 0 }
        }
        func forward<T: TensorFloat>(_: T.Type) {
            let x = pointer(T.self), y = out.pointer(T.self)
            let s = T(scale)
            parallelChunks(n) { range in
                for i in range { y[i] = x[i] * (s * T(k[i])) }
            }
        }
        withFloatType(dtype, "dropout", float: { forward(Float.self) }, double: { forward(Double.self) })
        return out.recording("dropout", self) { g, _ in
            let gradient = Tensor.empty(g.shape, dtype: g.dtype)
            func backward<T: TensorFloat>(_: T.Type) {
                let gp = g.pointer(T.self), dst = gradient.pointer(T.self)
                let k = UnsafeRawPointer(keep.pointer(Bool.self)).assumingMemoryBound(to: UInt8.self)
                let s = T(scale)
                parallelChunks(g.count) { range in
                    for i in range { dst[i] = gp[i] * (s * T(k[i])) }
                }
            }
            withFloatType(g.dtype, "dropout", float: { backward(Float.self) }, double: { backward(Double.self) })
            return [gradient]
        }
    }
}
