@testable import LuzTensor
import Testing

/// The caching allocator's bound: idle blocks go back to the system when a request misses the
/// cache and live plus idle bytes would pass half again the most bytes ever live at once.
@Suite("Tensor memory allocator")
struct StorageAllocatorTests {
    @Test("size classes and their capacities are inverse")
    func classCapacities() {
        for bytes in [1, 64, 65, 80, 81, 127, 128, 129, 1000, 4096, 1 << 20, (1 << 20) + 1, 12_345_678] {
            let (index, capacity) = StorageAllocator.sizeClass(for: bytes)
            #expect(capacity >= bytes && StorageAllocator.capacity(ofClass: index) == capacity, "\(bytes)")
        }
    }

    @Test("a miss returns idle blocks beyond half again the peak of live bytes, largest first")
    func missesTrimTheCache() {
        let allocator = StorageAllocator()
        let megabyte = 1 << 20
        // Four blocks live at once (the peak), then all idle.
        let first = (0..<4).map { _ in allocator.allocate(byteCount: megabyte) }
        for (block, index) in first { allocator.release(block, sizeClass: index, byteCount: megabyte) }
        #expect(allocator.snapshot.idleBytes == 4 * megabyte)
        // The same class again and again: every request finds a block, nothing is returned.
        for _ in 0..<10 {
            let (block, index) = allocator.allocate(byteCount: megabyte)
            allocator.release(block, sizeClass: index, byteCount: megabyte)
        }
        #expect(allocator.snapshot.idleBytes == 4 * megabyte)
        // Another class: 2 MB live and 4 idle is within 1.5 × the 4 MB peak; 4 MB live is not,
        // so idle blocks go until 2 MB remain.
        let a = allocator.allocate(byteCount: 2 * megabyte)
        #expect(allocator.snapshot.idleBytes == 4 * megabyte)
        let b = allocator.allocate(byteCount: 2 * megabyte)
        #expect(allocator.snapshot.idleBytes == 2 * megabyte)
        #expect(allocator.snapshot.bytes == 4 * megabyte)
        // The memory is usable: mapped blocks are written and read back.
        let p = a.0.assumingMemoryBound(to: UInt8.self), q = b.0.assumingMemoryBound(to: UInt8.self)
        p[0] = 1; p[2 * megabyte - 1] = 2; q[2 * megabyte - 1] = 3
        #expect(p[0] == 1 && p[2 * megabyte - 1] == 2 && q[2 * megabyte - 1] == 3)
        allocator.release(a.0, sizeClass: a.1, byteCount: 2 * megabyte)
        allocator.release(b.0, sizeClass: b.1, byteCount: 2 * megabyte)
        allocator.emptyCache()
        #expect(allocator.snapshot.idleBytes == 0 && allocator.snapshot.bytes == 0)
    }
}
