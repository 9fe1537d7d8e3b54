import Foundation
import LuzTensor
import LuzTestSupport
import Testing

/// A float64 input that requires grad whose values are a shuffled 0, 1/n, 2/n, …: all distinct
/// by far more than the finite-difference step, so no window of a max pooling has a tie.
private func distinctInput(_ shape: [Int], seed: UInt64) -> Tensor {
    let count = shape.reduce(1, *)
    let order = Generator(seed: seed).permutation(count)
    return Tensor(order.map { Double($0) / Double(count) - 0.5 }, shape: shape).requiringGrad()
}

/// Max pooling from its definition: values and the flat index of the first maximum (NaN wins;
/// a window of −∞ gives its first element).
private func referenceMaxPool(_ input: [Float], planes: Int, height: Int, width: Int, kernel: (Int, Int),
                              stride: (Int, Int), padding: (Int, Int), dilation: (Int, Int))
    -> (values: [Float], indices: [Int64]) {
    let oh = (height + 2 * padding.0 - dilation.0 * (kernel.0 - 1) - 1) / stride.0 + 1
    let ow = (width + 2 * padding.1 - dilation.1 * (kernel.1 - 1) - 1) / stride.1 + 1
    var values: [Float] = [], indices: [Int64] = []
    for plane in 0..<planes {
        for y in 0..<oh {
            for x in 0..<ow {
                var best = -Float.infinity, at = -1
                for i in 0..<kernel.0 {
                    for j in 0..<kernel.1 {
                        let r = y * stride.0 - padding.0 + i * dilation.0
                        let c = x * stride.1 - padding.1 + j * dilation.1
                        guard r >= 0, r < height, c >= 0, c < width else { continue }
                        let v = input[plane * height * width + r * width + c]
                        // The first tap stands until beaten, so a window of −∞ points at it (torch).
                        if at < 0 || v > best || v.isNaN { best = v; at = r * width + c }
                    }
                }
                values.append(best)
                indices.append(Int64(at))
            }
        }
    }
    return (values, indices)
}

@Suite("Pooling")
struct PoolingTests {
    // MARK: Golden values

    @Test func maxPoolValuesAndIndices() {
        let input = Tensor([1, 9, 2, 3,
                            4, 5, 8, 7,
                            0, 6, 3, 2,
                            1, 1, 5, 4] as [Float], shape: [1, 1, 4, 4])
        let (values, indices) = input.maxPool2dWithIndices(kernelSize: 2)
        #expect(values.shape == [1, 1, 2, 2] && values.floats == [9, 8, 6, 5])
        #expect(indices.dtype == .int64 && indices.scalars(as: Int64.self) == [1, 6, 9, 14])
        // Overlapping windows over −∞ padding: kernel 3, stride 2, padding 1.
        let padded = input.maxPool2dWithIndices(kernelSize: 3, stride: 2, padding: 1)
        #expect(padded.values.floats == [9, 9, 6, 8])
        #expect(padded.indices.scalars(as: Int64.self) == [1, 1, 9, 6])
        // Dilation 2, stride 1: taps two apart.
        #expect(input.maxPool2d(kernelSize: 2, stride: 1, dilation: 2).floats == [3, 9, 8, 7])
        // Unbatched [C, H, W] and a non-square kernel.
        let rows = Tensor([1, 9, 2, 3, 4, 5, 8, 7] as [Float], shape: [1, 2, 4]).maxPool2d(kernelSize: [2, 1])
        #expect(rows.shape == [1, 1, 4] && rows.floats == [4, 9, 8, 7])
    }

