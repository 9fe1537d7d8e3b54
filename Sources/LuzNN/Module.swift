import LuzTensor

/// The base class of every layer and model: a tree of modules whose stored `Tensor`
/// properties are its parameters (torch's `nn.Module`).
///
/// Subclasses declare their parameters, buffers and sub-modules as ordinary stored properties
/// and override ``forward(_:)``:
///
/// ```swift
/// final class Net: Module {
///     var hidden = Linear(4, 16)
///     var output = Linear(16, 3)
///     override func forward(_ x: Tensor) -> Tensor { output(relu(hidden(x))) }
/// }
/// let net = Net()
/// net.namedParameters().map(\.name)   // ["hidden.weight", "hidden.bias", "output.weight", "output.bias"]
/// ```
///
/// What is found, and how it is named, is decided by a `Mirror` walk over the stored
/// properties (superclass properties first, then declaration order).
///
/// | stored property type | becomes |
/// | --- | --- |
/// | `Tensor`, `Tensor?` (non-nil) | a parameter named after the property |
/// | `[Tensor]` | parameters `name.0`, `name.1`, … |
/// | `@Buffer var x: Tensor` | a buffer (saved in the state, not trained) |
/// | `Module`, `Module?` (non-nil) | a child module |
/// | `[Module]` (any subclass), `[String: Module]` | children `name.0`, … or `name.key` |
/// | `@Key("torch_name") var x` | any of the above under another name |
///
/// Everything else (numbers, closures, generators) is ignored.
///
/// Nothing is cached, so a module cannot go stale: every inspection (``parameters()``,
/// ``namedParameters()``, ``stateDict()``, ``modules()``, …) walks the tree again, each module
/// once, and sees whatever its properties hold now. Replacing a child (`model.fc = Linear(3, 5)`)
/// or a parameter by a new tensor on any module, built-in or yours, with a plain `var`, is seen
/// by the next inspection with nothing to call. A walk costs about 12 µs per module in a
/// release build (`luz-bench module-walk`: 0.7 ms for ResNet-18's 57 modules, 0.25 ms for a
/// 2-layer transformer encoder), which is why the training loop never walks per batch: optimizers, gradient clipping and weight averaging take the parameter
/// list once and keep it, as torch's optimizers do. An optimizer built before a replacement
/// therefore still steps the old tensors; build it after replacing. Updating values in place
/// (optimizers, ``loadStateDict(_:strict:)``) keeps the tensors and is seen by everyone.
open class Module: CustomStringConvertible {
    /// Whether the module is in training mode (dropout active, batch norm using batch
    /// statistics) or evaluation mode; set with ``train(_:)`` and ``eval()``.
    public internal(set) var isTraining = true

    private var forwardHooks: [(id: Int, hook: ForwardHook)] = []
    private var nextHookID = 0

    /// Creates a module in training mode.
    public init() {}

    // MARK: - Forward

    /// The computation of the module; subclasses override it. ``callAsFunction(_:)`` runs it and
    /// then the forward hooks.
    ///
    /// A model taking several inputs, or returning something other than one tensor, can define
    /// its own `callAsFunction` overload instead (calling ``runForwardHooks(input:output:)`` if it
    /// wants hooks to see its output); its children and parameters work the same way.
    open func forward(_ input: Tensor) -> Tensor {
        if self is any StructuredModule {
            requirementFailure("\(typeName) takes several inputs: call forward(inputs:) with a TensorTree, or its own callAsFunction")
        }
        requirementFailure("\(typeName): forward(_:) is not implemented; override it in the subclass")
    }

    /// Runs ``forward(_:)`` on `input`, then the registered forward hooks.
    public final func callAsFunction(_ input: Tensor) -> Tensor {
        let output = forward(input)
        if !forwardHooks.isEmpty { runForwardHooks(input: input, output: output) }
        return output
    }

    // MARK: - Hooks

    /// A function called after a module's forward pass with the module, its input and its output.
    public typealias ForwardHook = (_ module: Module, _ input: Tensor, _ output: Tensor) -> Void

    /// Calls `hook` after every forward pass of this module (not its children) until the
    /// returned handle's ``HookHandle/remove()`` is called (torch's `register_forward_hook`).
    @discardableResult
    public func registerForwardHook(_ hook: @escaping ForwardHook) -> HookHandle {
        let id = nextHookID
        nextHookID += 1
        forwardHooks.append((id, hook))
        return HookHandle(module: self, id: id)
    }

