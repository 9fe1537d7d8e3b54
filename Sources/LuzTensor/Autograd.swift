/// One recorded operation of the autograd graph: the inputs it read and the rule that turns the
/// gradient of its output into gradients of those inputs.
final class GradNode {
    /// The operation's name, for error messages and graph dumps.
    let op: String
    /// The inputs of the operation (all of them, so that rules can index them by position).
    var inputs: [Tensor]
    /// Maps the output gradient to one gradient per input (`nil` where an input needs none).
    /// Rules return gradients of the *output's* broadcast shape or the input's shape; the engine
    /// reduces and converts them to each input's shape and type in one place.
    var rule: ((Tensor, InputMask) -> [Tensor?])?
    /// The tensors whose values the rule reads, with their storage's version when they were
    /// saved: an in-place write to one of them before the backward pass would make the
    /// gradient wrong, so the pass stops with torch's message instead.
    var saved = SavedTensors()

    init(op: String, inputs: [Tensor], rule: @escaping (Tensor, InputMask) -> [Tensor?]) {
        self.op = op
        self.inputs = inputs
        self.rule = rule
    }

    /// Stops the program when a saved tensor was written in place after it was saved.
    /// `output` is the tensor this node produced (its shape names a saved output in the message).
    @inline(__always)
    func checkSavedVersions(output: Tensor) {
        if let entry = saved.firstModified() { savedTensorWasModified(entry, output: output) }
    }

    @inline(never)
    private func savedTensorWasModified(_ entry: SavedTensor, output: Tensor) -> Never {
        // The entry keeps no shape (that would cost a retain per saved tensor); the tensors
        // around this node that share its storage and element count have it.
        let holder = (inputs + [output]).first { $0.storage === entry.storage && $0.count == entry.count }
        let what = holder.map { "of shape \(describe($0.shape))" } ?? "of \(entry.count) elements"
        requirementFailed({
            "backward: one of the variables needed for gradient computation has been modified by an inplace operation: the \(entry.dtype) tensor \(what) saved by '\(op)' is at version \(entry.storage.version); expected version \(entry.version) instead. Write to a clone() of it, or do the in-place update after backward"
        }, file: #fileID, line: #line)
    }
}

/// The tensors one node saved: the first two inline (most operations save one or two), so that
/// recording them allocates nothing.
struct SavedTensors {
    private var first: SavedTensor?
    private var second: SavedTensor?
    private var rest: [SavedTensor] = []

    mutating func append(_ tensor: Tensor) {
        let entry = SavedTensor(tensor)
        if first == nil { first = entry } else if second == nil { second = entry } else { rest.append(entry) }
    }

    /// The first entry whose storage was written since it was saved, or `nil` (the common case,
    /// which reads the entries in place).
    func firstModified() -> SavedTensor? {
        if let first, first.isModified { return first }
        if let second, second.isModified { return second }
        for entry in rest where entry.isModified { return entry }
        return nil
    }
}

/// A tensor an operation saved for its backward rule: its storage and the storage's version
/// at the time (torch's `SavedVariable`), with its type and element count for the message.
struct SavedTensor {
    let storage: TensorStorage
    let version: Int
    let count: Int
    let dtype: DType

    init(_ tensor: Tensor) {
        storage = tensor.storage
        version = tensor.storage.version
        count = tensor.count
        dtype = tensor.dtype
    }

    var isModified: Bool { storage.version != version }
}

/// Which inputs of a node need a gradient, so that rules skip work nobody asked for (the input
/// gradient of a network's first layer, for instance).
struct InputMask {
    let bits: UInt64
    @inline(__always) subscript(_ index: Int) -> Bool { bits & (1 << UInt64(index)) != 0 }
}

private let visitCounter = VisitCounter()

private final class VisitCounter: @unchecked Sendable {
    private let lock = Mutex()
    private var value: UInt64 = 0
    func next() -> UInt64 { lock.withLock { value += 1; return value } }
}

extension Tensor {
    /// Records `rule` as the backward of an operation that produced `self` from `inputs`, when
    /// gradient recording is on and some input requires a gradient. Returns `self`.
    ///
    /// `inputs` is evaluated only while gradients are recorded (or operations profiled), so that
    /// an operation under ``withNoGrad(_:)`` (every operation inside a backward rule, say) does
    /// not build the array. `saving` lists the tensors whose values `rule` reads (inputs, or
    /// `self` for rules written in terms of the output); it is evaluated only when a node is
    /// recorded. The backward pass refuses to run the rule if one of them was written in place
    /// in between.
    @inline(__always)
    @discardableResult
    func recording(_ op: String, _ inputs: @autoclosure () -> [Tensor], saving: @autoclosure () -> [Tensor] = [],
                   _ rule: @escaping (Tensor, InputMask) -> [Tensor?]) -> Tensor {
        if _slowPath(OperationProfile.isEnabled) { OperationProfile.recordForward(op, inputs: inputs(), output: self) }
        guard GradMode.isEnabled else { return self }
        let inputs = inputs()
        var any = false
        for input in inputs where input.requiresGrad { any = true; break }
        guard any else { return self }
        return attachingNode(op, inputs, saving(), rule)
    }

