import Foundation
import LuzTensor

/// Draws batches from a dataset, one epoch per iteration (torch's `DataLoader`).
///
/// ```swift
/// let loader = DataLoader(train, batchSize: 128, shuffle: true, generator: Generator(seed: 1))
/// for epoch in 0..<10 {
///     for batch in loader {              // each `for` loop is a new epoch, newly shuffled
///         step(batch.input, batch.target)   // inputs [128, ...], targets [128]
///     }
/// }
/// ```
///
/// - Shuffling uses the loader's own generator, so the order of batches depends only on its
///   seed, not on how many random numbers the model drew meanwhile: two loaders made with
///   generators of the same seed give the same batches, epoch after epoch. Without a generator
///   the loader seeds its own from the default generator when it is created (so `manualSeed`
///   before creating it makes runs reproducible, as in torch).
/// - The collate step turns the elements of a batch into one value; for ``Collatable`` elements
///   (``Example``, `Tensor`) the default stacks them along a new first dimension.
/// - A randomized dataset (one read through a random transform: augmentation) gets a new seed
///   for every epoch, drawn from the loader's generator after the epoch's order; each
///   element's draws derive from that seed and its position (``Dataset/element(at:epochSeed:)``).
///   An augmented epoch so depends only on the generator's seed, bit for bit, whether batches
///   are prefetched or not, and a checkpoint that saves the generator resumes it exactly.
/// - With `prefetch` > 0 a background thread prepares up to that many batches ahead while the
///   caller trains on the current one; the batches and their order are the same as without
///   prefetching. Leaving a loop early stops the thread.
///
/// The defaults are torch's: a batch size of 1, no shuffling, the last short batch kept.
public final class DataLoader<Source: Dataset, Batch>: Sequence {
    /// The dataset batches are drawn from.
    public let dataset: Source
    /// The number of elements in each batch (the last one may be smaller unless ``dropLast``).
    public let batchSize: Int
    /// Whether each epoch visits the elements in a new random order.
    public let shuffle: Bool
    /// Whether an incomplete last batch is left out.
    public let dropLast: Bool
    /// The generator the shuffled orders (and a randomized dataset's epoch seeds) are drawn from.
    public let generator: LuzTensor.Generator
    /// How many batches a background thread prepares ahead (0: none, batches are made on
    /// demand on the iterating thread).
    public let prefetch: Int

    private let collate: ([Source.Element]) -> Batch
    private let gather: (([Int]) -> Batch?)?
    private let seededGather: (([Int], UInt64) -> Batch?)?

    /// Creates a loader with a custom collate step.
    /// - Parameters:
    ///   - dataset: where the elements come from.
    ///   - batchSize: elements per batch (torch's default: 1).
    ///   - shuffle: draw a new random order every epoch (default `false`).
    ///   - dropLast: leave out an incomplete last batch (default `false`).
    ///   - generator: the source of the shuffled orders; a new one seeded from the default
    ///     generator when `nil`.
    ///   - prefetch: how many batches to prepare ahead on a background thread (default 0).
    ///   - collate: turns a batch's elements (in order) into the batch value.
    public convenience init(_ dataset: Source, batchSize: Int = 1, shuffle: Bool = false, dropLast: Bool = false,
                            generator: LuzTensor.Generator? = nil, prefetch: Int = 0,
                            collate: @escaping ([Source.Element]) -> Batch) {
        self.init(dataset, batchSize: batchSize, shuffle: shuffle, dropLast: dropLast,
                  generator: generator, prefetch: prefetch, collate: collate, gather: nil, seededGather: nil, shard: nil)
    }

    private init(_ dataset: Source, batchSize: Int, shuffle: Bool, dropLast: Bool,
                 generator: LuzTensor.Generator?, prefetch: Int,
                 collate: @escaping ([Source.Element]) -> Batch, gather: (([Int]) -> Batch?)?,
                 seededGather: (([Int], UInt64) -> Batch?)?, shard: DataShard?) {
        require(batchSize > 0, "DataLoader: batchSize must be positive, got \(batchSize)")
        require(prefetch >= 0, "DataLoader: prefetch must be 0 or more, got \(prefetch)")
        self.dataset = dataset
        self.batchSize = batchSize
        self.shuffle = shuffle
        self.dropLast = dropLast
        self.generator = generator ?? LuzTensor.Generator(seed: LuzTensor.Generator.default.nextUInt64())
        self.prefetch = prefetch
        self.collate = collate
        self.gather = gather
        self.seededGather = seededGather
        self.shard = shard
    }

