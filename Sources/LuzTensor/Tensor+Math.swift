#if !canImport(Accelerate)
import CLuzBLAS
#endif

enum ExpOp: UnaryFloatOp { @inline(__always) static func apply<T: TensorFloat>(_ x: T) -> T { T.luzExp(x) } }
enum LogOp: UnaryFloatOp { @inline(__always) static func apply<T: TensorFloat>(_ x: T) -> T { T.luzLog(x) } }
enum SqrtOp: UnaryFloatOp { @inline(__always) static func apply<T: TensorFloat>(_ x: T) -> T { x.squareRoot() } }
enum SinOp: UnaryFloatOp { @inline(__always) static func apply<T: TensorFloat>(_ x: T) -> T { T.luzSin(x) } }
enum CosOp: UnaryFloatOp { @inline(__always) static func apply<T: TensorFloat>(_ x: T) -> T { T.luzCos(x) } }
enum TanhOp: UnaryFloatOp { @inline(__always) static func apply<T: TensorFloat>(_ x: T) -> T { T.luzTanh(x) } }
enum AbsOp: UnaryFloatOp { @inline(__always) static func apply<T: TensorFloat>(_ x: T) -> T { Swift.abs(x) } }
enum SignOp: UnaryFloatOp {
    @inline(__always) static func apply<T: TensorFloat>(_ x: T) -> T { x > 0 ? 1 : (x < 0 ? -1 : 0) }
}
enum ReluOp: UnaryFloatOp {
    // `x > 0 ? x : 0` rather than max(x, 0): NaN propagates, as in torch.
    @inline(__always) static func apply<T: TensorFloat>(_ x: T) -> T { x > 0 ? x : (x.isNaN ? x : 0) }
}
enum SigmoidOp: UnaryFloatOp {
    // Two branches so that exp never overflows: for x < 0, e^x / (1 + e^x).
    @inline(__always) static func apply<T: TensorFloat>(_ x: T) -> T {
        if x >= 0 { return 1 / (1 + T.luzExp(-x)) }
        let e = T.luzExp(x)
        return e / (1 + e)
    }
}
enum SoftplusOp: UnaryFloatOp {
    // log(1 + e^x) = max(x, 0) + log1p(e^-|x|): no overflow for large |x|.
    @inline(__always) static func apply<T: TensorFloat>(_ x: T) -> T { max(x, 0) + T.luzLog1p(T.luzExp(-Swift.abs(x))) }
}
enum GeluOp: UnaryFloatOp {
    // The exact form x·Φ(x), torch's default (`approximate = "none"`).
    @inline(__always) static func apply<T: TensorFloat>(_ x: T) -> T {
        x * (1 + T.luzErf(x * T(0.7071067811865476))) / 2
    }
}
enum GeluTanhOp: UnaryFloatOp {
    @inline(__always) static func apply<T: TensorFloat>(_ x: T) -> T {
        let inner = T(0.7978845608028654) * (x + T(0.044715) * x * x * x)
        return x * (1 + T.luzTanh(inner)) / 2
    }
}

// Fused backward kernels: one pass over (gradient, saved value) instead of several temporaries.
enum TanhBackwardOp: BinaryFloatOp {
    @inline(__always) static func apply<T: TensorFloat>(_ g: T, _ y: T) -> T { g * (1 - y * y) }
}
enum SigmoidBackwardOp: BinaryFloatOp {
    @inline(__always) static func apply<T: TensorFloat>(_ g: T, _ y: T) -> T { g * y * (1 - y) }
}
enum ReluBackwardOp: BinaryFloatOp {
    // The derivative at exactly 0 is taken as 0 (torch's choice), so a dead unit stays dead.
    @inline(__always) static func apply<T: TensorFloat>(_ g: T, _ x: T) -> T { x > 0 ? g : 0 }
}
enum GeluBackwardOp: BinaryFloatOp {
    @inline(__always) static func apply<T: TensorFloat>(_ g: T, _ x: T) -> T {
        let cdf = (1 + T.luzErf(x * T(0.7071067811865476))) / 2
        let pdf = T.luzExp(-x * x / 2) * T(0.3989422804014327)
        return g * (cdf + x * pdf)
    }
}
enum GeluTanhBackwardOp: BinaryFloatOp {
    @inline(__always) static func apply<T: TensorFloat>(_ g: T, _ x: T) -> T {
        let k = T(0.7978845608028654)
        let inner = k * (x + T(0.044715) * x * x * x)
        let t = T.luzTanh(inner)
        let dInner = k * (1 + 3 * T(0.044715) * x * x)
        return g * ((1 + t) / 2 + x * (1 - t * t) * dInner / 2)
    }
}
enum SoftplusBackwardOp: BinaryFloatOp {
    @inline(__always) static func apply<T: TensorFloat>(_ g: T, _ x: T) -> T { g * SigmoidOp.apply(x) }
}

