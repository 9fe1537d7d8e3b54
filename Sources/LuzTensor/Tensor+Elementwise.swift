#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Element types with arithmetic and ordering: `Float`, `Double` and `Int64`.
public protocol ArithmeticScalar: TensorScalar, Numeric, Comparable {
    /// Division: true division for floating point, truncating for integers.
    static func luzDivide(_ a: Self, _ b: Self) -> Self
}

extension Float: ArithmeticScalar {
    @inlinable public static func luzDivide(_ a: Float, _ b: Float) -> Float { a / b }
}
extension Double: ArithmeticScalar {
    @inlinable public static func luzDivide(_ a: Double, _ b: Double) -> Double { a / b }
}
extension Int64: ArithmeticScalar {
    @inlinable public static func luzDivide(_ a: Int64, _ b: Int64) -> Int64 { b == 0 ? 0 : a / b }
}

// MARK: - Kernel protocols (one generic body, specialized per element type)

protocol BinaryArithmeticOp { static func apply<T: ArithmeticScalar>(_ a: T, _ b: T) -> T }
protocol BinaryFloatOp { static func apply<T: TensorFloat>(_ a: T, _ b: T) -> T }
protocol UnaryFloatOp { static func apply<T: TensorFloat>(_ x: T) -> T }
protocol ComparisonOp { static func apply<T: ArithmeticScalar>(_ a: T, _ b: T) -> Bool }

enum AddOp: BinaryArithmeticOp { @inline(__always) static func apply<T: ArithmeticScalar>(_ a: T, _ b: T) -> T { a + b } }
enum SubOp: BinaryArithmeticOp { @inline(__always) static func apply<T: ArithmeticScalar>(_ a: T, _ b: T) -> T { a - b } }
enum MulOp: BinaryArithmeticOp { @inline(__always) static func apply<T: ArithmeticScalar>(_ a: T, _ b: T) -> T { a * b } }
enum DivOp: BinaryArithmeticOp { @inline(__always) static func apply<T: ArithmeticScalar>(_ a: T, _ b: T) -> T { T.luzDivide(a, b) } }
// A NaN on either side wins, as in torch: `a >= b ? a : b` alone would drop a NaN in `a`
// (every comparison with NaN is false). `a != a` is never true for integers.
enum MaxOp: BinaryArithmeticOp {
    @inline(__always) static func apply<T: ArithmeticScalar>(_ a: T, _ b: T) -> T { a >= b || a != a ? a : b }
}
enum MinOp: BinaryArithmeticOp {
    @inline(__always) static func apply<T: ArithmeticScalar>(_ a: T, _ b: T) -> T { a <= b || a != a ? a : b }
}
enum PowOp: BinaryFloatOp { @inline(__always) static func apply<T: TensorFloat>(_ a: T, _ b: T) -> T { T.luzPow(a, b) } }

protocol LogicalOp { static func apply(_ a: Bool, _ b: Bool) -> Bool }
enum AndOp: LogicalOp { @inline(__always) static func apply(_ a: Bool, _ b: Bool) -> Bool { a && b } }
enum OrOp: LogicalOp { @inline(__always) static func apply(_ a: Bool, _ b: Bool) -> Bool { a || b } }
enum XorOp: LogicalOp { @inline(__always) static func apply(_ a: Bool, _ b: Bool) -> Bool { a != b } }

/// A logical operation of two bools.
enum LogicalKernel<Op: LogicalOp>: BinaryKernel {
    @inline(__always) static func apply(_ a: Bool, _ b: Bool) -> Bool { Op.apply(a, b) }
}

