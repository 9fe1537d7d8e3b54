import Foundation
import LuzTensor
import LuzTestSupport
import Testing

/// Strided views with torch's semantics. The strides and offsets below were printed by
/// PyTorch 2.15 for the same operations on `torch.arange(24.).reshape(2, 3, 4)`
/// (`.stride()`, `.storage_offset()`, `.is_contiguous()`, `data_ptr()` equality).
@Suite("Strided views")
struct StridedViewTests {
    /// 0, 1, ..., 23 in shape [2, 3, 4].
    func counting(_ dtype: DType = .float64) -> Tensor { Tensor.arange(24).to(dtype).reshaped([2, 3, 4]) }

    /// The element of `x` at `index`, read through shape and strides by hand.
    func reference(_ x: Tensor, _ flat: [Double], _ index: [Int]) -> Double {
        var position = x.storageOffset
        for (d, i) in index.enumerated() { position += i * x.strides[d] }
        return flat[position]
    }

    /// Every row-major index of `shape`.
    func indices(_ shape: [Int]) -> [[Int]] {
        var result: [[Int]] = [[]]
        for size in shape { result = result.flatMap { prefix in (0..<size).map { prefix + [$0] } } }
        return result
    }

    @Test("permute, transpose, slices, select and expand are views with torch's strides")
    func viewsAndStrides() {
        let x = counting()
        let base = x.doubles
        let cases: [(String, Tensor, [Int], [Int], Int)] = [
            ("permute(2, 0, 1)", x.permuted([2, 0, 1]), [4, 2, 3], [1, 12, 4], 0),
            ("transpose(0, 2)", x.transposed(0, 2), [4, 3, 2], [1, 4, 12], 0),
            ("[:, :, ::2]", x.sliced(dim: 2, start: 0, step: 2), [2, 3, 2], [12, 4, 2], 0),
            ("[:, 1:, 1::2]", x.sliced(dim: 1, start: 1).sliced(dim: 2, start: 1, step: 2), [2, 2, 2], [12, 4, 2], 5),
            ("[:, 1]", x.selected(dim: 1, index: 1), [2, 4], [12, 1], 4),
        ]
        for (name, view, shape, strides, offset) in cases {
            #expect(view.shape == shape, "\(name)")
            #expect(view.strides == strides, "\(name)")
            #expect(view.storageOffset == offset, "\(name)")
            #expect(view.sharesStorage(with: x), "\(name)")
            #expect(!view.isContiguous, "\(name)")
            // The values a kernel reads are the strided elements, in row-major order.
            let expected = indices(shape).map { reference(view, base, $0) }
            #expect(view.doubles == expected, "\(name)")
        }
        #expect(!x.permuted([2, 0, 1]).isContiguous)
        #expect(!x.sliced(dim: 2, start: 0, step: 2).isContiguous)
        #expect(x.selected(dim: 0, index: 1).isContiguous)

        let column = Tensor([0.0, 1, 2]).reshaped([3, 1])
        let expanded = column.expanded(to: [2, 3, 4])
        #expect(expanded.strides == [0, 1, 0])
        #expect(expanded.sharesStorage(with: column))
        #expect(expanded.doubles == indices([2, 3, 4]).map { Double($0[1]) })
    }

    @Test("contiguous() copies only a strided view; reshape is a view where the strides allow it")
    func contiguousAndReshape() {
        let x = counting()
        #expect(x.contiguous() === x)
        let permuted = x.permuted([2, 0, 1])
        let copy = permuted.contiguous()
        #expect(copy.isContiguous && !copy.sharesStorage(with: x))
        #expect(copy.doubles == permuted.doubles)

        // torch: x.permute(2, 0, 1).reshape(4, 6) is a view with strides (1, 4).
        let merged = permuted.reshaped([4, 6])
        #expect(merged.sharesStorage(with: x))
        #expect(merged.strides == [1, 4])
        #expect(merged.doubles == copy.reshaped([4, 6]).doubles)
        // x[:, :, ::2] is evenly spaced: every reshape of it is a view (reshape(12) has stride 2).
        let sliced = x.sliced(dim: 2, start: 0, step: 2)
        #expect(sliced.reshaped([2, 6]).sharesStorage(with: x))
        #expect(sliced.reshaped([6, 2]).strides == [4, 2])
        #expect(sliced.reshaped([12]).strides == [2])
        // x[:, :, 1:3] is not: reshape(12) and reshape(3, 4) copy, reshape(6, 2) is a view.
        let middle = x.sliced(dim: 2, start: 1, end: 3)
        let flat = middle.reshaped([12])
        #expect(!flat.sharesStorage(with: x) && !middle.reshaped([3, 4]).sharesStorage(with: x))
        #expect(flat.doubles == middle.contiguous().doubles)
        #expect(middle.reshaped([6, 2]).strides == [4, 1] && middle.reshaped([6, 2]).sharesStorage(with: x))
        // x.transpose(0, 2).reshape(24) must copy; unsqueeze and squeeze of a view stay views.
        #expect(!x.transposed(0, 2).reshaped([24]).sharesStorage(with: x))
        let unsqueezed = x.transposed(0, 1).unsqueezed(dim: 0)
        #expect(unsqueezed.sharesStorage(with: x) && unsqueezed.shape == [1, 3, 2, 4])
        #expect(unsqueezed.squeezed(dim: 0).strides == [4, 12, 1])
    }

