import Foundation
@testable import LuzData
import LuzTensor
import Testing

/// A `[channels, height, width]` float image holding `0, 1, 2, …` in row-major order.
func countingImage(channels: Int = 1, height: Int, width: Int) -> Tensor {
    Tensor((0..<(channels * height * width)).map(Float.init), shape: [channels, height, width])
}

/// The values of a `[1, H, W]` or `[H, W]` image, row by row.
func rows(_ image: Tensor) -> [[Float]] {
    let (h, w) = (image.shape[image.rank - 2], image.shape[image.rank - 1])
    let values = image.scalars(as: Float.self)
    return (0..<h).map { Array(values[($0 * w)..<(($0 + 1) * w)]) }
}

func bits(_ tensor: Tensor) -> [UInt32] { tensor.scalars(as: Float.self).map(\.bitPattern) }

/// Tensors equal in dtype, shape and every bit.
func == (a: Tensor, b: Tensor) -> Bool {
    guard a.dtype == b.dtype, a.shape == b.shape else { return false }
    return a.dtype == .float64 ? a.scalars(as: Double.self).map(\.bitPattern) == b.scalars(as: Double.self).map(\.bitPattern)
        : a.doubles.map(\.bitPattern) == b.doubles.map(\.bitPattern)
}

@Suite("augmentation transforms, exact on small images")
struct AugmentationTransformTests {
    @Test("flips mirror every channel")
    func flips() {
        let image = countingImage(channels: 2, height: 2, width: 3)
        let h = Transform<Tensor, Tensor>.horizontalFlip(image)
        #expect(h.shape == [2, 2, 3])
        #expect(h.scalars(as: Float.self) == [2, 1, 0, 5, 4, 3, 8, 7, 6, 11, 10, 9])
        let v = Transform<Tensor, Tensor>.verticalFlip(image)
        #expect(v.scalars(as: Float.self) == [3, 4, 5, 0, 1, 2, 9, 10, 11, 6, 7, 8])
        // Probability 1 and 0 are the flip and the identity.
        #expect(Transform<Tensor, Tensor>.randomHorizontalFlip(probability: 1)(image, generator: Generator(seed: 1)) == h)
        #expect(Transform<Tensor, Tensor>.randomVerticalFlip(probability: 0)(image, generator: Generator(seed: 1)) == image)
        // A batch [N, C, H, W] flips as a whole.
        let batch = Tensor.stack([image, image], dim: 0)
        #expect(Transform<Tensor, Tensor>.horizontalFlip(batch) == Tensor.stack([h, h], dim: 0))
    }

    @Test("crops at given offsets, inside and past the border, and padding modes")
    func crops() {
        let image = countingImage(height: 3, width: 4)   // rows 0 1 2 3 / 4 5 6 7 / 8 9 10 11
        #expect(rows(Transform.crop(top: 1, left: 1, height: 2, width: 2)(image)) == [[5, 6], [9, 10]])
        #expect(rows(Transform.crop(top: -1, left: 2, height: 2, width: 3)(image)) == [[0, 0, 0], [2, 3, 0]])
        #expect(rows(Transform.crop(top: 2, left: -1, height: 1, width: 3, border: .constant(-1))(image)) == [[-1, 8, 9]])
        let line = Tensor([Float(1), 2, 3], shape: [1, 3])
        #expect(rows(Transform.pad([2, 0, 1, 0], border: .reflect)(line)) == [[3, 2, 1, 2, 3, 2]])
        #expect(rows(Transform.pad([2, 0, 1, 0], border: .symmetric)(line)) == [[2, 1, 1, 2, 3, 3]])
        #expect(rows(Transform.pad([2, 0, 1, 0], border: .edge)(line)) == [[1, 1, 1, 2, 3, 3]])
        #expect(rows(Transform.pad([1, 0], border: .constant(7))(line)) == [[7, 1, 2, 3, 7]])
        #expect(rows(Transform.pad(1)(line)) == [[0, 0, 0, 0, 0], [0, 1, 2, 3, 0], [0, 0, 0, 0, 0]])
        #expect(rows(Transform.centerCrop(size: [1, 2])(image)) == [[5, 6]])
    }

