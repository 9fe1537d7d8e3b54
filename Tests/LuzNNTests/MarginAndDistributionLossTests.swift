import Foundation
import LuzNN
import LuzTestSupport
import Testing

/// Expected values: PyTorch 2, float64, `torch.nn.functional` on the same numbers (the torch
/// expression is in the comment above each check; `x`, `y`, ... are the tensors built here).
@Suite("Margin and distribution losses")
struct MarginAndDistributionLossTests {
    // x = [[0.5, -1, 3], [0, 2.5, -4]], y = [[0, 1, -2], [0, 2, 10]]
    private var x: Tensor { Tensor([[0.5, -1.0, 3.0], [0.0, 2.5, -4.0]]) }
    private var y: Tensor { Tensor([[0.0, 1.0, -2.0], [0.0, 2.0, 10.0]]) }

    @Test func huberMatchesTorch() {
        // F.huber_loss(x, y, reduction=r) and with delta=2.0
        assertClose(huberLoss(x, y, reduction: .none), [0.125, 1.5, 4.5, 0.0, 0.125, 13.5], rtol: 1e-12)
        assertClose(huberLoss(x, y), [3.2916666666666665], rtol: 1e-12)
        assertClose(HuberLoss(reduction: .sum)(x, y), [19.75], rtol: 1e-12)
        assertClose(huberLoss(x, y, delta: 2, reduction: .none), [0.125, 2.0, 8.0, 0.0, 0.125, 26.0], rtol: 1e-12)
        assertClose(HuberLoss(delta: 2)(x, y), [6.041666666666667], rtol: 1e-12)
        // δ times the smooth L1 loss with β = δ.
        assertClose(huberLoss(x, y, delta: 2), 2 * smoothL1Loss(x, y, beta: 2), rtol: 1e-12)
    }

    @Test func klDivergenceMatchesTorch() {
        // logq = torch.log_softmax([[1, 2, 0.5], [-1, 0, 3]], 1); p = [[0.2, 0.8, 0], [0.5, 0.25, 0.25]]
        let logQ = Tensor([[1.0, 2.0, 0.5], [-1.0, 0.0, 3.0]]).logSoftmax(dim: 1)
        let p = Tensor([[0.2, 0.8, 0.0], [0.5, 0.25, 0.25]])
        // F.kl_div(logq, p, reduction=r): a zero target contributes 0, not NaN.
        assertClose(klDivergence(logQ, p, reduction: .none),
                    [-0.029013825665231086, 0.1929801862349882, 0.0, 1.686368361598742, 0.41989738565938467,
                     -0.3301026143406154], rtol: 1e-12, atol: 1e-15)
        assertClose(klDivergence(logQ, p), [0.3233549155812114], rtol: 1e-12)
        assertClose(KLDivLoss(reduction: .batchMean)(logQ, p), [0.9700647467436342], rtol: 1e-12)
        assertClose(klDivergence(logQ, p, reduction: .sum), [1.9401294934872684], rtol: 1e-12)
        // F.kl_div(logq, torch.log([[0.2, 0.7, 0.1], [0.5, 0.25, 0.25]]), reduction='none', log_target=True)
        let logP = Tensor([[0.2, 0.7, 0.1], [0.5, 0.25, 0.25]]).log()
        assertClose(KLDivLoss(reduction: .none, logTarget: true)(logQ, logP),
                    [-0.029013825665231075, 0.07538568811844872, -0.03382163088861006, 1.686368361598742,
                     0.41989738565938467, -0.3301026143406154], rtol: 1e-12)
    }

