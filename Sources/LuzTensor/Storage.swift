#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A contiguous block of memory holding the elements of one or more tensors.
///
/// Several tensors may share one storage (a reshape or a row of a batch is a view, not a copy);
/// the block goes back to the ``StorageAllocator`` when the last of them goes away.
final class TensorStorage {
    let raw: UnsafeMutableRawPointer
    let byteCount: Int
    private let sizeClass: Int
    /// The number of in-place writes so far (torch's version counter, shared by every view).
    /// Read at every recorded operation that saves a tensor: unchecked for exclusivity, since
    /// it is a plain counter that no access holds across a call.
    @exclusivity(unchecked) var version = 0

    /// Allocates uninitialized memory for `count` elements of `dtype`, bound to the element type.
    init(count: Int, dtype: DType) {
        byteCount = Swift.max(count, 1) * dtype.byteCount
        (raw, sizeClass) = StorageAllocator.shared.allocate(byteCount: byteCount)
        switch dtype {
        case .float32: raw.bindMemory(to: Float.self, capacity: Swift.max(count, 1))
        case .float64: raw.bindMemory(to: Double.self, capacity: Swift.max(count, 1))
        case .int64: raw.bindMemory(to: Int64.self, capacity: Swift.max(count, 1))
        case .bool: raw.bindMemory(to: Bool.self, capacity: Swift.max(count, 1))
        }
    }

    deinit {
        StorageAllocator.shared.release(raw, sizeClass: sizeClass, byteCount: byteCount)
    }
}

/// A caching allocator for tensor memory.
///
/// A training step allocates the same buffers step after step (activations, gradients,
/// temporaries of the same shapes); handing freed blocks back out by size class removes the
/// `malloc`/`free` churn that would otherwise dominate small workloads and fault in fresh pages
/// for large ones. Blocks are rounded up to one of four classes per power of two (at most 25 %
/// slack) and 64-byte aligned; at most ``cacheLimit`` bytes are kept idle.
///
/// The cache never makes the process hold much more than its work needs: when a request finds
/// no idle block of its class, idle blocks of other classes, largest first, go back to the
/// system until live and idle bytes together are within half again the most bytes ever live at
/// once. A training loop's steady steps find their blocks and return nothing; an evaluation at
/// another batch size after training takes the memory of the training's idle blocks instead of
/// adding its own (`luz-bench resnet`'s loading, three of its training steps at batch 128 and
/// its evaluation at 256, replayed in one process: 615 → 488 MB peak resident). Blocks of 1 MiB and more are mapped from the system directly, so
/// that returning them lowers the resident size (freed to `malloc`, they could stay in its heap).
final class StorageAllocator: @unchecked Sendable {
    static let shared = StorageAllocator()

    private let lock = Mutex()
    private var idle: [[UnsafeMutableRawPointer]] = Array(repeating: [], count: 256)
    private var idleBytes = 0
    private(set) var liveStorages = 0
    private(set) var liveBytes = 0
    /// The most bytes live at once so far.
    private(set) var peakLiveBytes = 0

    /// The smallest block mapped from the system directly.
    static let mappedBlockBytes = 1 << 20

    /// The most idle bytes kept for reuse; beyond it, freed blocks go back to the system.
    var cacheLimit = 1 << 30

    /// The size class of a request and the capacity of blocks of that class.
    @inline(__always)
    static func sizeClass(for bytes: Int) -> (index: Int, capacity: Int) {
        if bytes <= 64 { return (0, 64) }
        let exponent = Int.bitWidth - (bytes - 1).leadingZeroBitCount - 1   // 2^e < bytes ≤ 2^(e+1)
        let quarter = 1 << (exponent - 2)
        let steps = (bytes - (1 << exponent) + quarter - 1) / quarter         // 1...4 quarters above 2^e
        let capacity = (1 << exponent) + steps * quarter
        return ((exponent - 6) * 4 + steps, capacity)
    }

    func allocate(byteCount: Int) -> (UnsafeMutableRawPointer, Int) {
        let (index, capacity) = StorageAllocator.sizeClass(for: byteCount)
        // A hit returns its block; a miss returns the idle blocks to give back, if any.
        let (reused, surplus): (UnsafeMutableRawPointer?, [(block: UnsafeMutableRawPointer, capacity: Int)]) = lock.withLock {
            liveStorages += 1
            liveBytes += capacity
            peakLiveBytes = Swift.max(peakLiveBytes, liveBytes)
            if index < idle.count, let block = idle[index].popLast() {
                idleBytes -= capacity
                return (block, [])
            }
            let bound = peakLiveBytes + peakLiveBytes / 2
            guard idleBytes > 0, liveBytes + idleBytes > bound else { return (nil, []) }
            return (nil, takeIdleBlocks(beyond: bound - liveBytes))
        }
        if let reused { return (reused, index) }
        for (block, blockCapacity) in surplus { StorageAllocator.free(block, capacity: blockCapacity) }
        return (StorageAllocator.systemAllocate(capacity), index)
    }