    @Test("a random crop is the crop at the offsets its generator draws")
    func randomCropOffsets() {
        let image = countingImage(channels: 2, height: 5, width: 6)
        let transform = Transform<Tensor, Tensor>.randomCrop(size: [4, 5], padding: 2, border: .reflect)
        for seed in UInt64(0)..<20 {
            let replay = Generator(seed: seed)
            let i = replay.nextInt(below: 5 + 4 - 4 + 1), j = replay.nextInt(below: 6 + 4 - 5 + 1)
            let expected = Transform.crop(top: i - 2, left: j - 2, height: 4, width: 5, border: .reflect)(image)
            #expect(transform(image, generator: Generator(seed: seed)) == expected)
        }
    }

    @Test("random crop offsets are uniform over the padded positions")
    func randomCropSpread() {
        // A 1 × 1 image padded by 2 is a 5 × 5 square; a 1 × 1 crop finds the pixel 1 time in 25.
        let image = Tensor([Float(1)], shape: [1, 1, 1])
        let transform = Transform<Tensor, Tensor>.randomCrop(size: 1, padding: 2)
        let generator = Generator(seed: 3)
        let hits = (0..<5000).filter { _ in transform(image, generator: generator).item == 1 }.count
        #expect(abs(hits - 200) < 45, "the pixel was picked \(hits) times in 5000, expected about 200")
    }

