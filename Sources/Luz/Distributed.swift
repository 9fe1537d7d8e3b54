import Foundation

/// The processes of a data-parallel run and the collective operations between them (torch's
/// process group): each process knows its ``rank`` among ``size`` and can sum buffers across
/// all of them or send a buffer from one to all.
///
/// Luz's transport is Open MPI, in the `LuzDistributed` target (`MPIProcessGroup`, built with
/// `swift build --traits MPI`); ``SingleProcessGroup`` is the group of one process.
/// ``DistributedDataParallel`` trains over any group.
public protocol ProcessGroup: AnyObject {
    /// This process's position, `0..<size`; rank 0 prints and writes files.
    var rank: Int { get }
    /// The number of processes.
    var size: Int { get }
    /// Starts summing `values` element-wise across every process, in place; the result is
    /// there once the returned reduction's ``PendingReduction/wait()`` returns (the buffer must
    /// stay alive and untouched until then). Every process starts the same reductions in the
    /// same order.
    func startAllReduceSum(_ values: UnsafeMutableBufferPointer<Float>) throws -> PendingReduction
    /// ``startAllReduceSum(_:)-(UnsafeMutableBufferPointer<Float>)`` for `Double` values.
    func startAllReduceSum(_ values: UnsafeMutableBufferPointer<Double>) throws -> PendingReduction
    /// Replaces `bytes` on every process by those of process `root` (every process passes a
    /// buffer of the same size).
    func broadcast(_ bytes: UnsafeMutableRawBufferPointer, from root: Int) throws
    /// Returns once every process has called it.
    func barrier() throws
}

/// A reduction started by ``ProcessGroup/startAllReduceSum(_:)-(UnsafeMutableBufferPointer<Float>)``,
/// still running while the caller does other work.
public struct PendingReduction {
    private let finish: () throws -> Void
    private let advance: (() throws -> Void)?

    /// A reduction that `finish` completes (an already finished one: `PendingReduction {}`);
    /// `progress`, when given, lets the transport advance it without waiting.
    public init(progress: (() throws -> Void)? = nil, _ finish: @escaping () throws -> Void) {
        self.finish = finish
        self.advance = progress
    }

    /// Waits until the reduced values are in the buffer.
    public func wait() throws { try finish() }

    /// Lets the transport move the reduction on, without waiting (MPI makes progress on a
    /// non-blocking collective only inside its calls).
    public func progress() throws { try advance?() }
}

extension ProcessGroup {
    /// Sums `values` element-wise across every process.
    public func allReduceSum(_ values: inout [Double]) throws {
        try values.withUnsafeMutableBufferPointer { try startAllReduceSum($0).wait() }
    }

    /// Sums `values` element-wise across every process.
    public func allReduceSum(_ values: inout [Float]) throws {
        try values.withUnsafeMutableBufferPointer { try startAllReduceSum($0).wait() }
    }

    /// Process `root`'s bytes, on every process (the length travels first, so the other
    /// processes may pass anything).
    public func broadcast(_ bytes: [UInt8], from root: Int) throws -> [UInt8] {
        var length = [Double(bytes.count)]
        if rank != root { length[0] = 0 }
        // A sum in which only the root's length is non-zero is the root's length.
        try allReduceSum(&length)
        var buffer = rank == root ? bytes : [UInt8](repeating: 0, count: Int(length[0]))
        try buffer.withUnsafeMutableBytes { try broadcast($0, from: root) }
        return buffer
    }
}

/// The group of a single process: every collective is the identity. A run with it is an
/// ordinary run.
public final class SingleProcessGroup: ProcessGroup {
    public init() {}
    public var rank: Int { 0 }
    public var size: Int { 1 }
    public func startAllReduceSum(_ values: UnsafeMutableBufferPointer<Float>) throws -> PendingReduction { PendingReduction {} }
    public func startAllReduceSum(_ values: UnsafeMutableBufferPointer<Double>) throws -> PendingReduction { PendingReduction {} }
    public func broadcast(_ bytes: UnsafeMutableRawBufferPointer, from root: Int) throws {}
    public func barrier() throws {}
}

/// A callback that runs only on rank 0 of a data-parallel run (printing, writing files):
/// the other processes skip it.
public protocol PrimaryProcessCallback: Callback {}

