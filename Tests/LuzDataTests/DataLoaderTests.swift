import Foundation
import LuzData
import LuzTensor
import Testing

/// The targets of each batch of an epoch.
func batchTargets<S: Dataset>(_ loader: DataLoader<S, Example>) -> [[Int64]] {
    loader.map { $0.target.scalars(as: Int64.self) }
}

@Suite("data loader")
struct DataLoaderTests {
    @Test("batch counts and shapes, with and without drop-last")
    func counts() {
        let dataset = rangeDataset(10)
        let keep = DataLoader(dataset, batchSize: 4)
        #expect(keep.count == 3)
        #expect(keep.map(\.input.shape) == [[4, 2], [4, 2], [2, 2]])
        #expect(batchTargets(keep) == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]])
        let drop = DataLoader(dataset, batchSize: 4, dropLast: true)
        #expect(drop.count == 2)
        #expect(batchTargets(drop) == [[0, 1, 2, 3], [4, 5, 6, 7]])
        #expect(DataLoader(dataset, batchSize: 5, dropLast: true).count == 2)
        #expect(DataLoader(dataset, batchSize: 11, dropLast: true).map { $0 }.isEmpty)
        #expect(DataLoader(dataset).count == 10)
    }

    @Test("shuffling: each epoch a permutation, the same seed the same batches, epochs differ")
    func shuffleDeterminism() {
        let dataset = rangeDataset(50)
        let a = DataLoader(dataset, batchSize: 8, shuffle: true, generator: Generator(seed: 42))
        let b = DataLoader(dataset, batchSize: 8, shuffle: true, generator: Generator(seed: 42))
        let a1 = batchTargets(a), a2 = batchTargets(a)
        #expect(a1 == batchTargets(b))
        #expect(a2 == batchTargets(b))
        #expect(a1 != a2, "two epochs had the same order")
        #expect(a1.flatMap { $0 }.sorted() == (0..<50).map(Int64.init))
        #expect(a1.flatMap { $0 } != (0..<50).map(Int64.init))
        let c = DataLoader(dataset, batchSize: 8, shuffle: true, generator: Generator(seed: 43))
        #expect(batchTargets(c) != a1)
        // Drop-last with shuffling drops different elements each epoch but keeps the count.
        let d = DataLoader(dataset, batchSize: 8, shuffle: true, dropLast: true, generator: Generator(seed: 1))
        #expect(batchTargets(d).map(\.count) == Array(repeating: 8, count: 6))
    }

    /// In a child process: the default generator is the process's, and tests running in
    /// parallel (a `fit(seed:)`, an unseeded `randn`) draw from it between the two seeds.
    @Test("without a generator, manualSeed before creating the loader fixes the order")
    func defaultGenerator() async {
        await #expect(processExitsWith: .success) {
            manualSeed(5)
            let first = batchTargets(DataLoader(rangeDataset(20), batchSize: 20, shuffle: true))
            manualSeed(5)
            let second = batchTargets(DataLoader(rangeDataset(20), batchSize: 20, shuffle: true))
            exit(first == second ? 0 : 1)
        }
    }

    @Test("element-by-element collation and the fast path give the same batches")
    func collatePaths() {
        let fast = DataLoader(rangeDataset(23), batchSize: 5, shuffle: true, generator: Generator(seed: 9))
        let slow = DataLoader(CountingDataset(count: 23), batchSize: 5, shuffle: true, generator: Generator(seed: 9))
        for (x, y) in zip(fast, slow) {
            #expect(x.input.shape == y.input.shape)
            #expect(x.input.scalars(as: Float.self) == y.input.scalars(as: Float.self))
            #expect(x.target.scalars(as: Int64.self) == y.target.scalars(as: Int64.self))
        }
    }

    @Test("prefetching gives the same batches as loading on demand", arguments: [1, 3])
    func prefetch(depth: Int) {
        for dataset in [AnyDataset(rangeDataset(37)), AnyDataset(CountingDataset(count: 37))] {
            let plain = DataLoader(dataset, batchSize: 4, shuffle: true, generator: Generator(seed: 7))
            let ahead = DataLoader(dataset, batchSize: 4, shuffle: true, generator: Generator(seed: 7), prefetch: depth)
            for _ in 0..<3 {
                let expected = plain.map { $0.input.scalars(as: Float.self) }
                let actual = ahead.map { $0.input.scalars(as: Float.self) }
                #expect(actual.count == 10)
                #expect(actual == expected)
            }
        }
    }

    @Test("with prefetching, elements are read on another thread")
    func prefetchThread() {
        let reads = ThreadRecorder()
        let loader = DataLoader(RecordingDataset(count: 12, recorder: reads), batchSize: 4, prefetch: 2)
        #expect(loader.map { $0.target.scalars(as: Int64.self) } == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10, 11]])
        #expect(reads.count == 12)
        #expect(!reads.sawCallingThread())
        let direct = ThreadRecorder()
        _ = Array(DataLoader(RecordingDataset(count: 4, recorder: direct), batchSize: 4))
        #expect(direct.sawCallingThread())
    }

    @Test("leaving a prefetching loop early stops the producer; the next epoch still works")
    func prefetchEarlyExit() {
        let loader = DataLoader(CountingDataset(count: 100), batchSize: 2, prefetch: 2)
        for _ in 0..<20 {
            var seen = 0
            for _ in loader {
                seen += 1
                if seen == 3 { break }
            }
            #expect(seen == 3)
        }
        #expect(loader.map { $0 }.count == 50)
    }

    @Test("a custom collate step builds any batch type")
    func customCollate() {
        let loader = DataLoader(CountingDataset(count: 7), batchSize: 3) { examples in
            examples.map { Int($0.target.item(as: Int64.self)) }
        }
        #expect(Array(loader) == [[0, 1, 2], [3, 4, 5], [6]])
    }
}

/// Remembers which threads read elements.
final class ThreadRecorder: @unchecked Sendable {
    private let lock = NSLock()
    // A token of each thread's own, not the Thread object's address (a finished worker's
    // object freed and the caller's allocated at the same address would look like the same
    // thread) nor the object (the worker holds its closure, the closure the loader, the loader
    // this recorder: a cycle).
    private var tokens: [String] = []

    /// The calling thread's token, made on its first use.
    static func token() -> String {
        let dictionary = Thread.current.threadDictionary
        if let token = dictionary["luz.tests.thread"] as? String { return token }
        let token = UUID().uuidString
        dictionary["luz.tests.thread"] = token
        return token
    }

    func record() {
        let token = Self.token()
        lock.withLock { tokens.append(token) }
    }
    var count: Int { lock.withLock { tokens.count } }
    func sawCallingThread() -> Bool {
        let token = Self.token()
        return lock.withLock { tokens.contains(token) }
    }
}

/// A dataset that records the thread of every read.
struct RecordingDataset: Dataset {
    let count: Int
    let recorder: ThreadRecorder
    subscript(index: Int) -> Example {
        recorder.record()
        return Example(input: Tensor([Float(index)]), target: Tensor([Int64(index)], shape: []))
    }
}
