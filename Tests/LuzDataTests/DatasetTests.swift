import LuzData
import LuzTensor
import Testing

/// A dataset of `n` examples whose input is `[i, i + 0.5]` and whose target is `i`, with no
/// batch fast path (so the loader collates element by element).
struct CountingDataset: Dataset {
    let count: Int
    subscript(index: Int) -> Example {
        Example(input: Tensor([Float(index), Float(index) + 0.5]), target: Tensor([Int64(index)], shape: []))
    }
}

func rangeDataset(_ n: Int) -> TensorDataset {
    TensorDataset(inputs: Tensor((0..<n).flatMap { [Float($0), Float($0) + 0.5] }, shape: [n, 2]),
                  targets: Tensor((0..<n).map { Int64($0) }))
}

@Suite("datasets")
struct DatasetTests {
    @Test("a tensor dataset reads rows of both tensors")
    func tensorDataset() throws {
        let dataset = rangeDataset(5)
        #expect(dataset.count == 5)
        let example = dataset[3]
        #expect(example.input.shape == [2] && example.input.scalars(as: Float.self) == [3, 3.5])
        #expect(example.target.shape == [] && example.target.item(as: Int64.self) == 3)
        let batch = try #require(dataset.batch(at: [4, 0]))
        #expect(batch.input.shape == [2, 2] && batch.input.scalars(as: Float.self) == [4, 4.5, 0, 0.5])
        #expect(batch.target.scalars(as: Int64.self) == [4, 0])
    }

    @Test("collating stacks along a new first dimension")
    func collate() {
        let batch = Example.collated([CountingDataset(count: 3)[1], CountingDataset(count: 3)[2]])
        #expect(batch.input.shape == [2, 2] && batch.input.scalars(as: Float.self) == [1, 1.5, 2, 2.5])
        #expect(batch.target.shape == [2] && batch.target.scalars(as: Int64.self) == [1, 2])
        let pairs = [Tensor].collated([[Tensor([Float(1)]), Tensor([Int64(2)])], [Tensor([Float(3)]), Tensor([Int64(4)])]])
        #expect(pairs[0].shape == [2, 1] && pairs[1].scalars(as: Int64.self) == [2, 4])
    }

    @Test("a subset reads the chosen elements in the chosen order, through the fast path too")
    func subset() throws {
        let dataset = rangeDataset(10)
        let subset = dataset[[7, 2, 9]]
        #expect(subset.count == 3)
        #expect(subset[0].target.item(as: Int64.self) == 7)
        #expect(subset[2].target.item(as: Int64.self) == 9)
        let batch = try #require(subset.batch(at: [1, 2]))
        #expect(batch.target.scalars(as: Int64.self) == [2, 9])
        let nested = subset[[2, 0]]
        #expect(nested.count == 2 && nested[0].target.item(as: Int64.self) == 9)
        let erased = AnyDataset(subset)
        #expect(erased.count == 3 && erased[1].target.item(as: Int64.self) == 2)
        #expect(erased.batch(at: [0])?.target.scalars(as: Int64.self) == [7])
    }

    @Test("a random split by counts partitions the dataset; the same seed gives the same split")
    func splitByCounts() {
        let dataset = rangeDataset(100)
        let parts = dataset.randomSplit(counts: [70, 20, 10], generator: Generator(seed: 3))
        #expect(parts.map(\.count) == [70, 20, 10])
        let all = parts.flatMap(\.indices)
        #expect(all.sorted() == Array(0..<100))
        #expect(all != Array(0..<100))
        let again = dataset.randomSplit(counts: [70, 20, 10], generator: Generator(seed: 3))
        #expect(again.map(\.indices) == parts.map(\.indices))
        let other = dataset.randomSplit(counts: [70, 20, 10], generator: Generator(seed: 4))
        #expect(other.map(\.indices) != parts.map(\.indices))
    }

    @Test("a random split by fractions rounds down and hands the remainder to the first parts")
    func splitByFractions() {
        let parts = rangeDataset(10).randomSplit(fractions: [0.45, 0.45, 0.1], generator: Generator(seed: 1))
        #expect(parts.map(\.count) == [5, 4, 1])
        #expect(Set(parts.flatMap(\.indices)).count == 10)
        let halves = rangeDataset(7).randomSplit(fractions: [0.8, 0.2], generator: Generator(seed: 1))
        #expect(halves.map(\.count) == [6, 1])
    }
}

@Suite("transforms")
struct TransformTests {
    @Test("to-tensor: bytes to floats in [0, 1] with a channel dimension")
    func toTensor() {
        let image = Image(height: 2, width: 3, pixels: [0, 51, 102, 153, 204, 255])
        let tensor = Transform.toTensor(image)
        #expect(tensor.shape == [1, 2, 3] && tensor.dtype == .float32)
        #expect(tensor.scalars(as: Float.self) == [0, 0.2, 0.4, 0.6, 0.8, 1])
        // Channels-last bytes become channels-first planes.
        let rgb = Image(height: 1, width: 2, channels: 3, pixels: [255, 0, 51, 0, 255, 102])
        let planes = Transform.toTensor(rgb)
        #expect(planes.shape == [3, 1, 2])
        #expect(planes.scalars(as: Float.self) == [1, 0, 0, 1, 0.2, 0.4])
    }

    @Test("normalize per channel, composed transforms, target transforms")
    func normalizeAndCompose() {
        let x = Tensor([Float(0), 1, 2, 3, 4, 5, 6, 7], shape: [2, 2, 2])
        let normalized = Transform.normalize(mean: [1, 5], std: [2, 0.5])(x)
        #expect(normalized.shape == [2, 2, 2])
        #expect(normalized.scalars(as: Float.self) == [-0.5, 0, 0.5, 1, -2, 0, 2, 4])
        let batched = Transform.normalize(mean: [1, 5], std: [2, 0.5])(Tensor.stack([x, x]))
        #expect(batched.scalars(as: Float.self) == [-0.5, 0, 0.5, 1, -2, 0, 2, 4, -0.5, 0, 0.5, 1, -2, 0, 2, 4])
        let doubles = Transform.normalize(mean: [1], std: [4])(Tensor([1.0, 5.0, 9.0]))
        #expect(doubles.dtype == .float64 && doubles.scalars(as: Double.self) == [0, 1, 2])

        let twice = Transform<Tensor, Tensor>.composed([.normalize(mean: [1], std: [1]), .normalize(mean: [0], std: [2])])
        #expect(twice(Tensor([Float(3), 5])).scalars(as: Float.self) == [1, 2])
        let chained = Transform.toTensor.then(.normalize(mean: [0.5], std: [0.5]))
        #expect(chained(Image(height: 1, width: 2, pixels: [0, 255])).scalars(as: Float.self) == [-1, 1])
        #expect(Transform<Tensor, Tensor>.identity(x) === x)
        let label = Transform.classIndex(7)
        #expect(label.shape == [] && label.dtype == .int64 && label.item(as: Int64.self) == 7)
    }
}