/// Data-parallel training (torch's `DistributedDataParallel`, Horovod): the same `fit` run as
/// several processes, each on its own share of every epoch, their gradients averaged before
/// every optimizer step, so that they keep identical weights.
///
/// ```swift
/// let group = try MPIProcessGroup.world()            // LuzDistributed, under mpirun
/// let fitted = try setup.fit(train, epochs: 10, validData: valid,
///                            callbacks: [DistributedDataParallel(group)])
/// ```
///
/// What it does, on every process:
/// - When the run begins, after any resume: every process takes rank 0's whole state, through
///   the checkpoint mechanism (weights, optimizer state, the data's and the layers' random
///   generators, the callbacks' state, records and epoch). Processes may so start from
///   different random weights, and ``AutoResume`` resumes every one from rank 0's checkpoint.
/// - The training and validation batches are sharded (``DataShard``): one seeded permutation
///   per epoch on every process, each process every `size`-th example of it, padded to equal
///   length. The batch size is per process: the global batch is `size` times larger.
/// - After every backward pass the gradients are summed across processes in buckets of about
///   ``bucketMegabytes`` (the last layers' first, as backward produces them) and divided by
///   the process count. Each reduction is started without waiting, so that packing the next
///   bucket overlaps it (as far as the transport progresses it in the background); reductions
///   do not yet overlap the backward pass itself.
///   A gradient that is `nil` on a process counts as zero there.
/// - Losses and metrics are averaged across processes before they are recorded (every
///   process holds the same number of examples, so a mean of per-process means is the mean).
/// - Only rank 0 prints progress and runs the ``PrimaryProcessCallback``s (checkpoints, logs,
///   figures); ``AutoResume`` writes its file from rank 0 only.
///
/// With the same seed and global batch, a run on `N` processes ends with the weights of a
/// single-process run to float rounding (the sums are associated differently).
public final class DistributedDataParallel: Callback {
    /// The processes training together.
    public let group: any ProcessGroup
    /// The size of one bucket of gradients reduced at once, in megabytes (torch's
    /// `bucket_cap_mb`; larger buckets make fewer, longer messages).
    public let bucketMegabytes: Double
    /// Whether an epoch that does not divide evenly among the processes is padded with
    /// repeated examples (`true`) or cut (`false`).
    public let padsShards: Bool

    /// Runs before every other callback, so that they see rank 0's state and the sharded data.
    public var weight: Double { -2000 }

    private var buckets: [GradientBucket] = []
    private var layout: [ObjectIdentifier] = []
    /// This backward pass: each parameter's bucket, how many of each bucket's gradients are
    /// complete, the reductions started (in bucket order, the same on every process), and the
    /// first error met while starting one from the backward pass.
    private var bucketOfParameter: [ObjectIdentifier: Int] = [:]
    private var readyCounts: [Int] = []
    private var pending: [PendingReduction] = []
    private var isInPass = false
    private var passError: (any Error)?

    /// - Parameters:
    ///   - group: the processes (`MPIProcessGroup.world()` under mpirun).
    ///   - bucketMegabytes: the size of one bucket of gradients, 4 MB by default.
    ///   - padsShards: pad an uneven epoch with repeated examples (torch's default) or cut it.
    public init(_ group: any ProcessGroup, bucketMegabytes: Double = 4, padsShards: Bool = true) {
        require(bucketMegabytes > 0, "DistributedDataParallel: bucketMegabytes must be positive, got \(bucketMegabytes)")
        self.group = group
        self.bucketMegabytes = bucketMegabytes
        self.padsShards = padsShards
    }

    public func handle(_ event: Event, _ context: Context) throws {
        guard event == .fitBegin else { return }
        let shard = DataShard(rank: group.rank, count: group.size, padsToEqualLength: padsShards)
        if let data = context.trainData { context.trainData = try data.sharded(shard) }
        if let data = context.validData { context.validData = try data.sharded(shard) }
        try takeRankZeroState(context)
        guard group.size > 1 else { return }
        context.onLeafGradient = { [unowned self, unowned context] leaf in self.gradientIsReady(leaf, model: context.model) }
        context.afterBackward = { [unowned self, unowned context] in try self.averageGradients(of: context.model) }
    }

    /// Every process takes rank 0's state: its checkpoint, broadcast in memory.
    private func takeRankZeroState(_ context: Context) throws {
        guard group.size > 1 else { return }
        let epoch = context.epoch
        context.epoch = context.startEpoch - 1
        defer { context.epoch = epoch }
        let bytes = group.rank == 0 ? SafeTensors.encode(Checkpoint(context: context).state) : []
        let received = try group.broadcast(bytes, from: 0)
        if group.rank != 0 {
            let name = "rank 0's state"
            try Checkpoint(bytes: received, name: name).restore(into: context, path: name)
        }
    }

    /// Plans the buckets for `model`'s parameters (again only when they changed) and starts a
    /// backward pass's bookkeeping.
    private func beginPass(_ model: Module) throws {
        let parameters = model.parameters().filter { $0.requiresGrad }
        let identifiers = parameters.map(ObjectIdentifier.init)
        if identifiers != layout {
            buckets = try GradientBucket.plan(parameters, bytes: Int(bucketMegabytes * 1_048_576))
            layout = identifiers
            bucketOfParameter = [:]
            for (index, bucket) in buckets.enumerated() {
                for parameter in bucket.parameters { bucketOfParameter[ObjectIdentifier(parameter)] = index }
            }
        }
        readyCounts = Array(repeating: 0, count: buckets.count)
        pending = []
        pending.reserveCapacity(buckets.count)
        passError = nil
        isInPass = true
    }