    /// ``recording(_:_:saving:_:)`` for an operation of one input: no array is built unless a
    /// node is recorded.
    @inline(__always)
    @discardableResult
    func recording(_ op: String, _ input: Tensor, saving: @autoclosure () -> [Tensor] = [],
                   _ rule: @escaping (Tensor, InputMask) -> [Tensor?]) -> Tensor {
        if _slowPath(OperationProfile.isEnabled) { OperationProfile.recordForward(op, inputs: [input], output: self) }
        guard input.requiresGrad, GradMode.isEnabled else { return self }
        return attachingNode(op, [input], saving(), rule)
    }

    /// ``recording(_:_:saving:_:)`` for an operation of two inputs: no array is built unless a
    /// node is recorded.
    @inline(__always)
    @discardableResult
    func recording(_ op: String, _ first: Tensor, _ second: Tensor, saving: @autoclosure () -> [Tensor] = [],
                   _ rule: @escaping (Tensor, InputMask) -> [Tensor?]) -> Tensor {
        if _slowPath(OperationProfile.isEnabled) { OperationProfile.recordForward(op, inputs: [first, second], output: self) }
        guard first.requiresGrad || second.requiresGrad, GradMode.isEnabled else { return self }
        return attachingNode(op, [first, second], saving(), rule)
    }

    /// Makes `self` the output of a new graph node.
    private func attachingNode(_ op: String, _ inputs: [Tensor], _ saving: [Tensor],
                               _ rule: @escaping (Tensor, InputMask) -> [Tensor?]) -> Tensor {
        let node = GradNode(op: op, inputs: inputs, rule: rule)
        for tensor in saving { node.saved.append(tensor) }
        self.node = node
        requiresGradStorage = true
        return self
    }

    /// The `saved` tensor of each pair whose `neededBy` partner requires a gradient: a
    /// product's rule reads `b` only for the gradient of `a`, so `b` is saved only when `a`
    /// requires one (as torch does).
    static func saved(_ pairs: (saved: Tensor, neededBy: Tensor)...) -> [Tensor] {
        pairs.compactMap { $0.neededBy.requiresGrad ? $0.saved : nil }
    }

    /// ``saved(_:)`` for two pairs (a binary operation's case, `linear`'s too), without the
    /// variadic array.
    package static func saved(_ p: (saved: Tensor, neededBy: Tensor), _ q: (saved: Tensor, neededBy: Tensor)) -> [Tensor] {
        switch (p.neededBy.requiresGrad, q.neededBy.requiresGrad) {
        case (true, true): return [p.saved, q.saved]
        case (true, false): return [p.saved]
        case (false, true): return [q.saved]
        case (false, false): return []
        }
    }

    /// Computes the gradient of this tensor with respect to every leaf that requires one, and
    /// adds it to each leaf's ``grad`` (gradients accumulate until zeroed, as in PyTorch).
    ///
    /// - Parameters:
    ///   - gradient: the gradient of some scalar with respect to this tensor; may be omitted
    ///     only when this tensor has one element (then it is 1).
    ///   - retainGraph: keep the graph so that `backward` can run through it again. Without it
    ///     the graph is released as the pass goes, which frees memory early.
    public func backward(_ gradient: Tensor? = nil, retainGraph: Bool = false) {
        backward(gradient, retainGraph: retainGraph, onLeafGradient: nil)
    }

