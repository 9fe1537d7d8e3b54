#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The element type of a tensor.
///
/// `float32` is the default for every creation function, as in PyTorch; `float64` is there for
/// gradient checks and users who need the precision; `int64` holds labels and indices; `bool`
/// holds masks and the results of comparisons.
public enum DType: String, Sendable, CaseIterable, CustomStringConvertible {
    case float32, float64, int64, bool

    /// The size of one element in bytes.
    public var byteCount: Int {
        switch self {
        case .float32: return 4
        case .float64, .int64: return 8
        case .bool: return 1
        }
    }

    /// Whether the type is a floating-point type (the only kind that can carry gradients).
    public var isFloatingPoint: Bool { self == .float32 || self == .float64 }

    public var description: String { rawValue }
}

/// A Swift type that can be the element of a tensor: `Float`, `Double`, `Int64` or `Bool`.
public protocol TensorScalar {
    /// The tensor element type that stores this Swift type.
    static var dtype: DType { get }
    /// Converts from `Double`, rounding toward zero for integers; nonzero is `true` for `Bool`.
    init(luzDouble value: Double)
    /// The value as a `Double` (`true` is 1).
    var luzDouble: Double { get }
}

extension Float: TensorScalar {
    public static var dtype: DType { .float32 }
    @inlinable public init(luzDouble value: Double) { self = Float(value) }
    @inlinable public var luzDouble: Double { Double(self) }
}

extension Double: TensorScalar {
    public static var dtype: DType { .float64 }
    @inlinable public init(luzDouble value: Double) { self = value }
    @inlinable public var luzDouble: Double { self }
}

extension Int64: TensorScalar {
    public static var dtype: DType { .int64 }
    @inlinable public init(luzDouble value: Double) { self = Int64(value) }
    @inlinable public var luzDouble: Double { Double(self) }
}

extension Bool: TensorScalar {
    public static var dtype: DType { .bool }
    @inlinable public init(luzDouble value: Double) { self = value != 0 }
    @inlinable public var luzDouble: Double { self ? 1 : 0 }
}

/// The floating-point element types (`Float`, `Double`) with the math functions the kernels use.
///
/// Kernels are written once, generically over this protocol, and specialized by the compiler for
/// both types, so the same code serves float32 training and float64 gradient checks.
public protocol TensorFloat: TensorScalar, BinaryFloatingPoint where Self.RawSignificand: FixedWidthInteger {
    static func luzExp(_ x: Self) -> Self
    static func luzLog(_ x: Self) -> Self
    static func luzLog1p(_ x: Self) -> Self
    static func luzExpm1(_ x: Self) -> Self
    static func luzSin(_ x: Self) -> Self
    static func luzCos(_ x: Self) -> Self
    static func luzTanh(_ x: Self) -> Self
    static func luzErf(_ x: Self) -> Self
    static func luzPow(_ x: Self, _ y: Self) -> Self
}

extension Float: TensorFloat {
    @inlinable public static func luzExp(_ x: Float) -> Float { expf(x) }
    @inlinable public static func luzLog(_ x: Float) -> Float { logf(x) }
    @inlinable public static func luzLog1p(_ x: Float) -> Float { log1pf(x) }
    @inlinable public static func luzExpm1(_ x: Float) -> Float { expm1f(x) }
    @inlinable public static func luzSin(_ x: Float) -> Float { sinf(x) }
    @inlinable public static func luzCos(_ x: Float) -> Float { cosf(x) }
    @inlinable public static func luzTanh(_ x: Float) -> Float { tanhf(x) }
    @inlinable public static func luzErf(_ x: Float) -> Float { erff(x) }
    @inlinable public static func luzPow(_ x: Float, _ y: Float) -> Float { powf(x, y) }
}

extension Double: TensorFloat {
    @inlinable public static func luzExp(_ x: Double) -> Double { exp(x) }
    @inlinable public static func luzLog(_ x: Double) -> Double { log(x) }
    @inlinable public static func luzLog1p(_ x: Double) -> Double { log1p(x) }
    @inlinable public static func luzExpm1(_ x: Double) -> Double { expm1(x) }
    @inlinable public static func luzSin(_ x: Double) -> Double { sin(x) }
    @inlinable public static func luzCos(_ x: Double) -> Double { cos(x) }
    @inlinable public static func luzTanh(_ x: Double) -> Double { tanh(x) }
    @inlinable public static func luzErf(_ x: Double) -> Double { erf(x) }
    @inlinable public static func luzPow(_ x: Double, _ y: Double) -> Double { pow(x, y) }
}
