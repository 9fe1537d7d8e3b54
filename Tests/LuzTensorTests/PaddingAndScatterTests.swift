import LuzTensor
import LuzTestSupport
import Testing

/// Padding modes, scatter with reductions and softplus with β and a threshold. Fixtures come
/// from PyTorch 2.15 (`import torch.nn.functional as F`); the expression is above each.
@Suite("Padding, scatter and softplus")
struct PaddingAndScatterTests {
    // x = torch.arange(1., 7).reshape(1, 2, 3)
    let x = Tensor.arange(1, 7).reshaped([1, 2, 3])

    @Test func paddingModesMatchTorch() {
        // F.pad(x, (2, 1), mode=...) for each mode
        assertClose(x.padded([2, 1]), [0, 0, 1, 2, 3, 0, 0, 0, 4, 5, 6, 0])
        assertClose(x.padded([2, 1], mode: .reflect), [3, 2, 1, 2, 3, 2, 6, 5, 4, 5, 6, 5])
        assertClose(x.padded([2, 1], mode: .replicate), [1, 1, 1, 2, 3, 3, 4, 4, 4, 5, 6, 6])
        assertClose(x.padded([2, 1], mode: .circular), [2, 3, 1, 2, 3, 1, 5, 6, 4, 5, 6, 4])
        #expect(x.padded([2, 1]).shape == [1, 2, 6])
        // F.pad(x, (1, 1, 1, 0), mode='reflect'): two dimensions
        let both = x.padded([1, 1, 1, 0], mode: .reflect)
        #expect(both.shape == [1, 3, 5])
        assertClose(both, [5, 4, 5, 6, 5, 2, 1, 2, 3, 2, 5, 4, 5, 6, 5])
        // F.pad(tensor([[1., 2], [3, 4]]), (0, 1, 1, 0), value=3.)
        assertClose(Tensor([[Float(1), 2], [3, 4]]).padded([0, 1, 1, 0], mode: .constant(3)), [3, 3, 3, 1, 2, 3, 3, 4, 3])
        // F.pad(tensor([[1., 2, 3]]), (1, 2), mode='circular'); any rank: the 1-D input works too
        assertClose(Tensor([[Float(1), 2, 3]]).padded([1, 2], mode: .circular), [3, 1, 2, 3, 1, 2])
        assertClose(Tensor([Float(1), 2, 3]).padded([2, 0], mode: .reflect), [3, 2, 1, 2, 3])
    }

    // s = torch.zeros(3, 4); idx = torch.tensor([[0, 1, 2, 0], [2, 0, 0, 1]]);
    // src = torch.arange(1., 9).reshape(2, 4); base = torch.tensor([[1., 5, 0, 2], [3, 3, 3, 3], [0, 0, 9, 0]])
    let index = Tensor([[Int64(0), 1, 2, 0], [2, 0, 0, 1]])
    let base: [[Double]] = [[1, 5, 0, 2], [3, 3, 3, 3], [0, 0, 9, 0]]

    @Test func scatterMatchesTorch() {
        let source = Tensor.arange(1, 9).reshaped([2, 4])
        // s.scatter(0, idx, src)
        assertClose(Tensor.zeros([3, 4]).scattering(dim: 0, index: index, source: source),
                    [1, 6, 7, 4, 0, 2, 0, 8, 5, 0, 3, 0])
        // base.scatter_reduce(0, idx, src, reduce='sum') and reduce='amax'
        let b = Tensor(base, dtype: .float32)
        assertClose(b.scattering(dim: 0, index: index, source: source, reduction: .add),
                    [2, 11, 7, 6, 3, 5, 3, 11, 5, 0, 12, 0])
        assertClose(b.scattering(dim: 0, index: index, source: source, reduction: .amax),
                    [1, 6, 7, 4, 3, 3, 3, 8, 5, 0, 9, 0])
    }