    /// The number of batches in one epoch.
    public var count: Int {
        let examples = exampleCount
        return dropLast ? examples / batchSize : (examples + batchSize - 1) / batchSize
    }

    /// The number of examples one epoch of this loader yields: the dataset's, or this process's
    /// share of it when the loader is sharded.
    public var exampleCount: Int {
        shard?.exampleCount(of: dataset.count) ?? dataset.count
    }

    /// The part of each epoch this loader yields when it is one of several processes' loaders
    /// (``sharded(_:)``), or `nil` for the whole epoch.
    public let shard: DataShard?

    /// This loader restricted to one process's share of every epoch (torch's
    /// `DistributedSampler`): every process draws the same permutation from the same generator
    /// (the generator object is shared with this loader), pads it by repeating its start (or
    /// drops its tail) to a multiple of the process count, and takes every `count`-th index from
    /// its `rank` on. Across the processes each example is seen once per epoch (the padded ones
    /// twice), and each process batches its share as this loader batches the whole.
    public func sharded(_ shard: DataShard) -> DataLoader {
        DataLoader(dataset, batchSize: batchSize, shuffle: shuffle, dropLast: dropLast, generator: generator,
                   prefetch: prefetch, collate: collate, gather: gather, seededGather: seededGather, shard: shard)
    }

    /// The number of batches in one epoch.
    public var underestimatedCount: Int { count }

    /// The element positions of each batch of a new epoch (drawing a new order when shuffling).
    ///
    /// For a randomized dataset this also draws the epoch's seed, which ``nextEpoch()``
    /// returns; batches built without it read the elements with the epoch seed 0.
    public func nextEpochIndices() -> [[Int]] {
        nextEpoch().batches
    }

    /// A new epoch: the element positions of each batch (in a new order when shuffling) and,
    /// for a randomized dataset, the seed its elements' random draws derive from.
    public func nextEpoch() -> (batches: [[Int]], seed: UInt64?) {
        var order = shuffle ? generator.permutation(dataset.count) : Array(0..<dataset.count)
        if let shard { order = shard.indices(of: order) }
        let n = order.count
        // Drawn after the order, and only for randomized data: loaders of plain datasets draw
        // exactly what they drew before augmentation existed.
        let seed = dataset.isRandomized ? generator.nextUInt64() : nil
        let batches = (0..<count).map { b in
            Array(order[b * batchSize..<Swift.min(n, (b + 1) * batchSize)])
        }
        return (batches, seed)
    }

    /// Builds the batch holding the elements at `indices`, read with the epoch seed
    /// `epochSeed` when given (see ``Dataset/element(at:epochSeed:)``).
    public func batch(at indices: [Int], epochSeed: UInt64? = nil) -> Batch {
        if let epochSeed {
            if let seededGather, let batch = seededGather(indices, epochSeed) { return batch }
            return collate(indices.map { dataset.element(at: $0, epochSeed: epochSeed) })
        }
        if let gather, let batch = gather(indices) { return batch }
        return collate(indices.map { dataset[$0] })
    }

    /// Starts a new epoch.
    public func makeIterator() -> Iterator {
        let (epoch, seed) = nextEpoch()
        if prefetch == 0 {
            return Iterator(loader: self, epoch: epoch, seed: seed)
        }
        let queue = PrefetchQueue<Batch>(capacity: prefetch)
        // The worker holds the loader (not the iterator), so dropping the iterator cancels it.
        let worker = Thread { [self] in
            for indices in epoch {
                if !queue.put(self.batch(at: indices, epochSeed: seed)) { break }
            }
            queue.finish()
        }
        worker.name = "luz.DataLoader.prefetch"
        worker.start()
        return Iterator(queue: queue)
    }

    /// The batches of one epoch, in order.
    public struct Iterator: IteratorProtocol {
        private let loader: DataLoader?
        private let epoch: [[Int]]
        private let seed: UInt64?
        private var position = 0
        private let prefetched: PrefetchHandle<Batch>?

        init(loader: DataLoader, epoch: [[Int]], seed: UInt64?) {
            self.loader = loader
            self.epoch = epoch
            self.seed = seed
            prefetched = nil
        }

        init(queue: PrefetchQueue<Batch>) {
            loader = nil
            epoch = []
            seed = nil
            prefetched = PrefetchHandle(queue: queue)
        }

        /// The next batch, or `nil` at the end of the epoch.
        public mutating func next() -> Batch? {
            if let prefetched { return prefetched.queue.take() }
            guard let loader, position < epoch.count else { return nil }
            defer { position += 1 }
            return loader.batch(at: epoch[position], epochSeed: seed)
        }
    }
}

