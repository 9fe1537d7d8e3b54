import Dispatch
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A small mutual-exclusion lock over `pthread_mutex_t`.
final class Mutex: @unchecked Sendable {
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>

    init() {
        mutex = .allocate(capacity: 1)
        pthread_mutex_init(mutex, nil)
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    @inline(__always)
    func withLock<R>(_ body: () throws -> R) rethrows -> R {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body()
    }
}

/// How Luz splits large elementwise work across the cores.
public enum Parallelism {
    /// The number of worker threads used for large elementwise and reduction work and for
    /// matrix products. Defaults to `LUZ_NUM_THREADS` when it is set to a positive number (one
    /// thread per process for data-parallel processes sharing a machine), otherwise to the
    /// number of active processors.
    nonisolated(unsafe) public static var threadCount: Int = {
        if let text = ProcessInfo.processInfo.environment["LUZ_NUM_THREADS"], let count = Int(text), count > 0 {
            return count
        }
        return ProcessInfo.processInfo.activeProcessorCount
    }()

    /// Below this many elements work stays on the calling thread: a dispatch costs a few
    /// microseconds, more than a small loop takes.
    nonisolated(unsafe) public static var minimumParallelElements: Int = 1 << 16

    /// Runs `body` over `0..<count` in contiguous chunks, on several threads when
    /// `count · cost` reaches ``minimumParallelElements`` (`cost` being the work per index
    /// relative to adding two numbers): for kernels written outside the tensor core, such as
    /// the optimizers' updates.
    public static func forEachChunk(of count: Int, cost: Int = 1, _ body: (Range<Int>) -> Void) {
        parallelChunks(count, cost: cost, body)
    }
}

