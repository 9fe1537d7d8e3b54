import Foundation
import LuzTensor
import LuzTestSupport
import Testing

@Suite("Autograd")
struct AutogradTests {
    @Test func gradientsAccumulateUntilZeroed() {
        let w = Tensor([1.0, 2.0, 3.0]).requiringGrad()
        (w * w).sum().backward()
        assertClose(w.grad!, [2, 4, 6])
        (w * 3).sum().backward()
        assertClose(w.grad!, [5, 7, 9])
        w.zeroGrad()
        assertClose(w.grad!, [0, 0, 0])
        (w * w).sum().backward()
        assertClose(w.grad!, [2, 4, 6])
    }

    @Test func sharedSubexpressionsSumTheirContributions() {
        let x = Tensor(scalar: 2.0).requiringGrad()
        let y = x * x          // used twice below
        let z = y * y + y      // x⁴ + x²: dz/dx = 4x³ + 2x = 36
        z.backward()
        #expect(x.grad!.item == 36)
    }

    /// The hook of data-parallel training: each leaf once, when its gradient is whole (a weight
    /// used by two layers gets both contributions first), the last layer's before the first's.
    @Test func eachLeafIsReportedOnceWhenItsGradientIsComplete() {
        let first = Tensor([1.0, 2.0]).requiringGrad()
        let shared = Tensor([0.5, -1.0]).requiringGrad()
        let hidden = (first * shared).tanh()
        let output = (hidden * shared).sum()    // `shared` is read twice, `first` only early
        var reported: [(Tensor, [Double])] = []
        output.backward(onLeafGradient: { leaf in reported.append((leaf, leaf.grad!.scalars(as: Double.self))) })
        #expect(reported.count == 2)
        #expect(reported.map { $0.0 === shared } == [true, false], "the later use's leaf comes first")
        for (leaf, atReport) in reported {
            #expect(atReport == leaf.grad!.scalars(as: Double.self), "the gradient was already complete")
        }
        // The reported values are the full gradients: d/dshared = tanh(first·shared) + shared·(1 − tanh²)·first.
        let firstValues: [Double] = [1.0, 2.0], sharedValues: [Double] = [0.5, -1.0]
        var expected: [Double] = []
        for i in 0..<2 {
            let t: Double = Foundation.tanh(firstValues[i] * sharedValues[i])
            let local: Double = sharedValues[i] * (1 - t * t) * firstValues[i]
            expected.append(t + local)
        }
        for (got, want) in zip(reported[0].1, expected) { #expect(abs(got - want) < 1e-12) }
    }

    @Test func retainGraphAllowsASecondBackward() {
        let x = Tensor([1.0, -2.0]).requiringGrad()
        let loss = (x * x * x).sum()
        loss.backward(retainGraph: true)
        loss.backward()
        assertClose(x.grad!, [6, 24])
    }

    @Test func nonScalarBackwardTakesAGradient() {
        let x = Tensor([1.0, 2.0]).requiringGrad()
        let y = x * 3
        y.backward(Tensor([1.0, 10.0]))
        assertClose(x.grad!, [3, 30])
    }

    @Test func noGradScopesRecordNothing() {
        let x = Tensor([1.0]).requiringGrad()
        let y = withNoGrad { x * 2 }
        #expect(!y.requiresGrad)
        #expect(GradMode.isEnabled)
        withNoGrad {
            #expect(!GradMode.isEnabled)
            withNoGrad { #expect(!GradMode.isEnabled) }
            #expect(!GradMode.isEnabled)
        }
        #expect(GradMode.isEnabled)
    }

    @Test func gradModeIsPerThread() {
        let done = DispatchSemaphore(value: 0)
        nonisolated(unsafe) var otherThreadRecords = false
        withNoGrad {
            Thread.detachNewThread {
                otherThreadRecords = GradMode.isEnabled
                done.signal()
            }
            done.wait()
            #expect(!GradMode.isEnabled)
        }
        #expect(otherThreadRecords)
    }

    @Test func detachStopsGradients() {
        let x = Tensor([2.0]).requiringGrad()
        let y = x * x.detached()
        y.backward()
        assertClose(x.grad!, [2])
    }

    @Test func retainGradKeepsIntermediateGradients() {
        let x = Tensor([1.0, 2.0]).requiringGrad()
        let h = x * 2
        h.retainGrad()
        (h * h).sum().backward()
        assertClose(h.grad!, [4, 8])
        assertClose(x.grad!, [8, 16])
    }

    @Test func deepGraphsDoNotOverflowTheStack() {
        let x = Tensor([1.0]).requiringGrad()
        var y = x
        for _ in 0..<100_000 { y = y * 1.0 + 0.0 }
        y.sum().backward()
        assertClose(x.grad!, [1])
    }

    @Test func integerAndBoolTensorsNeverRequireGrad() {
        let labels = Tensor([1, 2] as [Int64])
        let x = Tensor([0.5, 1.5]).requiringGrad()
        let y = x * labels.to(.float64)
        y.sum().backward()
        assertClose(x.grad!, [1, 2])
        #expect(!labels.requiresGrad)
    }

    @Test func float32InputsGetFloat32Gradients() {
        let w = Tensor([1, 2] as [Float]).requiringGrad()
        let x = Tensor([3.0, 4.0])           // float64: the product promotes
        let y = (w * x).sum()
        #expect(y.dtype == .float64)
        y.backward()
        #expect(w.grad!.dtype == .float32)
        assertClose(w.grad!, [3, 4])
    }

    @Test func inPlaceUpdatesUnderNoGrad() {
        let w = Tensor([1.0, 2.0]).requiringGrad()
        (w * w).sum().backward()
        withNoGrad {
            w -= 0.5 * w.grad!
            w.zeroGrad()
        }
        assertClose(w, [0, 0])
        #expect(w.requiresGrad && w.isLeaf)
    }

    // The live-storage counter is global and tests run in parallel, so the leak checks run in
    // a child process of their own (an exit test) where nothing else allocates tensors.
    @Test func storageIsFreedAfterBackward() async {
        await #expect(processExitsWith: .success) {
            let w = Tensor.randn([64, 64], requiresGrad: true)
            let x = Tensor.randn([32, 64])
            func step() {
                let loss = x.matmul(w).tanh().pow(2).mean() + w.softmax(dim: 1).logSumExp(dim: 0).sum()
                loss.backward()
                withNoGrad { w.addInPlace(w.grad!, alpha: -0.01); w.zeroGrad() }
            }
            step()
            let baseline = TensorMemory.liveStorageCount
            for _ in 0..<20 { step() }
            if TensorMemory.liveStorageCount != baseline {
                print("leak: \(TensorMemory.liveStorageCount) storages alive, \(baseline) before")
                exit(1)
            }
        }
    }

    @Test func graphWithoutBackwardIsFreedToo() async {
        await #expect(processExitsWith: .success) {
            let w = Tensor.randn([16], requiresGrad: true)
            let baseline = TensorMemory.liveStorageCount
            do {
                let y = (w.exp() * w.sigmoid()).softmax(dim: 0).tanh().sqrt().pow(w).logSoftmax(dim: 0)
                precondition(y.requiresGrad)
            }
            if TensorMemory.liveStorageCount != baseline { exit(1) }
        }
    }
}