    /// ``backward(_:retainGraph:)``, calling `onLeafGradient` with each leaf as soon as its
    /// ``grad`` holds this pass's whole contribution, while the pass goes on through the rest
    /// of the graph (torch's post-accumulate-grad hooks): data-parallel training starts
    /// sending a layer's gradients while earlier layers' are still being computed.
    public func backward(_ gradient: Tensor? = nil, retainGraph: Bool = false,
                         onLeafGradient: ((Tensor) -> Void)?) {
        require(requiresGrad,
                "backward: the tensor (shape \(describe(shape))) does not require grad and has no graph")
        let seed: Tensor
        if let gradient {
            require(gradient.shape == shape,
                    "backward: gradient shape \(describe(gradient.shape)) differs from the tensor's \(describe(shape))")
            seed = gradient.dtype == dtype ? gradient : gradient.to(dtype)
        } else {
            require(count == 1,
                    "backward: the tensor has shape \(describe(shape)); pass a gradient for a non-scalar output")
            seed = Tensor.ones(shape, dtype: dtype)
        }
        let order = topologicalOrder()
        let profiling = OperationProfile.isEnabled
        if profiling { OperationProfile.beginBackward() }
        defer { if profiling { OperationProfile.endBackward() } }
        pendingGrad = seed
        // Reverse topological order: every tensor's gradient is complete before its node runs.
        for tensor in order.reversed() {
            guard let grad = tensor.pendingGrad else { continue }
            tensor.pendingGrad = nil
            if tensor.retainsGrad || tensor.node == nil {
                tensor.accumulateGrad(grad)
                // Reverse topological order: every consumer of a leaf has run before it.
                if tensor.node == nil, let onLeafGradient { onLeafGradient(tensor) }
            }
            guard let node = tensor.node else { continue }
            guard let rule = node.rule else {
                fatalError("backward: the graph through '\(node.op)' was already freed; pass retainGraph: true to the first backward")
            }
            node.checkSavedVersions(output: tensor)
            // One read of the node's inputs for the whole step (each read of the class's array
            // property costs a retain and a release).
            let inputs = node.inputs
            var bits: UInt64 = 0
            for (i, input) in inputs.enumerated() where input.requiresGrad { bits |= 1 << UInt64(i) }
            let start = profiling ? OperationProfile.clock() : 0
            let grads = withNoGrad { rule(grad, InputMask(bits: bits)) }
            if profiling { OperationProfile.recordBackward(node.op, start: start, gradient: grad, gradients: grads) }
            for (i, input) in inputs.enumerated() where input.requiresGrad {
                guard i < grads.count, let g = grads[i] else { continue }
                // Most gradients already have their input's shape and type: skip the call.
                let reduced = g.shape == input.shape && g.dtype == input.dtype ? g : g.reduced(toShapeOf: input, op: node.op)
                if let pending = input.pendingGrad {
                    input.pendingGrad = withNoGrad { pending + reduced }
                } else {
                    input.pendingGrad = reduced
                }
            }
            if !retainGraph {
                node.rule = nil
                node.inputs = []
                node.saved = SavedTensors()
            }
        }
    }

    /// Adds `grad` into ``grad``, in place when a gradient buffer exists already.
    private func accumulateGrad(_ incoming: Tensor) {
        if let existing = grad {
            withNoGrad { existing.addInPlaceUnchecked(incoming) }
        } else {
            // A copy: rules may hand the same tensor to several inputs, and `grad` is mutated
            // in place later (accumulation, zeroing, clipping).
            grad = withNoGrad { incoming.contiguousCopy() }
        }
    }

    /// The tensors reachable from this one through recorded nodes, inputs before outputs.
    private func topologicalOrder() -> [Tensor] {
        let mark = visitCounter.next()
        var order: [Tensor] = []
        // Iterative depth-first post-order: deep graphs (thousands of ops) cannot overflow.
        var stack: [(Tensor, Int)] = [(self, 0)]
        visitMark = mark
        while !stack.isEmpty {
            let (tensor, next) = stack[stack.count - 1]
            let inputs = tensor.node?.inputs ?? []
            if next < inputs.count {
                stack[stack.count - 1].1 = next + 1
                let input = inputs[next]
                if input.requiresGrad && input.visitMark != mark {
                    input.visitMark = mark
                    stack.append((input, 0))
                }
            } else {
                order.append(tensor)
                stack.removeLast()
            }
        }
        return order
    }

