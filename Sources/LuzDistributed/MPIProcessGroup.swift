import CLuzMPI
import Foundation
import Luz

/// An MPI call that failed, on which process, and why.
public struct MPIError: Error, CustomStringConvertible {
    /// The call (`"allreduce"`, `"broadcast"`, …).
    public let call: String
    /// The rank of the process it failed on, and the number of processes.
    public let rank: Int
    public let size: Int
    /// MPI's description of the failure.
    public let reason: String

    public var description: String { "MPI \(call) failed on rank \(rank) of \(size): \(reason)" }
}

/// The processes that `mpirun` started, over Open MPI (`MPI_COMM_WORLD`): Luz's transport for
/// ``DistributedDataParallel``.
///
/// ```swift
/// // mpirun -np 2 .build/release/my-training
/// let group = try MPIProcessGroup.world()
/// let fitted = try setup.fit(data, epochs: 10, callbacks: [DistributedDataParallel(group)])
/// ```
///
/// Needs the package's MPI trait (`swift build --traits MPI`, with Debian's `libopenmpi-dev`);
/// without it ``world(timeout:)`` throws and says so, and ``launched()`` returns `nil` for a
/// program started without `mpirun`, so one binary serves both.
///
/// Failures stop the job instead of hanging it: a collective that waits longer than the
/// timeout (a process died or stopped) ends this process with a message naming its rank, and
/// ``abort(_:)`` ends every process. `mpirun` itself ends the others when one exits abnormally.
public final class MPIProcessGroup: ProcessGroup {
    public let rank: Int
    public let size: Int
    /// How long a collective may wait for the other processes before this one gives up.
    public let timeout: Double

    private let watchdog: CollectiveWatchdog
    private var nextSlot: Int32 = 0
    private var slotsInFlight = Set<Int32>()

    private static let lock = NSLock()
    nonisolated(unsafe) private static var shared: MPIProcessGroup?

    /// Whether this build of Luz has the MPI transport (the MPI trait).
    public static var isAvailable: Bool { luz_mpi_is_built() != 0 }

    /// The number of processes `mpirun` started this one among (Open MPI's
    /// `OMPI_COMM_WORLD_SIZE`, or PMI's `PMI_SIZE`), `nil` for a program started otherwise.
    public static var launchedProcessCount: Int? {
        let environment = ProcessInfo.processInfo.environment
        for key in ["OMPI_COMM_WORLD_SIZE", "PMIX_SIZE", "PMI_SIZE"] {
            if let text = environment[key], let count = Int(text) { return count }
        }
        return nil
    }

    /// The seconds a collective waits by default: `LUZ_MPI_TIMEOUT` if set, otherwise 300.
    public static var defaultTimeout: Double {
        ProcessInfo.processInfo.environment["LUZ_MPI_TIMEOUT"].flatMap(Double.init) ?? 300
    }

    /// Every process of the job (initializing MPI on the first call; MPI is finalized when the
    /// program exits).
    /// - Parameter timeout: how long a collective may wait for the other processes.
    /// - Throws: ``MPIError`` when MPI cannot start, or when Luz was built without the MPI trait.
    public static func world(timeout: Double = defaultTimeout) throws -> MPIProcessGroup {
        lock.lock()
        defer { lock.unlock() }
        if let shared { return shared }
        guard isAvailable else {
            throw MPIError(call: "initialize", rank: 0, size: launchedProcessCount ?? 1,
                           reason: "Luz was built without MPI; build with `swift build --traits MPI` (needs Debian's libopenmpi-dev)")
        }
        var rank: Int32 = 0
        var size: Int32 = 1
        let status = luz_mpi_initialize(&rank, &size)
        guard status == 0 else {
            throw MPIError(call: "initialize", rank: 0, size: launchedProcessCount ?? 1, reason: errorText(status))
        }
        atexit { _ = luz_mpi_finalize() }
        let group = MPIProcessGroup(rank: Int(rank), size: Int(size), timeout: timeout)
        shared = group
        return group
    }

    /// The group of the processes `mpirun` started, or `nil` for a program started without it
    /// (one process).
    /// - Throws: ``MPIError`` when started by `mpirun` with several processes but built
    ///   without the MPI trait, or when MPI cannot start.
    public static func launched(timeout: Double = defaultTimeout) throws -> MPIProcessGroup? {
        guard let count = launchedProcessCount else { return nil }
        if !isAvailable && count == 1 { return nil }
        return try world(timeout: timeout)
    }

    private init(rank: Int, size: Int, timeout: Double) {
        self.rank = rank
        self.size = size
        self.timeout = timeout
        watchdog = CollectiveWatchdog(rank: rank, size: size, timeout: timeout)
    }

    private static func errorText(_ status: Int32) -> String {
        var buffer = [CChar](repeating: 0, count: 512)
        luz_mpi_error_text(status, &buffer, Int32(buffer.count))
        return String(cString: buffer)
    }

