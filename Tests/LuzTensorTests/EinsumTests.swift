import LuzTensor
import LuzTestSupport
import Testing

/// Einstein summation against torch.einsum (PyTorch 2.15); the expression is above each fixture.
@Suite("einsum")
struct EinsumTests {
    // a = torch.arange(6.).reshape(2, 3); b = torch.arange(12.).reshape(3, 4) - 5
    let a = Tensor.arange(0, 6).reshaped([2, 3])
    let b = Tensor.arange(0, 12).reshaped([3, 4]) - 5

    @Test func contractionsMatchTorch() {
        // torch.einsum('ij,jk->ik', a, b)
        assertClose(Tensor.einsum("ij,jk->ik", a, b), [5, 8, 11, 14, -4, 8, 20, 32])
        // Implicit output: 'ij,jk' is [2, 4]; 'ba' is the transpose (letters in alphabetical order)
        #expect(Tensor.einsum("ij,jk", a, b).shape == [2, 4])
        assertClose(Tensor.einsum("ba", a), [0, 3, 1, 4, 2, 5])
        // x = torch.arange(24.).reshape(2, 3, 4) / 10; y = torch.arange(16.).reshape(2, 4, 2) - 3
        let x = Tensor.arange(0, 24).reshaped([2, 3, 4]) / 10
        let y = Tensor.arange(0, 16).reshaped([2, 4, 2]) - 3
        // torch.einsum('bij,bjk->bik', x, y)
        assertClose(Tensor.einsum("bij,bjk->bik", x, y), [1, 1.6, 1, 3.2, 1, 4.8, 44.2, 49.6, 57, 64, 69.8, 78.4], rtol: 1e-5)
        // 'i,i->' = 32; 'ij->' = 15; 'ij->ji'; 'ijk->j' = [6, 9.2, 12.4]; 'ij,ij->i' = [5, 50]
        assertClose(Tensor.einsum("i,i->", Tensor([Float(1), 2, 3]), Tensor([Float(4), 5, 6])), [32])
        assertClose(Tensor.einsum("ij->", a), [15])
        assertClose(Tensor.einsum("ij -> ji", a), [0, 3, 1, 4, 2, 5])
        assertClose(Tensor.einsum("ijk->j", x), [6, 9.2, 12.4], rtol: 1e-5)
        assertClose(Tensor.einsum("ij,ij->i", a, a), [5, 50])
        // Three operands: c = [[1., -1], [2, 0.5], [0, 1], [3, -2]]; 'ij,jk,kl->il' = [[63, -18], [108, -36]]
        let c = Tensor([[Float(1), -1], [2, 0.5], [0, 1], [3, -2]])
        assertClose(Tensor.einsum("ij,jk,kl->il", a, b, c), [63, -18, 108, -36])
        // A letter of one operand only is summed: 'ik,jkl->ij' with torch.ones(5, 3, 2)
        let summed = Tensor.einsum("ik,jkl->ij", a, Tensor.ones([5, 3, 2]))
        #expect(summed.shape == [2, 5])
        assertClose(summed, [Double](repeating: 6, count: 5) + [Double](repeating: 24, count: 5))
    }

    @Test func diagonalsAndTraces() {
        // d = torch.arange(4.).reshape(2, 2): einsum('ii->i', d) = [0, 3]; einsum('ii', d) = 3 (trace)
        let d = Tensor.arange(0, 4).reshaped([2, 2])
        assertClose(Tensor.einsum("ii->i", d), [0, 3])
        assertClose(Tensor.einsum("ii", d), [3])
        // e = torch.arange(8.).reshape(2, 2, 2): einsum('bii->b', e) = [3, 11]; einsum('iij,j->i', e[...], [1., 2]) = [2, 20]
        let e = Tensor.arange(0, 8).reshaped([2, 2, 2])
        assertClose(Tensor.einsum("bii->b", e), [3, 11])
        assertClose(Tensor.einsum("iij,j->i", e, Tensor([Float(1), 2])), [2, 20])
        // NaN off the diagonal does not reach the trace: torch.einsum('ii', [[1., nan], [nan, 2]]) = 3
        assertClose(Tensor.einsum("ii", Tensor([[Float(1), .nan], [.nan, 2]])), [3])
    }

    @Test func gradientsByFiniteDifferences() {
        let p = gradInput([2, 3], seed: 61), q = gradInput([3, 4], seed: 62), r = gradInput([4, 2], seed: 63)
        let s = gradInput([2, 3, 4], seed: 64), t = gradInput([2, 4, 3], seed: 65), u = gradInput([2, 4], seed: 66)
        checkGradients([p, q], "matmul") { Tensor.einsum("ij,jk->ik", $0[0], $0[1]) }
        checkGradients([p, q, r], "chain") { Tensor.einsum("ij,jk,kl->li", $0[0], $0[1], $0[2]) }
        checkGradients([s, t], "batched, transposed output") { Tensor.einsum("bij,bjk->kbi", $0[0], $0[1]) }
        checkGradients([s, r], "contract one letter, keep the batch") { Tensor.einsum("bij,jk->bik", $0[0], $0[1]) }
        checkGradients([p], "sum and transpose") { Tensor.einsum("ij->ji", $0[0]) * Tensor.einsum("ij->", $0[0]) }
        checkGradients([s, u], "batch summed away") { Tensor.einsum("bij,bj->i", $0[0], $0[1]) }
        let square = gradInput([3, 3, 2], seed: 67)
        checkGradients([square], "diagonal") { Tensor.einsum("iij->ji", $0[0]) }
        checkGradients([square, q], "trace times matrix") { Tensor.einsum("iij,ik->jk", $0[0], $0[1]) }
    }
}
