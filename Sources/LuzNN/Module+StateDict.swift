import LuzTensor

extension Module {
    /// The parameters and buffers by dotted name, in declaration order (torch's `state_dict`).
    ///
    /// The tensors are the module's own (not copies): save them, or copy them before training
    /// further if a snapshot is wanted (``StateDict/cloned()``).
    public func stateDict() -> StateDict {
        var state = StateDict()
        for (prefix, _, members) in memberTree() {
            for (name, tensor) in members.parameters {
                let key = prefix.isEmpty ? name : prefix + "." + name
                if state[key] == nil { state[key] = tensor }
            }
            for (name, tensor) in members.buffers {
                let key = prefix.isEmpty ? name : prefix + "." + name
                if state[key] == nil { state[key] = tensor }
            }
        }
        return state
    }

    /// Copies the values of `state` into the module's parameters and buffers, in place (each
    /// tensor keeps its identity, so optimizers holding them stay valid; values are converted
    /// to each tensor's dtype).
    ///
    /// Every key and shape is checked before anything is copied, and the first mismatch is
    /// thrown: a key of the module missing from `state`, then a shape that differs, then a key
    /// of `state` the module lacks. With `strict: false`, missing and unexpected keys are
    /// allowed (only shapes must agree), as in torch.
    public func loadStateDict(_ state: StateDict, strict: Bool = true) throws {
        var state = state
        for (prefix, module, _) in memberTree() {
            module.adaptIncomingState(&state, prefix: prefix.isEmpty ? "" : prefix + ".")
        }
        let own = stateDict()
        for (key, tensor) in own {
            guard let incoming = state[key] else {
                if strict { throw StateDictError.missingKey(key) }
                continue
            }
            guard incoming.shape == tensor.shape else {
                throw StateDictError.shapeMismatch(key: key, expected: tensor.shape, found: incoming.shape)
            }
        }
        if strict {
            for key in state.keys where own[key] == nil { throw StateDictError.unexpectedKey(key) }
        }
        withNoGrad {
            for (key, tensor) in own {
                if let incoming = state[key], incoming !== tensor { tensor.copy(from: incoming) }
            }
        }
    }

    /// Writes the module's parameters and buffers to a safetensors file at `path` (keys are
    /// the dotted names), through a temporary file renamed into place.
    public func save(to path: String, metadata: [String: String] = [:]) throws {
        var state = stateDict()
        state.metadata = metadata
        try state.save(to: path)
    }

    /// Loads parameters and buffers from a safetensors file written by ``save(to:metadata:)``
    /// or by Python's `safetensors` (`save_file(model.state_dict(), path)`).
    ///
    /// - Throws: ``WeightFileError`` for an unreadable or malformed file, ``StateDictError``
    ///   naming the first key or shape that does not match the module, wrapped in a
    ///   ``WeightFileError`` that names the file.
    public func load(from path: String, strict: Bool = true) throws {
        let state = try StateDict(contentsOf: path)
        do {
            try loadStateDict(state, strict: strict)
        } catch let error as StateDictError {
            throw WeightFileError(file: path, reason: "does not fit \(typeName): \(error)")
        }
    }
}

extension StateDict {
    /// A copy whose tensors are copies (a snapshot that later training does not change).
    public func cloned() -> StateDict {
        var copy = StateDict()
        for (key, tensor) in self { copy[key] = withNoGrad { tensor.cloned() } }
        copy.metadata = metadata
        return copy
    }
}