enum EqualOp: ComparisonOp { @inline(__always) static func apply<T: ArithmeticScalar>(_ a: T, _ b: T) -> Bool { a == b } }
enum NotEqualOp: ComparisonOp { @inline(__always) static func apply<T: ArithmeticScalar>(_ a: T, _ b: T) -> Bool { a != b } }
enum LessOp: ComparisonOp { @inline(__always) static func apply<T: ArithmeticScalar>(_ a: T, _ b: T) -> Bool { a < b } }
enum LessEqualOp: ComparisonOp { @inline(__always) static func apply<T: ArithmeticScalar>(_ a: T, _ b: T) -> Bool { a <= b } }
enum GreaterOp: ComparisonOp { @inline(__always) static func apply<T: ArithmeticScalar>(_ a: T, _ b: T) -> Bool { a > b } }
enum GreaterEqualOp: ComparisonOp { @inline(__always) static func apply<T: ArithmeticScalar>(_ a: T, _ b: T) -> Bool { a >= b } }

/// The common type of two operands: `bool < int64 < float32 < float64`.
func promotedType(_ a: DType, _ b: DType) -> DType {
    func rank(_ t: DType) -> Int {
        switch t { case .bool: return 0; case .int64: return 1; case .float32: return 2; case .float64: return 3 }
    }
    return rank(a) >= rank(b) ? a : b
}

extension Tensor {
    // MARK: - Forward kernels (no graph)

    /// `Op` applied with broadcasting; the result has the promoted type (or `resultType`).
    static func arithmetic<Op: BinaryArithmeticOp>(_ a: Tensor, _ b: Tensor, _: Op.Type, op: String,
                                                   resultType: DType? = nil) -> Tensor {
        var type = resultType ?? promotedType(a.dtype, b.dtype)
        if type == .bool { type = .int64 }
        let a = a.dtype == type ? a : a.to(type)
        let b = b.dtype == type ? b : b.to(type)
        let plan = BroadcastPlan(a.shape, b.shape, op: op)
        let out = Tensor.empty(plan.shape, dtype: type)
        func run<T: ArithmeticScalar>(_: T.Type) {
            plan.apply(a.pointer(T.self), b.pointer(T.self), out.pointer(T.self), ArithmeticKernel<Op, T>.self)
        }
        switch type {
        case .float32: run(Float.self)
        case .float64: run(Double.self)
        default: run(Int64.self)
        }
        return out
    }

    /// A floating-point `Op` with broadcasting (integers are promoted to float32).
    static func floatBinary<Op: BinaryFloatOp>(_ a: Tensor, _ b: Tensor, _: Op.Type, op: String) -> Tensor {
        var type = promotedType(a.dtype, b.dtype)
        if !type.isFloatingPoint { type = .float32 }
        let a = a.dtype == type ? a : a.to(type)
        let b = b.dtype == type ? b : b.to(type)
        let plan = BroadcastPlan(a.shape, b.shape, op: op)
        let out = Tensor.empty(plan.shape, dtype: type)
        func run<T: TensorFloat>(_: T.Type) {
            plan.apply(a.pointer(T.self), b.pointer(T.self), out.pointer(T.self), FloatKernel<Op, T>.self)
        }
        if type == .float32 { run(Float.self) } else { run(Double.self) }
        return out
    }

    /// A comparison with broadcasting, giving a bool tensor.
    static func compare<Op: ComparisonOp>(_ a: Tensor, _ b: Tensor, _: Op.Type, op: String) -> Tensor {
        var type = promotedType(a.dtype, b.dtype)
        if type == .bool { type = .int64 }
        let a = a.dtype == type ? a : a.to(type)
        let b = b.dtype == type ? b : b.to(type)
        let plan = BroadcastPlan(a.shape, b.shape, op: op)
        let out = Tensor.empty(plan.shape, dtype: .bool)
        func run<T: ArithmeticScalar>(_: T.Type) {
            plan.apply(a.pointer(T.self), b.pointer(T.self), out.pointer(Bool.self), ComparisonKernel<Op, T>.self)
        }
        switch type {
        case .float32: run(Float.self)
        case .float64: run(Double.self)
        default: run(Int64.self)
        }
        return out
    }