extension Tensor {
    /// Elementwise e^x.
    public func exp() -> Tensor {
        let y = floatUnary(ExpOp.self, op: "exp")
        return y.recording("exp", self, saving: [y]) { [unowned y] g, _ in [g * y] }
    }

    /// Elementwise natural logarithm.
    public func log() -> Tensor {
        floatUnary(LogOp.self, op: "log").recording("log", self, saving: [self]) { [self] g, _ in [g / self] }
    }

    /// Elementwise square root.
    public func sqrt() -> Tensor {
        let y = floatUnary(SqrtOp.self, op: "sqrt")
        return y.recording("sqrt", self, saving: [y]) { [unowned y] g, _ in [g / (y * 2)] }
    }

    /// Elementwise sine.
    public func sin() -> Tensor {
        floatUnary(SinOp.self, op: "sin").recording("sin", self, saving: [self]) { [self] g, _ in [g * self.cos()] }
    }

    /// Elementwise cosine.
    public func cos() -> Tensor {
        floatUnary(CosOp.self, op: "cos").recording("cos", self, saving: [self]) { [self] g, _ in [-(g * self.sin())] }
    }

    /// Elementwise hyperbolic tangent.
    public func tanh() -> Tensor {
        let y = dtype == .float32 ? float32Map(float32Tanh) : floatUnary(TanhOp.self, op: "tanh")
        return y.recording("tanh", self, saving: [y]) { [unowned y] g, _ in [Tensor.floatBinary(g, y, TanhBackwardOp.self, op: "tanh")] }
    }

    /// Elementwise logistic function 1 / (1 + e^-x), computed without overflow.
    public func sigmoid() -> Tensor {
        let y = dtype == .float32 ? float32Map(float32Sigmoid) : floatUnary(SigmoidOp.self, op: "sigmoid")
        return y.recording("sigmoid", self, saving: [y]) { [unowned y] g, _ in [Tensor.floatBinary(g, y, SigmoidBackwardOp.self, op: "sigmoid")] }
    }

    /// Elementwise max(x, 0). The gradient at exactly 0 is 0, as in torch.
    public func relu() -> Tensor {
        floatUnary(ReluOp.self, op: "relu").recording("relu", self, saving: [self]) { [self] g, _ in
            [Tensor.floatBinary(g, self, ReluBackwardOp.self, op: "relu")]
        }
    }

    /// Elementwise GELU: x·Φ(x) (exact, torch's default), or the tanh approximation.
    public func gelu(approximateTanh: Bool = false) -> Tensor {
        if approximateTanh {
            return floatUnary(GeluTanhOp.self, op: "gelu").recording("gelu", self, saving: [self]) { [self] g, _ in
                [Tensor.floatBinary(g, self, GeluTanhBackwardOp.self, op: "gelu")]
            }
        }
        if dtype == .float32 {
            // Eight lanes at a time: libm's scalar erff took an eighth of a transformer's step.
            return float32Gelu().recording("gelu", self, saving: [self]) { [self] g, _ in [Tensor.float32GeluBackward(g, self)] }
        }
        return floatUnary(GeluOp.self, op: "gelu").recording("gelu", self, saving: [self]) { [self] g, _ in
            [Tensor.floatBinary(g, self, GeluBackwardOp.self, op: "gelu")]
        }
    }