    @Test("quarter turns move pixels exactly; a shift fills what comes in")
    func rotations() {
        let square = countingImage(height: 3, width: 3)   // 0 1 2 / 3 4 5 / 6 7 8
        #expect(rows(Transform.rotation(degrees: 90)(square)) == [[2, 5, 8], [1, 4, 7], [0, 3, 6]])
        #expect(rows(Transform.rotation(degrees: -90)(square)) == [[6, 3, 0], [7, 4, 1], [8, 5, 2]])
        let even = countingImage(height: 4, width: 4)
        #expect(Transform.rotation(degrees: 180)(even) == Transform.horizontalFlip.then(.verticalFlip)(even))
        #expect(Transform.rotation(degrees: 90, interpolation: .bilinear)(even)
                == Transform.rotation(degrees: 90)(even))
        #expect(rows(Transform.affine(translate: (1, 0), fill: -1)(square)) == [[-1, 0, 1], [-1, 3, 4], [-1, 6, 7]])
        #expect(rows(Transform.affine(translate: (0, -1))(square)) == [[3, 4, 5], [6, 7, 8], [0, 0, 0]])
        // Bilinear halfway between pixels: a half-pixel shift averages neighbours.
        let line = Tensor([Float(0), 2, 4, 6], shape: [1, 4])
        #expect(rows(Transform.affine(translate: (0.5, 0), interpolation: .bilinear, fill: 0)(line)) == [[0, 1, 3, 5]])
        // Scale 2 about the center of a 4 × 4 image reads the central 2 × 2, each pixel twice.
        let zoomed = Transform.affine(scale: 2, interpolation: .nearest)(even)
        #expect(rows(zoomed) == [[5, 5, 6, 6], [5, 5, 6, 6], [9, 9, 10, 10], [9, 9, 10, 10]])
    }

    @Test("a random rotation draws its angle from the range")
    func randomRotation() {
        let square = countingImage(height: 3, width: 3)
        // The only angle in 90...90 is a quarter turn.
        #expect(Transform.randomRotation(degrees: 90...90)(square, generator: Generator(seed: 4))
                == Transform.rotation(degrees: 90)(square))
        let transform = Transform<Tensor, Tensor>.randomRotation(degrees: 30)
        let replay = Generator(seed: 8)
        let angle = -30 + 60 * replay.nextDouble()
        #expect(transform(square, generator: Generator(seed: 8)) == Transform.rotation(degrees: angle)(square))
    }

    @Test("bilinear and nearest resizing match PyTorch's half-pixel sampling")
    func resizing() {
        let image = Tensor([Float(1), 2, 3, 4], shape: [1, 2, 2])
        #expect(rows(Transform.resize([4, 4])(image)) == [
            [1, 1.25, 1.75, 2], [1.5, 1.75, 2.25, 2.5], [2.5, 2.75, 3.25, 3.5], [3, 3.25, 3.75, 4],
        ])
        #expect(rows(Transform.resize([2, 4], interpolation: .nearest)(image)) == [[1, 1, 2, 2], [3, 3, 4, 4]])
        let big = countingImage(height: 4, width: 4)
        #expect(rows(Transform.resizedCrop(top: 1, left: 2, height: 2, width: 2, size: 2)(big)) == [[6, 7], [10, 11]])
        #expect(rows(Transform.resizedCrop(top: 0, left: 0, height: 4, width: 4, size: 2, interpolation: .nearest)(big))
                == [[0, 2], [8, 10]])
    }

    @Test("random resized crops stay within the scale and ratio ranges")
    func resizedCropRanges() {
        let generator = Generator(seed: 5)
        for _ in 0..<2000 {
            let region = resizedCropRegion(height: 64, width: 48, scale: 0.08...1, ratio: 0.75...(4.0 / 3), generator: generator)
            let fraction = Double(region.height * region.width) / Double(64 * 48)
            let ratio = Double(region.width) / Double(region.height)
            #expect(region.top >= 0 && region.left >= 0 && region.top + region.height <= 64 && region.left + region.width <= 48)
            // Rounding the sides to whole pixels moves the area and ratio by a few percent.
            #expect(fraction >= 0.08 * 0.9 && fraction <= 1, "area fraction \(fraction)")
            #expect(ratio >= 0.75 * 0.93 && ratio <= 4.0 / 3 * 1.07, "ratio \(ratio) of \(region)")
        }
        // An impossible ratio falls back to the central crop with the ratio clamped.
        let fallback = resizedCropRegion(height: 10, width: 40, scale: 0.99...1, ratio: 1...2, generator: generator)
        #expect(fallback == (0, 10, 10, 20))
        let output = Transform<Tensor, Tensor>.randomResizedCrop(size: [5, 7])(countingImage(channels: 3, height: 16, width: 12),
                                                                              generator: generator)
        #expect(output.shape == [3, 5, 7])
    }

    @Test("erasing sets the box of every channel")
    func erasing() {
        let image = Tensor.ones([2, 3, 4])
        let erased = Transform.erase(top: 1, left: 1, height: 2, width: 2, value: 5)(image)
        let plane: [Float] = [1, 1, 1, 1, 1, 5, 5, 1, 1, 5, 5, 1]
        #expect(erased.scalars(as: Float.self) == plane + plane)
    }

    @Test("random erasing: about half the images, a box within the area and ratio ranges")
    func randomErasing() {
        let image = Tensor.ones([3, 40, 50])
        let transform = Transform<Tensor, Tensor>.randomErasing()
        let generator = Generator(seed: 11)
        var erasedCount = 0
        for _ in 0..<400 {
            let output = transform(image, generator: generator)
            let plane = Array(output.scalars(as: Float.self)[0..<2000])
            let zeros = plane.indices.filter { plane[$0] == 0 }
            guard !zeros.isEmpty else { #expect(output == image); continue }
            erasedCount += 1
            let ys = zeros.map { $0 / 50 }, xs = zeros.map { $0 % 50 }
            let (h, w) = (ys.max()! - ys.min()! + 1, xs.max()! - xs.min()! + 1)
            #expect(zeros.count == h * w, "the erased pixels are not a box")
            let fraction = Double(h * w) / 2000
            #expect(fraction >= 0.015 && fraction <= 0.36, "erased \(fraction) of the area")
            #expect(Double(h) / Double(w) >= 0.25 && Double(h) / Double(w) <= 4, "box \(h) × \(w)")
            #expect(output.scalars(as: Float.self)[2000..<4000].filter { $0 == 0 }.count == h * w, "channels differ")
        }
        #expect(abs(erasedCount - 200) < 40, "erased \(erasedCount) of 400")
    }

    @Test("Gaussian blur: the outer product of the sampled kernel, the border reflected")
    func blur() {
        let sigma = 0.8
        let k = [exp(-0.5 / (sigma * sigma)), 1, exp(-0.5 / (sigma * sigma))]
        let kernel = k.map { $0 / k.reduce(0, +) }
        var impulse = [Double](repeating: 0, count: 25)
        impulse[12] = 1
        let blurred = Transform.gaussianBlur(kernelSize: 3, sigma: sigma)(Tensor(impulse, shape: [1, 5, 5]))
        let values = blurred.scalars(as: Double.self)
        for y in 0..<5 {
            for x in 0..<5 {
                let expected = (1...3).contains(y) && (1...3).contains(x) ? kernel[y - 1] * kernel[x - 1] : 0
                #expect(abs(values[y * 5 + x] - expected) < 1e-15, "(\(y), \(x)): \(values[y * 5 + x]) vs \(expected)")
            }
        }
        // At a corner the reflected neighbour is the pixel one step inside: a 1 at (0, 0) of a
        // 3 × 3 image is read at (0, 0) by offsets 0 and by (1, ·), (·, 1) from the reflection.
        var corner = [Double](repeating: 0, count: 9)
        corner[0] = 1
        let c = Transform.gaussianBlur(kernelSize: 3, sigma: sigma)(Tensor(corner, shape: [3, 3])).scalars(as: Double.self)
        let (mid, side) = (kernel[1], kernel[0])
        let expectedCorner = [mid * mid, side * mid, 0, side * mid, side * side, 0, 0, 0, 0]
        for i in 0..<9 { #expect(abs(c[i] - expectedCorner[i]) < 1e-15, "\(i): \(c[i]) vs \(expectedCorner[i])") }
        // The random form draws sigma uniformly from its range.
        let replay = Generator(seed: 2)
        let drawn = 0.1 + (2.0 - 0.1) * replay.nextDouble()
        let image = Tensor(impulse, shape: [1, 5, 5])
        #expect(Transform.gaussianBlur(kernelSize: [3, 5])(image, generator: Generator(seed: 2))
                == Transform.gaussianBlur(kernelSize: [3, 5], sigma: drawn)(image))
    }

    @Test("brightness, contrast and saturation follow torchvision's formulas, clamped to [0, 1]")
    func colour() {
        let gray = Tensor([0.2, 0.4, 0.6, 0.9], shape: [1, 2, 2])
        assertValues(Transform.brightness(1.5)(gray), [0.3, 0.6, 0.9, 1])
        let mean = (0.2 + 0.4 + 0.6 + 0.9) / 4
        assertValues(Transform.contrast(0.5)(gray), [0.2, 0.4, 0.6, 0.9].map { 0.5 * $0 + 0.5 * mean })
        #expect(Transform.saturation(0.2)(gray) == gray)
        // One pixel of each of three colours.
        let rgb = Tensor([0.9, 0.1, 0.5, 0.2, 0.8, 0.5, 0.1, 0.3, 0.5], shape: [3, 1, 3])
        let pixels = [(0.9, 0.2, 0.1), (0.1, 0.8, 0.3), (0.5, 0.5, 0.5)]
        let luma = pixels.map { 0.299 * $0.0 + 0.587 * $0.1 + 0.114 * $0.2 }
        let f = 1.6
        var expected = [Double](repeating: 0, count: 9)
        for (i, p) in pixels.enumerated() {
            for (c, v) in [p.0, p.1, p.2].enumerated() { expected[c * 3 + i] = min(max(f * v + (1 - f) * luma[i], 0), 1) }
        }
        assertValues(Transform.saturation(f)(rgb), expected)
        let grayMean = luma.reduce(0, +) / 3
        assertValues(Transform.contrast(0.3)(rgb), rgb.doubles.map { min(max(0.3 * $0 + 0.7 * grayMean, 0), 1) })
    }

    @Test("colour jitter applies the drawn factors in the drawn order")
    func jitter() {
        let rgb = Tensor([0.9, 0.1, 0.5, 0.2, 0.8, 0.5, 0.1, 0.3, 0.5], shape: [3, 1, 3])
        let transform = Transform<Tensor, Tensor>.colorJitter(brightness: 0.4, contrast: 0.4, saturation: 0.4)
        for seed in UInt64(0)..<10 {
            let replay = Generator(seed: seed)
            let order = replay.permutation(3)
            let (low, high) = (max(0, 1 - 0.4), 1 + 0.4)
            let factors = (0..<3).map { _ in low + (high - low) * replay.nextDouble() }
            let steps: [Transform<Tensor, Tensor>] = [.brightness(factors[0]), .contrast(factors[1]), .saturation(factors[2])]
            let expected = Transform.composed(order.map { steps[$0] })(rgb)
            assertValues(transform(rgb, generator: Generator(seed: seed)), expected.doubles, tolerance: 1e-12)
        }
    }

    @Test("flips happen about half the time; RandomApply and RandomChoice pick as weighted")
    func frequencies() {
        let image = Tensor([Float(0), 1], shape: [1, 1, 2])
        let generator = Generator(seed: 21)
        let flip = Transform<Tensor, Tensor>.randomHorizontalFlip()
        let flips = (0..<10_000).filter { _ in flip(image, generator: generator).scalars(as: Float.self) == [1, 0] }.count
        #expect(abs(flips - 5000) < 150, "\(flips) flips in 10 000")
        let apply = Transform<Tensor, Tensor>.randomApply([.horizontalFlip, Transform { $0 * 2 }], probability: 0.2)
        let applied = (0..<10_000).filter { _ in apply(image, generator: generator).scalars(as: Float.self) == [2, 0] }.count
        #expect(abs(applied - 2000) < 120, "applied \(applied) times in 10 000")
        let choice = Transform<Tensor, Tensor>.randomChoice([Transform { $0 + 1 }, Transform { $0 + 2 }, Transform { $0 + 3 }],
                                                             weights: [1, 2, 1])
        var counts = [0, 0, 0]
        for _ in 0..<8000 { counts[Int(choice(image, generator: generator).scalars(as: Float.self)[0]) - 1] += 1 }
        #expect(abs(counts[0] - 2000) < 130 && abs(counts[1] - 4000) < 140 && abs(counts[2] - 2000) < 130, "\(counts)")
        #expect(apply.isRandom && choice.isRandom && !Transform<Tensor, Tensor>.horizontalFlip.isRandom)
        #expect(Transform<Tensor, Tensor>.composed([.horizontalFlip, flip]).isRandom)
        #expect(Transform<Image, Tensor>.toTensor.then(flip).isRandom)
    }
}

