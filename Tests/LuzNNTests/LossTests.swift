import Foundation
import LuzNN
import LuzTestSupport
import Testing

/// Logits, targets and class weights shared by the classification tests; the expected values
/// were computed with PyTorch 2 (`torch.nn.functional`) in float64 on the same numbers.
private enum Fixture {
    static let logits: [[Double]] = [[1.0, 2.0, 0.5], [-1.0, 0.0, 3.0], [0.2, 0.1, -0.3], [2.0, -2.0, 1.0]]
    static var input: Tensor { Tensor(logits) }
    // Fresh tensors on every use: tests run in parallel, and a gradient check perturbs its
    // inputs in place and accumulates into their gradients.
    static var targets: Tensor { Tensor([Int64(0), 2, 1, 1]) }
    static var targetsWithIgnored: Tensor { Tensor([Int64(0), -100, 1, 1]) }
    static var weight: Tensor { Tensor([0.5, 2.0, 1.5]) }
    static var probabilities: Tensor { Tensor([[0.2, 0.3, 0.5], [1, 0, 0], [0.1, 0.1, 0.8], [0, 0.5, 0.5]]) }
}

@Suite("Losses")
struct LossTests {
    // MARK: - Golden values

    @Test func crossEntropyMatchesTorch() {
        let x = Fixture.input, y = Fixture.targets
        assertClose(crossEntropy(x, y), [1.719410746171526], rtol: 1e-12)
        assertClose(crossEntropy(x, y, reduction: .sum), [6.877642984686104], rtol: 1e-12)
        assertClose(crossEntropy(x, y, reduction: .none),
                    [1.464368784107945, 0.06588390375742911, 1.0208276555532594, 4.32656264126747], rtol: 1e-12)
        // Class weights: the mean divides by the sum of the targets' weights, not by N.
        assertClose(crossEntropy(x, y, weight: Fixture.weight), [1.9209651402219292], rtol: 1e-12)
        assertClose(crossEntropy(x, y, weight: Fixture.weight, reduction: .sum), [11.525790841331576], rtol: 1e-12)
        assertClose(crossEntropy(x, y, weight: Fixture.weight, reduction: .none),
                    [0.7321843920539725, 0.09882585563614367, 2.0416553111065188, 8.65312528253494], rtol: 1e-12)
    }

    @Test func crossEntropyWithLabelSmoothingAndIgnoreIndexMatchesTorch() {
        let x = Fixture.input
        assertClose(crossEntropy(x, Fixture.targets, weight: Fixture.weight, labelSmoothing: 0.2),
                    [1.851334022608037], rtol: 1e-12)
        assertClose(crossEntropy(x, Fixture.targets, weight: Fixture.weight, labelSmoothing: 0.2, reduction: .none),
                    [0.89291252273863, 0.6299630588442293, 1.9422116236994176, 7.642916930365946], rtol: 1e-12)
        let ignored = Fixture.targetsWithIgnored
        assertClose(crossEntropy(x, ignored, weight: Fixture.weight, labelSmoothing: 0.2), [2.3284535726231095], rtol: 1e-12)
        assertClose(crossEntropy(x, ignored, weight: Fixture.weight, labelSmoothing: 0.2, reduction: .sum),
                    [10.478041076803992], rtol: 1e-12)
        assertClose(crossEntropy(x, ignored, weight: Fixture.weight, labelSmoothing: 0.2, reduction: .none),
                    [0.89291252273863, 0, 1.9422116236994176, 7.642916930365946], rtol: 1e-12)
    }

    @Test func crossEntropyFormulaByHand() {
        // Row 0 of the fixture, written out: ℓ = −(1 − ε)·w_y·log p_y − (ε/C)·Σ_c w_c·log p_c.
        let row = Fixture.logits[0], w = [0.5, 2.0, 1.5], epsilon = 0.2, label = 0
        let logSumExp = log(row.map { exp($0) }.reduce(0, +))
        let logP = row.map { $0 - logSumExp }
        let smooth = -(0..<3).map { w[$0] * logP[$0] }.reduce(0, +)
        let expected = -(1 - epsilon) * w[label] * logP[label] + epsilon / 3 * smooth
        let loss = crossEntropy(Tensor([row]), Tensor([Int64(label)]), weight: Tensor(w), labelSmoothing: epsilon,
                                reduction: .none)
        assertClose(loss, [expected], rtol: 1e-12)
        // The weighted mean of one example divides by its weight.
        let mean = crossEntropy(Tensor([row]), Tensor([Int64(label)]), weight: Tensor(w), labelSmoothing: epsilon)
        assertClose(mean, [expected / w[label]], rtol: 1e-12)
    }

