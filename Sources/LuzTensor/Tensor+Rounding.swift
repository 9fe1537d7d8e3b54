// Rounding, the accurate forms of log(1 + x) and eˣ − 1, reciprocals, and the tests and
// replacements of NaN and infinities.

enum FloorOp: UnaryFloatOp { @inline(__always) static func apply<T: TensorFloat>(_ x: T) -> T { x.rounded(.down) } }
enum CeilOp: UnaryFloatOp { @inline(__always) static func apply<T: TensorFloat>(_ x: T) -> T { x.rounded(.up) } }
enum RoundOp: UnaryFloatOp {
    @inline(__always) static func apply<T: TensorFloat>(_ x: T) -> T { x.rounded(.toNearestOrEven) }
}
enum TruncOp: UnaryFloatOp { @inline(__always) static func apply<T: TensorFloat>(_ x: T) -> T { x.rounded(.towardZero) } }
enum Log1pOp: UnaryFloatOp { @inline(__always) static func apply<T: TensorFloat>(_ x: T) -> T { T.luzLog1p(x) } }
enum Expm1Op: UnaryFloatOp { @inline(__always) static func apply<T: TensorFloat>(_ x: T) -> T { T.luzExpm1(x) } }
enum RsqrtOp: UnaryFloatOp { @inline(__always) static func apply<T: TensorFloat>(_ x: T) -> T { 1 / x.squareRoot() } }
enum ReciprocalOp: UnaryFloatOp { @inline(__always) static func apply<T: TensorFloat>(_ x: T) -> T { 1 / x } }

extension Tensor {
    // MARK: - Rounding

    /// A rounding of every element by `Op`, with torch's zero gradient (the function is a step);
    /// integer and bool tensors are already whole and come back as a copy of their own type.
    private func roundedElements<Op: UnaryFloatOp>(_: Op.Type, op: String) -> Tensor {
        guard dtype.isFloatingPoint else { return contiguousCopy() }
        return floatUnary(Op.self, op: op).recording(op, self) { g, _ in [Tensor.zeros(g.shape, dtype: g.dtype)] }
    }

    /// Elementwise ⌊x⌋, the largest whole number not above x (torch's `floor`). The gradient is
    /// 0 (torch's choice: the function is flat between the steps).
    public func floor() -> Tensor { roundedElements(FloorOp.self, op: "floor") }

    /// Elementwise ⌈x⌉, the smallest whole number not below x (torch's `ceil`); gradient 0.
    public func ceil() -> Tensor { roundedElements(CeilOp.self, op: "ceil") }

    /// Elementwise rounding to the nearest whole number, halves to the even neighbour
    /// (torch's `round`: 0.5 → 0, 1.5 → 2, −2.5 → −2); gradient 0.
    public func rounded() -> Tensor { roundedElements(RoundOp.self, op: "round") }

    /// Elementwise rounding toward zero, dropping the fractional part (torch's `trunc`);
    /// gradient 0.
    public func truncated() -> Tensor { roundedElements(TruncOp.self, op: "trunc") }

    // MARK: - Accurate logarithm and exponential near zero, reciprocals

    /// Elementwise log(1 + x), accurate for small x where `(1 + x).log()` loses the digits of x
    /// (torch's `log1p`). The gradient is 1 / (1 + x).
    public func log1p() -> Tensor {
        floatUnary(Log1pOp.self, op: "log1p").recording("log1p", self, saving: [self]) { [self] g, _ in [g / (self + 1)] }
    }

    /// Elementwise eˣ − 1, accurate for small x (torch's `expm1`). The gradient is eˣ = y + 1.
    public func expm1() -> Tensor {
        let y = floatUnary(Expm1Op.self, op: "expm1")
        return y.recording("expm1", self, saving: [y]) { [unowned y] g, _ in [g * (y + 1)] }
    }

    /// Elementwise 1 / √x (torch's `rsqrt`). The gradient is −½ · x^(−3/2) = −y³ / 2.
    public func rsqrt() -> Tensor {
        let y = floatUnary(RsqrtOp.self, op: "rsqrt")
        return y.recording("rsqrt", self, saving: [y]) { [unowned y] g, _ in [g * y * y * y * -0.5] }
    }

    /// Elementwise 1 / x (torch's `reciprocal`; integers become float32). The gradient is −y².
    public func reciprocal() -> Tensor {
        let y = floatUnary(ReciprocalOp.self, op: "reciprocal")
        return y.recording("reciprocal", self, saving: [y]) { [unowned y] g, _ in [-(g * y * y)] }
    }

    // MARK: - NaN and infinities

    /// A bool tensor that is true where an element is NaN (torch's `isnan`); integers never are.
    public func isNaN() -> Tensor {
        let out = Tensor.zeros(shape, dtype: .bool)
        let o = out.pointer(Bool.self)
        switch dtype {
        case .float32: let p = pointer(Float.self); for i in 0..<count { o[i] = p[i].isNaN }
        case .float64: let p = pointer(Double.self); for i in 0..<count { o[i] = p[i].isNaN }
        default: break
        }
        return out
    }

    /// A bool tensor that is true where an element is neither NaN nor ±∞ (torch's `isfinite`);
    /// integers always are.
    public func isFinite() -> Tensor { isFiniteMask() }

    /// This tensor with NaN, +∞ and −∞ replaced by finite values (torch's `nan_to_num`).
    ///
    /// The defaults are torch's: NaN becomes 0, +∞ the largest finite value of the element type
    /// and −∞ the most negative one. The gradient flows where the input was finite and is 0 at
    /// the replaced elements. Integer and bool tensors have nothing to replace (a copy).
    ///
    /// - Parameters:
    ///   - nan: the value that replaces NaN.
    ///   - positiveInfinity: the value that replaces +∞; `nil` for the type's greatest finite value.
    ///   - negativeInfinity: the value that replaces −∞; `nil` for the type's least finite value.
    public func replacingNonFinite(nan: Double = 0, positiveInfinity: Double? = nil,
                                   negativeInfinity: Double? = nil) -> Tensor {
        guard dtype.isFloatingPoint else { return contiguousCopy() }
        let out = Tensor.empty(shape, dtype: dtype)
        func run<T: TensorFloat>(_: T.Type) {
            let src = pointer(T.self), dst = out.pointer(T.self)
            let n = T(nan)
            let high = positiveInfinity.map { T($0) } ?? T.greatestFiniteMagnitude
            let low = negativeInfinity.map { T($0) } ?? -T.greatestFiniteMagnitude
            parallelChunks(count) { range in
                for i in range {
                    let v = src[i]
                    dst[i] = v.isNaN ? n : (v == .infinity ? high : (v == -.infinity ? low : v))
                }
            }
        }
        if dtype == .float32 { run(Float.self) } else { run(Double.self) }
        return out.recording("nanToNum", self, saving: [self]) { [self] g, _ in
            [Tensor.where(self.isFiniteMask(), g, g.scalarLike(0))]
        }
    }
}