    @Test("in-place writes to a view reach the storage and every other view of it")
    func writeThrough() {
        let x = counting()
        let transposed = x.transposed(1, 2)
        let before = transposed.doubles     // the view's contiguous copy is made here
        withNoGrad { transposed.addInPlace(Tensor(scalar: 100.0)) }
        let expectedX: [Double] = (0..<24).map { Double($0) + 100 }
        #expect(x.doubles == expectedX)
        #expect(transposed.doubles == before.map { $0 + 100 }, "a view read before the write is read again")

        let y = counting()
        y.sliced(dim: 2, start: 0, step: 2).fill(-1)
        let expectedY: [Double] = (0..<24).map { (i: Int) -> Double in i % 2 == 0 ? -1 : Double(i) }
        #expect(y.doubles == expectedY)

        let z = counting()
        z.selected(dim: 2, index: 3).copy(from: Tensor([7.0, 8, 9]).reshaped([3]))
        #expect(z.selected(dim: 2, index: 3).doubles == [7, 8, 9, 7, 8, 9])
        #expect(z.selected(dim: 2, index: 0).doubles == [0, 4, 8, 12, 16, 20])

        let w = counting()
        w.permuted([2, 1, 0]).withUnsafeMutableBufferPointer(as: Double.self) { values in
            for i in values.indices { values[i] *= 2 }
        }
        let expectedW: [Double] = (0..<24).map { Double($0) * 2 }
        #expect(w.doubles == expectedW)
    }

    @Test("the version counter counts in-place writes, shared by the views of a storage")
    func versionCounter() {
        let x = counting()
        let view = x.permuted([1, 0, 2])
        #expect(x.version == 0)
        withNoGrad { view.multiplyInPlace(Tensor(scalar: 2.0)) }
        x.fill(1)
        #expect(x.version == 2 && view.version == 2)
        #expect((x + 1).version == 0)
    }

    @Test("gradients flow through views (finite differences in Double)")
    func gradientsThroughViews() {
        let a = gradInput([3, 4, 5], seed: 11)
        checkGradients([a], "views") { inputs in
            let x = inputs[0]
            let moved = x.permuted([2, 0, 1]).sliced(dim: 0, start: 1, step: 2)        // [2, 3, 4]
            let picked = moved.selected(dim: 1, index: 2).unsqueezed(dim: 1)         // [2, 1, 4]
            return moved * picked.expanded(to: [2, 3, 4]) + x.transposed(0, 2).reshaped([5, 12]).sum(dims: [0]).reshaped([3, 4])
        }
        let b = gradInput([4, 6], seed: 12), c = gradInput([4, 3], seed: 13)
        checkGradients([b, c], "matmul of views") { inputs in
            inputs[0].transposed().matmul(inputs[1]).sliced(dim: 0, start: 0, step: 2)
        }
    }

    @Test("sums over a permuted view run in memory order and agree with sums of a copy")
    func sumsOfViews() {
        let x = Tensor.randn([3, 4, 5, 6], dtype: .float64, generator: Generator(seed: 3))
        let view = x.permuted([0, 2, 3, 1])
        for dims in [[3], [1, 2], [0], [2, 0], [0, 1, 2, 3]] {
            for keepDim in [false, true] {
                assertClose(view.sum(dims: dims, keepDim: keepDim), view.contiguous().sum(dims: dims, keepDim: keepDim),
                            rtol: 1e-12, atol: 1e-12, "sum over \(dims), keepDim \(keepDim)")
            }
        }
        assertClose(view.sum(), view.contiguous().sum(), rtol: 1e-12, atol: 1e-12, "sum of all")
        assertClose(view.mean(dims: [3]), view.contiguous().mean(dims: [3]), rtol: 1e-12, atol: 1e-12, "mean")
        let a = gradInput([3, 4, 5], seed: 14)
        checkGradients([a], "sum of a permuted view") { $0[0].permuted([2, 0, 1]).sum(dims: [1]) * 3 }
        checkGradients([a], "sum of all of a transposed view") { $0[0].transposed(0, 2).sum() }
    }