    /// `Op` applied to every element of a floating-point tensor (integers become float32).
    func floatUnary<Op: UnaryFloatOp>(_: Op.Type, op: String) -> Tensor {
        let out = Tensor.empty(shape, dtype: dtype.isFloatingPoint ? dtype : .float32)
        let x = dtype.isFloatingPoint ? elementwiseSource(stagingInto: out) : to(.float32)
        func run<T: TensorFloat>(_: T.Type) {
            let src = x.pointer(T.self), dst = out.pointer(T.self)
            parallelChunks(count, cost: 8) { range in for i in range { dst[i] = Op.apply(src[i]) } }
        }
        if x.dtype == .float32 { run(Float.self) } else { run(Double.self) }
        return out
    }

    /// A 0-dimensional tensor holding `value` in this tensor's type (floats stay floats).
    @inline(__always)
    func scalarLike(_ value: Double) -> Tensor {
        let type: DType = dtype == .bool ? (value == value.rounded() ? .int64 : .float32)
            : (dtype == .int64 && value != value.rounded() ? .float32 : dtype)
        let result = Tensor.empty([], dtype: type)
        result.setElement(at: 0, value)
        return result
    }

    // MARK: - Differentiable arithmetic

    /// Elementwise sum with broadcasting.
    public static func + (a: Tensor, b: Tensor) -> Tensor {
        arithmetic(a, b, AddOp.self, op: "add").recording("add", a, b) { g, _ in [g, g] }
    }

    /// Elementwise difference with broadcasting.
    public static func - (a: Tensor, b: Tensor) -> Tensor {
        arithmetic(a, b, SubOp.self, op: "sub").recording("sub", a, b) { g, need in
            [g, need[1] ? -g : nil]
        }
    }

    /// Elementwise product with broadcasting.
    public static func * (a: Tensor, b: Tensor) -> Tensor {
        arithmetic(a, b, MulOp.self, op: "mul").recording("mul", a, b, saving: saved((b, a), (a, b))) { g, need in
            [need[0] ? g * b : nil, need[1] ? g * a : nil]
        }
    }

    /// Elementwise quotient with broadcasting (integers divide as floats, like torch).
    public static func / (a: Tensor, b: Tensor) -> Tensor {
        let result: Tensor
        if a.dtype.isFloatingPoint || b.dtype.isFloatingPoint {
            result = arithmetic(a, b, DivOp.self, op: "div")
        } else {
            result = arithmetic(a, b, DivOp.self, op: "div", resultType: .float32)
        }
        return result.recording("div", a, b, saving: saved((b, a), (b, b), (a, b))) { g, need in
            [need[0] ? g / b : nil, need[1] ? -g * a / (b * b) : nil]
        }
    }

    /// Elementwise negation.
    public static prefix func - (x: Tensor) -> Tensor {
        scalarArithmetic(x, 0, SubOp.self, scalarOnLeft: true, op: "neg").recording("neg", x) { g, _ in [-g] }
    }