    @Test func crossEntropyWithProbabilityTargetsMatchesTorch() {
        let x = Fixture.input, p = Fixture.probabilities
        assertClose(crossEntropy(x, p, weight: Fixture.weight, labelSmoothing: 0.1), [2.7577127504341155], rtol: 1e-12)
        assertClose(crossEntropy(x, p, weight: Fixture.weight, labelSmoothing: 0.1, reduction: .sum),
                    [11.030851001736462], rtol: 1e-12)
        assertClose(crossEntropy(x, p, weight: Fixture.weight, labelSmoothing: 0.1, reduction: .none),
                    [1.8620837678085942, 2.1050989438585006, 1.914123777904105, 5.149544512165262], rtol: 1e-12)
        // One-hot probabilities give the same loss as the class indices.
        let oneHot = Tensor([[1.0, 0, 0], [0, 0, 1], [0, 1, 0], [0, 1, 0]])
        assertClose(crossEntropy(x, oneHot), crossEntropy(x, Fixture.targets), rtol: 1e-12)
    }

    @Test func nllLossMatchesTorch() {
        let logP = Fixture.input.logSoftmax(dim: 1)
        let y = Fixture.targetsWithIgnored
        assertClose(nllLoss(logP, y, weight: Fixture.weight), [2.5393255523767624], rtol: 1e-12)
        assertClose(nllLoss(logP, y, weight: Fixture.weight, reduction: .sum), [11.426964985695431], rtol: 1e-12)
        assertClose(nllLoss(logP, y, weight: Fixture.weight, reduction: .none),
                    [0.7321843920539725, 0, 2.0416553111065188, 8.65312528253494], rtol: 1e-12)
        // Cross-entropy is log-softmax followed by NLL.
        assertClose(nllLoss(logP, Fixture.targets), crossEntropy(Fixture.input, Fixture.targets), rtol: 1e-12)
    }

    @Test func classificationLossesAcceptSpatialAndUnbatchedInputs() {
        // [N, C, L] input with [N, L] targets equals the flattened [N·L, C] problem.
        let x = gradInput([2, 3, 4], seed: 3)
        let y = Tensor([Int64(0), 1, 2, 1, 2, 2, 0, 1], shape: [2, 4])
        let rows = x.permuted([0, 2, 1]).reshaped([8, 3])
        assertClose(crossEntropy(x, y), crossEntropy(rows, y.reshaped([8])), rtol: 1e-12)
        #expect(crossEntropy(x, y, reduction: .none).shape == [2, 4])
        // A single example: [C] logits and a scalar class.
        let single = crossEntropy(Tensor([1.0, 2.0, 0.5]), Tensor(scalar: Int64(0)))
        #expect(single.shape == [])
        assertClose(single, [1.464368784107945], rtol: 1e-12)
    }

    @Test func binaryCrossEntropyMatchesTorch() {
        let p = Tensor([0.1, 0.9, 0.5, 0.0, 1.0]), t = Tensor([0.0, 1.0, 1.0, 0.0, 0.0])
        // log(0) is clamped to −100, so a certain wrong answer costs 100, not infinity.
        assertClose(binaryCrossEntropy(p, t, reduction: .none),
                    [0.10536051565782631, 0.10536051565782628, 0.6931471805599453, 0, 100], rtol: 1e-12)
        assertClose(binaryCrossEntropy(p, t), [20.18077364237512], rtol: 1e-12)
        let w = Tensor([1.0, 2.0, 0.5, 1.0, 0.0])
        assertClose(binaryCrossEntropy(p, t, weight: w, reduction: .sum),
                    [0.10536051565782631 + 2 * 0.10536051565782628 + 0.5 * 0.6931471805599453], rtol: 1e-12)
    }

    @Test func binaryCrossEntropyWithLogitsMatchesTorch() {
        let x = Tensor([[0.3, -1.2], [2.0, 0.1]]), t = Tensor([[1.0, 0.0], [0.0, 1.0]])
        assertClose(binaryCrossEntropyWithLogits(x, t, positiveWeight: Tensor([2.0, 0.5]), reduction: .none),
                    [1.1087104889370543, 0.2632824673380312, 2.1269280110429727, 0.32219833003678544], rtol: 1e-12)
        // Without weights it is binary cross-entropy of the sigmoid, but stable for large logits.
        assertClose(binaryCrossEntropyWithLogits(x, t), binaryCrossEntropy(x.sigmoid(), t), rtol: 1e-12)
        let large = binaryCrossEntropyWithLogits(Tensor([200.0, -200.0]), Tensor([0.0, 1.0]), reduction: .none)
        assertClose(large, [200, 200], rtol: 1e-12)
    }