func assertValues(_ tensor: Tensor, _ expected: [Double], tolerance: Double = 1e-15,
                  sourceLocation: SourceLocation = #_sourceLocation) {
    let values = tensor.doubles
    #expect(values.count == expected.count, sourceLocation: sourceLocation)
    for (i, (a, b)) in zip(values, expected).enumerated() {
        #expect(abs(a - b) <= tolerance, "element \(i): \(a) vs \(b)", sourceLocation: sourceLocation)
    }
}

/// Images whose pixels differ from example to example, with their index as the target.
func noiseImages(_ count: Int, height: Int = 6, width: Int = 6, seed: UInt64 = 1) -> TensorDataset {
    TensorDataset(inputs: Tensor.rand([count, 1, height, width], generator: Generator(seed: seed)),
                  targets: Tensor((0..<count).map(Int64.init), shape: [count]))
}

let augmentation = Transform<Tensor, Tensor>.composed([
    .randomCrop(size: 6, padding: 2, border: .reflect),
    .randomHorizontalFlip(),
    .randomAffine(degrees: -20...20, translate: (0.1, 0.1), scale: 0.9...1.1, shear: -5...5, interpolation: .bilinear),
    .randomErasing(),
    .normalize(mean: [0.5], std: [0.25]),
])

/// The bits of every batch of `epochs` epochs.
func epochBits(_ loader: DataLoader<TransformedDataset<TensorDataset>, Example>, epochs: Int) -> [[[UInt32]]] {
    (0..<epochs).map { _ in loader.map { bits($0.input) + $0.target.scalars(as: Int64.self).map { UInt32($0) } } }
}

