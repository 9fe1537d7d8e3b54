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
final class StorageAllocator: @unchecked Sendable {
    static let shared = StorageAllocator()

    private let lock = Mutex()
    private var idle: [[UnsafeMutableRawPointer]] = Array(repeating: [], count: 256)
    private var idleBytes = 0
    private(set) var liveStorages = 0
    private(set) var liveBytes = 0

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
        let reused: UnsafeMutableRawPointer? = lock.withLock {
            liveStorages += 1
            liveBytes += capacity
            if index < idle.count, let block = idle[index].popLast() {
                idleBytes -= capacity
                return block
            }
            return nil
        }
        if let reused { return (reused, index) }
        return (UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 64), index)
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
        if !kept { block.deallocate() }
    }

    /// Returns every idle block to the system.
    func emptyCache() {
        let blocks: [UnsafeMutableRawPointer] = lock.withLock {
            let all = idle.flatMap { $0 }
            for i in idle.indices { idle[i].removeAll(keepingCapacity: true) }
            idleBytes = 0
            return all
        }
        for block in blocks { block.deallocate() }
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
