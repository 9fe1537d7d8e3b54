import Foundation

/// Everything needed to continue a run exactly where it stopped: weights, optimizer state,
/// callback state, records, the epoch and the random generators' state, in one safetensors file.
///
/// Tensors are stored under `model.`, `optimizer.<name>.` and `callback.<name>.` prefixes; the
/// rest travels as JSON in the file's metadata. Files are written to a temporary file and
/// renamed into place, so a run killed while saving leaves the previous checkpoint intact.
public struct Checkpoint {
    /// The last completed epoch.
    public var epoch: Int
    public var records: Records
    public var timings: Timings
    public var state: StateDict

    static let formatKey = "luz.format"

    /// Captures the state of a run at the end of `context.epoch`.
    init(context: Context) {
        epoch = context.epoch
        records = context.records
        timings = context.timings
        var state = context.model.stateDict().prefixed(with: "model")
        for (name, optimizer) in context.optimizers {
            for (key, tensor) in optimizer.stateDict() { state["optimizer.\(name).\(key)"] = tensor }
        }
        for callback in context.callbacks {
            for (key, tensor) in callback.checkpointState() { state["callback.\(callback.name).\(key)"] = tensor.detached() }
        }
        var metadata: [String: String] = [Checkpoint.formatKey: "1", "luz.epoch": String(epoch)]
        metadata["luz.records"] = Checkpoint.json(records)
        metadata["luz.timings"] = Checkpoint.json(timings)
        metadata["luz.generator"] = Checkpoint.hex(Generator.default.stateWords)
        if let generator = context.trainData?.generator {
            metadata["luz.trainGenerator"] = Checkpoint.hex(generator.stateWords)
        }
        metadata["luz.hyperparameters"] = Checkpoint.json(context.hyperparameters)
        metadata["luz.optimizerHyperparameters"] = Checkpoint.json(context.optimizerHyperparameters)
        state.metadata = metadata
        self.state = state
    }

    /// Reads a checkpoint file, checking that it is one.
    public init(contentsOf path: String) throws {
        let state = try StateDict(contentsOf: path)
        guard state.metadata[Checkpoint.formatKey] == "1",
              let epochText = state.metadata["luz.epoch"], let epoch = Int(epochText) else {
            throw LuzError.checkpoint(path: path, reason: "not a Luz checkpoint (no luz.format/luz.epoch metadata)")
        }
        self.epoch = epoch
        self.records = try Checkpoint.decode(Records.self, state.metadata["luz.records"], path: path, field: "luz.records")
        self.timings = try Checkpoint.decode(Timings.self, state.metadata["luz.timings"], path: path, field: "luz.timings")
        self.state = state
    }

    /// Writes the checkpoint atomically.
    public func save(to path: String) throws {
        try state.save(to: path)
    }

    /// Puts the run in `context` back to this checkpoint's state.
    func restore(into context: Context, path: String) throws {
        do {
            try context.model.loadStateDict(state.scoped(to: "model"))
        } catch {
            throw LuzError.checkpoint(path: path, reason: "model weights: \(error)")
        }
        for (name, optimizer) in context.optimizers {
            do {
                try optimizer.loadStateDict(state.scoped(to: "optimizer.\(name)"))
            } catch {
                throw LuzError.checkpoint(path: path, reason: "optimizer \(name): \(error)")
            }
        }
        for callback in context.callbacks {
            let scoped = state.scoped(to: "callback.\(callback.name)")
            var values: [String: Tensor] = [:]
            for (key, tensor) in scoped { values[key] = tensor }
            if !values.isEmpty { try callback.restore(checkpointState: values) }
        }
        if let words = state.metadata["luz.generator"] {
            Generator.default.stateWords = try Checkpoint.words(words, path: path, field: "luz.generator")
        }
        if let words = state.metadata["luz.trainGenerator"], let generator = context.trainData?.generator {
            generator.stateWords = try Checkpoint.words(words, path: path, field: "luz.trainGenerator")
        }
        context.records = records
        context.timings = timings
        context.startEpoch = epoch + 1
    }

    static func json<T: Encodable>(_ value: T) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: (try? encoder.encode(value)) ?? Data(), as: UTF8.self)
    }

    static func decode<T: Decodable>(_ type: T.Type, _ text: String?, path: String, field: String) throws -> T {
        guard let text, let value = try? JSONDecoder().decode(T.self, from: Data(text.utf8)) else {
            throw LuzError.checkpoint(path: path, reason: "metadata field \(field) is missing or malformed")
        }
        return value
    }

    static func hex(_ words: [UInt64]) -> String { words.map { String($0, radix: 16) }.joined(separator: ",") }

    static func words(_ text: String, path: String, field: String) throws -> [UInt64] {
        let words = text.split(separator: ",").compactMap { UInt64($0, radix: 16) }
        guard words.count == 7 else {
            throw LuzError.checkpoint(path: path, reason: "metadata field \(field) does not hold a generator state")
        }
        return words
    }
}
