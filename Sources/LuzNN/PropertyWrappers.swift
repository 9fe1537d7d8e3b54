import LuzTensor

/// A property wrapper the ``Module`` reflection looks through: it supplies the stored value,
/// an optional key to use instead of the property's name, and whether tensors are buffers.
protocol ReflectedProperty {
    var reflectedValue: Any { get }
    var reflectedKey: String? { get }
    var isBuffer: Bool { get }
}

/// Marks a tensor property of a ``Module`` as a buffer: state saved with the module's weights
/// and reported by ``Module/namedBuffers()``, but not a parameter, so optimizers never see it
/// (torch's `register_buffer`). Batch norm's running statistics are buffers.
///
/// ```swift
/// @Buffer(key: "running_mean") public var runningMean: Tensor
/// ```
@propertyWrapper
public struct Buffer<Value>: ReflectedProperty {
    /// The buffer: a `Tensor`, a `Tensor?` or a `[Tensor]`.
    public var wrappedValue: Value
    /// The name used in dotted paths and state dicts, when it differs from the property's.
    public let key: String?

    /// Wraps a buffer, optionally saved under `key` instead of the property's name.
    public init(wrappedValue: Value, key: String? = nil) {
        self.wrappedValue = wrappedValue
        self.key = key
    }

    var reflectedValue: Any { wrappedValue }
    var reflectedKey: String? { key }
    var isBuffer: Bool { true }
}

/// Gives a parameter or child module of a ``Module`` a state-dict name other than its Swift
/// property name, so that weights keep the names another framework uses.
///
/// With an initial value at the declaration:
///
/// ```swift
/// @Key("self_attn") public var selfAttention = MultiheadAttention(embedDimension: 64, heads: 4)
/// ```
///
/// Or declared without one and set in the initializer. Before `super.init()`, set the wrapper
/// itself, since Swift allows no property access on `self` before then:
///
/// ```swift
/// @Key("in_proj_weight") public var inputProjectionWeight: Tensor
///
/// init(width: Int) {
///     _inputProjectionWeight = Key(wrappedValue: Tensor.zeros([3 * width, width]), "in_proj_weight")
///     super.init()
/// }
/// ```
///
/// (After `super.init()`, a plain `inputProjectionWeight = …` works too.) Reading the property
/// before it is set stops with a message naming the key.
@propertyWrapper
public struct Key<Value>: ReflectedProperty {
    private var stored: Value?
    /// The name used in dotted paths and state dicts.
    public let key: String

    /// The wrapped parameter, module or collection.
    public var wrappedValue: Value {
        get {
            guard let stored else { requirementFailure("@Key(\"\(key)\"): read before a value was set") }
            return stored
        }
        set { stored = newValue }
    }

    /// Wraps `wrappedValue`, named `key` in dotted paths.
    public init(wrappedValue: Value, _ key: String) {
        stored = wrappedValue
        self.key = key
    }

    /// A property named `key` whose value the initializer sets.
    public init(_ key: String) {
        stored = nil
        self.key = key
    }

    var reflectedValue: Any { stored as Any }
    var reflectedKey: String? { key }
    var isBuffer: Bool { false }
}