    /// A gradient of an op's output shape summed down to `input`'s shape (undoing broadcasting)
    /// and converted to its element type: the one place where broadcasting is undone.
    func reduced(toShapeOf input: Tensor, op: String) -> Tensor {
        var result = self
        if result.shape != input.shape {
            result = withNoGrad { result.summed(toShape: input.shape, op: op) }
        }
        if result.dtype != input.dtype {
            result = withNoGrad { result.to(input.dtype) }
        }
        return result
    }

    /// Sums a broadcast result back to `target`, a shape it was broadcast from.
    func summed(toShape target: [Int], op: String) -> Tensor {
        if shape == target { return self }
        require(shape.count >= target.count,
                "\(op): gradient of shape \(describe(shape)) cannot reduce to \(describe(target))")
        let lead = shape.count - target.count
        var dims: [Int] = Array(0..<lead)
        for (i, size) in target.enumerated() where size == 1 && shape[lead + i] != 1 {
            dims.append(lead + i)
        }
        let summedTensor = dims.isEmpty ? self : sum(dims: dims, keepDim: true)
        require(summedTensor.count == target.reduce(1, *),
                "\(op): gradient of shape \(describe(shape)) cannot reduce to \(describe(target))")
        return summedTensor.reshaped(target)
    }

    /// A tensor with the same values and no graph (torch's `detach`); shares memory.
    public func detached() -> Tensor {
        guard let viewStrides else { return Tensor(storage: storage, shape: shape, dtype: dtype, offset: offset) }
        return Tensor(storage: storage, shape: shape, dtype: dtype, offset: offset, strides: viewStrides)
    }

    /// Clears ``grad`` by zeroing it in place (the buffer is kept and reused by the next backward).
    public func zeroGrad() {
        if let grad { withNoGrad { grad.fill(0) } }
    }

    /// A short description of the graph that produced this tensor, one node per line.
    public var graphDescription: String {
        var lines: [String] = []
        var seen = Set<ObjectIdentifier>()
        var stack: [(Tensor, Int)] = [(self, 0)]
        while let (tensor, depth) = stack.popLast() {
            guard seen.insert(ObjectIdentifier(tensor)).inserted else { continue }
            let indent = String(repeating: "  ", count: depth)
            let what = tensor.node.map { $0.op } ?? (tensor.requiresGrad ? "leaf" : "constant")
            lines.append("\(indent)\(what) \(describe(tensor.shape))")
            for input in (tensor.node?.inputs ?? []).reversed() { stack.append((input, depth + 1)) }
        }
        return lines.joined(separator: "\n")
    }
}

// Rules that need the op's output capture it `unowned`: the output owns the node that owns the
// rule, so a strong capture would be a retain cycle, and the rule only runs while the backward
// pass holds the output.

extension Tensor {
    /// Records a custom differentiable operation, like a `torch.autograd.Function`: `output` was
    /// computed from `inputs` outside the graph (for instance through ``withUnsafeBufferPointer(as:_:)``),
    /// and `backward` maps the gradient of `output` to one gradient per input (`nil` for none).
    ///
    /// The rule runs without gradient recording. It must not capture `output` strongly (capture
    /// it `unowned`), or the output and its graph node keep each other alive.
    ///
    /// - Parameter saving: the tensors whose values `backward` reads (the output too, if it
    ///   does): the backward pass stops with a message naming `name` if one of them was written
    ///   in place after this call, instead of computing a wrong gradient.
    /// - Returns: `output`, now part of the graph when recording is on and an input requires grad.
    @discardableResult
    public static func recordOperation(_ name: String, inputs: [Tensor], output: Tensor,
                                       saving: [Tensor] = [],
                                       backward: @escaping (_ gradient: Tensor) -> [Tensor?]) -> Tensor {
        require(output.node == nil, "recordOperation(\(name)): the output already belongs to a recorded operation")
        return output.recording(name, inputs, saving: saving) { g, _ in backward(g) }
    }
}

extension Tensor {
    /// The name of the recorded operation that produced this tensor (`"tanh"`, `"matmul"`;
    /// torch's `grad_fn`), or `nil` for a leaf or a tensor computed without gradient recording.
    public var gradientOperation: String? { node?.op }

    /// The tensors the operation that produced this tensor read, in order (empty for a leaf,
    /// and once a backward pass has freed the graph).
    public var gradientOperationInputs: [Tensor] { node?.inputs ?? [] }
}
