import Foundation
import LuzNN
import LuzTestSupport
import Testing

// Fixtures from torch 2.15 (`F.interpolate`) in float64 on x = cos(0.7·arange(24)).reshape(1, 2, 3, 4).

@Suite("interpolate and Upsample")
struct InterpolateTests {
    private let x = Tensor((0..<24).map { cos(Double($0) * 0.7) }, shape: [1, 2, 3, 4])

    private func expectPrefix(_ t: Tensor, _ expected: [Double], _ label: String, last: Bool = false) {
        let values = last ? Array(t.doubles.suffix(expected.count)) : Array(t.doubles.prefix(expected.count))
        assertClose(Tensor(values), Tensor(expected), rtol: 1e-10, atol: 1e-11, label)
    }

    @Test func bilinearMatchesTorch() {
        let y = interpolate(x, size: [5, 7], mode: .linear)
        #expect(y.shape == [1, 2, 5, 7])
        expectPrefix(y, [1.0, 0.916015066887, 0.781639173907, 0.467404665092, 0.12176619665, -0.26384137335, -0.5048461046,
                         0.223111063733], "size (5, 7)")
        let corners = interpolate(x, scaleFactor: [2], mode: .linear, alignCorners: true)
        #expect(corners.shape == [1, 2, 6, 8])
        expectPrefix(corners, [-0.437824157332, -0.653403966674, -0.833133336802, -0.948835757342, -0.936484278708,
                               -0.924132800073], "scale 2, align corners", last: true)
        expectPrefix(interpolate(x, size: [2, 3], mode: .linear),
                     [0.485289923801, 0.17221381024, -0.275853713105, 0.374395654007, 0.479320645444, 0.208525654974], "downsampling")
    }

    @Test func nearestMatchesTorch() {
        expectPrefix(interpolate(x, size: [5, 7]), [1.0, 1.0, 0.764842187284, 0.764842187284, 0.1699671429, 0.1699671429,
                                                     -0.5048461046, 1.0, 1.0], "size (5, 7)")
        let scaled = Upsample(scaleFactor: [1.5])(x)
        #expect(scaled.shape == [1, 2, 4, 6])
        expectPrefix(scaled, [0.136737218208, 0.136737218208, -0.533584386589, -0.952952916887, -0.952952916887,
                              -0.924132800073], "scale 1.5", last: true)
    }

    @Test func linearOnSequencesMatchesTorch() {
        expectPrefix(interpolate(x.reshaped([1, 4, 6]), size: [4], mode: .linear),
                     [0.941210546821, 0.318685903996, -0.614190163617, -0.937898100635, -0.32106752365, 0.628302501238,
                      0.938369540873, 0.303505960114], "linear")
    }

    @Test func gradientsMatchFiniteDifferences() {
        let input = gradInput([1, 2, 3, 4], seed: 9)
        checkGradients([input], "bilinear") { interpolate($0[0], size: [5, 6], mode: .linear) }
        checkGradients([input], "nearest") { interpolate($0[0], scaleFactor: [2, 1.5]) }
        checkGradients([input], "align corners") { interpolate($0[0], size: [4, 7], mode: .linear, alignCorners: true) }
    }
}