    @Test func maxPoolMatchesTheDefinitionOnWideInputs() {
        // Wide enough rows for the four-window SIMD path (float32), with small integers so that
        // windows hold ties, and a NaN.
        let generator = Generator(seed: 9)
        let (planes, height, width) = (3, 7, 29)
        var values = (0..<(planes * height * width)).map { _ in Float(generator.nextInt(below: 5)) }
        values[40] = .nan
        let x = Tensor(values, shape: [1, planes, height, width])
        let configurations: [((Int, Int), (Int, Int), (Int, Int), (Int, Int))] = [
            ((2, 2), (2, 2), (0, 0), (1, 1)),
            ((3, 3), (2, 2), (1, 1), (1, 1)),
            ((2, 3), (1, 1), (1, 1), (1, 1)),
            ((3, 2), (1, 3), (0, 1), (2, 2)),
            ((1, 4), (2, 2), (0, 2), (1, 1)),
        ]
        for (kernel, stride, padding, dilation) in configurations {
            let (pooled, indices) = x.maxPool2dWithIndices(
                kernelSize: Size2D(kernel.0, kernel.1), stride: Size2D(stride.0, stride.1),
                padding: Size2D(padding.0, padding.1), dilation: Size2D(dilation.0, dilation.1))
            let expected = referenceMaxPool(values, planes: planes, height: height, width: width, kernel: kernel,
                                            stride: stride, padding: padding, dilation: dilation)
            let label = "kernel \(kernel) stride \(stride) padding \(padding) dilation \(dilation)"
            #expect(pooled.floats.count == expected.values.count, "\(label)")
            #expect(zip(pooled.floats, expected.values).allSatisfy { $0 == $1 || ($0.isNaN && $1.isNaN) }, "\(label)")
            #expect(indices.scalars(as: Int64.self) == expected.indices, "\(label)")
        }
    }

    @Test func maxPoolGradientGoesToTheFirstOfTiedMaxima() {
        let input = Tensor.ones([1, 1, 2, 4], dtype: .float64, requiresGrad: true)
        input.maxPool2d(kernelSize: 2).sum().backward()
        #expect(input.grad!.doubles == [1, 0, 1, 0, 0, 0, 0, 0])
        #expect(input.maxPool2dWithIndices(kernelSize: 2).indices.scalars(as: Int64.self) == [0, 2])
    }

    @Test func maxPool1dGolden() {
        let x = Tensor([1, 3, 2, 5, 4] as [Float], shape: [1, 1, 5])
        #expect(x.maxPool1d(kernelSize: 2).floats == [3, 5])
        let padded = x.maxPool1d(kernelSize: 3, stride: 1, padding: 1)
        #expect(padded.shape == [1, 1, 5] && padded.floats == [3, 3, 5, 5, 5])
        #expect(Tensor([1, 3, 2, 5, 4] as [Float], shape: [1, 5]).maxPool1d(kernelSize: 2).shape == [1, 2])
    }