    @Test func regressionLossesByHand() {
        let x = Tensor([0.0, 1.0, 3.0]), y = Tensor([0.5, -1.0, 3.2])
        // d = −0.5, 2, −0.2
        assertClose(mseLoss(x, y), [(0.25 + 4 + 0.04) / 3], rtol: 1e-12)
        assertClose(mseLoss(x, y, reduction: .sum), [4.29], rtol: 1e-12)
        assertClose(l1Loss(x, y), [(0.5 + 2 + 0.2) / 3], rtol: 1e-12)
        assertClose(l1Loss(x, y, reduction: .none), [0.5, 2, 0.2], rtol: 1e-12)
        // β = 0.8: quadratic 0.5·d²/β below β, |d| − β/2 above (torch: [0.15625, 1.6, 0.025]).
        assertClose(smoothL1Loss(x, y, beta: 0.8, reduction: .none), [0.15625, 1.6, 0.025], rtol: 1e-12)
        assertClose(smoothL1Loss(x, y, beta: 0, reduction: .none), [0.5, 2, 0.2], rtol: 1e-12)
    }

    @Test func lossValuesConformToTheLossProtocol() {
        let losses: [any Loss] = [MSELoss(), L1Loss(), SmoothL1Loss(beta: 0.5), BCEWithLogitsLoss()]
        let x = Tensor([0.2, -0.4]), y = Tensor([1.0, 0.0])
        assertClose(losses[0](x, y), mseLoss(x, y))
        assertClose(losses[3](x, y), binaryCrossEntropyWithLogits(x, y))
        assertClose(CrossEntropyLoss(weight: Fixture.weight, labelSmoothing: 0.2)(Fixture.input, Fixture.targets),
                    [1.851334022608037], rtol: 1e-12)
        assertClose(NLLLoss(ignoreIndex: 2)(Fixture.input.logSoftmax(dim: 1), Fixture.targets).reshaped([1]),
                    crossEntropy(Fixture.input, Fixture.targets, ignoreIndex: 2).reshaped([1]), rtol: 1e-12)
        assertClose(BCELoss()(Tensor([0.5]), Tensor([1.0])), [log(2)], rtol: 1e-12)
    }

    @Test func float32LossesAgreeWithFloat64() {
        let x = Fixture.input
        let single = crossEntropy(x.to(.float32), Fixture.targets, weight: Fixture.weight.to(.float32), labelSmoothing: 0.2)
        #expect(single.dtype == .float32)
        assertClose(single, [1.851334022608037], rtol: 1e-6)
    }

    @Test func binaryCrossEntropyWithLogitsStaysExactForLargeLogits() {
        // F.binary_cross_entropy_with_logits(tensor([-25., 30.], float64), tensor([1., 0.]), reduction='none')
        // = [25.000000000013888, 30.000000000000092]; gradient [-0.9999999999861121, 0.9999999999999065]
        // (softplus's linear region above 20 must not apply here).
        let x = Tensor([-25.0, 30]).requiringGrad()
        let loss = binaryCrossEntropyWithLogits(x, Tensor([1.0, 0]), reduction: .none)
        assertClose(loss, [25.000000000013888, 30.000000000000092], rtol: 1e-14, atol: 0)
        loss.sum().backward()
        assertClose(x.grad!, [-0.9999999999861121, 0.9999999999999065], rtol: 1e-14, atol: 0)
    }

    @Test func float32CrossEntropyKeepsDigitsUnderALargeSharedOffset() {
        // F.cross_entropy(tensor([[1e4, 1e4 + 1]]), tensor([0])) = 1.31326163 (float32);
        // the gradient is [[-0.7311, 0.7311]] (−1 + softmax, softmax = [0.26894142, 0.73105858]).
        let x = Tensor([[Float(1e4), 1e4 + 1]]).requiringGrad()
        let loss = crossEntropy(x, Tensor([Int64(0)]))
        assertClose(loss, [1.31326163], rtol: 2e-7)
        loss.backward()
        assertClose(x.grad!, [-0.73105858, 0.73105858], rtol: 1e-6)
        // With label smoothing and three classes: F.cross_entropy(tensor([[1e4, 1e4 + 1, 1e4 - 2]]),
        // tensor([2]), label_smoothing=0.1) = 3.18234539; grad [[0.22616315, 0.67205119, -0.89821428]].
        let y = Tensor([[Float(1e4), 1e4 + 1, 1e4 - 2]]).requiringGrad()
        let smoothed = crossEntropy(y, Tensor([Int64(2)]), labelSmoothing: 0.1)
        assertClose(smoothed, [3.18234539], rtol: 2e-7)
        smoothed.backward()
        assertClose(y.grad!, [0.22616315, 0.67205119, -0.89821428], rtol: 1e-4)
    }

    // MARK: - Gradient checks (float64 finite differences)