    func removeForwardHook(id: Int) {
        forwardHooks.removeAll { $0.id == id }
    }

    /// Calls the forward hooks with `input` and `output`: for subclasses with their own
    /// `callAsFunction` overloads.
    public func runForwardHooks(input: Tensor, output: Tensor) {
        for (_, hook) in forwardHooks { hook(self, input, output) }
    }

    /// The operations counted as a layer's activation function when they are applied to the
    /// layer's output outside any module: ``activations(for:of:functions:)``'s default.
    public static let activationFunctions: Set<String> = [
        "relu", "leakyRelu", "gelu", "tanh", "sigmoid", "softplus", "softmax", "logSoftmax",
    ]

    /// Each sub-module's activation (or those named in `names`) during one forward pass on
    /// `input`, keyed by dotted name in the order they ran (a module that runs twice appears as
    /// `name` and `name#2`).
    ///
    /// A module's activation is its output, followed by the activation functions applied to
    /// that output directly, outside any module: in a model that computes
    /// `layer2(tanh(layer1(x)))` with `tanh` as a function (the seed notebook's
    /// `layer1(x) |> tanh()`), `layer1`'s activation is after the `tanh`, as its author means.
    /// An activation that is a module of its own (`Sequential { Linear(2, 8); Tanh() }`) has its
    /// own entry and leaves the layer before it as it is. `functions` says which operations
    /// count (names as ``Tensor/gradientOperation`` reports them); pass `[]` for every module's
    /// plain output.
    ///
    /// The pass runs in the current mode (call ``eval()`` first for inference), records the
    /// operations to see which ones follow which layer, and returns detached tensors.
    public func activations(for input: Tensor, of names: Set<String>? = nil,
                            functions: Set<String> = Module.activationFunctions) -> StateDict {
        var captured: [(name: String, output: Tensor)] = []
        var moduleOutputs = Set<ObjectIdentifier>()
        var handles: [HookHandle] = []
        for (name, module) in namedModules() where !name.isEmpty {
            let reported = names?.contains(name) ?? true
            handles.append(module.registerForwardHook { _, _, output in
                moduleOutputs.insert(ObjectIdentifier(output))
                if reported { captured.append((name, output)) }
            })
        }
        defer { for handle in handles { handle.remove() } }
        // Recorded, so that the graph tells which operation read which layer's output; the
        // input requires gradients so that even a frozen model records it.
        let tracked = input.dtype.isFloatingPoint ? input.detached().requiringGrad() : input
        let output = withGradMode(enabled: !functions.isEmpty) { self(tracked) }
        var following: [ObjectIdentifier: Tensor] = [:]
        if !functions.isEmpty {
            // Walk the graph from the output: an activation function whose one input is a
            // layer's output, and whose result is no module's output, follows that layer.
            var stack = [output]
            var seen = Set<ObjectIdentifier>()
            while let tensor = stack.popLast() {
                guard seen.insert(ObjectIdentifier(tensor)).inserted else { continue }
                let inputs = tensor.gradientOperationInputs
                if let op = tensor.gradientOperation, functions.contains(op), inputs.count == 1,
                   !moduleOutputs.contains(ObjectIdentifier(tensor)) {
                    following[ObjectIdentifier(inputs[0])] = tensor
                }
                stack.append(contentsOf: inputs)
            }
        }
        var result = StateDict()
        var counts: [String: Int] = [:]
        for (name, output) in captured {
            var activation = output
            var steps = 0
            while let next = following[ObjectIdentifier(activation)], steps < 16 { activation = next; steps += 1 }
            counts[name, default: 0] += 1
            result[counts[name]! == 1 ? name : "\(name)#\(counts[name]!)"] = activation.detached()
        }
        return result
    }

    // MARK: - Loading other layouts

    /// Rewrites the entries of an incoming state dict meant for this module (the keys under
    /// `prefix`, e.g. `"encoder.layers.0.self_attn."`) from another layout this module can read,
    /// before ``loadStateDict(_:strict:)`` checks the keys. Nothing by default;
    /// ``MultiheadAttention`` packs separate query, key and value weights.
    open func adaptIncomingState(_ state: inout StateDict, prefix: String) {}

    // MARK: - Members

    /// What one Mirror walk found: this module's own parameters, buffers and children.
    struct Members {
        var parameters: [(name: String, tensor: Tensor)] = []
        var buffers: [(name: String, tensor: Tensor)] = []
        var children: [(name: String, module: Module)] = []
    }

