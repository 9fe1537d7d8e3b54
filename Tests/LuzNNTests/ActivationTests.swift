import Foundation
import LuzNN
import LuzTestSupport
import Testing

/// Inputs shared by the activation fixtures: both tails (±30), the kinks of the hard
/// activations (±3.5 lie beyond ±3) and zero. Expected values: PyTorch 2, float64,
/// `torch.nn.functional` on `x = torch.tensor([-30, -3.5, -1, -0.25, 0, 0.5, 2, 3.5, 30])`.
private var activationInput: Tensor { Tensor([-30.0, -3.5, -1.0, -0.25, 0.0, 0.5, 2.0, 3.5, 30.0]) }

@Suite("Activations")
struct ActivationTests {
    @Test func smoothActivationsMatchTorch() {
        let x = activationInput
        // F.silu(x)
        assertClose(silu(x), [-2.8072868906517896e-12, -0.10259280762974712, -0.2689414213699951, -0.10945587477855048,
                              0.0, 0.3112296656009273, 1.7615941559557646, 3.3974071923702525, 29.999999999997197],
                    rtol: 1e-12, atol: 1e-15)
        // F.elu(x)
        assertClose(elu(x), [-0.9999999999999064, -0.9698026165776815, -0.6321205588285577, -0.22119921692859512,
                             0.0, 0.5, 2.0, 3.5, 30.0], rtol: 1e-12)
        // F.elu(x, alpha=0.5)
        assertClose(elu(x, alpha: 0.5), [-0.4999999999999532, -0.48490130828884076, -0.31606027941427883,
                                         -0.11059960846429756, 0.0, 0.5, 2.0, 3.5, 30.0], rtol: 1e-12)
        // F.selu(x)
        assertClose(selu(x), [-1.758099340847212, -1.705009340957283, -1.1113307378125625, -0.388890197478119, 0.0,
                              0.5253504936777402, 2.101401974710961, 3.677453455744182, 31.521029620664414], rtol: 1e-12)
        // F.celu(x) equals F.elu(x) for alpha = 1; F.celu(x, alpha=2.0)
        assertClose(celu(x), elu(x), rtol: 1e-12)
        assertClose(celu(x, alpha: 2), [-1.999999388195359, -1.6524521130991099, -0.7869386805747332, -0.2350061948308092,
                                        0.0, 0.5, 2.0, 3.5, 30.0], rtol: 1e-12)
        // F.mish(x)
        assertClose(mish(x), [-2.807286890651921e-12, -0.10409575448637122, -0.30340146137410895, -0.129926963679141,
                              0.0, 0.3752452113048951, 1.9439589595339946, 3.4939907151175196, 30.0],
                    rtol: 1e-12, atol: 1e-15)
        // F.logsigmoid(x)
        assertClose(logSigmoid(x), [-30.000000000000092, -3.5297504182726205, -1.3132616875182228, -0.8259394198788436,
                                    -0.6931471805599453, -0.4740769841801067, -0.1269280110429725,
                                    -0.029750418272620566, -9.357622968839737e-14], rtol: 1e-12, atol: 1e-15)
        // F.softsign(x)
        assertClose(softsign(x), [-0.967741935483871, -0.7777777777777778, -0.5, -0.2, 0.0, 0.3333333333333333,
                                  0.6666666666666666, 0.7777777777777778, 0.967741935483871], rtol: 1e-12)
        // F.softplus(x); F.softplus(x, beta=2.0, threshold=5.0)
        assertClose(softplus(x), [9.357622968839737e-14, 0.029750418272620566, 0.31326168751822286, 0.5759394198788436,
                                  0.6931471805599453, 0.9740769841801067, 2.1269280110429727, 3.5297504182726205, 30.0],
                    rtol: 1e-12, atol: 1e-15)
        assertClose(Softplus(beta: 2, threshold: 5)(x),
                    [4.37825538134826e-27, 0.00045573322688712237, 0.06346400552148625, 0.23703849209005334,
                     0.34657359027997264, 0.6566308437591114, 2.0090749639589047, 3.5, 30.0], rtol: 1e-12, atol: 1e-15)
    }

    @Test func hardActivationsMatchTorch() {
        let x = activationInput
        // F.hardtanh(x); F.hardtanh(x, -2.0, 3.0)
        assertClose(hardtanh(x), [-1.0, -1.0, -1.0, -0.25, 0.0, 0.5, 1.0, 1.0, 1.0])
        assertClose(Hardtanh(minValue: -2, maxValue: 3)(x), [-2.0, -2.0, -1.0, -0.25, 0.0, 0.5, 2.0, 3.0, 3.0])
        // F.hardswish(x)
        assertClose(hardswish(x), [0, 0, -0.3333333333333333, -0.11458333333333333, 0.0, 0.2916666666666667,
                                   1.6666666666666667, 3.5, 30.0], rtol: 1e-12)
        // F.hardsigmoid(x)
        assertClose(hardsigmoid(x), [0.0, 0.0, 0.3333333333333333, 0.4583333333333333, 0.5, 0.5833333333333334,
                                     0.8333333333333334, 1.0, 1.0], rtol: 1e-12)
    }