    @Test func avgPoolGolden() {
        let sixteen = Tensor((1...16).map(Float.init), shape: [1, 1, 4, 4])
        #expect(sixteen.avgPool2d(kernelSize: 2).floats == [3.5, 5.5, 11.5, 13.5])
        // 3×3 input 1…9 with padding 1, kernel 2, stride 2: windows of 1, 2, 2 and 4 real values.
        let nine = Tensor((1...9).map(Float.init), shape: [1, 3, 3])
        #expect(nine.avgPool2d(kernelSize: 2, stride: 2, padding: 1).floats == [0.25, 1.25, 2.75, 7])
        #expect(nine.avgPool2d(kernelSize: 2, stride: 2, padding: 1, countIncludePad: false).floats
                == [1, 2.5, 5.5, 7])
        #expect(nine.avgPool2d(kernelSize: [1, 3], stride: 1).floats == [2, 5, 8])
    }

    @Test func adaptiveAvgPoolGolden() {
        // Five columns to three: windows [0, 2), [1, 4), [3, 5) overlap.
        let row = Tensor([1, 2, 3, 4, 5] as [Float], shape: [1, 1, 1, 5])
        #expect(row.adaptiveAvgPool2d(outputSize: [1, 3]).floats == [1.5, 3, 4.5])
        let sixteen = Tensor((1...16).map(Float.init), shape: [1, 1, 4, 4])
        #expect(sixteen.adaptiveAvgPool2d(outputSize: 2).floats == [3.5, 5.5, 11.5, 13.5])
        let global = sixteen.adaptiveAvgPool2d(outputSize: 1)
        #expect(global.shape == [1, 1, 1, 1] && global.floats == [8.5])
        // Larger than the input: rows repeat.
        let up = Tensor([1, 2] as [Float], shape: [1, 1, 2]).adaptiveAvgPool2d(outputSize: [1, 4])
        #expect(up.shape == [1, 1, 4] && up.floats == [1, 1, 2, 2])
    }

    // MARK: Gradient checks (float64, finite differences)

    @Test func maxPoolGradients() {
        let x = distinctInput([2, 3, 6, 7], seed: 1)
        checkGradients([x], "kernel 2") { $0[0].maxPool2d(kernelSize: 2) }
        checkGradients([x], "kernel 3, stride 2, padding 1 (overlapping)") {
            $0[0].maxPool2d(kernelSize: 3, stride: 2, padding: 1)
        }
        checkGradients([x], "kernel (2, 3), stride (1, 2), padding 1") {
            $0[0].maxPool2d(kernelSize: [2, 3], stride: [1, 2], padding: 1)
        }
        checkGradients([x], "dilation 2") { $0[0].maxPool2d(kernelSize: 2, stride: 1, dilation: 2) }
        let single = distinctInput([2, 5, 5], seed: 2)
        checkGradients([single], "unbatched") { $0[0].maxPool2d(kernelSize: 2, stride: 1) }
        let sequence = distinctInput([2, 3, 9], seed: 3)
        checkGradients([sequence], "maxPool1d") { $0[0].maxPool1d(kernelSize: 3, stride: 2, padding: 1) }
    }

    @Test func avgPoolGradients() {
        let x = gradInput([2, 3, 6, 7], seed: 4)
        checkGradients([x], "kernel 2") { $0[0].avgPool2d(kernelSize: 2) }
        checkGradients([x], "kernel 3, stride 2, padding 1, counting padding") {
            $0[0].avgPool2d(kernelSize: 3, stride: 2, padding: 1)
        }
        checkGradients([x], "kernel 3, stride 2, padding 1, not counting padding") {
            $0[0].avgPool2d(kernelSize: 3, stride: 2, padding: 1, countIncludePad: false)
        }
        checkGradients([x], "kernel (2, 3), stride 1, padding (1, 0)") {
            $0[0].avgPool2d(kernelSize: [2, 3], stride: 1, padding: [1, 0], countIncludePad: false)
        }
    }

    @Test func adaptiveAvgPoolGradients() {
        let x = gradInput([2, 2, 6, 6], seed: 5)
        checkGradients([x], "6×6 to 3×3 (windows tile)") { $0[0].adaptiveAvgPool2d(outputSize: 3) }
        let odd = gradInput([2, 5, 7], seed: 6)
        checkGradients([odd], "5×7 to 3×4 (windows overlap)") { $0[0].adaptiveAvgPool2d(outputSize: [3, 4]) }
        checkGradients([odd], "5×7 to 6×9 (larger than the input)") { $0[0].adaptiveAvgPool2d(outputSize: [6, 9]) }
        checkGradients([x], "global") { $0[0].adaptiveAvgPool2d(outputSize: 1) }
    }

    @Test func largeInputsSplitAcrossThreadsAgreeWithPlanes() {
        // Enough planes to run on several threads; every plane must match the same plane alone.
        let x = Tensor.randn([8, 16, 24, 24], generator: Generator(seed: 7))
        let pooled = x.maxPool2d(kernelSize: 2)
        let averaged = x.avgPool2d(kernelSize: 3, stride: 2, padding: 1)
        for plane in [0, 37, 127] {
            let alone = x.selected(dim: 0, index: plane / 16).selected(dim: 0, index: plane % 16).reshaped([1, 24, 24])
            #expect(pooled.selected(dim: 0, index: plane / 16).selected(dim: 0, index: plane % 16).floats
                    == alone.maxPool2d(kernelSize: 2).floats)
            #expect(averaged.selected(dim: 0, index: plane / 16).selected(dim: 0, index: plane % 16).floats
                    == alone.avgPool2d(kernelSize: 3, stride: 2, padding: 1).floats)
        }
    }

    // MARK: Errors

    @Test func paddingOverHalfTheKernelIsRefused() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = Tensor.zeros([1, 1, 8, 8]).maxPool2d(kernelSize: 3, padding: 2)
        }
        let text = String(decoding: result?.standardErrorContent ?? [], as: UTF8.self)
        #expect(text.contains("maxPool2d: padding 2 should be at most half of the kernel size 3"))
    }

    @Test func inputSmallerThanTheWindowIsRefused() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = Tensor.zeros([1, 1, 2, 5]).avgPool2d(kernelSize: 3)
        }
        let text = String(decoding: result?.standardErrorContent ?? [], as: UTF8.self)
        #expect(text.contains("avgPool2d: input [1, 1, 2, 5] is too small for kernel 3"))
    }
}