    /// This module's members as its stored properties hold them now (one walk, no cache).
    var members: Members { discoverMembers() }

    /// This module (named `""`) and every module below it, depth first, each once, with the
    /// members found by one walk of each: what every traversal below is built on, so that a
    /// traversal walks each module once.
    func memberTree() -> [(name: String, module: Module, members: Members)] {
        var result: [(name: String, module: Module, members: Members)] = []
        var seen = Set<ObjectIdentifier>()
        func visit(_ module: Module, _ prefix: String) {
            guard seen.insert(ObjectIdentifier(module)).inserted else { return }
            let members = module.members
            result.append((prefix, module, members))
            for (name, child) in members.children {
                visit(child, prefix.isEmpty ? name : prefix + "." + name)
            }
        }
        visit(self, "")
        return result
    }

    /// Finds the members by reflection. Containers override it to name children by position.
    func discoverMembers() -> Members {
        var levels: [Mirror] = []
        var mirror: Mirror? = Mirror(reflecting: self)
        while let current = mirror, current.subjectType != Module.self {
            levels.append(current)
            mirror = current.superclassMirror
        }
        var found = Members()
        for level in levels.reversed() {
            for child in level.children {
                guard var label = child.label else { continue }
                if label.hasPrefix("$__lazy_storage_$_") { label.removeFirst("$__lazy_storage_$_".count) }
                Module.classify(child.value, name: label, into: &found, asBuffer: false)
            }
        }
        return found
    }

    private static func classify(_ value: Any, name: String, into found: inout Members, asBuffer: Bool) {
        if let wrapper = value as? ReflectedProperty {
            let key = wrapper.reflectedKey ?? (name.hasPrefix("_") ? String(name.dropFirst()) : name)
            classify(wrapper.reflectedValue, name: key, into: &found, asBuffer: wrapper.isBuffer)
            return
        }
        if let tensor = value as? Tensor {
            if asBuffer { found.buffers.append((name, tensor)) } else { found.parameters.append((name, tensor)) }
        } else if let module = value as? Module {
            found.children.append((name, module))
        } else if let tensors = value as? [Tensor] {
            for (i, tensor) in tensors.enumerated() {
                if asBuffer { found.buffers.append(("\(name).\(i)", tensor)) } else { found.parameters.append(("\(name).\(i)", tensor)) }
            }
        } else if let modules = value as? [Module] {
            for (i, module) in modules.enumerated() { found.children.append(("\(name).\(i)", module)) }
        } else if let modules = value as? [String: Module] {
            for key in modules.keys.sorted() { found.children.append(("\(name).\(key)", modules[key]!)) }
        }
    }

    /// Does nothing: modules no longer cache their members, so a replaced parameter, buffer or
    /// child is seen by the next inspection without it.
    @available(*, deprecated, message: "modules no longer cache their members; replacing a child or parameter needs nothing")
    public func invalidateMemberCache() {}

    // MARK: - Traversal

    /// The direct sub-modules with their names.
    public func namedChildren() -> [(name: String, module: Module)] { members.children }

    /// The direct sub-modules.
    public func children() -> [Module] { members.children.map(\.module) }

    /// This module (named `""`) and every module below it, depth first, each once.
    public func namedModules() -> [(name: String, module: Module)] {
        memberTree().map { ($0.name, $0.module) }
    }

    /// The random generators this module draws from itself (not its children's), by name.
    ///
    /// A layer that owns a ``Generator`` (``Dropout``'s `generator`) lists it here, so that a
    /// training checkpoint saves and restores its position with everything else a run owns:
    /// without it a resumed run would draw other masks than an uninterrupted one.
    open var ownGenerators: [(name: String, generator: Generator)] { [] }

    /// Every random generator of this module and the modules below it, with dotted paths
    /// (`layers.2.generator`), each generator once (the first name wins when layers share one).
    public func namedGenerators() -> [(name: String, generator: Generator)] {
        var result: [(name: String, generator: Generator)] = []
        var seen = Set<ObjectIdentifier>()
        for (prefix, module) in namedModules() {
            for (name, generator) in module.ownGenerators where seen.insert(ObjectIdentifier(generator)).inserted {
                result.append((prefix.isEmpty ? name : prefix + "." + name, generator))
            }
        }
        return result
    }

    /// This module and every module below it, depth first, each once.
    public func modules() -> [Module] { memberTree().map(\.module) }