extension DataLoader where Source.Element: Collatable, Batch == Source.Element {
    /// Creates a loader whose batches stack the elements along a new first dimension: a batch of
    /// ``Example``s is one ``Example`` with inputs `[batchSize, ...]` and targets `[batchSize, ...]`.
    /// - Parameters:
    ///   - dataset: where the elements come from.
    ///   - batchSize: elements per batch (torch's default: 1).
    ///   - shuffle: draw a new random order every epoch (default `false`).
    ///   - dropLast: leave out an incomplete last batch (default `false`).
    ///   - generator: the source of the shuffled orders; a new one seeded from the default
    ///     generator when `nil`.
    ///   - prefetch: how many batches to prepare ahead on a background thread (default 0).
    public convenience init(_ dataset: Source, batchSize: Int = 1, shuffle: Bool = false,
                            dropLast: Bool = false, generator: LuzTensor.Generator? = nil, prefetch: Int = 0) {
        self.init(dataset, batchSize: batchSize, shuffle: shuffle, dropLast: dropLast,
                  generator: generator, prefetch: prefetch,
                  collate: { Source.Element.collated($0) }, gather: { dataset.batch(at: $0) },
                  seededGather: { dataset.batch(at: $0, epochSeed: $1) }, shard: nil)
    }
}

/// Cancels the producer when the last copy of an iterator goes away (a loop left early).
final class PrefetchHandle<Batch> {
    let queue: PrefetchQueue<Batch>
    init(queue: PrefetchQueue<Batch>) { self.queue = queue }
    deinit { queue.cancel() }
}

/// A bounded first-in first-out queue between one producer thread and one consumer.
final class PrefetchQueue<Batch>: @unchecked Sendable {
    private let condition = NSCondition()
    private var items: [Batch?]
    private var head = 0
    private var stored = 0
    private var finished = false
    private var cancelled = false

    init(capacity: Int) {
        items = Array(repeating: nil, count: capacity)
    }

    /// Adds a batch, waiting while the queue is full; returns `false` once the consumer is gone.
    func put(_ item: Batch) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        while stored == items.count && !cancelled { condition.wait() }
        if cancelled { return false }
        items[(head + stored) % items.count] = item
        stored += 1
        condition.broadcast()
        return true
    }

    /// Marks the end of the epoch.
    func finish() {
        condition.lock()
        finished = true
        condition.broadcast()
        condition.unlock()
    }

    /// Removes the oldest batch, waiting for one; `nil` once the producer has finished.
    func take() -> Batch? {
        condition.lock()
        defer { condition.unlock() }
        while stored == 0 && !finished { condition.wait() }
        guard stored > 0 else { return nil }
        let item = items[head]
        items[head] = nil
        head = (head + 1) % items.count
        stored -= 1
        condition.broadcast()
        return item
    }

    /// Tells the producer to stop.
    func cancel() {
        condition.lock()
        cancelled = true
        items = items.map { _ in nil }
        stored = 0
        condition.broadcast()
        condition.unlock()
    }
}

/// One process's share of every epoch of a data set split among `count` processes (see
/// ``DataLoader/sharded(_:)``).
public struct DataShard: Equatable, Sendable {
    /// This process's position, `0..<count`.
    public let rank: Int
    /// The number of processes sharing the data.
    public let count: Int
    /// Whether an epoch that does not divide evenly is padded by repeating its first examples
    /// (`true`, torch's default) or cut to the largest multiple of `count` (`false`, torch's
    /// `drop_last`). Either way every process gets the same number of examples.
    public let padsToEqualLength: Bool

    public init(rank: Int, count: Int, padsToEqualLength: Bool = true) {
        require(count > 0, "DataShard: count must be positive, got \(count)")
        require((0..<count).contains(rank), "DataShard: rank must be in 0..<\(count), got \(rank)")
        self.rank = rank
        self.count = count
        self.padsToEqualLength = padsToEqualLength
    }

    /// The number of examples this share holds of an epoch of `total`.
    public func exampleCount(of total: Int) -> Int {
        padsToEqualLength ? (total + count - 1) / count : total / count
    }

    /// This share of one epoch's order of indices.
    public func indices(of order: [Int]) -> [Int] {
        guard !order.isEmpty else { return [] }
        let length = exampleCount(of: order.count) * count
        return stride(from: rank, to: length, by: count).map { order[$0 % order.count] }
    }
}
