import Foundation
import Luz
import LuzDistributed
import Testing

// The distributed sampler and the single-process group, without MPI: they run in every build.

/// The examples (by the first feature, which is their index) of every batch of one epoch.
private func epochIndices(_ loader: DataLoader<TensorDataset, Example>) -> [[Int]] {
    loader.map { batch in batch.inputs.tensor!.scalars(as: Double.self).map { Int($0) } }
}

private func indexedLoader(count: Int, batchSize: Int, seed: UInt64, dropLast: Bool = false) -> DataLoader<TensorDataset, Example> {
    let inputs = Tensor((0..<count).map(Double.init), shape: [count, 1])
    return DataLoader(TensorDataset(inputs: inputs, targets: Tensor.zeros([count])), batchSize: batchSize,
                      shuffle: true, dropLast: dropLast, generator: Generator(seed: seed))
}

@Suite("Data shards")
struct DataShardTests {
    @Test(arguments: [(2, 96), (3, 96), (3, 100), (4, 7)])
    func everyExampleOncePerEpochAcrossTheShards(ranks: Int, count: Int) {
        let shards = (0..<ranks).map { rank in
            indexedLoader(count: count, batchSize: 5, seed: 9).sharded(DataShard(rank: rank, count: ranks))
        }
        let padded = (count + ranks - 1) / ranks * ranks
        for _ in 0..<3 {
            let epochs = shards.map { epochIndices($0).flatMap { $0 } }
            // Equal shares, so that every process runs as many batches.
            #expect(Set(epochs.map(\.count)) == [padded / ranks])
            #expect(Set(shards.map(\.count)) == [(padded / ranks + 4) / 5])
            let all = epochs.flatMap { $0 }
            #expect(Set(all) == Set(0..<count), "every example is seen")
            #expect(all.count == padded, "each once, and only the padding twice")
        }
    }

    @Test func theShardsInterleaveTheWholeLoadersPermutation() {
        // The same seed: the whole loader's epoch order, dealt out rank by rank.
        let whole = epochIndices(indexedLoader(count: 12, batchSize: 12, seed: 4)).flatMap { $0 }
        let first = epochIndices(indexedLoader(count: 12, batchSize: 3, seed: 4).sharded(DataShard(rank: 0, count: 2)))
        let second = epochIndices(indexedLoader(count: 12, batchSize: 3, seed: 4).sharded(DataShard(rank: 1, count: 2)))
        #expect(first.flatMap { $0 } == stride(from: 0, to: 12, by: 2).map { whole[$0] })
        #expect(second.flatMap { $0 } == stride(from: 1, to: 12, by: 2).map { whole[$0] })
        // Batch b of the two shards together is batch b of a loader with twice the batch size.
        let global = epochIndices(indexedLoader(count: 12, batchSize: 6, seed: 4))
        for (b, batch) in global.enumerated() {
            #expect(Set(batch) == Set(first[b] + second[b]))
        }
    }

    @Test func aShardThatDropsCutsTheTail() {
        let shard = DataShard(rank: 2, count: 3, padsToEqualLength: false)
        #expect(shard.exampleCount(of: 10) == 3)
        #expect(shard.indices(of: Array(100..<110)) == [102, 105, 108])
        #expect(DataShard(rank: 0, count: 3).indices(of: Array(100..<110)) == [100, 103, 106, 109])
        #expect(DataShard(rank: 2, count: 3).indices(of: Array(100..<110)) == [102, 105, 108, 101])
    }

    @Test func aResumedGeneratorGivesEveryShardTheSameEpochs() {
        let loader = indexedLoader(count: 30, batchSize: 4, seed: 21)
        let shard = loader.sharded(DataShard(rank: 1, count: 3))
        _ = epochIndices(shard)
        let saved = loader.generator.stateWords
        let expected = (0..<2).map { _ in epochIndices(shard) }
        loader.generator.stateWords = saved
        #expect((0..<2).map { _ in epochIndices(shard) } == expected)
    }

    @Test func aSingleProcessGroupTrainsAsAPlainFit() throws {
        func train(_ extra: [any Callback]) throws -> [Double] {
            manualSeed(3)
            let model = Sequential { Linear(2, 4, dtype: .float64); Tanh(); Linear(4, 2, dtype: .float64) }
            let x = Tensor.randn([24, 2], dtype: .float64, generator: Generator(seed: 8))
            let y = Tensor((0..<24).map { Int64($0 % 2) }, shape: [24])
            _ = try model.setup(loss: CrossEntropyLoss(), optimizer: Adam.self)
                .fit(.tensors(x, y, batchSize: 6, shuffle: true, generator: Generator(seed: 2)), epochs: 3,
                     callbacks: extra, verbose: false)
            return model.parameters().flatMap { $0.scalars(as: Double.self) }
        }
        #expect(try train([DistributedDataParallel(SingleProcessGroup())]) == train([]))
    }

    @Test func withoutTheMPITraitTheWorldGroupSaysHowToGetIt() throws {
        guard !MPIProcessGroup.isAvailable else { return }
        #expect { _ = try MPIProcessGroup.world() } throws: { "\($0)".contains("--traits MPI") }
    }
}