    /// `kernel` over this float32 tensor's elements, in chunks across the cores.
    private func float32Map(_ kernel: (UnsafePointer<Float>, UnsafeMutablePointer<Float>, Int) -> Void) -> Tensor {
        let out = Tensor.empty(shape, dtype: .float32)
        let src = elementwiseSource(stagingInto: out).pointer(Float.self), dst = out.pointer(Float.self)
        parallelChunks(count, cost: 8) { range in kernel(src + range.lowerBound, dst + range.lowerBound, range.count) }
        return out
    }

    /// The exact GELU of a float32 tensor, x·Φ(x) with Φ(x) = erfc(−x/√2)/2 lane by lane.
    private func float32Gelu() -> Tensor {
        let out = Tensor.empty(shape, dtype: .float32)
        let src = pointer(Float.self), dst = out.pointer(Float.self)
        parallelChunks(count, cost: 8) { range in
            #if canImport(Accelerate)
            var i = range.lowerBound
            while i + 8 <= range.upperBound {
                let x = loadLanes(src + i)
                storeLanes(x * vectorNormalCDF(x), dst + i)
                i += 8
            }
            while i < range.upperBound { dst[i] = GeluOp.apply(src[i]); i += 1 }
            #else
            // The same formula in C, compiled for AVX2 with FMA as well (Swift's SIMD code is
            // built for the baseline, SSE2 without FMA).
            luz_gelu_f32(src + range.lowerBound, dst + range.lowerBound, range.count)
            #endif
        }
        return out
    }

    /// g·(Φ(x) + x·φ(x)) for float32 `x`, lane by lane (`g` has `x`'s shape, or is converted).
    private static func float32GeluBackward(_ gradient: Tensor, _ x: Tensor) -> Tensor {
        guard gradient.shape == x.shape else { return floatBinary(gradient, x, GeluBackwardOp.self, op: "gelu") }
        let g = gradient.dtype == .float32 ? gradient : gradient.to(.float32)
        let out = Tensor.empty(x.shape, dtype: .float32)
        let pg = g.pointer(Float.self), px = x.pointer(Float.self), dst = out.pointer(Float.self)
        parallelChunks(x.count, cost: 8) { range in
            #if canImport(Accelerate)
            var i = range.lowerBound
            while i + 8 <= range.upperBound {
                let v = loadLanes(px + i)
                let density = vectorExp(-0.5 * v * v) * 0.398_942_280_401_432_7
                storeLanes(loadLanes(pg + i) * (vectorNormalCDF(v) + v * density), dst + i)
                i += 8
            }
            while i < range.upperBound { dst[i] = GeluBackwardOp.apply(pg[i], px[i]); i += 1 }
            #else
            let start = range.lowerBound
            luz_gelu_backward_f32(pg + start, px + start, dst + start, range.count)
            #endif
        }
        return out
    }

    /// Elementwise softplus, (1 / β) · log(1 + e^(β·x)), computed without overflow (torch's
    /// `softplus`). Where β·x exceeds `threshold` the result is x itself, as in torch, whose
    /// defaults (β = 1, threshold 20) these are.
    ///
    /// The gradient is σ(β·x), and 1 above the threshold.
    ///
    /// - Parameters:
    ///   - beta: the sharpness β (nonzero); larger values approach relu.
    ///   - threshold: the value of β·x above which the function is taken as linear.
    public func softplus(beta: Double = 1, threshold: Double = 20) -> Tensor {
        require(beta != 0, "softplus: beta must be nonzero")
        let x = dtype.isFloatingPoint ? self : to(.float32)
        let scaled = beta == 1 ? x.detached() : withNoGrad { x * beta }
        let linear = withNoGrad { scaled .> threshold }
        let value = withNoGrad { () -> Tensor in
            let smooth = scaled.floatUnary(SoftplusOp.self, op: "softplus")
            return Tensor.where(linear, x.detached(), beta == 1 ? smooth : smooth / beta)
        }
        // `scaled` shares this tensor's storage when β is 1: the rule reads this tensor.
        return value.recording("softplus", self, saving: [self]) { g, _ in
            [Tensor.where(linear, g, Tensor.floatBinary(g, scaled, SoftplusBackwardOp.self, op: "softplus"))]
        }
    }