    /// `Op` between every element and a constant, without materializing the constant as a
    /// tensor (the scalar operators are the most frequent ops of small models).
    static func scalarArithmetic<Op: BinaryArithmeticOp>(_ a: Tensor, _ scalar: Double, _: Op.Type,
                                                         scalarOnLeft: Bool, op: String,
                                                         forceFloat: Bool = false) -> Tensor {
        var type: DType = a.dtype == .bool ? .int64 : a.dtype
        if type == .int64 && (forceFloat || scalar != scalar.rounded()) { type = .float32 }
        let out = Tensor.empty(a.shape, dtype: type)
        if a.dtype == type, let strides = a.unmaterializedViewStrides() {
            // A strided view (a slice with a step, a permutation): read in place row by row, in
            // one pass, instead of a copy followed by the operation.
            // Dimensions that step through memory as one are one row (coalesced).
            guard a.count > 0 else { return out }
            let (rowShape, rowStrides) = Tensor.coalesced(shape: a.shape, strides: strides)
            func runStrided<T: ArithmeticScalar>(_: T.Type) {
                let src = a.storage.raw.assumingMemoryBound(to: T.self) + a.offset, dst = out.pointer(T.self)
                let c = T(luzDouble: scalar)
                let inner = rowShape[rowShape.count - 1], innerStride = rowStrides[rowStrides.count - 1]
                parallelChunks(a.count / inner, cost: inner) { rows in
                    Tensor.forEachStridedRow(shape: rowShape, strides: rowStrides, rows: rows) { row, offset in
                        let o = dst + row * inner, x = src + offset
                        if scalarOnLeft {
                            for j in 0..<inner { o[j] = Op.apply(c, x[j * innerStride]) }
                        } else {
                            for j in 0..<inner { o[j] = Op.apply(x[j * innerStride], c) }
                        }
                    }
                }
            }
            switch type {
            case .float32: runStrided(Float.self)
            case .float64: runStrided(Double.self)
            default: runStrided(Int64.self)
            }
            return out
        }
        let x = a.dtype == type ? a.elementwiseSource(stagingInto: out) : a.to(type)
        func run<T: ArithmeticScalar>(_: T.Type) {
            let src = x.pointer(T.self), dst = out.pointer(T.self), c = T(luzDouble: scalar)
            if scalarOnLeft {
                parallelChunks(x.count) { range in for i in range { dst[i] = Op.apply(c, src[i]) } }
            } else {
                parallelChunks(x.count) { range in for i in range { dst[i] = Op.apply(src[i], c) } }
            }
        }
        switch type {
        case .float32: run(Float.self)
        case .float64: run(Double.self)
        default: run(Int64.self)
        }
        return out
    }

    public static func + (a: Tensor, b: Double) -> Tensor {
        scalarArithmetic(a, b, AddOp.self, scalarOnLeft: false, op: "add").recording("add", a) { g, _ in [g] }
    }
    public static func + (a: Double, b: Tensor) -> Tensor { b + a }
    public static func - (a: Tensor, b: Double) -> Tensor {
        scalarArithmetic(a, b, SubOp.self, scalarOnLeft: false, op: "sub").recording("sub", a) { g, _ in [g] }
    }
    public static func - (a: Double, b: Tensor) -> Tensor {
        scalarArithmetic(b, a, SubOp.self, scalarOnLeft: true, op: "sub").recording("sub", b) { g, _ in [-g] }
    }
    public static func * (a: Tensor, b: Double) -> Tensor {
        scalarArithmetic(a, b, MulOp.self, scalarOnLeft: false, op: "mul").recording("mul", a) { g, _ in [g * b] }
    }
    public static func * (a: Double, b: Tensor) -> Tensor { b * a }
    public static func / (a: Tensor, b: Double) -> Tensor {
        scalarArithmetic(a, b, DivOp.self, scalarOnLeft: false, op: "div", forceFloat: true)
            .recording("div", a) { g, _ in [g / b] }
    }
    public static func / (a: Double, b: Tensor) -> Tensor {
        scalarArithmetic(b, a, DivOp.self, scalarOnLeft: true, op: "div", forceFloat: true)
            .recording("div", b, saving: [b]) { g, _ in [(g * -a) / (b * b)] }
    }

    /// Elementwise power with a tensor exponent (broadcast), torch's `pow`.
    ///
    /// The gradients follow torch at a zero base, where the formulas hold 0 · ∞: the gradient
    /// with respect to the base is 0 where the exponent is 0 (x⁰ is constant), and the gradient
    /// with respect to the exponent is 0 where the base is 0 and the exponent is not negative
    /// (xᵉ · log x → 0). Negative exponents of 0 keep their infinities.
    public func pow(_ exponent: Tensor) -> Tensor {
        let result = Tensor.floatBinary(self, exponent, PowOp.self, op: "pow")
        return result.recording("pow", self, exponent, saving: [self, exponent, result]) { [self, unowned result] g, need in
            let zero = g.scalarLike(0)
            let baseGradient = need[0]
                ? Tensor.where(exponent .== 0, zero, g * exponent * self.pow(exponent - 1)) : nil
            let exponentGradient = need[1]
                ? Tensor.where((self .== 0) .& (exponent .>= 0), zero, g * result * self.log()) : nil
            return [baseGradient, exponentGradient]
        }
    }