@Suite("augmented epochs are reproducible")
struct AugmentationReproducibilityTests {
    @Test("bit for bit with and without prefetching, and across loaders with the same seed")
    func prefetchAndSeed() {
        let dataset = noiseImages(40).transformed(augmentation)
        #expect(dataset.isRandomized && !noiseImages(4).isRandomized)
        let plain = DataLoader(dataset, batchSize: 8, shuffle: true, generator: Generator(seed: 9))
        let prefetched = DataLoader(dataset, batchSize: 8, shuffle: true, generator: Generator(seed: 9), prefetch: 2)
        let again = DataLoader(dataset, batchSize: 8, shuffle: true, generator: Generator(seed: 9), prefetch: 1)
        let reference = epochBits(plain, epochs: 3)
        #expect(epochBits(prefetched, epochs: 3) == reference)
        #expect(epochBits(again, epochs: 3) == reference)
        #expect(reference[0] != reference[1], "two epochs were augmented alike")
        let other = DataLoader(dataset, batchSize: 8, shuffle: true, generator: Generator(seed: 10))
        #expect(epochBits(other, epochs: 1)[0] != reference[0])
    }

    @Test("an element's augmentation depends on the epoch seed and its index only")
    func orderIndependence() {
        let dataset = noiseImages(12).transformed(augmentation)
        let forward = (0..<12).map { bits(dataset.element(at: $0, epochSeed: 77).input) }
        let backward = (0..<12).reversed().map { bits(dataset.element(at: $0, epochSeed: 77).input) }
        #expect(forward == Array(backward.reversed()))
        #expect(bits(dataset[3].input) == bits(dataset.element(at: 3, epochSeed: 0).input))
        #expect(forward[3] != bits(dataset.element(at: 3, epochSeed: 78).input))
        // A subset sees its base's augmentation of an element.
        let subset = dataset[[5, 2]]
        #expect(bits(subset.element(at: 1, epochSeed: 77).input) == forward[2])
        #expect(AnyDataset(dataset).isRandomized && subset.isRandomized)
    }

    @Test("an unshuffled loader still augments each epoch anew, from its generator's seed")
    func unshuffled() {
        let dataset = noiseImages(16).transformed(augmentation)
        let a = DataLoader(dataset, batchSize: 4, generator: Generator(seed: 3))
        let b = DataLoader(dataset, batchSize: 4, generator: Generator(seed: 3), prefetch: 3)
        let epochs = epochBits(a, epochs: 2)
        #expect(epochs == epochBits(b, epochs: 2))
        #expect(epochs[0] != epochs[1])
    }

    @Test("a plain dataset's loader draws exactly its shuffled orders, no epoch seed")
    func plainLoaderUnchanged() {
        let loader = DataLoader(noiseImages(10), batchSize: 10, shuffle: true, generator: Generator(seed: 4))
        let replay = Generator(seed: 4)
        for _ in 0..<3 {
            let epoch = loader.nextEpoch()
            #expect(epoch.seed == nil)
            #expect(epoch.batches == [replay.permutation(10)])
        }
    }
}
