import LuzTensor
import LuzTestSupport
import Testing

@Suite("GELU's float32 lanes")
struct GeluLaneTests {
    /// The eight-lane GELU and its gradient agree with the float64 ones to float32's precision
    /// over the whole line: relatively in the bulk, within 1e-7 in the far left tail (where the
    /// float32 argument of the exponential has lost digits, and torch's float32 erf-based GELU
    /// is only absolutely accurate).
    @Test func float32AgreesWithFloat64() throws {
        let values = stride(from: -12.0, through: 12.0, by: 0.0137).map { $0 } + [0, -0.0, 1e-8, -1e-8, 30, -30]
        let wide = Tensor(values).requiringGrad()
        let narrow = Tensor(values).to(.float32).requiringGrad()
        let a = wide.gelu(), b = narrow.gelu()
        for (x, (exact, lanes)) in zip(values, zip(a.doubles, b.doubles)) {
            #expect(abs(lanes - exact) <= 2e-6 * abs(exact) + 1e-7, "gelu(\(x)): \(lanes), float64 \(exact)")
        }
        let weights = Tensor(values.indices.map { 0.5 + Double($0 % 7) / 7 })
        (a * weights).sum().backward()
        (b * weights.to(.float32)).sum().backward()
        let exactGradient = try #require(wide.grad).doubles, laneGradient = try #require(narrow.grad).doubles
        for (x, (exact, lanes)) in zip(values, zip(exactGradient, laneGradient)) {
            #expect(abs(lanes - exact) <= 2e-6 * abs(exact) + 2e-7, "gelu'(\(x)): \(lanes), float64 \(exact)")
        }
        #expect(Tensor([Float.infinity]).gelu().floats == [.infinity])
        #expect(Tensor([Float.nan]).gelu().floats[0].isNaN)
    }
}

@Suite("Sigmoid's and tanh's float32 lanes")
struct SigmoidTanhLaneTests {
    /// The eight-lane sigmoid and tanh agree with the float64 functions to float32's precision
    /// over the whole line, saturate to 0, 1 and ±1 without NaN far out, keep NaN, and their
    /// gradients (from the saved output) follow.
    @Test(arguments: ["sigmoid", "tanh"])
    func float32AgreesWithFloat64(_ name: String) throws {
        // Inputs a float32 holds exactly, so that both types compute at the same points.
        let values = (stride(from: -20.0, through: 20.0, by: 0.0173).map { $0 }
            + [0, -0.0, 1e-8, -1e-8, 1e-3, -1e-3, 0.24, 0.26, -0.26, 90, -90, 200, -200]).map { Double(Float($0)) }
        let apply: (Tensor) -> Tensor = name == "sigmoid" ? { $0.sigmoid() } : { $0.tanh() }
        let wide = Tensor(values).requiringGrad()
        let narrow = Tensor(values).to(.float32).requiringGrad()
        let a = apply(wide), b = apply(narrow)
        for (x, (exact, lanes)) in zip(values, zip(a.doubles, b.doubles)) {
            #expect(abs(lanes - exact) <= 4e-7 * abs(exact) + 1e-30, "\(name)(\(x)): \(lanes), float64 \(exact)")
        }
        let weights = Tensor(values.indices.map { 0.5 + Double($0 % 7) / 7 })
        (a * weights).sum().backward()
        (b * weights.to(.float32)).sum().backward()
        let exactGradient = try #require(wide.grad).doubles, laneGradient = try #require(narrow.grad).doubles
        for (x, (exact, lanes)) in zip(values, zip(exactGradient, laneGradient)) {
            // The gradient is computed from the float32 output: 1 − y² near |y| = 1 carries
            // float32's absolute rounding of y (about 1.2e-7), as in torch.
            #expect(abs(lanes - exact) <= 1e-6 * abs(exact) + 3e-7, "\(name)'(\(x)): \(lanes), float64 \(exact)")
        }
        let special = apply(Tensor([Float.infinity, -.infinity, .nan] + Array(repeating: 0, count: 8))).floats
        #expect(special[0] == 1 && special[1] == (name == "sigmoid" ? 0 : -1) && special[2].isNaN)
    }
}

#if !canImport(Accelerate)
import CLuzBLAS
import Foundation