    /// Elementwise power with a constant exponent; `2` and `1` take exact fast paths.
    ///
    /// The gradient of x⁰ is 0 everywhere, 0 included (torch), not 0 · x⁻¹.
    public func pow(_ exponent: Double) -> Tensor {
        let result: Tensor
        if exponent == 2 {
            result = Tensor.arithmetic(self, self, MulOp.self, op: "pow")
        } else if exponent == 1 {
            result = Tensor.arithmetic(self, scalarLike(1), MulOp.self, op: "pow")
        } else {
            let x = dtype.isFloatingPoint ? self : to(.float32)
            result = Tensor.floatBinary(x, x.scalarLike(exponent), PowOp.self, op: "pow")
        }
        return result.recording("pow", self, saving: [self]) { [self] g, _ in
            if exponent == 2 { return [Tensor.arithmetic(g, self, MulOp.self, op: "pow") * 2] }
            if exponent == 0 { return [Tensor.zeros(g.shape, dtype: g.dtype)] }
            return [g * exponent * self.pow(exponent - 1)]
        }
    }

    /// Elementwise maximum of two tensors (broadcast), torch's `maximum`: a NaN on either side
    /// gives NaN.
    ///
    /// The gradient goes to the larger input, and is split evenly at ties (torch's rule). Where
    /// an input is NaN both inputs receive the full gradient, as in torch: neither is smaller.
    public func maximum(_ other: Tensor) -> Tensor {
        let result = Tensor.arithmetic(self, other, MaxOp.self, op: "maximum")
        return result.recording("maximum", self, other, saving: [self, other]) { [self] g, need in
            [need[0] ? g * Tensor.gradientShare(self, losesTo: other, smaller: true) : nil,
             need[1] ? g * Tensor.gradientShare(other, losesTo: self, smaller: true) : nil]
        }
    }

    /// Elementwise minimum of two tensors (broadcast), torch's `minimum`: a NaN on either side
    /// gives NaN.
    ///
    /// The gradient goes to the smaller input, and is split evenly at ties; where an input is
    /// NaN both receive the full gradient, as in torch.
    public func minimum(_ other: Tensor) -> Tensor {
        let result = Tensor.arithmetic(self, other, MinOp.self, op: "minimum")
        return result.recording("minimum", self, other, saving: [self, other]) { [self] g, need in
            [need[0] ? g * Tensor.gradientShare(self, losesTo: other, smaller: false) : nil,
             need[1] ? g * Tensor.gradientShare(other, losesTo: self, smaller: false) : nil]
        }
    }

    /// The share of the gradient of a maximum (`smaller: true`) or minimum that `a` receives
    /// against `b`: 0 where `a` loses, ½ at ties, 1 otherwise (wins, and NaN on either side,
    /// where no comparison holds), in the promoted float type. Written as 1 − loses − ½·ties
    /// rather than wins + ½·ties so that NaN falls on torch's side.
    private static func gradientShare(_ a: Tensor, losesTo b: Tensor, smaller: Bool) -> Tensor {
        let loses = smaller ? compare(a, b, LessOp.self, op: "maximum") : compare(a, b, GreaterOp.self, op: "minimum")
        let ties = compare(a, b, EqualOp.self, op: smaller ? "maximum" : "minimum")
        let promoted = promotedType(a.dtype, b.dtype)
        let type = promoted.isFloatingPoint ? promoted : .float32
        return 1 - loses.to(type) - ties.to(type) * 0.5
    }

    // MARK: - Comparisons (no gradient)