    /// Elementwise x for x > 0, `negativeSlope`·x otherwise.
    public func leakyRelu(negativeSlope: Double = 0.01) -> Tensor {
        let positive = (self .> 0).to(dtype.isFloatingPoint ? dtype : .float32)
        let factor = positive + (1 - positive) * negativeSlope
        return withNoGrad { self * factor }.recording("leakyRelu", self) { g, _ in [g * factor] }
    }

    /// Elementwise absolute value (gradient sign(x), 0 at 0).
    public func abs() -> Tensor {
        floatUnary(AbsOp.self, op: "abs").recording("abs", self, saving: [self]) { [self] g, _ in
            [g * self.floatUnary(SignOp.self, op: "abs")]
        }
    }

    /// Elementwise sign: -1, 0 or 1 (no gradient).
    public func sign() -> Tensor { floatUnary(SignOp.self, op: "sign") }

    /// Elementwise square.
    public func squared() -> Tensor { pow(2) }

    /// Elements limited to `[min, max]` (torch's `clamp`); NaN stays NaN.
    ///
    /// The gradient flows where the input lies inside the closed range and is 0 outside it and
    /// at NaN. At exactly a bound Luz passes the gradient (the input counts as inside), a
    /// deliberate difference: torch 2 passes none there for scalar bounds. Passing it keeps a
    /// parameter that has come to rest exactly on a bound trainable instead of freezing it.
    ///
    /// - Parameters:
    ///   - lower: the smallest value kept, or `nil` for no lower bound.
    ///   - upper: the largest value kept, or `nil` for no upper bound.
    public func clamped(min lower: Double? = nil, max upper: Double? = nil) -> Tensor {
        require(lower != nil || upper != nil, "clamp: give min, max or both")
        var result = self.detached()
        var inside: Tensor? = nil
        withNoGrad {
            if let lower {
                result = result.maximum(scalarLike(lower))
                inside = self .>= lower
            }
            if let upper {
                result = result.minimum(scalarLike(upper))
                let below = self .<= upper
                inside = inside.map { $0 .& below } ?? below
            }
        }
        let mask = inside!
        return result.recording("clamp", self) { g, _ in [g * mask.to(g.dtype)] }
    }

    /// Picks elements from `a` where `condition` is true and from `b` elsewhere (broadcast).
    public static func `where`(_ condition: Tensor, _ a: Tensor, _ b: Tensor) -> Tensor {
        let type = promotedType(a.dtype, b.dtype)
        let shape = BroadcastPlan.resultShape(BroadcastPlan.resultShape(condition.shape, a.shape, op: "where"),
                                              b.shape, op: "where")
        let c = condition.to(.bool).expanded(to: shape)
        let av = (a.dtype == type ? a : a.to(type)).detached().expanded(to: shape)
        let bv = (b.dtype == type ? b : b.to(type)).detached().expanded(to: shape)
        let out = Tensor.empty(shape, dtype: type)
        func run<T>(_: T.Type) {
            let cp = c.pointer(Bool.self), ap = av.pointer(T.self), bp = bv.pointer(T.self), op = out.pointer(T.self)
            parallelChunks(out.count) { range in for i in range { op[i] = cp[i] ? ap[i] : bp[i] } }
        }
        switch type {
        case .float32: run(Float.self)
        case .float64: run(Double.self)
        case .int64: run(Int64.self)
        case .bool: run(Bool.self)
        }
        return out.recording("where", a, b, saving: [c]) { g, need in
            let zero = g.scalarLike(0)
            return [need[0] ? Tensor.where(c, g, zero) : nil, need[1] ? Tensor.where(c, zero, g) : nil]
        }
    }
}