    @Test("elementwise ops on strided views read them in one pass and agree with ops on copies")
    func elementwiseOnViews() {
        let g = Generator(seed: 9)
        for dtype in [DType.float32, .float64] {
            let x = Tensor.randn([4, 6, 10], dtype: dtype, generator: g)
            let fresh = { x.permuted([2, 0, 1]).sliced(dim: 0, start: 1, step: 3) }
            let copy = fresh().contiguous()
            let cases: [(String, (Tensor) -> Tensor)] = [
                ("* 2", { $0 * 2 }), ("3 - x", { 3 - $0 }), ("tanh", { $0.tanh() }),
                ("sigmoid", { $0.sigmoid() }), ("relu", { $0.relu() }), ("exp", { $0.exp() }),
            ]
            for (name, op) in cases {
                let view = fresh()
                assertClose(op(view), op(copy), rtol: 1e-6, atol: 1e-7, "\(name) of a fresh view, \(dtype)")
                #expect(view.doubles == copy.doubles, "the view is unchanged by \(name)")
                assertClose(op(view), op(copy), rtol: 1e-6, atol: 1e-7, "\(name) of a view read before, \(dtype)")
            }
        }
        // Scalar operators read a view with a step in its last dimension in place, in every type.
        for dtype in [DType.float32, .float64, .int64] {
            let x = (Tensor.randn([3, 5, 8], generator: g) * 10).to(dtype)
            let fresh = { x.sliced(dim: 2, start: 1, step: 2).permuted([1, 0, 2]) }
            let copy = fresh().contiguous()
            let cases: [(String, (Tensor) -> Tensor)] = [("* 3", { $0 * 3 }), ("7 - x", { 7 - $0 }), ("+ 1", { $0 + 1 })]
            for (name, op) in cases {
                #expect(op(fresh()).doubles == op(copy).doubles, "\(name) of a stepped view, \(dtype)")
            }
        }
    }

    @Test("matmul reads transposed, sliced and broadcast views in place and agrees with copies")
    func matmulOfViews() {
        let g = Generator(seed: 5)
        let a = Tensor.randn([3, 7, 5], dtype: .float64, generator: g)
        let b = Tensor.randn([3, 7, 4], dtype: .float64, generator: g)
        let wide = Tensor.randn([6, 10], dtype: .float64, generator: g)
        let single = Tensor.randn([5, 4], dtype: .float64, generator: g)
        let pairs: [(String, Tensor, Tensor)] = [
            ("batched aᵀ·b", a.transposed(1, 2), b),
            ("batched (bᵀ·a)ᵀ operands", b.transposed(1, 2), a),
            ("column slice", wide.sliced(dim: 1, start: 2, end: 7), single),
            ("every other column, transposed", wide.sliced(dim: 1, start: 0, step: 2).transposed(), wide.sliced(dim: 0, start: 0, end: 6)),
            ("expanded right operand", a, single.expanded(to: [3, 5, 4])),
            ("permuted batch", a.permuted([1, 0, 2]).transposed(1, 2), Tensor.randn([7, 3, 2], dtype: .float64, generator: g)),
        ]
        for (name, left, right) in pairs {
            let product = left.matmul(right)
            let reference = left.contiguous().matmul(right.contiguous())
            assertClose(product, reference, rtol: 1e-12, atol: 1e-12, name)
        }
    }