@Suite("GELU's C kernels on each instruction set")
struct GeluInstructionSetTests {
    /// Each instance the processor runs (the portable one always, AVX2 with FMA and AVX-512 where present)
    /// agrees with the float64 GELU and its gradient to float32's precision, on lengths that
    /// end in a partial block, and in place.
    @Test func everyInstanceAgreesWithFloat64() throws {
        let instructionSets = [LUZ_GEMM_PORTABLE, LUZ_GEMM_AVX2, LUZ_GEMM_AVX512].map(Int32.init).filter { luz_gemm_isa_supported($0) != 0 }
        for length in [1, 7, 8, 13, 1000] {
            let xs = (0..<length).map { Float(-9 + 18 * Double($0) / Double(Swift.max(length - 1, 1))) }
            let gradient = xs.indices.map { Float(0.5 + Double($0 % 5) / 5) }
            let exact = Tensor(xs.map(Double.init)).requiringGrad()
            let value = exact.gelu()
            (value * Tensor(gradient.map(Double.init))).sum().backward()
            let exactGradient = try #require(exact.grad).doubles
            for isa in instructionSets {
                let name = String(cString: luz_gemm_isa_name(isa))
                var y = [Float](repeating: .nan, count: length), dx = y
                luz_gelu_f32_with(isa, xs, &y, length)
                luz_gelu_backward_f32_with(isa, gradient, xs, &dx, length)
                var inPlace = xs
                inPlace.withUnsafeMutableBufferPointer { luz_gelu_f32_with(isa, $0.baseAddress, $0.baseAddress, length) }
                for i in 0..<length {
                    let want = value.doubles[i], wantGradient = exactGradient[i]
                    #expect(abs(Double(y[i]) - want) <= 2e-6 * abs(want) + 1e-7, "\(name) gelu(\(xs[i])) = \(y[i]), float64 \(want)")
                    #expect(abs(Double(dx[i]) - wantGradient) <= 2e-6 * abs(wantGradient) + 2e-7,
                            "\(name) gelu'(\(xs[i])) = \(dx[i]), float64 \(wantGradient)")
                    #expect(inPlace[i] == y[i], "\(name) in place at \(i)")
                }
            }
        }
    }

    /// The sigmoid and tanh kernels of each instance agree with float64 to float32's precision,
    /// saturate far out, keep NaN, and run in place, on lengths with a partial last block.
    @Test(arguments: ["sigmoid", "tanh"])
    func sigmoidAndTanhAgreeWithFloat64(_ name: String) {
        let instructionSets = [LUZ_GEMM_PORTABLE, LUZ_GEMM_AVX2, LUZ_GEMM_AVX512].map(Int32.init).filter { luz_gemm_isa_supported($0) != 0 }
        let kernel: (Int32, UnsafePointer<Float>, UnsafeMutablePointer<Float>, Int) -> Void =
            name == "sigmoid" ? { luz_sigmoid_f32_with($0, $1, $2, $3) } : { luz_tanh_f32_with($0, $1, $2, $3) }
        let exact: (Double) -> Double = name == "sigmoid" ? { 1 / (1 + Foundation.exp(-$0)) } : { Foundation.tanh($0) }
        for length in [1, 7, 8, 13, 1001] {
            let xs = (0..<length).map { Float(-20 + 40 * Double($0) / Double(Swift.max(length - 1, 1))) } + [0.1, -0.2, 200, -200]
            for isa in instructionSets {
                let isaName = String(cString: luz_gemm_isa_name(isa))
                var y = [Float](repeating: .nan, count: xs.count)
                xs.withUnsafeBufferPointer { x in y.withUnsafeMutableBufferPointer { kernel(isa, x.baseAddress!, $0.baseAddress!, xs.count) } }
                var inPlace = xs
                inPlace.withUnsafeMutableBufferPointer { kernel(isa, $0.baseAddress!, $0.baseAddress!, xs.count) }
                for (x, value) in zip(xs, y) {
                    let want = exact(Double(x))
                    #expect(abs(Double(value) - want) <= 4e-7 * abs(want) + 1e-30, "\(isaName) \(name)(\(x)) = \(value), float64 \(want)")
                }
                #expect(inPlace == y, "\(isaName) \(name) in place")
            }
        }
        for isa in instructionSets {
            var special: [Float] = [.infinity, -.infinity, .nan]
            special.withUnsafeMutableBufferPointer { kernel(isa, $0.baseAddress!, $0.baseAddress!, 3) }
            #expect(special[0] == 1 && special[1] == (name == "sigmoid" ? 0 : -1) && special[2].isNaN)
        }
    }

    /// The softmax exponentials of each instance: e^(x − shift) within float32's precision,
    /// exactly 0 for −∞, and the sum of what they wrote, on lengths with a partial last block.
    @Test func shiftedExponentialsAgreeWithFloat64AndSumWhatTheyWrite() {
        let instructionSets = [LUZ_GEMM_PORTABLE, LUZ_GEMM_AVX2, LUZ_GEMM_AVX512].map(Int32.init).filter { luz_gemm_isa_supported($0) != 0 }
        for length in [1, 7, 8, 13, 1001] {
            var xs = (0..<length).map { Float(-30 + 33 * Double($0) / Double(Swift.max(length - 1, 1))) }
            if length > 2 { xs[1] = -.infinity }
            for isa in instructionSets {
                let isaName = String(cString: luz_gemm_isa_name(isa))
                var y = xs
                let total = y.withUnsafeMutableBufferPointer { luz_exp_shifted_f32_with(isa, $0.baseAddress!, length, 3) }
                for (x, value) in zip(xs, y) {
                    let want = Foundation.exp(Double(x - 3))   // the difference rounded to float32, as the kernel takes it
                    #expect(abs(Double(value) - want) <= 3e-7 * want, "\(isaName) e^(\(x) − 3) = \(value), float64 \(want)")
                }
                let written = y.reduce(0.0) { $0 + Double($1) }
                #expect(abs(Double(total) - written) <= 1e-6 * written, "\(isaName) sum \(total), written \(written)")
            }
        }
    }

    /// The row maximum and the softmax backward of each instance, on lengths with a partial last
    /// block: the maximum exact (−∞ for an empty row), the gradient p · (d − rowDot) to rounding.
    @Test func rowMaximumAndSoftmaxGradientMatchTheirDefinitions() {
        let instructionSets = [LUZ_GEMM_PORTABLE, LUZ_GEMM_AVX2, LUZ_GEMM_AVX512].map(Int32.init).filter { luz_gemm_isa_supported($0) != 0 }
        for length in [0, 1, 7, 8, 13, 16, 17, 1001] {
            let xs = (0..<length).map { Float(sin(Double($0) * 1.7) * 10) - (($0 % 5 == 2) ? .infinity : 0) }
            let ps = (0..<length).map { Float(Double($0 % 9) / 9) }
            for isa in instructionSets {
                let isaName = String(cString: luz_gemm_isa_name(isa))
                let largest = xs.withUnsafeBufferPointer { luz_max_f32_with(isa, $0.baseAddress, length) }
                #expect(largest == (xs.max() ?? -.infinity), "\(isaName) max of \(length)")
                var d = xs.map { $0.isFinite ? $0 : 1 }
                let dp = d
                ps.withUnsafeBufferPointer { p in
                    d.withUnsafeMutableBufferPointer { luz_softmax_gradient_f32_with(isa, p.baseAddress, $0.baseAddress, length, 0.75) }
                }
                for j in 0..<length {
                    let want = ps[j] * (dp[j] - 0.75)
                    #expect(abs(d[j] - want) <= 1e-6 * Swift.max(1, abs(want)), "\(isaName) gradient \(j) of \(length)")
                }
            }
        }
    }

    /// Adding rows into a destination, on each instance: the same sums, bit for bit, as adding
    /// them one row after another in scalar code (the order a sum over a dimension keeps), on
    /// widths with a partial last block and with no rows.
    @Test func addedRowsMatchTheRowByRowSum() {
        let instructionSets = [LUZ_GEMM_PORTABLE, LUZ_GEMM_AVX2, LUZ_GEMM_AVX512].map(Int32.init).filter { luz_gemm_isa_supported($0) != 0 }
        for (rows, width) in [(0, 5), (1, 1), (3, 7), (4, 16), (5, 17), (64, 576), (2, 1001)] {
            let source = (0..<rows * width).map { Float(sin(Double($0) * 0.37) * 1e3) }
            let start = (0..<width).map { Float(cos(Double($0)) * 1e-3) }
            var want = start
            for r in 0..<rows { for j in 0..<width { want[j] += source[r * width + j] } }
            for isa in instructionSets {
                var got = start
                source.withUnsafeBufferPointer { s in
                    got.withUnsafeMutableBufferPointer { luz_add_rows_f32_with(isa, $0.baseAddress, s.baseAddress, rows, width) }
                }
                #expect(got == want, "\(String(cString: luz_gemm_isa_name(isa))) \(rows) × \(width)")
            }
        }
    }
}
#endif