    private func check(_ call: String, _ status: Int32) throws {
        guard status == 0 else { throw MPIError(call: call, rank: rank, size: size, reason: Self.errorText(status)) }
    }

    /// Runs a call that waits for the other processes, under the watchdog.
    private func waiting(_ call: String, _ body: () -> Int32) throws {
        watchdog.begin(call)
        let status = body()
        watchdog.end()
        try check(call, status)
    }

    private func claimSlot() throws -> Int32 {
        guard slotsInFlight.count < Int(LUZ_MPI_MAX_REQUESTS) else {
            throw MPIError(call: "allreduce", rank: rank, size: size,
                           reason: "more than \(LUZ_MPI_MAX_REQUESTS) reductions in flight at once; use larger buckets")
        }
        while slotsInFlight.contains(nextSlot) { nextSlot = (nextSlot + 1) % LUZ_MPI_MAX_REQUESTS }
        let slot = nextSlot
        slotsInFlight.insert(slot)
        nextSlot = (nextSlot + 1) % LUZ_MPI_MAX_REQUESTS
        return slot
    }

    private func pending(_ slot: Int32) -> PendingReduction {
        PendingReduction(progress: { [self] in
            var done: Int32 = 0
            try check("allreduce", luz_mpi_test(slot, &done))
        }) { [self] in
            defer { slotsInFlight.remove(slot) }
            try waiting("allreduce") { luz_mpi_wait(slot) }
        }
    }

    public func startAllReduceSum(_ values: UnsafeMutableBufferPointer<Float>) throws -> PendingReduction {
        guard size > 1, let base = values.baseAddress else { return PendingReduction {} }
        return try startReduction { luz_mpi_start_allreduce_sum_float(base, values.count, $0) }
    }

    public func startAllReduceSum(_ values: UnsafeMutableBufferPointer<Double>) throws -> PendingReduction {
        guard size > 1, let base = values.baseAddress else { return PendingReduction {} }
        return try startReduction { luz_mpi_start_allreduce_sum_double(base, values.count, $0) }
    }

    /// Starts a non-blocking reduction in a free request slot (`start` calls MPI with it).
    private func startReduction(_ start: (Int32) -> Int32) throws -> PendingReduction {
        let slot = try claimSlot()
        do {
            try check("allreduce", start(slot))
        } catch {
            slotsInFlight.remove(slot)
            throw error
        }
        return pending(slot)
    }

    public func broadcast(_ bytes: UnsafeMutableRawBufferPointer, from root: Int) throws {
        require((0..<size).contains(root), "MPIProcessGroup.broadcast: root must be in 0..<\(size), got \(root)")
        guard size > 1, let base = bytes.baseAddress else { return }
        try waiting("broadcast") { luz_mpi_broadcast(base, bytes.count, Int32(root)) }
    }

    public func barrier() throws {
        guard size > 1 else { return }
        try waiting("barrier") { luz_mpi_barrier() }
    }

    /// Ends every process of the job, after printing `message` with this process's rank on
    /// standard error (what a rank does when its training throws).
    public func abort(_ message: String) -> Never {
        FileHandle.standardError.write(Data("luz: rank \(rank) of \(size) stops the job: \(message)\n".utf8))
        _ = luz_mpi_abort(1)
        exit(1)
    }
}

/// Ends the process when a collective waits longer than the timeout: a process that died or
/// hangs would otherwise keep every other one waiting for ever.
final class CollectiveWatchdog: @unchecked Sendable {
    private let condition = NSCondition()
    private var call: String?
    private var since = 0.0
    private let rank: Int
    private let size: Int
    private let timeout: Double
    private var thread: Thread?

    init(rank: Int, size: Int, timeout: Double) {
        self.rank = rank
        self.size = size
        self.timeout = timeout
    }

    private static func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }

    func begin(_ call: String) {
        condition.lock()
        self.call = call
        since = Self.now()
        if thread == nil, size > 1, timeout.isFinite {
            let watcher = Thread { [self] in watch() }
            watcher.name = "luz.MPIProcessGroup.watchdog"
            thread = watcher
            watcher.start()
        }
        condition.broadcast()
        condition.unlock()
    }

    func end() {
        condition.lock()
        call = nil
        condition.unlock()
    }

    private func watch() {
        condition.lock()
        while true {
            guard let call else {
                condition.wait()
                continue
            }
            let waited = Self.now() - since
            if waited >= timeout {
                let message = "luz: rank \(rank) of \(size) waited \(Int(waited)) s in MPI \(call) for the other processes (one has died or stopped); stopping\n"
                FileHandle.standardError.write(Data(message.utf8))
                _exit(2)
            }
            _ = condition.wait(until: Date(timeIntervalSinceNow: min(1, timeout - waited)))
        }
    }
}