@Suite("Precondition messages")
struct PreconditionTests {
    @Test func matmulNamesTheShapes() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = Tensor.zeros([32, 10]).matmul(Tensor.zeros([9, 4]))
        }
        let text = String(decoding: result?.standardErrorContent ?? [], as: UTF8.self)
        #expect(text.contains("matmul: [32, 10] × [9, 4]: inner dimensions 10 and 9 differ"))
    }

    @Test func broadcastingNamesTheShapes() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = Tensor.zeros([3, 4]) + Tensor.zeros([5])
        }
        let text = String(decoding: result?.standardErrorContent ?? [], as: UTF8.self)
        #expect(text.contains("add: shapes [3, 4] and [5] cannot broadcast"))
    }

    @Test func backwardOnNonScalarNeedsAGradient() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            let x = Tensor([1.0, 2.0]).requiringGrad()
            (x * 2).backward()
        }
        let text = String(decoding: result?.standardErrorContent ?? [], as: UTF8.self)
        #expect(text.contains("pass a gradient for a non-scalar output"))
    }

    @Test func inPlaceOnALeafThatRequiresGradIsRefused() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            let w = Tensor([1.0]).requiringGrad()
            w += 1
        }
        let text = String(decoding: result?.standardErrorContent ?? [], as: UTF8.self)
        #expect(text.contains("in-place update of a leaf that requires grad"))
    }

    @Test func reshapeNamesBothShapes() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = Tensor.zeros([2, 3]).reshaped([4, -1])
        }
        let text = String(decoding: result?.standardErrorContent ?? [], as: UTF8.self)
        #expect(text.contains("reshape: shape [2, 3] (6 elements) cannot become [4, -1]"))
    }
}