    public static func .== (a: Tensor, b: Tensor) -> Tensor { compare(a, b, EqualOp.self, op: "eq") }
    public static func .!= (a: Tensor, b: Tensor) -> Tensor { compare(a, b, NotEqualOp.self, op: "ne") }
    public static func .< (a: Tensor, b: Tensor) -> Tensor { compare(a, b, LessOp.self, op: "lt") }
    public static func .<= (a: Tensor, b: Tensor) -> Tensor { compare(a, b, LessEqualOp.self, op: "le") }
    public static func .> (a: Tensor, b: Tensor) -> Tensor { compare(a, b, GreaterOp.self, op: "gt") }
    public static func .>= (a: Tensor, b: Tensor) -> Tensor { compare(a, b, GreaterEqualOp.self, op: "ge") }
    public static func .== (a: Tensor, b: Double) -> Tensor { a .== a.scalarLike(b) }
    public static func .!= (a: Tensor, b: Double) -> Tensor { a .!= a.scalarLike(b) }
    public static func .< (a: Tensor, b: Double) -> Tensor { a .< a.scalarLike(b) }
    public static func .<= (a: Tensor, b: Double) -> Tensor { a .<= a.scalarLike(b) }
    public static func .> (a: Tensor, b: Double) -> Tensor { a .> a.scalarLike(b) }
    public static func .>= (a: Tensor, b: Double) -> Tensor { a .>= a.scalarLike(b) }

    /// Elementwise logical and (broadcast), the same as ``logicalAnd(_:)``.
    public static func .& (a: Tensor, b: Tensor) -> Tensor { a.logicalAnd(b) }

    /// Elementwise logical or (broadcast), the same as ``logicalOr(_:)``.
    public static func .| (a: Tensor, b: Tensor) -> Tensor { a.logicalOr(b) }

    /// Elementwise logical not, the same as ``logicalNot()``.
    public static prefix func .! (a: Tensor) -> Tensor { a.logicalNot() }

    /// `Op` on the truth values of two tensors (nonzero is true), with broadcasting.
    private static func logical<Op: LogicalOp>(_ a: Tensor, _ b: Tensor, _: Op.Type, op: String) -> Tensor {
        let x = a.to(.bool), y = b.to(.bool)
        let plan = BroadcastPlan(x.shape, y.shape, op: op)
        let out = Tensor.empty(plan.shape, dtype: .bool)
        plan.apply(x.pointer(Bool.self), y.pointer(Bool.self), out.pointer(Bool.self), LogicalKernel<Op>.self)
        return out
    }

    /// Elementwise logical and with broadcasting (torch's `logical_and`): any nonzero element,
    /// NaN included, counts as true; the result is bool.
    public func logicalAnd(_ other: Tensor) -> Tensor { Tensor.logical(self, other, AndOp.self, op: "logicalAnd") }

    /// Elementwise logical or with broadcasting (torch's `logical_or`); nonzero is true.
    public func logicalOr(_ other: Tensor) -> Tensor { Tensor.logical(self, other, OrOp.self, op: "logicalOr") }

    /// Elementwise logical exclusive or with broadcasting (torch's `logical_xor`); nonzero is true.
    public func logicalXor(_ other: Tensor) -> Tensor { Tensor.logical(self, other, XorOp.self, op: "logicalXor") }

    /// Elementwise logical not (torch's `logical_not`): true where an element is 0.
    public func logicalNot() -> Tensor {
        let x = to(.bool)
        let out = Tensor.empty(shape, dtype: .bool)
        let src = x.pointer(Bool.self), dst = out.pointer(Bool.self)
        parallelChunks(count) { range in for i in range { dst[i] = !src[i] } }
        return out
    }

    /// `true` when every element is nonzero.
    public var all: Bool { doubles.allSatisfy { $0 != 0 } }
    /// `true` when some element is nonzero.
    public var any: Bool { doubles.contains { $0 != 0 } }

    /// Whether two tensors have the same shape and all elements within `atol + rtol·|other|`.
    public func isClose(to other: Tensor, rtol: Double = 1e-5, atol: Double = 1e-8) -> Bool {
        guard shape == other.shape else { return false }
        let a = doubles, b = other.doubles
        for i in 0..<a.count {
            if a[i].isNaN || b[i].isNaN { return false }
            if a[i] == b[i] { continue }
            if Swift.abs(a[i] - b[i]) > atol + rtol * Swift.abs(b[i]) { return false }
        }
        return true
    }
}