    @Test func poissonNLLMatchesTorch() {
        // counts = [[0, 1, 2], [5, 0, 30]]
        let counts = Tensor([[0.0, 1.0, 2.0], [5.0, 0.0, 30.0]])
        // F.poisson_nll_loss(x, counts, reduction='none'), and with full=True
        assertClose(poissonNLLLoss(x, counts, reduction: .none),
                    [1.6487212707001282, 1.3678794411714423, 14.085536923187668, 1.0, 12.182493960703473,
                     120.01831563888874], rtol: 1e-12)
        assertClose(PoissonNLLLoss(full: true, reduction: .none)(x, counts),
                    [1.6487212707001282, 1.3678794411714423, 14.737343407792205, 5.7708470515922246,
                     12.182493960703473, 194.67377431278913], rtol: 1e-12)
        // rate = [[0.5, 1, 3], [0.01, 2.5, 20]]; F.poisson_nll_loss(rate, counts, log_input=False, ...)
        let rate = Tensor([[0.5, 1.0, 3.0], [0.01, 2.5, 20.0]])
        assertClose(poissonNLLLoss(rate, counts, logInput: false, reduction: .none),
                    [0.5, 0.9999999900000001, 0.8027754159971141, 23.035845929942962, 2.5, -69.87196822161972],
                    rtol: 1e-12)
        assertClose(poissonNLLLoss(rate, counts, logInput: false, full: true), [6.340794220736254], rtol: 1e-12)
        // A zero rate: F.poisson_nll_loss(torch.zeros(2), [0, 3], log_input=False, reduction='none')
        assertClose(poissonNLLLoss(Tensor([0.0, 0.0]), Tensor([0.0, 3.0]), logInput: false, reduction: .none),
                    [0.0, 55.2620422318571], rtol: 1e-12)
    }

    @Test func gaussianNLLMatchesTorch() {
        // var = [[0.5, 2, 1e-8], [1, 0.25, 4]]: 1e-8 is clamped to eps = 1e-6.
        let variance = Tensor([[0.5, 2.0, 1e-8], [1.0, 0.25, 4.0]])
        // F.gaussian_nll_loss(x, y, var, reduction='none')
        assertClose(gaussianNLLLoss(x, y, variance: variance, reduction: .none),
                    [-0.09657359027997264, 1.3465735902799727, 12499993.092244722, 0.0, -0.1931471805599453,
                     25.193147180559944], rtol: 1e-12)
        // F.gaussian_nll_loss(x, y, var, full=True)
        assertClose(GaussianNLLLoss(full: true)(x, y, variance: variance), [2083337.47597932], rtol: 1e-12)
        // One variance per example: F.gaussian_nll_loss(x, y, [0.5, 2.0], reduction='none'), and [[0.5], [2.0]] summed
        assertClose(gaussianNLLLoss(x, y, variance: Tensor([0.5, 2.0]), reduction: .none),
                    [-0.09657359027997264, 3.6534264097200273, 24.653426409720026, 0.34657359027997264,
                     0.40907359027997264, 49.346573590279974], rtol: 1e-12)
        assertClose(gaussianNLLLoss(x, y, variance: Tensor([[0.5], [2.0]]), reduction: .sum), [78.3125], rtol: 1e-12)
    }

    // a, b, c: four 3-vectors each (one of a's rows is zero); t = [1, -1, -1, 1]
    private var a: Tensor { Tensor([[1.0, 0.0, 2.0], [0.0, 0.0, 0.0], [1.0, -1.0, 0.5], [3.0, 1.0, -2.0]]) }
    private var b: Tensor { Tensor([[2.0, 1.0, 1.0], [1.0, 2.0, 3.0], [-1.0, 1.0, -0.5], [2.9, 1.2, -1.5]]) }
    private var c: Tensor { Tensor([[0.0, 1.0, 2.0], [1.0, 1.0, 1.0], [1.0, -1.0, 0.0], [-3.0, 0.0, 2.0]]) }

    @Test func cosineEmbeddingMatchesTorch() {
        let t = Tensor([1.0, -1.0, -1.0, 1.0])
        // F.cosine_embedding_loss(a, b, t, reduction='none'); the zero row has cosine 0.
        assertClose(cosineEmbeddingLoss(a, b, t, reduction: .none),
                    [0.26970325665991246, 0.0, 0.0, 0.008864555818452469], rtol: 1e-12)
        // F.cosine_embedding_loss(a, b, -t, margin=-0.2, reduction='none')
        assertClose(CosineEmbeddingLoss(margin: -0.2, reduction: .none)(a, b, -t),
                    [0.9302967433400875, 1.0, 1.9999999999995555, 1.1911354441815476], rtol: 1e-12)
        // F.cosine_embedding_loss(a, b, t)
        assertClose(CosineEmbeddingLoss()(a, b, t), [0.06964195311959123], rtol: 1e-12)
    }

