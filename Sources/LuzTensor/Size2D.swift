/// A height and width, for the kernel sizes, strides, paddings and dilations of 2-D operations.
///
/// Written as one number when both are equal (`stride: 2`) or as a pair (`padding: [1, 0]`),
/// as PyTorch accepts `2` or `(1, 0)`.
public struct Size2D: Equatable, Hashable, Sendable, ExpressibleByIntegerLiteral, ExpressibleByArrayLiteral,
                      CustomStringConvertible {
    public var height: Int
    public var width: Int

    public init(_ height: Int, _ width: Int) {
        self.height = height
        self.width = width
    }

    /// The same value for height and width.
    public init(_ both: Int) { self.init(both, both) }

    public init(integerLiteral value: Int) { self.init(value, value) }

    public init(arrayLiteral elements: Int...) {
        require(elements.count == 2, "Size2D: expected [height, width], got \(elements)")
        self.init(elements[0], elements[1])
    }

    public var description: String { height == width ? "\(height)" : "(\(height), \(width))" }
}
