import LuzTensor

/// Builds a list of modules from a block: one module per line, with `if`, `if`/`else` and
/// `for` loops, as in `Sequential { Linear(4, 16); ReLU(); Linear(16, 3) }`.
@resultBuilder
public enum ModuleBuilder {
    /// One module on a line.
    public static func buildExpression(_ module: Module) -> [Module] { [module] }
    /// An array of modules on a line, spliced in.
    public static func buildExpression(_ modules: [Module]) -> [Module] { modules }
    /// The lines of a block, in order.
    public static func buildBlock(_ parts: [Module]...) -> [Module] { parts.flatMap { $0 } }
    /// An `if` without `else`: its modules, or none.
    public static func buildOptional(_ part: [Module]?) -> [Module] { part ?? [] }
    /// The first branch of an `if`/`else`.
    public static func buildEither(first part: [Module]) -> [Module] { part }
    /// The second branch of an `if`/`else`.
    public static func buildEither(second part: [Module]) -> [Module] { part }
    /// The iterations of a `for` loop, in order.
    public static func buildArray(_ parts: [[Module]]) -> [Module] { parts.flatMap { $0 } }
    /// An `if #available` block.
    public static func buildLimitedAvailability(_ part: [Module]) -> [Module] { part }
}

/// Modules applied one after the other, each to the previous one's output (torch's
/// `nn.Sequential`). Children are named by position (`0.weight`, `2.bias`), as in torch, so
/// weights move between the two.
///
/// ```swift
/// let net = Sequential {
///     Linear(4, 16); ReLU()
///     Linear(16, 3)
/// }
/// let first = net[0] as! Linear
/// ```
public final class Sequential: Module {
    /// The layers in order.
    public private(set) var layers: [Module]

    /// Creates the container from a builder block.
    public init(@ModuleBuilder _ layers: () -> [Module]) {
        self.layers = layers()
        super.init()
    }

    /// Creates the container from an array of layers.
    public init(_ layers: [Module]) {
        self.layers = layers
        super.init()
    }

    /// The layer at `index`.
    public subscript(index: Int) -> Module { layers[index] }

    /// The number of layers.
    public var count: Int { layers.count }

    /// Adds a layer at the end.
    public func append(_ layer: Module) {
        layers.append(layer)
    }

    /// Applies the layers in order.
    public override func forward(_ input: Tensor) -> Tensor {
        var x = input
        for layer in layers { x = layer(x) }
        return x
    }

    override func discoverMembers() -> Members {
        var members = Members()
        for (i, layer) in layers.enumerated() { members.children.append((String(i), layer)) }
        return members
    }
}

/// A list of modules whose parameters belong to the enclosing model, named by position
/// (torch's `nn.ModuleList`). It has no forward pass of its own: iterate over it.
///
/// ```swift
/// final class Deep: Module {
///     let layers = ModuleList((0..<7).map { _ in Linear(2, 2) })
///     override func forward(_ x: Tensor) -> Tensor {
///         layers.reduce(x) { $1($0).tanh() }
///     }
/// }
/// ```
/// Its children are named `0`, `1`, …, so the parameters above are `layers.0.weight`, ….
public final class ModuleList<Element: Module>: Module, RandomAccessCollection {
    /// The modules in order.
    public private(set) var elements: [Element]

    /// Creates the list.
    public init(_ elements: [Element] = []) {
        self.elements = elements
        super.init()
    }

    /// The position of the first module (0).
    public var startIndex: Int { 0 }
    /// One past the position of the last module.
    public var endIndex: Int { elements.count }

    /// The module at `index`.
    public subscript(index: Int) -> Element { elements[index] }

    /// Adds a module at the end.
    public func append(_ element: Element) {
        elements.append(element)
    }

    override func discoverMembers() -> Members {
        var members = Members()
        for (i, element) in elements.enumerated() { members.children.append((String(i), element)) }
        return members
    }
}