    @Test func modulesApplyTheirFunctions() {
        let x = activationInput
        assertClose(SiLU()(x), silu(x))
        assertClose(ELU(alpha: 0.5)(x), elu(x, alpha: 0.5))
        assertClose(SELU()(x), selu(x))
        assertClose(CELU(alpha: 2)(x), celu(x, alpha: 2))
        assertClose(Mish()(x), mish(x))
        assertClose(Hardswish()(x), hardswish(x))
        assertClose(Hardsigmoid()(x), hardsigmoid(x))
        assertClose(LogSigmoid()(x), logSigmoid(x))
        assertClose(Softsign()(x), softsign(x))
        // float32 keeps the type.
        #expect(SiLU()(Tensor.zeros([2])).dtype == .float32)
    }

    @Test func preluMatchesTorch() {
        // xi = torch.tensor([[[-1, 2], [0.5, -3]], [[-0.5, 0], [4, -2]]]); F.prelu(xi, torch.tensor([0.25]))
        let x = Tensor([[[-1.0, 2.0], [0.5, -3.0]], [[-0.5, 0.0], [4.0, -2.0]]])
        let shared = PReLU(dtype: .float64)
        #expect(shared.namedParameters().map(\.name) == ["weight"])
        #expect(shared.weight.shape == [1])
        assertClose(shared.weight, [0.25])
        assertClose(shared(x), [-0.25, 2.0, 0.5, -0.75, -0.125, 0.0, 4.0, -0.5])
        // F.prelu(xi, torch.tensor([0.1, -0.5])): one slope per channel of dimension 1.
        assertClose(prelu(x, weight: Tensor([0.1, -0.5])), [-0.1, 2.0, 0.5, 1.5, -0.05, 0.0, 4.0, 1.0])
        let perChannel = PReLU(numParameters: 2, dtype: .float64)
        #expect(perChannel.weight.shape == [2])
        assertClose(perChannel(x), shared(x))
    }

    @Test func gradientsMatchFiniteDifferences() {
        // Smooth activations over both signs.
        let x = gradInput([3, 4], in: -3...3)
        checkGradients([x], "silu") { silu($0[0]) }
        checkGradients([x], "elu") { elu($0[0], alpha: 0.7) }
        checkGradients([x], "selu") { selu($0[0]) }
        checkGradients([x], "celu") { celu($0[0], alpha: 1.5) }
        checkGradients([x], "mish") { mish($0[0]) }
        checkGradients([x], "logSigmoid") { logSigmoid($0[0]) }
        checkGradients([x], "softsign") { softsign($0[0]) }
        checkGradients([x], "softplus") { softplus($0[0], beta: 2, threshold: 4) }
        // The hard activations on points away from their kinks (a random point is never within
        // eps of ±1 or ±3).
        let wide = gradInput([4, 5], in: -5...5, seed: 11)
        checkGradients([wide], "hardtanh") { hardtanh($0[0], minValue: -1, maxValue: 2) }
        checkGradients([wide], "hardswish") { hardswish($0[0]) }
        checkGradients([wide], "hardsigmoid") { hardsigmoid($0[0]) }
        // PReLU: the input and the slopes.
        let image = gradInput([2, 3, 2, 2], seed: 5)
        let slopes = gradInput([3], in: 0...0.5, seed: 6)
        checkGradients([image, slopes], "prelu per channel") { prelu($0[0], weight: $0[1]) }
        let slope = gradInput([1], in: 0...0.5, seed: 8)
        checkGradients([image, slope], "prelu shared") { prelu($0[0], weight: $0[1]) }
    }

    @Test func exponentialBranchesStayFiniteInTheTails() {
        // where() sends a zero gradient into the discarded branch, and 0·∞ would be NaN: the
        // exponential must not overflow for large positive inputs.
        let x = Tensor([-800.0, 800.0]).requiringGrad()
        (elu(x) + celu(x, alpha: 0.5) + selu(x) + mish(x) + logSigmoid(x) + silu(x)).sum().backward()
        let gradient = x.grad!.doubles
        #expect(gradient.allSatisfy { $0.isFinite }, "\(gradient)")
        // d/dx at +800: 1 (elu) + 1 (celu) + scale (selu) + 1 (mish) + 0 (logσ) + 1 (silu).
        #expect(Swift.abs(gradient[1] - (4 + 1.0507009873554805)) < 1e-9, "\(gradient)")
    }
}
