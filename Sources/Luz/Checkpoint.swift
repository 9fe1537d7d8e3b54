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
    /// Why the run was stopping when the checkpoint was written (early stopping at this
    /// epoch), if it was: a run resumed from it stops too instead of training on.
    public var stopReason: String?
    /// The tensors (model, optimizers, callbacks) and, in its metadata, everything else.
    public var state: StateDict

    static let formatKey = "luz.format"
    /// The version of the layout this Luz writes and the newest it reads.
    static let format = 1
    /// The largest epoch number a checkpoint may hold.
    static let maximumEpoch = 1 << 40

    /// Captures the state of a run at the end of `context.epoch`.
    init(context: Context) {
        epoch = context.epoch
        records = context.records
        timings = context.timings
        var state = StateDict()
        var metadata: [String: String] = [Checkpoint.formatKey: String(Checkpoint.format), "luz.epoch": String(epoch)]
        for part in context.checkpointParts {
            let saved = part.save()
            for (key, tensor) in saved { state["\(part.prefix).\(key)"] = tensor.detached() }
            for (key, value) in saved.metadata { metadata["\(part.prefix).\(key)"] = value }
        }
        // The loop honours a stop request from the minimum epoch on (see `FittedModel.run`).
        if let reason = context.stopReason, epoch >= context.minEpochs {
            stopReason = reason
            metadata["luz.stopReason"] = reason
        }
        metadata["luz.records"] = Checkpoint.json(records)
        metadata["luz.timings"] = Checkpoint.json(timings)
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
        func fail(_ reason: String) -> LuzError { LuzError.checkpoint(path: path, reason: reason) }
        guard let formatText = state.metadata[Checkpoint.formatKey] else {
            throw fail("not a Luz checkpoint (no \(Checkpoint.formatKey) metadata)")
        }
        guard let format = Int(formatText), format >= 1 else {
            throw fail("metadata field \(Checkpoint.formatKey) is '\(formatText)', not a format number")
        }
        guard format <= Checkpoint.format else {
            throw fail("format \(format) is newer than this Luz reads (\(Checkpoint.format))")
        }
        guard let epochText = state.metadata["luz.epoch"], let epoch = Int(epochText) else {
            throw fail("metadata field luz.epoch is missing or not a number")
        }
        // The next epoch is epoch + 1: a hostile value must not overflow it.
        guard (0...Checkpoint.maximumEpoch).contains(epoch) else {
            throw fail("metadata field luz.epoch is \(epoch), outside 0...\(Checkpoint.maximumEpoch)")
        }
        self.epoch = epoch
        self.stopReason = state.metadata["luz.stopReason"]
        self.records = try Checkpoint.decode(Records.self, state.metadata["luz.records"], path: path, field: "luz.records")
        self.timings = try Checkpoint.decode(Timings.self, state.metadata["luz.timings"], path: path, field: "luz.timings")
        // Records may hold NaN (a diverged loss); their epochs and the timings' counts may not lie.
        // (A checkpoint of epoch 0 has no rows: `1...0` is no range, so the bounds are compared.)
        if let row = records.rows.first(where: { $0.epoch < 1 || $0.epoch > epoch }) {
            throw fail("metadata field luz.records has a row for epoch \(row.epoch), outside 1...\(epoch)")
        }
        let seconds = timings.trainSeconds + timings.validSeconds + [timings.fitSeconds]
        guard seconds.allSatisfy({ $0.isFinite && $0 >= 0 }), timings.trainBatches >= 0,
              timings.trainSeconds.count <= epoch, timings.validSeconds.count <= epoch else {
            throw fail("metadata field luz.timings holds negative or non-finite times, or more epochs than \(epoch)")
        }
        self.state = state
    }

    /// Writes the checkpoint atomically.
    public func save(to path: String) throws {
        try state.save(to: path)
    }

    /// The entries and metadata of one part (`prefix.`), with the prefix removed.
    func state(of part: CheckpointPart) -> StateDict {
        var scoped = state.scoped(to: part.prefix)
        let head = part.prefix + "."
        for (key, value) in state.metadata where key.hasPrefix(head) { scoped.metadata[String(key.dropFirst(head.count))] = value }
        return scoped
    }

    /// Puts the run in `context` back to this checkpoint's state: every part the context owns,
    /// then the records, timings and epoch.
    ///
    /// All or nothing: when a part refuses its state (a different optimizer, a damaged value)
    /// every part already restored is put back as it was, so a failed resume leaves the user's
    /// model and optimizers untouched.
    func restore(into context: Context, path: String) throws {
        let parts = context.checkpointParts
        let before = parts.map { $0.save().cloned() }
        do {
            for part in parts {
                let saved = state(of: part)
                // Absent from the checkpoint (a callback added since): keeps its fresh state.
                if saved.isEmpty && saved.metadata.isEmpty && !part.isRequired { continue }
                do {
                    try part.restore(saved)
                } catch {
                    throw LuzError.checkpoint(path: path, reason: "\(part.description): \(error)")
                }
            }
        } catch {
            for (part, snapshot) in zip(parts, before) { try? part.restore(snapshot) }
            throw error
        }
        context.records = records
        context.timings = timings
        context.startEpoch = epoch + 1
        context.stopReason = stopReason
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
}