    /// During backward: a parameter's gradient is complete. A bucket whose gradients all are
    /// is packed and its reduction started, in bucket order (every process must start the same
    /// reductions in the same order), while backward goes on with earlier layers.
    func gradientIsReady(_ leaf: Tensor, model: Module) {
        guard passError == nil else { return }
        do {
            if !isInPass { try beginPass(model) }
            guard let index = bucketOfParameter[ObjectIdentifier(leaf)] else { return }
            readyCounts[index] += 1
            while pending.count < buckets.count, readyCounts[pending.count] == buckets[pending.count].parameters.count {
                let bucket = buckets[pending.count]
                bucket.pack()
                pending.append(try bucket.startReduction(group))
            }
            for reduction in pending { try reduction.progress() }
        } catch {
            passError = error
        }
    }

    /// After backward: starts the reductions of the buckets not yet started (parameters
    /// without a gradient count as zero), waits for all, and writes the gradients back
    /// divided by the process count.
    func averageGradients(of model: Module) throws {
        guard group.size > 1 else { return }
        defer { isInPass = false }
        if !isInPass { try beginPass(model) }
        if let passError { throw passError }
        while pending.count < buckets.count {
            let bucket = buckets[pending.count]
            bucket.pack()
            pending.append(try bucket.startReduction(group))
        }
        let scale = 1 / Double(group.size)
        for (bucket, reduction) in zip(buckets, pending) {
            try reduction.wait()
            bucket.unpack(scale: scale)
        }
        pending = []
    }
}

/// Gradients of several parameters of one dtype, packed into one buffer for one reduction.
final class GradientBucket {
    let parameters: [Tensor]
    let dtype: DType
    private let floats: UnsafeMutableBufferPointer<Float>
    private let doubles: UnsafeMutableBufferPointer<Double>

    init(parameters: [Tensor], dtype: DType) {
        self.parameters = parameters
        self.dtype = dtype
        let count = parameters.reduce(0) { $0 + $1.count }
        floats = .allocate(capacity: dtype == .float32 ? count : 0)
        doubles = .allocate(capacity: dtype == .float64 ? count : 0)
    }

    deinit {
        floats.deallocate()
        doubles.deallocate()
    }

    /// Buckets of at most `bytes` each (a larger parameter alone in its own), one dtype each,
    /// the parameters in reverse order: the last layers' gradients are the first backward makes.
    static func plan(_ parameters: [Tensor], bytes: Int) throws -> [GradientBucket] {
        var buckets: [GradientBucket] = []
        var current: [Tensor] = []
        var currentBytes = 0
        var currentType: DType?
        func close() {
            if let type = currentType, !current.isEmpty { buckets.append(GradientBucket(parameters: current, dtype: type)) }
            current = []
            currentBytes = 0
        }
        for parameter in parameters.reversed() {
            guard parameter.dtype == .float32 || parameter.dtype == .float64 else {
                throw LuzError.invalidArgument("DistributedDataParallel: a parameter of shape \(parameter.shape) is \(parameter.dtype); gradients are averaged in float32 or float64")
            }
            let size = parameter.count * parameter.dtype.byteCount
            if parameter.dtype != currentType || (currentBytes > 0 && currentBytes + size > bytes) { close() }
            currentType = parameter.dtype
            current.append(parameter)
            currentBytes += size
        }
        close()
        return buckets
    }

    /// Copies the gradients in (zeros for a parameter without one).
    func pack() {
        if dtype == .float32 { pack(into: floats) } else { pack(into: doubles) }
    }

    private func pack<T: TensorScalar & BinaryFloatingPoint>(into buffer: UnsafeMutableBufferPointer<T>) {
        var offset = 0
        for parameter in parameters {
            let count = parameter.count
            let target = UnsafeMutableBufferPointer(rebasing: buffer[offset..<offset + count])
            if let grad = parameter.grad {
                grad.withUnsafeBufferPointer(as: T.self) { _ = target.initialize(from: $0) }
            } else {
                target.initialize(repeating: T.zero)
            }
            offset += count
        }
    }

    func startReduction(_ group: any ProcessGroup) throws -> PendingReduction {
        dtype == .float32 ? try group.startAllReduceSum(floats) : try group.startAllReduceSum(doubles)
    }

    /// Writes the reduced sums times `scale` back as the gradients.
    func unpack(scale: Double) {
        if dtype == .float32 { unpack(from: floats, scale: Float(scale)) } else { unpack(from: doubles, scale: scale) }
    }

    private func unpack<T: TensorScalar & BinaryFloatingPoint>(from buffer: UnsafeMutableBufferPointer<T>, scale: T) {
        var offset = 0
        for parameter in parameters {
            let count = parameter.count
            if parameter.grad == nil { parameter.grad = Tensor.zeros(like: parameter) }
            parameter.grad!.withUnsafeMutableBufferPointer(as: T.self) { grad in
                for index in 0..<count { grad[index] = buffer[offset + index] * scale }
            }
            offset += count
        }
    }
}