    @Test(arguments: [Reduction.mean, .sum, .none])
    func crossEntropyGradients(reduction: Reduction) {
        let x = gradInput([4, 3], in: -2...2, seed: 11)
        let y = Fixture.targets, yi = Fixture.targetsWithIgnored, w = Fixture.weight
        checkGradients([x], "plain") { crossEntropy($0[0], y, reduction: reduction) }
        checkGradients([x], "weights") { crossEntropy($0[0], y, weight: w, reduction: reduction) }
        checkGradients([x], "ignore index") { crossEntropy($0[0], yi, reduction: reduction) }
        checkGradients([x], "label smoothing") { crossEntropy($0[0], y, labelSmoothing: 0.3, reduction: reduction) }
        checkGradients([x], "all options") {
            crossEntropy($0[0], yi, weight: w, ignoreIndex: -100, labelSmoothing: 0.25, reduction: reduction)
        }
        let spatial = gradInput([2, 3, 2], seed: 12)
        let spatialTargets = Tensor([Int64(0), 2, 1, 1], shape: [2, 2])
        checkGradients([spatial], "[N, C, L]") { crossEntropy($0[0], spatialTargets, weight: w, reduction: reduction) }
    }

    @Test(arguments: [Reduction.mean, .sum, .none])
    func crossEntropyProbabilityTargetGradients(reduction: Reduction) {
        let x = gradInput([4, 3], in: -2...2, seed: 13)
        let p = Fixture.probabilities.requiringGrad()
        checkGradients([x, p], "probabilities") { crossEntropy($0[0], $0[1], reduction: reduction) }
        checkGradients([x, p], "weights and smoothing") {
            crossEntropy($0[0], $0[1], weight: Fixture.weight, labelSmoothing: 0.2, reduction: reduction)
        }
    }

    @Test(arguments: [Reduction.mean, .sum, .none])
    func nllGradients(reduction: Reduction) {
        let x = gradInput([4, 3], seed: 14)
        checkGradients([x], "plain") { nllLoss($0[0], Fixture.targets, reduction: reduction) }
        checkGradients([x], "weights and ignore index") {
            nllLoss($0[0], Fixture.targetsWithIgnored, weight: Fixture.weight, reduction: reduction)
        }
        checkGradients([x], "after logSoftmax") { nllLoss($0[0].logSoftmax(dim: 1), Fixture.targets, reduction: reduction) }
    }

    @Test(arguments: [Reduction.mean, .sum, .none])
    func binaryLossGradients(reduction: Reduction) {
        let probabilities = gradInput([2, 3], in: 0.05...0.95, seed: 15)
        let targets = gradInput([2, 3], in: 0...1, seed: 16)
        let weight = Tensor([0.5, 1.0, 2.0])
        checkGradients([probabilities, targets], "bce") { binaryCrossEntropy($0[0], $0[1], reduction: reduction) }
        checkGradients([probabilities, targets], "bce weighted") {
            binaryCrossEntropy($0[0], $0[1], weight: weight, reduction: reduction)
        }
        let logits = gradInput([2, 3], in: -3...3, seed: 17)
        checkGradients([logits, targets], "bce with logits") {
            binaryCrossEntropyWithLogits($0[0], $0[1], reduction: reduction)
        }
        checkGradients([logits, targets], "bce with logits, weights and positive weights") {
            binaryCrossEntropyWithLogits($0[0], $0[1], weight: weight, positiveWeight: Tensor([3.0, 0.5, 1.0]),
                                         reduction: reduction)
        }
    }

    @Test(arguments: [Reduction.mean, .sum, .none])
    func regressionLossGradients(reduction: Reduction) {
        let x = gradInput([3, 4], in: -2...2, seed: 18)
        let y = gradInput([3, 4], in: -2...2, seed: 19)
        checkGradients([x, y], "mse") { mseLoss($0[0], $0[1], reduction: reduction) }
        checkGradients([x, y], "l1") { l1Loss($0[0], $0[1], reduction: reduction) }
        checkGradients([x, y], "smooth l1") { smoothL1Loss($0[0], $0[1], beta: 0.7, reduction: reduction) }
        checkGradients([x, y], "smooth l1, beta 0") { smoothL1Loss($0[0], $0[1], beta: 0, reduction: reduction) }
    }

    @Test func binaryCrossEntropyGradientAtTheEdgesIsFinite() {
        // torch's backward divides by max(x·(1 − x), 1e-12): finite where the loss is clamped.
        let p = Tensor([0.0, 1.0]).requiringGrad()
        binaryCrossEntropy(p, Tensor([1.0, 0.0]), reduction: .sum).backward()
        #expect(p.grad!.doubles.allSatisfy { $0.isFinite })
    }
}
