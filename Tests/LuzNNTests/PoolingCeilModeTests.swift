import Foundation
import LuzNN
import LuzSerialization
import LuzTestSupport
import Testing

/// PyTorch's pooling with `ceil_mode=True` on fixed inputs, written by
/// `Fixtures/make_pooling_fixtures.py` (torch 2.15, float64).
private let fixtures: StateDict = {
    let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Fixtures/pooling.safetensors").path
    return try! StateDict(contentsOf: path)
}()

private struct CaseOptions: Decodable {
    let kind: String
    let kernel: Int
    let stride: Int
    let padding: Int
    let dilation: Int
    let count_include_pad: Bool
}

/// The case's pooling layer, in ceil mode.
private func layer(_ o: CaseOptions) -> Module {
    switch o.kind {
    case "max2d":
        MaxPool2d(kernelSize: Size2D(o.kernel, o.kernel), stride: Size2D(o.stride, o.stride),
                  padding: Size2D(o.padding, o.padding), dilation: Size2D(o.dilation, o.dilation), ceilMode: true)
    case "avg2d":
        AvgPool2d(kernelSize: Size2D(o.kernel, o.kernel), stride: Size2D(o.stride, o.stride),
                  padding: Size2D(o.padding, o.padding), countIncludePad: o.count_include_pad, ceilMode: true)
    case "max1d":
        MaxPool1d(kernelSize: o.kernel, stride: o.stride, padding: o.padding, ceilMode: true)
    default:
        AvgPool1d(kernelSize: o.kernel, stride: o.stride, padding: o.padding, countIncludePad: o.count_include_pad,
                  ceilMode: true)
    }
}

@Suite struct PoolingCeilModeTests {
    @Test(arguments: ["max_padded", "max_dilated", "max_last_window_dropped", "avg_padded", "avg_padded_exclude",
                      "avg_plain", "avg_last_window_dropped", "max1d", "avg1d"])
    func matchesPyTorch(_ name: String) throws {
        let o = try JSONDecoder().decode(CaseOptions.self, from: Data(fixtures.metadata[name]!.utf8))
        let pool = layer(o)
        for dtype in [DType.float64, .float32] {
            let input = fixtures["\(name).input"]!.to(dtype).detached().requiringGrad()
            let output = pool(input)
            let expected = fixtures["\(name).output"]!
            #expect(output.shape == expected.shape, "\(name)")
            let tolerance = dtype == .float64 ? 1e-13 : 1e-5
            assertClose(output.to(.float64), expected, rtol: tolerance, atol: tolerance, "\(name) \(dtype)")
            (output * fixtures["\(name).output_weights"]!.to(dtype)).sum().backward()
            assertClose(input.grad!.to(.float64), fixtures["\(name).grad_input"]!, rtol: tolerance, atol: tolerance,
                        "\(name) \(dtype) gradient")
        }
    }

    @Test func floorModeIsTheDefault() {
        let x = Tensor.zeros([1, 1, 5, 5])
        #expect(MaxPool2d(kernelSize: 2).forward(x).shape == [1, 1, 2, 2])
        #expect(MaxPool2d(kernelSize: 2, ceilMode: true).forward(x).shape == [1, 1, 3, 3])
        #expect(AvgPool2d(kernelSize: 2, ceilMode: true).forward(x).shape == [1, 1, 3, 3])
    }
}