    @Test func scatterGradientsMatchTorch() {
        // weights = torch.arange(1., 13).reshape(3, 4); (y * weights).sum().backward() in float64
        let weights = Tensor.arange(1, 13, dtype: .float64).reshaped([3, 4])
        let b = Tensor(base).requiringGrad(), s = Tensor.arange(1, 9, dtype: .float64).reshaped([2, 4]).requiringGrad()
        (b.scattering(dim: 0, index: index, source: s) * weights).sum().backward()
        // scatter: base.grad = [[0, 0, 0, 0], [5, 0, 7, 0], [0, 10, 0, 12]], src.grad = [[1, 6, 11, 4], [9, 2, 3, 8]]
        assertClose(b.grad!, [0, 0, 0, 0, 5, 0, 7, 0, 0, 10, 0, 12])
        assertClose(s.grad!, [1, 6, 11, 4, 9, 2, 3, 8])
        let b2 = Tensor(base).requiringGrad(), s2 = Tensor.arange(1, 9, dtype: .float64).reshaped([2, 4]).requiringGrad()
        (b2.scattering(dim: 0, index: index, source: s2, reduction: .amax) * weights).sum().backward()
        // amax: base.grad = [[0.5, 0, 0, 0], [5, 6, 7, 0], [0, 10, 11, 12]], src.grad = [[0.5, 0, 0, 4], [9, 2, 3, 8]]
        assertClose(b2.grad!, [0.5, 0, 0, 0, 5, 6, 7, 0, 0, 10, 11, 12])
        assertClose(s2.grad!, [0.5, 0, 0, 4, 9, 2, 3, 8])
    }

    @Test func softplusWithBetaAndThresholdMatchesTorch() {
        // v = torch.tensor([-3., -0.5, 0., 2., 15., 25.], dtype=float64)
        let v = Tensor([-3.0, -0.5, 0, 2, 15, 25]).requiringGrad()
        // F.softplus(v, beta=2, threshold=10)
        let y = v.softplus(beta: 2, threshold: 10)
        assertClose(y, [0.0012378425688652247, 0.15663084375911143, 0.34657359027997264, 2.0090749639589047, 15, 25],
                    rtol: 1e-12)
        y.sum().backward()
        assertClose(v.grad!, [0.0024726231566347748, 0.2689414213699951, 0.5, 0.9820137900379085, 1, 1], rtol: 1e-12)
        // F.softplus(v): 25 is above the default threshold 20 and comes back as is
        assertClose(v.softplus(), [0.04858735157374206, 0.4740769841801067, 0.6931471805599453, 2.1269280110429727,
                                   15.000000305902274, 25], rtol: 1e-12)
    }

    @Test func gradientsByFiniteDifferences() {
        let a = gradInput([2, 3, 4], seed: 51)
        for mode in [PaddingMode.constant(0.5), .reflect, .replicate, .circular] {
            checkGradients([a], "pad \(mode)") { $0[0].padded([2, 3, 1, 2], mode: mode) }
        }
        checkGradients([a], "pad three dims") { $0[0].padded([1, 0, 0, 1, 1, 1]) }
        // Distinct values, so that no amax is a tie within the finite-difference step.
        let b = Tensor((0..<12).map { Double(($0 * 7) % 12) / 12 }, shape: [3, 4]).requiringGrad()
        let s = Tensor((0..<8).map { Double(($0 * 5) % 8) / 8 + 0.03 }, shape: [2, 4]).requiringGrad()
        checkGradients([b, s], "scatter") { $0[0].scattering(dim: 0, index: index, source: $0[1]) }
        checkGradients([b, s], "scatter add") { $0[0].scattering(dim: 0, index: index, source: $0[1], reduction: .add) }
        checkGradients([b, s], "scatter amax") { $0[0].scattering(dim: 0, index: index, source: $0[1], reduction: .amax) }
        let wide = gradInput([3, 4], in: -8...8, seed: 52)
        checkGradients([wide], "softplus beta") { $0[0].softplus(beta: 1.5, threshold: 5) }
    }
}