    /// Removes idle blocks, largest classes first, until at most `keep` idle bytes remain, and
    /// returns them (with the lock held).
    private func takeIdleBlocks(beyond keep: Int) -> [(block: UnsafeMutableRawPointer, capacity: Int)] {
        var taken: [(block: UnsafeMutableRawPointer, capacity: Int)] = []
        var index = idle.count - 1
        while idleBytes > Swift.max(keep, 0), index >= 0 {
            if let block = idle[index].popLast() {
                let capacity = StorageAllocator.capacity(ofClass: index)
                idleBytes -= capacity
                taken.append((block, capacity))
            } else {
                index -= 1
            }
        }
        return taken
    }

    /// The capacity of blocks of size class `index` (the inverse of ``sizeClass(for:)``), for a
    /// class that holds blocks (the last classes would be past 2^63 bytes).
    static func capacity(ofClass index: Int) -> Int {
        if index == 0 { return 64 }
        let exponent = (index - 1) / 4 + 6, steps = (index - 1) % 4 + 1
        return (1 << exponent) + steps * (1 << (exponent - 2))
    }

    /// A new block from the system: mapped pages from ``mappedBlockBytes`` on, `malloc`'s
    /// 64-byte-aligned memory below.
    static func systemAllocate(_ capacity: Int) -> UnsafeMutableRawPointer {
        if capacity >= mappedBlockBytes {
            guard let pages = mmap(nil, capacity, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
                  pages != MAP_FAILED else {
                fatalError("tensor memory: cannot map \(capacity) bytes (errno \(errno))")
            }
            return pages
        }
        return UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 64)
    }

    /// Returns a block of `capacity` bytes from ``systemAllocate(_:)`` to the system.
    static func free(_ block: UnsafeMutableRawPointer, capacity: Int) {
        if capacity >= mappedBlockBytes { munmap(block, capacity) } else { block.deallocate() }
    }

    func release(_ block: UnsafeMutableRawPointer, sizeClass index: Int, byteCount: Int) {
        let capacity = StorageAllocator.sizeClass(for: byteCount).capacity
        let kept: Bool = lock.withLock {
            liveStorages -= 1
            liveBytes -= capacity
            guard index < idle.count, idleBytes + capacity <= cacheLimit else { return false }
            idle[index].append(block)
            idleBytes += capacity
            return true
        }
        if !kept { StorageAllocator.free(block, capacity: capacity) }
    }

    /// Returns every idle block to the system.
    func emptyCache() {
        let blocks: [(block: UnsafeMutableRawPointer, capacity: Int)] = lock.withLock {
            var all: [(block: UnsafeMutableRawPointer, capacity: Int)] = []
            for i in idle.indices where !idle[i].isEmpty {
                let capacity = StorageAllocator.capacity(ofClass: i)
                all += idle[i].map { ($0, capacity) }
                idle[i].removeAll(keepingCapacity: true)
            }
            idleBytes = 0
            return all
        }
        for (block, capacity) in blocks { StorageAllocator.free(block, capacity: capacity) }
    }

    var snapshot: (storages: Int, bytes: Int, idleBytes: Int) {
        lock.withLock { (liveStorages, liveBytes, idleBytes) }
    }
}

/// Statistics about tensor memory, for leak checks and for the curious.
public enum TensorMemory {
    /// The number of tensor storages alive now (views share one).
    public static var liveStorageCount: Int { StorageAllocator.shared.snapshot.storages }
    /// The bytes held by live tensor storages (rounded up to the allocator's size classes).
    public static var liveBytes: Int { StorageAllocator.shared.snapshot.bytes }
    /// The bytes of freed tensor memory kept for reuse.
    public static var cachedBytes: Int { StorageAllocator.shared.snapshot.idleBytes }

    /// The most freed bytes kept for reuse (1 GiB by default); 0 turns caching off.
    public static var cacheLimit: Int {
        get { StorageAllocator.shared.cacheLimit }
        set { StorageAllocator.shared.cacheLimit = newValue }
    }

    /// Returns all cached memory to the system.
    public static func emptyCache() { StorageAllocator.shared.emptyCache() }
}