/// One stateful thing a fit owns (the model, an optimizer, a callback, a random generator),
/// saved into a checkpoint under `prefix.` and restored from it.
///
/// Every part goes through the same path: ``Checkpoint`` saves each, restores each with the
/// same validation and error wording, and rolls all of them back when one fails. State that
/// is not listed in ``Context/checkpointParts`` is not resumed: a new kind of state joins there.
struct CheckpointPart: CustomStringConvertible {
    /// The key prefix of the part's entries and metadata.
    let prefix: String
    /// How errors name the part (`optimizer opt`, `callback EarlyStopping`).
    let description: String
    /// Whether a checkpoint without entries for the part is an error (the model, an optimizer)
    /// rather than a part added since the checkpoint was written (a new callback).
    let isRequired: Bool
    let save: () -> StateDict
    let restore: (StateDict) throws -> Void

    /// A random generator's position, as one int64 tensor of its state words.
    static func generator(_ generator: Generator, prefix: String, description: String) -> CheckpointPart {
        CheckpointPart(
            prefix: prefix, description: description, isRequired: false,
            save: { ["state": Tensor(generator.stateWords.map { Int64(bitPattern: $0) }, shape: [7])] },
            restore: { state in
                guard let tensor = state["state"] else { throw StateDictError.missingKey("state") }
                guard tensor.dtype == .int64, tensor.shape == [7] else {
                    throw StateDictError.incompatible("'state' is \(tensor.dtype) \(tensor.shape), not int64 [7]")
                }
                let words = tensor.withUnsafeBufferPointer(as: Int64.self) { $0.map { UInt64(bitPattern: $0) } }
                if let problem = Generator.problem(withStateWords: words) {
                    throw StateDictError.incompatible("'state' is not a usable generator state: \(problem)")
                }
                generator.stateWords = words
            })
    }
}

extension Context {
    /// Everything stateful this fit owns, each under its own checkpoint prefix: the model's
    /// weights, each optimizer (with its type), each callback (schedulers live in theirs), the
    /// default generator, the training data's shuffling generator (which also seeds an
    /// augmented dataset's epochs), the validation data's when it has one (augmented validation
    /// data) and every generator a layer of the model owns (``Module/namedGenerators()``).
    var checkpointParts: [CheckpointPart] {
        let model = self.model
        var parts = [CheckpointPart(prefix: "model", description: "model weights", isRequired: true,
                                    save: { model.stateDict() }, restore: { try model.loadStateDict($0) })]
        for (name, optimizer) in optimizers {
            parts.append(CheckpointPart(prefix: "optimizer.\(name)", description: "optimizer \(name)", isRequired: true,
                                        save: { optimizer.stateDict() }, restore: { try optimizer.loadStateDict($0) }))
        }
        for callback in callbacks {
            parts.append(CheckpointPart(
                prefix: "callback.\(callback.name)", description: "callback \(callback.name)", isRequired: false,
                save: { StateDict(callback.checkpointState().sorted { $0.key < $1.key }.map { ($0.key, $0.value) }) },
                restore: { state in
                    var values: [String: Tensor] = [:]
                    for (key, tensor) in state { values[key] = tensor }
                    try callback.restore(checkpointState: values)
                }))
        }
        // Each generator once: a layer may draw from the default or the data's generator.
        var generators: [(Generator, prefix: String, description: String)] = [(.default, "generator.default", "the default generator")]
        if let generator = trainData?.generator { generators.append((generator, "generator.train", "the training data's generator")) }
        if let generator = validData?.generator { generators.append((generator, "generator.valid", "the validation data's generator")) }
        for (name, generator) in model.namedGenerators() {
            generators.append((generator, "generator.model.\(name)", "the generator of layer \(name)"))
        }
        var seen = Set<ObjectIdentifier>()
        for (generator, prefix, description) in generators where seen.insert(ObjectIdentifier(generator)).inserted {
            parts.append(.generator(generator, prefix: prefix, description: description))
        }
        return parts
    }
}
