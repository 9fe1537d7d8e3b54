/// A number that can be placed on a plot: the standard floating-point and integer types.
///
/// LuzPlot takes plain Swift arrays (`[Double]`, `[Float]`, `[Int]`, `[UInt8]`, ...) so that it does
/// not depend on the tensor library; every value is converted to `Double` once, when it is added.
public protocol PlottableValue {
    /// The value as a `Double` (may be NaN or infinite for floating-point types).
    var plotValue: Double { get }
}

extension Double: PlottableValue {
    /// The value itself.
    public var plotValue: Double { self }
}

extension Float: PlottableValue {
    /// The value widened to `Double`.
    public var plotValue: Double { Double(self) }
}

extension Int: PlottableValue {
    /// The value converted to `Double`.
    public var plotValue: Double { Double(self) }
}

extension Int32: PlottableValue {
    /// The value converted to `Double`.
    public var plotValue: Double { Double(self) }
}

extension Int64: PlottableValue {
    /// The value converted to `Double`.
    public var plotValue: Double { Double(self) }
}

extension UInt8: PlottableValue {
    /// The value converted to `Double` (not rescaled: 255 stays 255).
    public var plotValue: Double { Double(self) }
}

extension UInt: PlottableValue {
    /// The value converted to `Double`.
    public var plotValue: Double { Double(self) }
}

extension Array where Element: PlottableValue {
    /// The values converted to `Double`.
    var plotValues: [Double] { map(\.plotValue) }
}
