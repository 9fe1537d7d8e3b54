/// Batches for a run: what `fit`, `evaluate` and `predict` iterate, made from a data loader, a
/// dataset or tensors.
///
/// A dataset or a pair of tensors gets luz's loader defaults: batches of 32, shuffled with the
/// last partial batch dropped for training; never shuffled, nothing dropped for validation and
/// prediction.
public struct DataSource {
    /// The number of batches of one pass.
    public let batchCount: Int
    /// The number of examples of one pass.
    public let exampleCount: Int
    let makeIterator: () -> AnyIterator<Example>
    /// The generator that shuffles (or seeds a randomized dataset's epochs), whose state
    /// checkpoints save, when there is one.
    let generator: Generator?
    /// The underlying examples, for splitting off validation data.
    let dataset: AnyDataset<Example>?
    /// The loader settings, reused for a split-off training part.
    let batchSize: Int?
    let shuffles: Bool
    let dropsLast: Bool
    /// The same batches restricted to one process's share (see ``sharded(_:)``).
    let makeShard: ((DataShard) -> DataSource)?

    init(batchCount: Int, exampleCount: Int, generator: Generator?, dataset: AnyDataset<Example>?,
         batchSize: Int?, shuffles: Bool, dropsLast: Bool, makeShard: ((DataShard) -> DataSource)? = nil,
         makeIterator: @escaping () -> AnyIterator<Example>) {
        self.batchCount = batchCount
        self.exampleCount = exampleCount
        self.generator = generator
        self.dataset = dataset
        self.batchSize = batchSize
        self.shuffles = shuffles
        self.dropsLast = dropsLast
        self.makeShard = makeShard
        self.makeIterator = makeIterator
    }

    /// These batches restricted to one process's share of every epoch, for data-parallel
    /// training (``DataLoader/sharded(_:)``): the same generator, so the same permutation on
    /// every process, and the same batch size per process.
    /// - Throws: ``LuzError/invalidArgument(_:)`` when the batches were already sharded.
    public func sharded(_ shard: DataShard) throws -> DataSource {
        guard let makeShard else {
            throw LuzError.invalidArgument("DataSource.sharded: these batches are already one process's share")
        }
        return makeShard(shard)
    }

    /// Batches from a data loader, as it is configured.
    public static func loader<Source: Dataset>(_ loader: DataLoader<Source, Example>) -> DataSource {
        DataSource(batchCount: loader.count, exampleCount: loader.exampleCount,
                   generator: loader.shuffle || loader.dataset.isRandomized ? loader.generator : nil,
                   dataset: nil, batchSize: loader.batchSize,
                   shuffles: loader.shuffle, dropsLast: loader.dropLast,
                   makeShard: loader.shard == nil ? { DataSource.loader(loader.sharded($0)) } : nil) {
            AnyIterator(loader.makeIterator())
        }
    }

    /// Batches from a dataset of examples.
    public static func dataset<D: Dataset>(_ dataset: D, batchSize: Int = 32, shuffle: Bool = false,
                                           dropLast: Bool = false, generator: Generator? = nil) -> DataSource
    where D.Element == Example {
        let loader = DataLoader(AnyDataset(dataset), batchSize: batchSize, shuffle: shuffle, dropLast: dropLast,
                                generator: generator)
        let source = DataSource.loader(loader)
        return DataSource(batchCount: source.batchCount, exampleCount: source.exampleCount,
                          generator: source.generator, dataset: AnyDataset(dataset), batchSize: batchSize,
                          shuffles: shuffle, dropsLast: dropLast, makeShard: source.makeShard,
                          makeIterator: source.makeIterator)
    }

    /// Batches from inputs and targets sharing their first dimension.
    public static func tensors(_ inputs: Tensor, _ targets: Tensor, batchSize: Int = 32, shuffle: Bool = false,
                               dropLast: Bool = false, generator: Generator? = nil) -> DataSource {
        dataset(TensorDataset(inputs: inputs, targets: targets), batchSize: batchSize, shuffle: shuffle,
                dropLast: dropLast, generator: generator)
    }

    /// Batches from structured inputs and targets (several tensors by position or name), every
    /// tensor sharing its first dimension.
    public static func tensors(_ inputs: TensorTree, _ targets: TensorTree, batchSize: Int = 32, shuffle: Bool = false,
                               dropLast: Bool = false, generator: Generator? = nil) -> DataSource {
        dataset(TensorDataset(inputs: inputs, targets: targets), batchSize: batchSize, shuffle: shuffle,
                dropLast: dropLast, generator: generator)
    }

    /// Batches from several input tensors (by position) and one target tensor.
    public static func tensors(_ inputs: [Tensor], _ targets: Tensor, batchSize: Int = 32, shuffle: Bool = false,
                               dropLast: Bool = false, generator: Generator? = nil) -> DataSource {
        tensors(.tensors(inputs), .tensor(targets), batchSize: batchSize, shuffle: shuffle, dropLast: dropLast,
                generator: generator)
    }
}

/// Validation data for `fit`: a data loader, a dataset, tensors, or a fraction of the training
/// data split off before training (`validData: 0.2`).
public struct ValidationData: ExpressibleByFloatLiteral {
    enum Kind {
        case fraction(Double)
        case source(DataSource)
        case dataset(AnyDataset<Example>)
    }
    let kind: Kind

    /// The fraction of the training examples (in (0, 1)) to hold out, chosen at random.
    public init(floatLiteral value: Double) { kind = .fraction(value) }

    /// Holds out a fraction of the training examples.
    public static func fraction(_ value: Double) -> ValidationData { ValidationData(kind: .fraction(value)) }

    /// Validates on a data loader as configured.
    public static func loader<Source: Dataset>(_ loader: DataLoader<Source, Example>) -> ValidationData {
        ValidationData(kind: .source(.loader(loader)))
    }

    /// Validates on a dataset (batches with the run's batch size, never shuffled).
    public static func dataset<D: Dataset>(_ dataset: D) -> ValidationData where D.Element == Example {
        ValidationData(kind: .dataset(AnyDataset(dataset)))
    }

    /// Validates on inputs and targets.
    public static func tensors(_ inputs: Tensor, _ targets: Tensor) -> ValidationData {
        .dataset(TensorDataset(inputs: inputs, targets: targets))
    }

    private init(kind: Kind) { self.kind = kind }
}

/// How many epochs a run trains: a count, or a range whose lower bound early stopping respects
/// (luz's `epochs = c(min, max)`).
public struct EpochSpec: ExpressibleByIntegerLiteral, Sendable {
    public let minimum: Int
    public let maximum: Int

    public init(integerLiteral value: Int) { self.init(value) }
    public init(_ count: Int) {
        require(count >= 0, "epochs: the count must be non-negative, got \(count)")
        minimum = 1
        maximum = count
    }
    public init(_ range: ClosedRange<Int>) {
        require(range.lowerBound >= 1, "epochs: the minimum must be at least 1, got \(range)")
        minimum = range.lowerBound
        maximum = range.upperBound
    }
    /// At least `range.lowerBound` and at most `range.upperBound` epochs.
    public static func range(_ range: ClosedRange<Int>) -> EpochSpec { EpochSpec(range) }
}