    @Test func marginRankingMatchesTorch() {
        // x1 = [1, -2, 0.5, 3, 0], x2 = [0, 1, 0.5, -1, 0], y = [1, -1, 1, -1, 1]
        let x1 = Tensor([1.0, -2.0, 0.5, 3.0, 0.0]), x2 = Tensor([0.0, 1.0, 0.5, -1.0, 0.0])
        let target = Tensor([1.0, -1.0, 1.0, -1.0, 1.0])
        // F.margin_ranking_loss(x1, x2, y, reduction='none'), then with margin=1.0
        assertClose(marginRankingLoss(x1, x2, target, reduction: .none), [0.0, 0.0, 0.0, 4.0, 0.0])
        assertClose(marginRankingLoss(x1, x2, target, margin: 1, reduction: .none), [0.0, 0.0, 1.0, 5.0, 1.0])
        assertClose(MarginRankingLoss(margin: 1)(x1, x2, target), [1.4], rtol: 1e-12)
    }

    @Test func tripletMarginMatchesTorch() {
        // F.triplet_margin_loss(a, b, c, reduction='none'), with margin=2.0, p=1.0, and the mean
        assertClose(tripletMarginLoss(a, b, c, reduction: .none),
                    [1.3178366678452222, 3.0096067076884765, 3.499999333331815, 0.0], rtol: 1e-12)
        assertClose(tripletMarginLoss(a, b, c, margin: 2, p: 1, reduction: .none),
                    [2.9999979999999997, 5.0, 6.499998, 0.0], rtol: 1e-12)
        assertClose(TripletMarginLoss()(a, b, c), [1.9568606772163784], rtol: 1e-12)
        // Swap: a = [[0, 0], [1, 1]], p = [[1, 0], [1, 2]], n = [[2, 0], [0, 3]];
        // F.triplet_margin_loss(a, p, n, reduction='none'), then swap=True
        let anchor = Tensor([[0.0, 0.0], [1.0, 1.0]]), positive = Tensor([[1.0, 0.0], [1.0, 2.0]])
        let negative = Tensor([[2.0, 0.0], [0.0, 3.0]])
        assertClose(tripletMarginLoss(anchor, positive, negative, reduction: .none), [2.498001805406602e-13, 0.0],
                    atol: 1e-12)
        assertClose(TripletMarginLoss(swap: true, reduction: .none)(anchor, positive, negative),
                    [1.0, 0.5857854376266978], rtol: 1e-12)
    }

    // logits = [[1, -2, 0], [30, -30, 0.5]], labels = [[1, 0, 1], [0, 1, 0]]
    private var logits: Tensor { Tensor([[1.0, -2.0, 0.0], [30.0, -30.0, 0.5]]) }
    private var labels: Tensor { Tensor([[1.0, 0.0, 1.0], [0.0, 1.0, 0.0]]) }

    @Test func multilabelSoftMarginMatchesTorch() {
        // F.multilabel_soft_margin_loss(logits, labels, reduction='none')
        assertClose(multilabelSoftMarginLoss(logits, labels, reduction: .none),
                    [0.3777789597070469, 20.3246923280601], rtol: 1e-12)
        // F.multilabel_soft_margin_loss(logits, labels, weight=torch.tensor([0.5, 2.0, 1.0]))
        assertClose(MultiLabelSoftMarginLoss(weight: Tensor([0.5, 2.0, 1.0]))(logits, labels), [12.846285171764222],
                    rtol: 1e-12)
    }

    @Test func sigmoidFocalMatchesTorchvision() {
        // torchvision.ops.sigmoid_focal_loss(logits, labels) (written out in torch: torchvision's
        // formula, ce·(1 − p_t)^γ·α_t, defaults alpha=0.25, gamma=2, reduction='none')
        assertClose(sigmoidFocalLoss(logits, labels),
                    [0.005664514377116832, 0.001352672126430284, 0.04332169878499658, 22.49999999999586,
                     7.499999999998619, 0.28305870064455735], rtol: 1e-10)
        // alpha=-1 (no class weight), gamma=0.5, reduction='sum'
        assertClose(SigmoidFocalLoss(alpha: -1, gamma: 0.5, reduction: .sum)(logits, labels), [61.464916765380565],
                    rtol: 1e-10)
        // alpha=0.75, gamma=0, reduction='mean'
        assertClose(sigmoidFocalLoss(logits, labels, alpha: 0.75, gamma: 0, reduction: .mean), [5.171676316644081],
                    rtol: 1e-10)
    }

