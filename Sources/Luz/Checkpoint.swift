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
    /// The metrics of every completed epoch.
    public var records: Records
    /// The time spent in each phase so far.
    public var timings: Timings
    /// The tensors (model, optimizers, callbacks) and, in its metadata, everything else.
    public var state: StateDict

    static let formatKey = "luz.format"
    /// The largest epoch number a checkpoint may hold.
    static let maximumEpoch = 1 << 40

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
    /// - Throws: ``WeightFileError`` for a file that is not valid safetensors,
    ///   ``LuzError/checkpoint(path:reason:)`` naming the file and the field for one that is not
    ///   a Luz checkpoint or holds malformed metadata.
    public init(contentsOf path: String) throws {
        try self.init(state: StateDict(contentsOf: path), path: path)
    }

    /// Parses a checkpoint held in memory (the content of a checkpoint file), with the same
    /// checks as ``init(contentsOf:)``.
    /// - Parameters:
    ///   - bytes: the file content.
    ///   - name: the name errors give for the data.
    public init(bytes: [UInt8], name: String = "<memory>") throws {
        try self.init(state: SafeTensors.decode(bytes, name: name), path: name)
    }

    private init(state: StateDict, path: String) throws {
        guard state.metadata[Checkpoint.formatKey] == "1",
              let epochText = state.metadata["luz.epoch"], let epoch = Int(epochText) else {
            throw LuzError.checkpoint(path: path, reason: "not a Luz checkpoint (no luz.format/luz.epoch metadata)")
        }
        // The next epoch is epoch + 1: a hostile value must not overflow it.
        guard (0...Checkpoint.maximumEpoch).contains(epoch) else {
            throw LuzError.checkpoint(path: path, reason: "metadata field luz.epoch is \(epoch), outside 0...\(Checkpoint.maximumEpoch)")
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

    // Records and timings hold NaN whenever a loss diverged or an epoch had no batch; plain JSON
    // has no NaN and `JSONEncoder` refuses it, which used to leave an empty field that made the
    // checkpoint unreadable. Non-finite values travel as strings.
    private static let nonFinite = (positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")

    static func json<T: Encodable>(_ value: T) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(
            positiveInfinity: nonFinite.positiveInfinity, negativeInfinity: nonFinite.negativeInfinity, nan: nonFinite.nan)
        return String(decoding: (try? encoder.encode(value)) ?? Data(), as: UTF8.self)
    }

    static func decode<T: Decodable>(_ type: T.Type, _ text: String?, path: String, field: String) throws -> T {
        let decoder = JSONDecoder()
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(
            positiveInfinity: nonFinite.positiveInfinity, negativeInfinity: nonFinite.negativeInfinity, nan: nonFinite.nan)
        guard let text, let value = try? decoder.decode(T.self, from: Data(text.utf8)) else {
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
