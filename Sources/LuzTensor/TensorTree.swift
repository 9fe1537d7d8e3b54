/// One tensor, several tensors by position, or tensors by name, nested: what a batch's inputs
/// and targets, and a model's outputs, can be (PyTorch's nested tuples and dicts of tensors,
/// Keras' "nested structure").
///
/// A plain classifier's batch holds one tensor on each side; an image with a scalar feature is
/// `[.tensor(images), .tensor(ages)]`; a model with two heads returns
/// `["class": .tensor(logits), "box": .tensor(boxes)]`. Every tensor of a batch has the batch as
/// its first dimension.
///
/// ```swift
/// let inputs: TensorTree = ["image": .tensor(images), "age": .tensor(ages)]
/// inputs["image"].tensor   // images
/// ```
public indirect enum TensorTree: CustomStringConvertible {
    /// A single tensor.
    case tensor(Tensor)
    /// Trees by position (a tuple or list of inputs).
    case array([TensorTree])
    /// Trees by name; names are visited in sorted order.
    case dictionary([String: TensorTree])

    /// Several tensors by position.
    public static func tensors(_ tensors: [Tensor]) -> TensorTree { .array(tensors.map(TensorTree.tensor)) }

    /// Tensors by name.
    public static func tensors(_ tensors: [String: Tensor]) -> TensorTree { .dictionary(tensors.mapValues(TensorTree.tensor)) }

    /// The tensor, when the tree is a single one.
    public var tensor: Tensor? {
        if case .tensor(let tensor) = self { return tensor }
        return nil
    }

    /// The tensor of a tree that must be a single one: stops with a message naming `role`
    /// (e.g. "the batch's input") and what the tree holds otherwise.
    public func singleTensor(_ role: @autoclosure () -> String) -> Tensor {
        if case .tensor(let tensor) = self { return tensor }
        requirementFailure("\(role()) is \(shapeDescription), not one tensor; read its parts by position or name (tree[0], tree[\"name\"])")
    }

    /// The element at `position` of an array tree.
    public subscript(position: Int) -> TensorTree {
        guard case .array(let elements) = self else {
            requirementFailure("TensorTree: [\(position)] on \(shapeDescription), which has no positions")
        }
        require(elements.indices.contains(position),
                "TensorTree: position \(position) is out of range for \(elements.count) elements")
        return elements[position]
    }

    /// The element named `name` of a dictionary tree.
    public subscript(name: String) -> TensorTree {
        guard case .dictionary(let elements) = self else {
            requirementFailure("TensorTree: [\"\(name)\"] on \(shapeDescription), which has no names")
        }
        guard let element = elements[name] else {
            requirementFailure("TensorTree: no element named \"\(name)\"; the names are \(elements.keys.sorted().joined(separator: ", "))")
        }
        return element
    }

    /// Every tensor of the tree, depth first (positions in order, names sorted).
    public var leaves: [Tensor] {
        switch self {
        case .tensor(let tensor): return [tensor]
        case .array(let elements): return elements.flatMap(\.leaves)
        case .dictionary(let elements): return elements.keys.sorted().flatMap { elements[$0]!.leaves }
        }
    }

    /// Every tensor with its path (`""` for a single tensor, `"0"`, `"image"`, `"1.box"`), in
    /// the order of ``leaves``.
    public var namedLeaves: [(path: String, tensor: Tensor)] {
        func join(_ prefix: String, _ path: String) -> String { path.isEmpty ? prefix : prefix + "." + path }
        switch self {
        case .tensor(let tensor): return [("", tensor)]
        case .array(let elements):
            return elements.enumerated().flatMap { index, element in
                element.namedLeaves.map { (join(String(index), $0.path), $0.tensor) }
            }
        case .dictionary(let elements):
            return elements.keys.sorted().flatMap { key in
                elements[key]!.namedLeaves.map { (join(key, $0.path), $0.tensor) }
            }
        }
    }

    /// The same structure with `transform` applied to every tensor.
    public func map(_ transform: (Tensor) throws -> Tensor) rethrows -> TensorTree {
        switch self {
        case .tensor(let tensor): return .tensor(try transform(tensor))
        case .array(let elements): return .array(try elements.map { try $0.map(transform) })
        case .dictionary(let elements): return .dictionary(try elements.mapValues { try $0.map(transform) })
        }
    }

    /// The number of examples: the first dimension of the first tensor (1 for a scalar, 0 for
    /// a tree without tensors).
    public var batchSize: Int {
        guard let first = leaves.first else { return 0 }
        return first.shape.first ?? 1
    }

    /// Whether `other` has the same structure (positions and names), whatever its tensors.
    public func hasSameStructure(as other: TensorTree) -> Bool {
        switch (self, other) {
        case (.tensor, .tensor): return true
        case (.array(let a), .array(let b)):
            return a.count == b.count && zip(a, b).allSatisfy { $0.hasSameStructure(as: $1) }
        case (.dictionary(let a), .dictionary(let b)):
            return a.keys.sorted() == b.keys.sorted() && a.allSatisfy { key, value in value.hasSameStructure(as: b[key]!) }
        default: return false
        }
    }

    /// Combines trees of one structure field by field with `combine` (stacking, concatenating).
    static func zipped(_ trees: [TensorTree], role: String, _ combine: ([Tensor]) -> Tensor) -> TensorTree {
        guard let first = trees.first else { requirementFailure("\(role): no trees to combine") }
        for (index, tree) in trees.enumerated() where !tree.hasSameStructure(as: first) {
            requirementFailure("\(role): element \(index) is \(tree.shapeDescription), element 0 is \(first.shapeDescription); every element needs the same structure")
        }
        switch first {
        case .tensor:
            return .tensor(combine(trees.map { $0.tensor! }))
        case .array(let elements):
            return .array(elements.indices.map { position in
                zipped(trees.map { $0[position] }, role: role, combine)
            })
        case .dictionary(let elements):
            return .dictionary(Dictionary(uniqueKeysWithValues: elements.keys.map { key in
                (key, zipped(trees.map { $0[key] }, role: role, combine))
            }))
        }
    }

    /// Trees of one structure stacked field by field along a new first dimension (how
    /// examples become a batch).
    public static func stacked(_ trees: [TensorTree]) -> TensorTree {
        zipped(trees, role: "TensorTree.stacked") { Tensor.stack($0, dim: 0) }
    }

    /// Trees of one structure concatenated field by field along the first dimension (how
    /// batches of predictions become one).
    public static func concatenated(_ trees: [TensorTree]) -> TensorTree {
        zipped(trees, role: "TensorTree.concatenated") { Tensor.cat($0, dim: 0) }
    }

    /// The structure without the values: `tensor [32, 10]`, `[tensor [32, 1, 28, 28], tensor [32, 1]]`,
    /// `[age: tensor [32, 1], image: …]`.
    public var shapeDescription: String {
        switch self {
        case .tensor(let tensor): return "tensor \(tensor.shape)"
        case .array(let elements): return "[" + elements.map(\.shapeDescription).joined(separator: ", ") + "]"
        case .dictionary(let elements):
            return "[" + elements.keys.sorted().map { "\($0): \(elements[$0]!.shapeDescription)" }.joined(separator: ", ") + "]"
        }
    }

    public var description: String { shapeDescription }
}

extension TensorTree: ExpressibleByArrayLiteral {
    /// Trees by position: `[.tensor(images), .tensor(ages)]`.
    public init(arrayLiteral elements: TensorTree...) { self = .array(elements) }
}

extension TensorTree: ExpressibleByDictionaryLiteral {
    /// Trees by name: `["image": .tensor(images), "age": .tensor(ages)]`.
    public init(dictionaryLiteral elements: (String, TensorTree)...) {
        self = .dictionary(Dictionary(elements, uniquingKeysWith: { _, last in last }))
    }
}