    @Test func gradientsMatchFiniteDifferences() {
        let input = gradInput([3, 4], in: -2...2)
        let target = gradInput([3, 4], in: -2...2, seed: 9)
        checkGradients([input, target], "huber") { huberLoss($0[0], $0[1], delta: 0.8) }
        let logQ = gradInput([3, 4], seed: 3)
        let p = gradInput([3, 4], in: 0...1, seed: 4)
        checkGradients([logQ, p], "kl") { klDivergence($0[0], $0[1], reduction: .batchMean) }
        checkGradients([logQ, p], "kl log target") { klDivergence($0[0], $0[1], logTarget: true) }
        // No count at 1, where the Stirling term switches on (a jump, as in torch).
        let counts = Tensor([[0.0, 1.5, 2.0, 5.0], [3.0, 0.0, 2.5, 7.0], [2.0, 2.0, 0.0, 1.25]]).requiringGrad()
        checkGradients([input, counts], "poisson") { poissonNLLLoss($0[0], $0[1], full: true) }
        let rate = gradInput([3, 4], in: 0.5...3, seed: 5)
        checkGradients([rate], "poisson rate") { poissonNLLLoss($0[0], counts.detached(), logInput: false) }
        let variance = gradInput([3, 4], in: 0.2...2, seed: 6)
        checkGradients([input, target, variance], "gaussian") { gaussianNLLLoss($0[0], $0[1], variance: $0[2]) }
        let perExample = gradInput([3], in: 0.2...2, seed: 12)
        checkGradients([input, target, perExample], "gaussian per example") {
            gaussianNLLLoss($0[0], $0[1], variance: $0[2], full: true, reduction: .sum)
        }
        let u = gradInput([4, 3], seed: 13), v = gradInput([4, 3], seed: 14), w = gradInput([4, 3], seed: 15)
        let signs = Tensor([1.0, -1.0, -1.0, 1.0])
        checkGradients([u, v], "cosine embedding") { cosineEmbeddingLoss($0[0], $0[1], signs, margin: -0.5) }
        let first = gradInput([5], seed: 16), second = gradInput([5], seed: 17)
        let order = Tensor([1.0, -1.0, 1.0, -1.0, 1.0])
        checkGradients([first, second], "margin ranking") { marginRankingLoss($0[0], $0[1], order, margin: 0.5) }
        checkGradients([u, v, w], "triplet") { tripletMarginLoss($0[0], $0[1], $0[2], margin: 3) }
        checkGradients([u, v, w], "triplet p=3 swap") { tripletMarginLoss($0[0], $0[1], $0[2], margin: 3, p: 3, swap: true) }
        let labels = Tensor([[1.0, 0.0, 1.0, 0.0], [0.0, 1.0, 1.0, 0.0], [0.0, 0.0, 0.0, 1.0]])
        checkGradients([input], "multilabel soft margin") {
            multilabelSoftMarginLoss($0[0], labels, weight: Tensor([0.5, 1.0, 2.0, 1.5]))
        }
        checkGradients([input], "focal") { sigmoidFocalLoss($0[0], labels) }
        checkGradients([input], "focal gamma 1.5, mean") { sigmoidFocalLoss($0[0], labels, gamma: 1.5, reduction: .mean) }
    }

    @Test func zeroTargetsGiveFiniteGradients() {
        // y·log y at y = 0: the loss and both gradients stay finite.
        let logQ = Tensor([[-1.0, -0.5]]).requiringGrad(), p = Tensor([[0.0, 1.0]]).requiringGrad()
        klDivergence(logQ, p, reduction: .sum).backward()
        #expect(logQ.grad!.doubles.allSatisfy { $0.isFinite } && p.grad!.doubles.allSatisfy { $0.isFinite })
        assertClose(logQ.grad!, [0, -1])
        // A negative target is not a probability: NaN, as torch's F.kl_div([-1.0], [-0.5], reduction='sum').
        #expect(klDivergence(Tensor([-1.0]), Tensor([-0.5]), reduction: .sum).item.isNaN)
    }
}