    @Test("writing to an expanded view stops with torch's message")
    func writingToAnExpandedViewIsRefused() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            let row = Tensor([1.0, 2, 3])
            row.expanded(to: [2, 3]).fill(0)
        }
        let text = String(decoding: result?.standardErrorContent ?? [], as: UTF8.self)
        #expect(text.contains("more than one element of the written-to tensor"), "\(text)")
    }

    @Test("an in-place change to a tensor saved for backward stops the pass with a message naming the op")
    func modifiedSavedTensorIsRefused() async {
        let output = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            let x = Tensor([1.0, 2, 3]).requiringGrad()
            let y = x.exp()
            withNoGrad { y.multiplyInPlace(Tensor(scalar: 2.0)) }
            y.sum().backward()
        }
        let text = String(decoding: output?.standardErrorContent ?? [], as: UTF8.self)
        #expect(text.contains("one of the variables needed for gradient computation has been modified by an inplace operation"), "\(text)")
        #expect(text.contains("'exp'") && text.contains("is at version 1; expected version 0"), "\(text)")

        let input = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            let w = Tensor([1.0, 2, 3]).requiringGrad()
            let scale = Tensor([4.0, 5, 6])
            let loss = (w * scale.transposed()).sum()
            withNoGrad { scale.sliced(dim: 0, start: 1).fill(0) }   // a write through a view
            loss.backward()
        }
        let message = String(decoding: input?.standardErrorContent ?? [], as: UTF8.self)
        #expect(message.contains("modified by an inplace operation") && message.contains("'mul'"), "\(message)")
    }

    /// A backward rule that reads an index tensor (or an input kept by reference), the write
    /// that changes it after the forward pass, and the op the message must name.
    static func runModifiedSavedCase(_ name: String) {
        let x = Tensor([[3.0, 1, 2], [0.5, 4, -1]]).requiringGrad()
        let index = Tensor([[Int64(1), 0, 1], [0, 1, 0]])
        let loss: Tensor
        switch name {
        case "gather":
            loss = x.gather(dim: 0, index: index).sum()
            withNoGrad { index.fill(0) }
        case "indexSelect":
            let rows = Tensor([Int64(1), 0])
            loss = x.indexSelect(dim: 0, index: rows).sum()
            withNoGrad { rows.fill(0) }
        case "indexAdd":
            let rows = Tensor([Int64(1)])
            loss = Tensor.zeros([2, 3], dtype: .float64).indexAdding(dim: 0, index: rows, source: x.narrowed(dim: 0, start: 0, length: 1)).sum()
            withNoGrad { rows.fill(0) }
        case "scatterAdd":
            loss = Tensor.zeros([2, 3], dtype: .float64).scatterAdding(dim: 0, index: index, source: x).sum()
            withNoGrad { index.fill(0) }
        case "scatter":
            loss = Tensor.zeros([2, 3], dtype: .float64).scattering(dim: 0, index: index, source: x).sum()
            withNoGrad { index.fill(0) }
        case "scatterAmax":
            loss = Tensor.zeros([2, 3], dtype: .float64).scattering(dim: 0, index: index, source: x, reduction: .amax).sum()
            withNoGrad { index.fill(0) }
        case "sort":
            let (values, order) = x.sorted(dim: 1)
            loss = (values * Tensor([1.0, 2, 3])).sum()
            withNoGrad { order.fill(0) }
        case "topk":
            let (values, order) = x.topK(2, dim: 1)
            loss = values.sum()
            withNoGrad { order.fill(0) }
        case "max":
            let (values, position) = x.max(dim: 1)
            loss = values.sum()
            withNoGrad { position.fill(0) }
        case "maxPool2d":
            let (values, positions) = x.reshaped([1, 1, 2, 3]).maxPool2dWithIndices(kernelSize: 2, stride: 1)
            loss = values.sum()
            withNoGrad { positions.fill(0) }
        case "softplus":
            loss = x.softplus().sum()
            withNoGrad { x.fill(0) }
        case "recurrent":
            let weight = Tensor([[0.5, -0.25, 0.1], [0.2, 0.3, -0.4], [0.1, 0.1, 0.1]]).requiringGrad()
            let gates = Tensor.zeros([2, 1, 3], dtype: .float64).requiringGrad()
            let result = Tensor.recurrentSequence(.tanh, inputGates: gates, hidden: Tensor.ones([1, 3], dtype: .float64),
                                                  cell: nil, hiddenWeight: weight, hiddenBias: nil, lengths: nil, reverse: false)
            loss = result.output.sum()
            withNoGrad { weight.fill(0) }   // an optimizer step between forward and backward
        default:
            fatalError("no case named \(name)")
        }
        loss.backward()
    }

    @Test("index tensors and inputs read by pooling, sorting, gathering, scattering, softplus and the recurrence are checked too",
          arguments: ["gather", "indexSelect", "indexAdd", "scatterAdd", "scatter", "scatterAmax", "sort", "topk",
                      "max", "maxPool2d", "softplus", "recurrent"])
    func modifiedIndicesAreRefused(_ name: String) async {
        let expectedOp = ["recurrent": "recurrentSequence"][name] ?? name
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) { [name] in
            StridedViewTests.runModifiedSavedCase(name)
        }
        let text = String(decoding: result?.standardErrorContent ?? [], as: UTF8.self)
        #expect(text.contains("modified by an inplace operation"), "\(name): \(text)")
        #expect(text.contains("saved by '\(expectedOp)'"), "\(name): \(text)")
    }

    @Test("a write to a tensor no rule reads is fine, as in torch")
    func unsavedTensorsMayChange() {
        let w = Tensor([1.0, 2, 3]).requiringGrad()
        let shift = Tensor([4.0, 5, 6])
        let loss = ((w + shift) * 2).sum()          // add saves nothing; mul by a scalar neither
        withNoGrad { shift.fill(0) }
        loss.backward()
        assertClose(w.grad!, [2, 2, 2])
        // A product saves the other factor only for the factor that needs a gradient.
        let v = Tensor([1.0, 2]).requiringGrad()
        let constant = Tensor([3.0, 4])
        let product = (constant * v).sum()
        withNoGrad { v.addInPlace(Tensor(scalar: 1.0)) }
        product.backward()
        assertClose(v.grad!, [3, 4])
    }
}