    /// Every parameter with its dotted path (`layers.0.weight`), each tensor once (the first
    /// name wins when a tensor is shared), in declaration order.
    public func namedParameters() -> [(name: String, parameter: Tensor)] {
        var result: [(name: String, parameter: Tensor)] = []
        var seen = Set<ObjectIdentifier>()
        for (prefix, _, members) in memberTree() {
            for (name, tensor) in members.parameters where seen.insert(ObjectIdentifier(tensor)).inserted {
                result.append((prefix.isEmpty ? name : prefix + "." + name, tensor))
            }
        }
        return result
    }

    /// Every parameter, each once, in declaration order: what an optimizer takes.
    public func parameters() -> [Tensor] {
        var result: [Tensor] = []
        var seen = Set<ObjectIdentifier>()
        for (_, _, members) in memberTree() {
            for (_, tensor) in members.parameters where seen.insert(ObjectIdentifier(tensor)).inserted {
                result.append(tensor)
            }
        }
        return result
    }

    /// Every buffer (running statistics and other saved state that is not trained) with its
    /// dotted path.
    public func namedBuffers() -> [(name: String, buffer: Tensor)] {
        var result: [(name: String, buffer: Tensor)] = []
        var seen = Set<ObjectIdentifier>()
        for (prefix, _, members) in memberTree() {
            for (name, tensor) in members.buffers where seen.insert(ObjectIdentifier(tensor)).inserted {
                result.append((prefix.isEmpty ? name : prefix + "." + name, tensor))
            }
        }
        return result
    }

    /// Every buffer.
    public func buffers() -> [Tensor] { namedBuffers().map(\.buffer) }

    /// The number of parameter elements (torch's `sum(p.numel() for p in parameters())`).
    public var parameterCount: Int { parameters().reduce(0) { $0 + $1.count } }

    /// The number of parameter elements that require gradients.
    public var trainableParameterCount: Int {
        parameters().reduce(0) { $0 + ($1.requiresGrad ? $1.count : 0) }
    }

    // MARK: - Modes and gradients

    /// Sets training mode (`true`, the default) or evaluation mode on this module and every
    /// module below it.
    public func train(_ mode: Bool = true) {
        for module in modules() { module.isTraining = mode }
    }

    /// Sets evaluation mode on this module and every module below it (same as `train(false)`).
    public func eval() { train(false) }

    /// Stops gradients to every parameter of this module and below (fastai's `freeze`): they
    /// keep their values through training.
    public func freeze() {
        for parameter in parameters() { parameter.requiresGrad = false }
    }

    /// Lets gradients flow to every parameter of this module and below again.
    public func unfreeze() {
        for parameter in parameters() { parameter.requiresGrad = true }
    }

    /// Clears the gradients of every parameter: set to `nil` (torch's default,
    /// `set_to_none=True`, so that an optimizer skips parameters that receive no new gradient)
    /// or zeroed in place.
    public func zeroGrad(setToNil: Bool = true) {
        for parameter in parameters() {
            if setToNil { parameter.grad = nil } else { parameter.zeroGrad() }
        }
    }

    // MARK: - Description

    /// The module's type name without generic arguments, as shown in descriptions.
    public var typeName: String {
        let name = String(describing: type(of: self))
        return name.firstIndex(of: "<").map { String(name[..<$0]) } ?? name
    }

    /// The module's settings shown in its description, such as `inputFeatures: 4,
    /// outputFeatures: 16` (torch's `extra_repr`); empty by default.
    open var configurationDescription: String { "" }

    /// A tree of the module and its children, like torch's `print(model)`:
    ///
    /// ```
    /// Sequential(
    ///   (0): Linear(inputFeatures: 4, outputFeatures: 16, bias: true)
    ///   (1): ReLU()
    /// )
    /// ```
    public var description: String {
        let children = members.children
        let head = "\(typeName)(\(configurationDescription)"
        if children.isEmpty { return head + ")" }
        var lines = [head]
        for (name, child) in children {
            let nested = child.description.split(separator: "\n", omittingEmptySubsequences: false)
            lines.append("  (\(name)): " + nested[0])
            for line in nested.dropFirst() { lines.append("  " + line) }
        }
        lines.append(")")
        return lines.joined(separator: "\n")
    }
}

/// The registration of a forward hook; ``remove()`` unregisters it.
public final class HookHandle {
    private weak var module: Module?
    private let id: Int

    init(module: Module, id: Int) {
        self.module = module
        self.id = id
    }

    /// Unregisters the hook (calling it again does nothing).
    public func remove() {
        module?.removeForwardHook(id: id)
        module = nil
    }
}
